"""Recovery snapshots written by the earlier package layout resume here.

``tests/data/state_fixtures`` holds what the detect, window and triage
operators snapshotted before the package was laid out along the flow
(docs/adr/0102), pickled as Bytewax pickles a snapshot, with the outputs of
the batch that followed (``scripts/make_state_fixtures.py``). Each snapshot
is loaded with plain ``pickle.loads`` (as Bytewax does on resume); the step
continues with the next batch and must give the very same outputs (a
per-key snapshot of a spec that runs banked now is refused by name there,
and continues on the per-key path). A snapshot that cannot be read is
refused with a message that says which snapshot and what to do.
"""

from __future__ import annotations

import importlib.util
import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pynomaly.dataflow.detect import DetectLogic, ShardState, _load_shard, make_detect_logic
from pynomaly.dataflow.detect_banked import (
    BankedDetectLogic,
    BankedShardState,
    banked_eligible,
)
from pynomaly.dataflow.detect_op import _ShardDetect
from pynomaly.dataflow.detect_options import KEY_FIELD
from pynomaly.dataflow.instrumented import detect_step
from pynomaly.dataflow.record_rows import RowParser
from pynomaly.dataflow.records import EventBatch
from pynomaly.dataflow.triage_op import _TriageLogic
from pynomaly.dataflow.window_op import _KeyWindowLogic
from pynomaly.spec import RecordSpec, WindowSpec, parse_spec

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "data" / "state_fixtures"
NAMES = sorted(p.stem for p in FIXTURES.glob("*.pkl"))


def _script() -> Any:
    """The fixture script: its output normalisation is what the fixtures hold."""
    spec = importlib.util.spec_from_file_location(
        "make_state_fixtures", ROOT / "scripts" / "make_state_fixtures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCRIPT = _script()


def _case(name: str) -> tuple[bytes, dict[str, Any]]:
    return ((FIXTURES / f"{name}.pkl").read_bytes(),
            json.loads((FIXTURES / f"{name}.json").read_text()))


def _same(got: Any, expected: Any) -> None:
    # compared as JSON text: NaN equals NaN there, and tuples are lists
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)


def _resume_detect(case: dict[str, Any], state: Any,
                   per_key: bool = False) -> tuple[list[Any], Any]:
    """What ``pxo.detect``'s ``stateful_batch`` step does on resume: build the
    shard logic around the resumed state, then take the next batch.
    ``per_key`` forces the per-key path (``pxo.detect(..., per_key=True)``)."""
    spec = parse_spec(case["spec"], "fixture")
    logic = (DetectLogic(spec, keep_points=case["keep_points"]) if per_key
             else make_detect_logic(spec, keep_points=case["keep_points"]))
    step = detect_step(logic, spec.name, spec.detection.detector.name)
    shard = _ShardDetect(step, RowParser(spec.record, origin=spec.name), state)
    nxt = case["next"]
    batch = EventBatch(nxt["keys"], np.asarray(nxt["times"], dtype=np.float64),
                       np.asarray(nxt["values"], dtype=np.float64), tuple(nxt["fields"]))
    outs, _ = shard.on_batch([batch])
    return list(outs), shard.state


def _resume_window(case: dict[str, Any], state: Any) -> list[Any]:
    record = RecordSpec(key_field=KEY_FIELD, time_field="ts", value_fields=case["fields"])
    logic = _KeyWindowLogic(WindowSpec(**case["options"]), RowParser(record, origin="win"), state)
    # the fixture's JSON has sorted keys; the records were made time field first
    # (the order shows in a dead letter's original bytes)
    fields = ["ts", *case["fields"]]
    records = [(key, {f: rec[f] for f in fields}) for key, rec in case["next"]]
    out, _ = logic.on_batch(records)
    return list(out)


def _resume_triage(state: Any, items: list[list[Any]]) -> list[Any]:
    logic = _TriageLogic(state)
    got: list[Any] = []
    for kind, payload in items:
        if kind == "scores":
            payload = (np.asarray(payload[0]), np.asarray(payload[1]))
        out, _ = logic.on_item((kind, payload))
        got += out
    return got


def test_every_operator_and_detect_path_has_a_fixture() -> None:
    assert {"window_op", "triage_op"} <= set(NAMES)
    detect = [n for n in NAMES if n.startswith("detect_")]
    kinds = {_case(n)[1]["state_class"].rpartition(".")[2] for n in detect}
    assert kinds == {"BankedShardState", "ShardState"}


@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith("detect_")])
def test_detect_snapshot_resumes_with_the_same_outputs(name: str) -> None:
    blob, case = _case(name)
    state = pickle.loads(blob)
    assert isinstance(state, BankedShardState | ShardState)
    assert type(state).__name__ == case["state_class"].rpartition(".")[2]
    per_key = isinstance(state, ShardState) and banked_eligible(parse_spec(case["spec"]))
    if per_key:
        # the spec runs banked now: its per-key state is refused by name, and
        # continues on the per-key path, which a flow can still ask for
        with pytest.raises(TypeError, match=r"written by the per-key detect path"):
            _resume_detect(case, pickle.loads(blob))
    outs, after = _resume_detect(case, state, per_key=per_key)
    _same(SCRIPT.detect_outputs(outs, after), case["expected"])
    assert case["expected"]["alerts"] or name == "detect_banked_metric_deviation"


