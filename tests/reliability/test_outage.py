"""Broker outage: the broker freezes (SIGSTOP) for 10 s mid-run and comes back.

* With the default delivery budget (30 s per attempt, 3 retries) the flow
  rides the outage out: it stays up, and once the broker is back every alert
  of the uninterrupted run arrives.
* When the outage outlasts the delivery budget (here 1 s per attempt, 4
  attempts with backoff: about 8 s; the broker stays frozen until the flow
  has exited) the alert sink gives up: the flow exits non-zero with a
  ``DeliveryError`` naming the topic; restarted after the broker is back, it
  resumes from its recovery store and the alerts are again exactly those of
  the uninterrupted run.

The broker is frozen, not restarted: tansu keeps its log in memory.
"""

from __future__ import annotations

import subprocess
import time

from faults import freeze
from flowproc import TopicWatch, alerts_of, kill9, run_cmd, start, wait_for, write_spec
from recovery_flow import EVENTS, assert_same_alerts, flow_spec
from services import create_topic
from streams import PacedProducer, produce

OUTAGE_S = 10.0


def _wait_started(proc, recovery, log):
    assert wait_for(lambda: any(recovery.glob("part-*.sqlite3")) or proc.poll() is not None,
                    timeout=120) and proc.poll() is None, log.read_text()[-2000:]


def test_flow_rides_out_a_10s_broker_outage(own_broker, reference_alerts, tmp_path):
    bs = own_broker.bootstrap_servers
    source, alerts = create_topic(bs, 4, "metrics"), create_topic(bs, 1, "alerts")
    spec = write_spec(flow_spec(bs, source, alerts, tail=True), tmp_path / "flow.json")
    recovery, log = tmp_path / "recovery", tmp_path / "flow.log"
    proc = start(run_cmd(spec, 1, recovery), log)
    watch = TopicWatch(bs, alerts)
    try:
        _wait_started(proc, recovery, log)
        producer = PacedProducer(bs, source, EVENTS, 5.0)
        producer.start()
        assert wait_for(lambda: watch.count() >= len(reference_alerts) // 4, timeout=120)
        freeze(own_broker)
        time.sleep(OUTAGE_S)
        own_broker.resume()
        producer.join()
        complete = wait_for(lambda: watch.count() >= len(reference_alerts), timeout=120,
                            interval=0.5)
        assert proc.poll() is None, f"the flow died: {log.read_text()[-2000:]}"
        assert complete, (f"{watch.count()} of {len(reference_alerts)} alerts; "
                          f"{TopicWatch(bs, source).count()} of {len(EVENTS)} events; "
                          f"{log.read_text()[-3000:]}")
    finally:
        watch.close()
        if proc.poll() is None:
            kill9(proc)
    assert_same_alerts(alerts_of(bs, alerts), reference_alerts)


def test_flow_exits_loudly_then_resumes_from_recovery(own_broker, reference_alerts, tmp_path):
    bs = own_broker.bootstrap_servers
    source, alerts = create_topic(bs, 4, "metrics"), create_topic(bs, 1, "alerts")
    produce(bs, source, EVENTS)
    spec = write_spec(flow_spec(bs, source, alerts, delivery_timeout_s=1.0),
                      tmp_path / "flow.json")
    recovery, log = tmp_path / "recovery", tmp_path / "flow.log"
    cmd = run_cmd(spec, 1, recovery)
    proc = start(cmd, log)
    watch = TopicWatch(bs, alerts)
    try:
        _wait_started(proc, recovery, log)
        assert wait_for(lambda: watch.count() >= len(reference_alerts) // 4
                        or proc.poll() is not None, timeout=120)
        assert proc.poll() is None, f"the flow ended early: {log.read_text()[-2000:]}"
        freeze(own_broker)
        try:
            # the outage lasts until the sink has given up (at most 30 s)
            exited = wait_for(lambda: proc.poll() is not None, timeout=30)
        finally:
            own_broker.resume()
        assert exited, f"the alert sink did not give up: {log.read_text()[-3000:]}"
        assert proc.returncode != 0
        output = log.read_text()
        assert f"pynomaly: error: kafka sink {alerts!r}" in output and "not delivered" in output
        restart = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert restart.returncode == 0, restart.stdout[-2000:] + restart.stderr[-2000:]
    finally:
        watch.close()
        if proc.poll() is None:
            kill9(proc)
    assert_same_alerts(alerts_of(bs, alerts), reference_alerts)
