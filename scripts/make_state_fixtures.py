"""Write recovery-state fixtures: what the Bytewax operators snapshot, pickled.

For each case below, the script feeds a small deterministic batch through the
real step logic of an operator (``pxo.detect``'s shard logic, ``pxo.window``'s
key windows, ``pxo.triage``'s state), pickles exactly what the operator's
``snapshot()`` returns (as Bytewax does at the end of an epoch), and records
what the *next* batch produces when the step continues from that snapshot.

Files, under ``tests/data/state_fixtures/``:

- ``<name>.pkl``: ``pickle.dumps(snapshot)``;
- ``<name>.json``: the case (operator, spec or options, the next batch) and
  the outputs of the next batch (alerts without their wall-clock
  ``emit_time``, dead letters, score points, counters).

``tests/reliability/test_previous_release_state.py`` loads each pickle with
plain ``pickle.loads`` (as Bytewax does on resume), continues with the next
batch and checks the outputs are the same. The committed fixtures were
written before the package was laid out along the flow (docs/adr/0102): they
name the modules of that layout, which is what the test checks is still
read. Rewriting them with a later layout tests nothing old; the script
refuses to overwrite existing files without ``--force``.

    python scripts/make_state_fixtures.py [--force]
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "state_fixtures"

#: keys of the detect cases (one shard: ``keys.shards`` is 1)
KEYS = [f"host-{i}" for i in range(5)]
STEP_S = 60.0


def _base_spec(name: str, fields: list[str], detection: dict[str, Any],
               **extra: Any) -> dict[str, Any]:
    """A one-shard flow spec; its alert budget makes the detect step hand
    over every score (``ShardOutput.budget_scores``), banked path included."""
    return {"name": name, "source": {"type": "file", "path": "unused.jsonl"},
            "record": {"key_field": "host", "value_fields": fields},
            "detection": detection, "keys": {"shards": 1},
            "budget": {"alerts_per_hour": 100.0}, **extra}


#: name → (flow spec, keep score points)
DETECT_CASES: dict[str, tuple[dict[str, Any], bool]] = {
    # banked, robust statistics, the default calibration (conformal + probability)
    "detect_banked_robust_zscore": (
        _base_spec("banked-rz", ["cpu"], {"detector": "robust_zscore", "warmup": 50}), False),
    # banked, robust statistics, no calibration and a static threshold
    "detect_banked_robust_zscore_static": (
        _base_spec("banked-rz-static", ["cpu"], {
            "detector": "robust_zscore", "warmup": 50, "calibration": {"kind": "none"},
            "threshold": {"kind": "static", "value": 6.0}}), False),
    # banked, Half-Space Trees with fixed limits, the default calibration
    "detect_banked_hst": (
        _base_spec("banked-hst", ["cpu", "mem"], {
            "detector": {"name": "hst", "params": {
                "n_trees": 8, "height": 5, "window_size": 64, "seed": 3,
                "limits": [[-6.0, 6.0], [-6.0, 6.0]]}},
            "warmup": 80}), False),
    # banked, metric deviation (the default for several value fields)
    "detect_banked_metric_deviation": (
        _base_spec("banked-md", ["cpu", "mem", "disk"], {"warmup": 50}), False),
    # per key: a detector without a bank (Random Cut Forest), every score kept
    "detect_per_key_rcf": (
        _base_spec("per-key-rcf", ["cpu", "mem"], {
            "detector": {"name": "rcf", "params": {"n_trees": 10, "tree_size": 64, "seed": 2}},
            "warmup": 80}), True),
    # per key: event-time windows, SPOT calibration, a drift monitor
    "detect_per_key_window_spot_drift": (
        _base_spec("per-key-window", ["cpu"], {
            "detector": "robust_zscore", "warmup": 30,
            "calibration": {"kind": "spot", "n_init": 40, "level": 0.9, "q": 0.01},
            "threshold": {"kind": "probability", "level": 0.99},
            "drift": [{"monitor": "fast_page_hinkley", "stream": "score",
                       "params": {"threshold": 20.0}}]},
            window={"kind": "tumbling", "size_s": 180.0}), True),
}


def _rows(n_per_key: int, start: float, fields: int, seed: int,
          spikes: dict[int, float] | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``n_per_key`` events of every key, interleaved, from event time ``start``;
    ``spikes`` adds a value to event ``i`` (of the interleaved order)."""
    rng = np.random.default_rng(seed)
    keys = [k for _ in range(n_per_key) for k in KEYS]
    times = start + STEP_S * np.repeat(np.arange(n_per_key, dtype=np.float64), len(KEYS))
    values = rng.normal(size=(len(keys), fields)) + np.arange(fields) * 0.5
    for i, add in (spikes or {}).items():
        values[i] += add
    return keys, times, values