def test_window_snapshot_resumes_with_the_same_outputs() -> None:
    blob, case = _case("window_op")
    _same(SCRIPT.window_outputs(_resume_window(case, pickle.loads(blob))), case["expected"])


def test_triage_snapshot_resumes_with_the_same_outputs() -> None:
    blob, case = _case("triage_op")
    got = _resume_triage(pickle.loads(blob), case["next"])
    _same(SCRIPT.triage_outputs(got), case["expected"])


def test_snapshots_load_in_a_fresh_interpreter_as_classes_of_the_new_layout() -> None:
    """Nothing imported beforehand: the old module names the pickles hold are
    resolved by the import hook alone, to the modules of the new layout."""
    code = (
        "import pathlib, pickle, sys\n"
        "for p in sorted(pathlib.Path(sys.argv[1]).glob('*.pkl')):\n"
        "    state = pickle.loads(p.read_bytes())\n"
        "    print(p.stem, type(state).__module__)\n"
        "print(sorted(m for m in sys.modules if m.startswith('pynomaly.operators')))\n")
    proc = subprocess.run([sys.executable, "-c", code, str(FIXTURES)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    modules = dict(line.split() for line in lines[:-1])
    assert modules["detect_per_key_rcf"] == "pynomaly.dataflow.detect"
    assert modules["detect_banked_hst"] == "pynomaly.dataflow.detect_banked"
    assert modules["window_op"] == "pynomaly.dataflow.windowing"
    assert modules["triage_op"] == "pynomaly.incidents.triage"
    assert "pynomaly.operators.detect_banked" in lines[-1]  # the old names, aliased


def _renamed(blob: bytes, old: bytes, new: bytes) -> bytes:
    """``blob`` naming module ``new`` where it named ``old`` (same length, so
    the pickle stays well formed)."""
    assert len(old) == len(new) and old in blob
    return blob.replace(old, new)


def test_a_per_key_snapshot_naming_a_missing_module_is_refused_naming_the_snapshot() -> None:
    blob, _ = _case("detect_per_key_rcf")
    bad = _renamed(blob, b"pynomaly.engine.calibration_conformal",
                   b"pynomaly.engine.calibration_conformaX")
    with pytest.raises(ValueError) as err:
        pickle.loads(bad)
    message = str(err.value)
    assert "recovery snapshot of a detect shard (per-key state) cannot be read" in message
    assert "'pynomaly.engine.calibration_conformaX'" in message
    assert "start the flow from an empty recovery directory" in message


def test_a_banked_snapshot_naming_a_missing_module_is_refused_with_what_to_do() -> None:
    blob, _ = _case("detect_banked_robust_zscore")
    bad = _renamed(blob, b"pynomaly.engine.banked_calibration",
                   b"pynomaly.engine.banked_calibratioX")
    with pytest.raises(ModuleNotFoundError) as err:
        pickle.loads(bad)
    message = str(err.value)
    assert err.value.name == "pynomaly.engine.banked_calibratioX"
    assert "recovery snapshot that names it was written by another release" in message
    assert "start the flow from an empty recovery directory" in message


def test_a_shard_state_of_the_other_detect_path_is_refused() -> None:
    banked_blob, banked = _case("detect_banked_robust_zscore")
    # written per key (windows ran per key then); its spec runs banked now
    per_key_blob, per_key = _case("detect_per_key_window_spot_drift")
    with pytest.raises(TypeError, match=r"written by the per-key detect path.*empty recovery"):
        _resume_detect(banked, pickle.loads(per_key_blob))
    with pytest.raises(TypeError, match=r"written by the per-key detect path.*empty recovery"):
        _resume_detect(per_key, pickle.loads(per_key_blob))
    with pytest.raises(TypeError, match=r"written for another detector or decision.*empty"):
        _resume_detect(per_key, pickle.loads(banked_blob))
    assert isinstance(make_detect_logic(parse_spec(banked["spec"])), BankedDetectLogic)
    assert isinstance(make_detect_logic(parse_spec(per_key["spec"])), BankedDetectLogic)
    with pytest.raises(TypeError, match=r"written by the banked detect path.*empty recovery"):
        _resume_detect(per_key, pickle.loads(banked_blob), per_key=True)


def test_a_per_key_snapshot_with_an_unreadable_shard_is_refused() -> None:
    with pytest.raises(ValueError, match=r"detect shard \(per-key state\) cannot be read: "
                       r"UnpicklingError.*empty recovery directory"):
        _load_shard(b"\x80\x05not a pickle")
