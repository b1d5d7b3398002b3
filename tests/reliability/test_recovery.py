"""Crash recovery: ``kill -9`` a flow mid-stream, restart it from its recovery
directory, and get exactly the alert ids of an uninterrupted run (repeats
allowed only as exact copies of the same alert), with 1 and 2 workers.

The killed run reads a live stream (records produced at a steady pace while
it runs, ``tail: true``), so epochs close and snapshots commit as in
production; the restart reads to the end of the topic (``tail: false``) and
exits. The uninterrupted reference run reads the same records as a backlog.

The flow keeps every kind of engine state: detector, conformal calibrator,
probability threshold, a drift monitor whose detections reset the detector,
tumbling windows and the alert cooldown. A restart that lost or mixed up any
of it would change which events alert, hence the ids.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections import defaultdict

import pytest
from flowproc import (
    TopicWatch,
    alerts_of,
    committed_epoch,
    kill9,
    run_cmd,
    start,
    wait_for,
    without_emit_time,
    write_spec,
)
from services import create_topic
from streams import metric_events, produce, produce_paced

from pynomaly.flow import build_flow
from pynomaly.runner import RunOptions, run_dataflow
from pynomaly.spec import parse_spec

N_KEYS, N_PER_KEY = 40, 1500
EVENTS = metric_events(N_KEYS, N_PER_KEY, shift_at=N_PER_KEY // 2)


def flow_spec(bootstrap: str, source: str, alerts: str, tail: bool = False) -> dict:
    return {
        "name": "recovery",
        "source": {"type": "kafka", "bootstrap_servers": bootstrap, "topics": [source],
                   "tail": tail, "batch_size": 500},
        "record": {"value_fields": ["cpu"], "time_format": "epoch_s", "max_future_s": 3.2e8},
        "window": {"kind": "tumbling", "size_s": 3},
        "detection": {"detector": "robust_zscore", "warmup": 40,
                      "calibration": {"kind": "conformal", "window": 300},
                      "threshold": {"kind": "probability", "level": 0.99},
                      "drift": [{"monitor": "fast_page_hinkley", "stream": "input",
                                 "params": {"threshold": 60.0}}],
                      "drift_policy": "reset"},
        "alerts": {"cooldown_s": 20},
        "sinks": [{"type": "kafka", "bootstrap_servers": bootstrap, "topic": alerts}],
    }


@pytest.fixture(scope="module")
def reference(bootstrap):
    """Alerts by id of an uninterrupted run over the events (known anomalies
    and level shifts) read as a backlog."""
    source = create_topic(bootstrap, 4, "metrics")
    produce(bootstrap, source, EVENTS)
    alerts = create_topic(bootstrap, 1, "alerts")
    run_dataflow(build_flow(parse_spec(flow_spec(bootstrap, source, alerts))), RunOptions())
    reference = alerts_of(bootstrap, alerts)
    ids = [a["id"] for a in reference]
    assert len(ids) == len(set(ids)) > 100
    return {a["id"]: without_emit_time(a) for a in reference}


@pytest.mark.parametrize("workers", [1, 2])
def test_kill_9_mid_stream_then_restart_gives_the_same_alert_ids(
        bootstrap, reference, tmp_path, workers):
    source = create_topic(bootstrap, 4, "metrics")
    alerts = create_topic(bootstrap, 1, "alerts")
    live = write_spec(flow_spec(bootstrap, source, alerts, tail=True), tmp_path / "live.json")
    to_end = write_spec(flow_spec(bootstrap, source, alerts), tmp_path / "to-end.json")
    recovery = tmp_path / "recovery"
    log = tmp_path / "flow.log"
    producer = threading.Thread(target=produce_paced, args=(bootstrap, source, EVENTS, 5.0))
    watch = TopicWatch(bootstrap, alerts)
    try:
        proc = start(run_cmd(live, workers, recovery), log)
        started = time.monotonic()
        # the stream starts once the flow is up (its recovery store exists)
        assert wait_for(lambda: any(recovery.glob("part-*.sqlite3")) or proc.poll() is not None,
                        timeout=120) and proc.poll() is None, log.read_text()[-2000:]
        producer.start()
        # mid-stream: a third of the alerts are out and a few epochs are committed
        reached = wait_for(lambda: (watch.count() >= len(reference) // 3
                                    and (committed_epoch(recovery) or 0) >= 3)
                           or proc.poll() is not None, timeout=240)
        assert reached and proc.poll() is None, (
            f"the flow ended before it could be killed: {log.read_text()[-2000:]}")
        kill9(proc)
        before = watch.count()
        ran_for = time.monotonic() - started
        producer.join()
        restart = subprocess.run(run_cmd(to_end, workers, recovery), capture_output=True,
                                 text=True, timeout=300)
        assert restart.returncode == 0, restart.stdout[-2000:] + restart.stderr[-2000:]
    finally:
        watch.close()
    got = alerts_of(bootstrap, alerts)
    by_id = defaultdict(list)
    for a in got:
        by_id[a["id"]].append(without_emit_time(a))
    assert set(by_id) == set(reference), (
        f"missing {len(set(reference) - set(by_id))}, extra {len(set(by_id) - set(reference))}")
    for alert_id, copies in by_id.items():
        assert all(c == reference[alert_id] for c in copies), alert_id
    # the restart resumed from a snapshot instead of starting over
    after_restart = len(got) - before
    assert after_restart < len(reference), (before, after_restart, ran_for)
