"""Crash recovery: ``kill -9`` a flow mid-stream, restart it from its recovery
directory, and get exactly the alert ids of an uninterrupted run (repeats
allowed only as exact copies of the same alert), with 1 and 2 workers, and
with a 1-worker run restarted on 2 workers (rescaling from the same store).

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
import time

import pytest
from flowproc import (
    TopicWatch,
    alerts_of,
    committed_epoch,
    kill9,
    run_cmd,
    start,
    wait_for,
    write_spec,
)
from recovery_flow import EVENTS, assert_same_alerts, flow_spec
from services import create_topic
from streams import PacedProducer

pytestmark = [pytest.mark.broker, pytest.mark.slow]


@pytest.mark.parametrize(("workers", "restart_workers"), [(1, 1), (2, 2), (1, 2)])
def test_kill_9_mid_stream_then_restart_gives_the_same_alert_ids(
        bootstrap, reference_alerts, tmp_path, workers, restart_workers):
    reference = reference_alerts
    source = create_topic(bootstrap, 4, "metrics")
    alerts = create_topic(bootstrap, 1, "alerts")
    live = write_spec(flow_spec(bootstrap, source, alerts, tail=True), tmp_path / "live.json")
    to_end = write_spec(flow_spec(bootstrap, source, alerts), tmp_path / "to-end.json")
    recovery = tmp_path / "recovery"
    log = tmp_path / "flow.log"
    producer = PacedProducer(bootstrap, source, EVENTS, 5.0)
    watch = TopicWatch(bootstrap, alerts)
    proc = None
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
        restart = subprocess.run(run_cmd(to_end, restart_workers, recovery), capture_output=True,
                                 text=True, timeout=300)
        assert restart.returncode == 0, restart.stdout[-2000:] + restart.stderr[-2000:]
    finally:
        watch.close()
        if proc is not None and proc.poll() is None:
            kill9(proc)
    got = alerts_of(bootstrap, alerts)
    assert_same_alerts(got, reference)
    # the restart resumed from a snapshot instead of starting over
    after_restart = len(got) - before
    assert after_restart < len(reference), (before, after_restart, ran_for)
