"""``pynomaly bench smd``: the Server Machine Dataset benchmark.

``pynomaly bench smd --data DIR --detector SPEC --out DIR [--json]`` streams
every machine of a folder in the SMD layout through a fresh detector (train
rows learned, then test rows scored before they are learned), writes one score
per test row to ``OUT/<machine>.npy`` and prints, per machine and on average,
point-wise best F1 (no point adjustment), AUPRC, the F1 of the engine's own
alert decisions, rows/s and the interpretation hit rates.

>>> from pynomaly.cli.main import build_parser
>>> args = build_parser().parse_args(["bench", "smd", "--data", "d"])
>>> args.detector, args.out
('default', 'out/smd')
"""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("smd", help="Server Machine Dataset: multivariate detection quality")
    p.add_argument("--data", required=True, help="folder with train/, test/, test_label/")
    p.add_argument(
        "--detector",
        default="default",
        help="default, NAME, NAME:k=v,..., a JSON/YAML mapping, or peer:NAME "
        "(river_hst, pysad_loda, pysad_xstream, pca)",
    )
    p.add_argument("--out", default="out/smd", help="scores folder (default out/smd)")
    p.add_argument("--machines", help="comma-separated machine names (default: all)")
    p.add_argument(
        "--pipeline",
        help="pipeline settings as a JSON/YAML mapping, e.g. '{protect: true}' "
        "(default: the engine's calibration, threshold and warm-up)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar (stderr)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import yaml

    from pynomaly.bench.smd.harness import format_report, run_benchmark

    machines = [m.strip() for m in args.machines.split(",") if m.strip()] if args.machines else None
    pipeline = yaml.safe_load(args.pipeline) if args.pipeline else None
    if pipeline is not None and not isinstance(pipeline, dict):
        raise ValueError(f"--pipeline must be a mapping, got {args.pipeline!r}")
    report = run_benchmark(
        args.data, args.detector, args.out, machines=machines, pipeline=pipeline,
        progress=not args.no_progress,
    )
    print(json.dumps(report, default=float) if args.json else format_report(report))
    return 0
