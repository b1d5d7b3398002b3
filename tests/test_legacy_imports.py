"""Module names of the earlier package layout still import, as the very
modules they moved to (pynomaly/_legacy.py, docs/adr/0102)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from pynomaly import _legacy

ROOT = Path(__file__).resolve().parents[1]

#: every module of the earlier layout that moved, written out here rather
#: than taken from _legacy.MOVED, so a module left out there fails
EARLIER = {
    "pynomaly.operators": "pynomaly.dataflow",
    **{f"pynomaly.operators.{m}": f"pynomaly.dataflow.{m}" for m in (
        "alert_record", "detect", "detect_banked", "detect_op", "detect_options",
        "instrumented", "json_scan", "parse", "parse_arrow", "parse_op", "record_rows",
        "routing", "score_records", "sinks_op", "triage_op", "window_op", "windowing")},
    "pynomaly.flow": "pynomaly.dataflow.flow",
    "pynomaly.records": "pynomaly.dataflow.records",
    "pynomaly.arrow_rows": "pynomaly.dataflow.arrow_rows",
    **{f"pynomaly.engine.{m}": f"pynomaly.engine.decision.{m}" for m in (
        "calibration", "calibration_conformal", "calibration_none", "calibration_spot",
        "thresholds", "drift", "drift_kernels", "banked_calibration", "banked_decide")},
    "pynomaly.spec_errors": "pynomaly.spec.errors",
    **{f"pynomaly.{m}": f"pynomaly.runtime.{m}" for m in (
        "runner", "local_cluster", "lifecycle", "gc_tuning", "preflight", "run_status",
        "metrics_hooks", "sandbox")},
    "pynomaly.connectors.broker": "pynomaly.devtools.broker",
    **{f"pynomaly.connectors.{m}": f"pynomaly.devtools.{m}" for m in (
        "generator", "generator_anomalies", "generator_malformed", "generator_sinks")},
    "pynomaly.nab": "pynomaly.bench.nab",
    "pynomaly.nab.corpus": "pynomaly.bench.nab.corpus",
    "pynomaly.nab.harness": "pynomaly.bench.nab.harness",
    "pynomaly.nab.scorer": "pynomaly.bench.nab.scorer",
    "pynomaly.nab.spec": "pynomaly.bench.detector_choice",
    "pynomaly.ucr": "pynomaly.bench.ucr",
    **{f"pynomaly.ucr.{m}": f"pynomaly.bench.ucr.{m}" for m in ("archive", "harness", "rules")},
    "pynomaly.smd": "pynomaly.bench.smd",
    **{f"pynomaly.smd.{m}": f"pynomaly.bench.smd.{m}" for m in (
        "corpus", "harness", "peers", "scoring")},
    "pynomaly.cli._detector_peers": "pynomaly.bench.detector_peers",
    "pynomaly.cli._river_api_bench": "pynomaly.bench.river_api",
    "pynomaly.cli._subsequence_bench": "pynomaly.bench.subsequence",
}


def test_the_map_names_every_moved_module() -> None:
    assert _legacy.MOVED == EARLIER


@pytest.mark.parametrize("old", sorted(EARLIER))
def test_old_name_is_the_new_module(old: str) -> None:
    module = importlib.import_module(old)
    new = importlib.import_module(EARLIER[old])
    assert module is new
    assert sys.modules[old] is new
    assert new.__name__ == EARLIER[old] and new.__spec__.name == EARLIER[old]


def test_old_names_first_in_a_fresh_interpreter() -> None:
    """Old names imported before anything else of the package (as a user's
    code or an unpickled snapshot does), then compared with the new ones."""
    code = (
        "import importlib, sys\n"
        "from tests.test_legacy_imports import EARLIER\n"
        "olds = {old: importlib.import_module(old) for old in sorted(EARLIER)}\n"
        "bad = [old for old, mod in olds.items()\n"
        "       if mod is not importlib.import_module(EARLIER[old])]\n"
        "import pynomaly.dataflow as pxo\n"
        "print(bad, callable(pxo.detect), callable(pxo.parse))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    # the operators keep their names though submodules called so were imported
    assert proc.stdout.strip() == "[] True True"


def test_the_public_names_under_their_earlier_paths() -> None:
    import pynomaly.operators as pxo
    from pynomaly.engine.calibration_conformal import ConformalParams
    from pynomaly.flow import build_flow as earlier_build_flow
    from pynomaly.nab.spec import parse_spec
    from pynomaly.operators.detect_banked import BankedShardState

    import pynomaly.dataflow
    from pynomaly.dataflow.flow import build_flow
    from pynomaly.engine import create_detector
    from pynomaly.spec import FlowSpec, load_spec
    from pynomaly.spec import parse_spec as parse_flow_spec

    assert pxo is pynomaly.dataflow
    assert {"detect", "parse", "shard", "window", "triage", "to_alert_sinks"} <= set(pxo.__all__)
    assert callable(pxo.detect) and pxo.detect.__module__ == "pynomaly.dataflow.detect_op"
    assert earlier_build_flow is build_flow
    assert BankedShardState.__module__ == "pynomaly.dataflow.detect_banked"
    assert ConformalParams.__module__ == "pynomaly.engine.decision.calibration_conformal"
    assert FlowSpec.__module__ == "pynomaly.spec.model" and callable(load_spec)
    assert callable(create_detector) and callable(parse_flow_spec)
    assert parse_spec("robust_zscore:alpha=0.1") == ("robust_zscore", {"alpha": 0.1})


def test_a_module_that_is_nowhere_is_refused_with_what_to_do() -> None:
    with pytest.raises(ModuleNotFoundError) as err:
        importlib.import_module("pynomaly.operators.no_such_module")
    assert err.value.name == "pynomaly.operators.no_such_module"
    assert "empty recovery directory" in str(err.value)
    with pytest.raises(ModuleNotFoundError, match="not one of the modules this release moved"):
        importlib.import_module("pynomaly.no_such_module")
