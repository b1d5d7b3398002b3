"""Native detectors vs River/PySAD/rrcf peers: ``python benchmarks/bench_detectors.py``.

The same as ``pynomaly bench detectors`` (all options pass through); the logic
lives in :mod:`pynomaly.bench.detectors` so the installed command has it.
"""

from __future__ import annotations

import sys

from pynomaly.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "detectors", *sys.argv[1:]]))