def _first_batch(fields: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    return _rows(200, 0.0, fields, seed=11)


def _next_batch(fields: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Continues the first batch's event times, with spikes, a sustained shift
    of ``host-3``, and one event of ``host-1`` behind its newest event time (a
    late event, dead-lettered)."""
    spikes = {37: 25.0, 38: -18.0, 151: 30.0, 222: 20.0}
    spikes.update({i: 9.0 for i in range(103, 163, len(KEYS))})  # host-3, twelve events
    keys, times, values = _rows(60, 200 * STEP_S, fields, seed=12, spikes=spikes)
    keys.append("host-1")
    times = np.r_[times, 100 * STEP_S]
    values = np.r_[values, np.zeros((1, fields))]
    return keys, times, values


def _alert(a: dict[str, Any]) -> dict[str, Any]:
    """An alert without its wall-clock emit time."""
    return {k: v for k, v in a.items() if k != "emit_time"}


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    return x


def detect_outputs(outs: list[Any], state: Any) -> dict[str, Any]:
    """The comparable part of a detect step's outputs and its state's counters."""
    return _jsonable({
        "alerts": [_alert(a) for o in outs for a in o.alerts],
        "dead": [d.to_json() for o in outs for d in o.dead],
        "scored": sum(o.scored for o in outs),
        "points": [list(p) for o in outs for p in o.points],
        "scores": [list(b) for o in outs for b in o.budget_scores],
        "drift": [d for o in outs for d in o.drift],
        "counters": {"keys": len(state.keys), "late": state.late, "overflow": state.overflow,
                     "evicted": state.evicted, "batches": state.batches,
                     "watermark": state.watermark},
    })


def detect_case(name: str, spec_data: dict[str, Any], keep_points: bool) -> tuple[Any, dict]:
    from pynomaly.dataflow.detect import make_detect_logic
    from pynomaly.dataflow.detect_op import _ShardDetect
    from pynomaly.dataflow.instrumented import detect_step
    from pynomaly.dataflow.record_rows import RowParser
    from pynomaly.dataflow.records import EventBatch
    from pynomaly.spec import parse_spec

    spec = parse_spec(spec_data, name)
    fields = tuple(spec.record.value_fields)

    def operator_logic(state: Any) -> Any:
        """What ``pxo.detect``'s ``stateful_batch`` builds for a shard."""
        logic = make_detect_logic(spec, keep_points=keep_points)
        step = detect_step(logic, spec.name, spec.detection.detector.name)
        return _ShardDetect(step, RowParser(spec.record, origin=spec.name), state)

    keys, times, values = _first_batch(len(fields))
    first = operator_logic(None)
    first.on_batch([EventBatch(keys, times, values, fields)])
    blob = pickle.dumps(first.snapshot())

    keys, times, values = _next_batch(len(fields))
    resumed = operator_logic(pickle.loads(blob))
    outs, _ = resumed.on_batch([EventBatch(keys, times, values, fields)])
    case = {
        "operator": "detect", "spec": spec_data, "keep_points": keep_points,
        "state_class": f"{type(resumed.state).__module__}.{type(resumed.state).__qualname__}",
        "next": {"keys": keys, "times": times.tolist(), "values": values.tolist(),
                 "fields": list(fields)},
        "expected": detect_outputs(list(outs), resumed.state),
    }
    return blob, case


def window_outputs(out: list[Any]) -> list[Any]:
    from pynomaly.dataflow.records import DeadLetter

    return _jsonable([d.to_json() if isinstance(d, DeadLetter) else d for d in out])


def window_case() -> tuple[Any, dict]:
    from pynomaly.dataflow.detect_options import KEY_FIELD
    from pynomaly.dataflow.record_rows import RowParser
    from pynomaly.dataflow.window_op import _KeyWindowLogic
    from pynomaly.spec import RecordSpec, WindowSpec

    options = {"kind": "sliding", "size_s": 120.0, "slide_s": 60.0, "agg": "max",
               "allowed_lateness_s": 30.0}
    fields = ["cpu", "mem"]

    def operator_logic(state: Any) -> Any:
        """What ``pxo.window``'s ``stateful_batch`` builds for a key."""
        record = RecordSpec(key_field=KEY_FIELD, time_field="ts", value_fields=fields)
        return _KeyWindowLogic(WindowSpec(**options), RowParser(record, origin="win"), state)

    rng = np.random.default_rng(5)
    first = [("a", {"ts": 7.0 * i, "cpu": float(rng.normal()), "mem": float(rng.normal())})
             for i in range(40)]
    logic = operator_logic(None)
    logic.on_batch(first)
    blob = pickle.dumps(logic.snapshot())
    nxt = [("a", {"ts": 280.0 + 7.0 * i, "cpu": float(rng.normal()), "mem": float(rng.normal())})
           for i in range(40)]
    nxt += [("a", {"ts": 10.0, "cpu": 1.0, "mem": 1.0}),  # late
            ("a", {"ts": 600.0, "cpu": "high", "mem": 1.0})]  # wrong type
    out, _ = operator_logic(pickle.loads(blob)).on_batch(nxt)
    case = {"operator": "window", "options": options, "fields": fields,
            "next": [list(p) for p in nxt], "expected": window_outputs(list(out))}
    return blob, case


def triage_outputs(out: list[Any]) -> list[Any]:
    return _jsonable([[tag, _alert(rec) if tag == "alert" else rec] for tag, rec in out])


def _triage_alert(i: int, key: str, t: float, score: float) -> dict[str, Any]:
    return {"id": f"a{i}", "kind": "anomaly", "flow": "triage-fixture", "key": key,
            "event_time": t, "score": score, "threshold": 3.0, "labels": {"service": "web"}}


def triage_case() -> tuple[Any, dict]:
    from pynomaly.dataflow.triage_op import _TriageLogic
    from pynomaly.incidents.triage import TriageConfig, TriageState

    config = {"incidents": {}, "budget": {"alerts_per_hour": 20.0, "epoch_s": 900.0, "history_s": 1800.0}, "feedback": {}}

    def operator_logic(state: Any) -> Any:
        """What ``pxo.triage``'s ``stateful`` step builds."""
        return _TriageLogic(state if state is not None else TriageState(
            TriageConfig.model_validate(config), flow="triage-fixture"))

    rng = np.random.default_rng(9)

    def items(lo: int, hi: int) -> list[list[Any]]:
        out: list[list[Any]] = []
        for i in range(lo, hi):
            t = 30.0 * i
            out.append(["scores", [[t, t + 10.0, t + 20.0], rng.exponential(size=3).tolist()]])
            if i % 7 == 0:
                out.append(["alert", _triage_alert(i, f"web-{i % 4}", t, 5.0 + i % 3)])
        return out

    def feed(logic: Any, batch: list[list[Any]]) -> list[Any]:
        got: list[Any] = []
        for kind, payload in batch:
            if kind == "scores":
                payload = (np.asarray(payload[0]), np.asarray(payload[1]))
            out, _ = logic.on_item((kind, payload))
            got += out
        return got

    logic = operator_logic(None)
    feed(logic, items(0, 120))
    blob = pickle.dumps(logic.snapshot())
    nxt = items(120, 200)
    nxt.insert(5, ["verdict", {"verdict": "false_positive", "alert_id": "a119", "keys": ["web-0"]}])
    out = feed(operator_logic(pickle.loads(blob)), nxt)
    case = {"operator": "triage", "config": config, "flow": "triage-fixture", "next": nxt,
            "expected": triage_outputs(out)}
    return blob, case


def build_all() -> dict[str, tuple[bytes, dict[str, Any]]]:
    cases = {name: detect_case(name, spec, points)
             for name, (spec, points) in DETECT_CASES.items()}
    cases["window_op"] = window_case()
    cases["triage_op"] = triage_case()
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="overwrite existing fixtures")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.force and any(args.out.glob("*.pkl")):
        print(f"{args.out} already holds fixtures (--force overwrites them)", file=sys.stderr)
        return 1
    for name, (blob, case) in build_all().items():
        (args.out / f"{name}.pkl").write_bytes(blob)
        (args.out / f"{name}.json").write_text(json.dumps(case, indent=1, sort_keys=True) + "\n")
        print(f"{name}: {len(blob):,} bytes, {len(case['expected'])} output parts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
