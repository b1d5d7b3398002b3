"""The alert decision's state on both detect paths: the same alerts (anomaly,
missing_data, recovery) however the stream is cut into batches, and after a
snapshot round trip mid-silence (what a recovery restores)."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from pynomaly.dataflow.detect import DetectLogic, split_by_shard
from pynomaly.dataflow.detect_banked import BankedDetectLogic
from pynomaly.dataflow.records import EventBatch
from pynomaly.spec import FlowSpec

SHARDS = 4


def _spec(banked: bool) -> FlowSpec:
    detection = ({"calibration": {"kind": "none"}, "threshold": {"kind": "static", "value": 6.0},
                  "warmup": 20} if banked else {"warmup": 20})
    return FlowSpec.model_validate({
        "name": "state", "source": {"type": "file", "path": "x"},
        "record": {"value_fields": ["v"]}, "detection": detection,
        "alerts": {"cooldown_s": 60}, "keys": {"shards": SHARDS}})


def _logic(banked: bool):
    return BankedDetectLogic(_spec(banked)) if banked else DetectLogic(_spec(banked))


def _stream() -> list[tuple[str, float, float]]:
    """8 keys at 10 s; spikes; k3 silent for 20 min and back; k5 silent from 3 h on."""
    rng = np.random.default_rng(3)
    evs = []
    for step in range(4 * 360):
        t = step * 10.0
        for k in range(8):
            if (k == 3 and 3600 <= t < 4800) or (k == 5 and t >= 3 * 3600):
                continue
            v = 50 + 5 * np.sin(2 * np.pi * t / 3600 + k) + rng.normal()
            if step % 301 == 150 and k == step % 8:
                v += 40.0
            evs.append((f"k{k}", t, float(v)))
    return evs


def _batches(evs, cut):
    for start in range(0, len(evs), cut):
        chunk = evs[start:start + cut]
        times = np.array([t for _, t, _ in chunk])
        yield EventBatch([k for k, _, _ in chunk], times, np.array([[v] for _, _, v in chunk]),
                         ("v",), watermark=float(times.max()))


def _run(logic, batches, states=None):
    states = {} if states is None else states
    alerts = []
    for batch in batches:
        for shard, sub in split_by_shard(batch, SHARDS):
            states[shard], out = logic.process(states.get(shard), sub)
            alerts += out.alerts
    return alerts, states


def _ids(alerts):
    return sorted((a["kind"], a["key"], a["event_time"], a["id"]) for a in alerts)


@pytest.mark.parametrize("banked", [False, True])
def test_same_alerts_however_the_stream_is_batched(banked):
    evs = _stream()
    whole, _ = _run(_logic(banked), _batches(evs, len(evs)))
    kinds = {(a["kind"], a["key"]) for a in whole}
    assert {("missing_data", "k3"), ("recovery", "k3"), ("missing_data", "k5")} <= kinds
    assert sum(a["kind"] == "anomaly" for a in whole) >= 3
    for cut in (1, 37, 500):
        again, _ = _run(_logic(banked), _batches(evs, cut))
        assert _ids(again) == _ids(whole)
        assert [a["suppressed"] for a in sorted(again, key=lambda a: a["id"])] == [
            a["suppressed"] for a in sorted(whole, key=lambda a: a["id"])]


@pytest.mark.parametrize("banked", [False, True])
def test_snapshot_mid_silence_restores_cadence_rules_and_labels(banked):
    evs = _stream()
    cut = next(i for i, (_, t, _) in enumerate(evs) if t >= 3 * 3600 + 20)  # k5 silent 30 s
    first = list(_batches(evs[:cut], 200))
    first[0].labels = {"k5": {"region": "eu"}}
    whole, _ = _run(_logic(banked), first + list(_batches(evs[cut:], 200)))
    head, states = _run(_logic(banked), first)
    restored = {s: pickle.loads(pickle.dumps(st)) for s, st in states.items()}
    copies = {s: copy.deepcopy(st) for s, st in restored.items()}
    tail, _ = _run(_logic(banked), _batches(evs[cut:], 200), restored)
    assert _ids(head + tail) == _ids(whole)
    missing = [a for a in tail if a["kind"] == "missing_data"]
    assert [a["key"] for a in missing] == ["k5"] and missing[0]["labels"] == {"region": "eu"}
    # a deep copy (what Bytewax takes at each epoch) is independent of the running state
    again, _ = _run(_logic(banked), _batches(evs[cut:], 200), copies)
    assert _ids(again) == _ids(tail)
