"""Broker outages, with brokers frozen (SIGSTOP) — tansu keeps its log in
memory, so it is never restarted.

1. The only broker (input and alerts) freezes for 10 s while a live stream
   flows: the flow rides it out (the delivery budget is 30 s per attempt, 4
   attempts), stays up, and every alert of an uninterrupted run arrives.
2. The alerts broker stays frozen longer than the alert sink's budget (here
   1 s per attempt, 4 attempts with 0.5/1/2 s backoff) while events keep
   coming from another broker, so the sink always has alerts to write: it
   gives up and the flow exits non-zero with ``pynomaly: error: kafka sink
   '<topic>': N message(s) not delivered``. Restarted with the same recovery
   directory once the broker is back, it resumes, and the alerts are exactly
   those of an uninterrupted run.
"""

from __future__ import annotations

import subprocess
import time

import pytest
from faults import freeze
from flowproc import TopicWatch, alerts_of, kill9, run_cmd, start, wait_for, write_spec
from recovery_flow import EVENTS, assert_same_alerts, flow_spec
from services import create_topic
from streams import PacedProducer

pytestmark = [pytest.mark.broker, pytest.mark.slow]

OUTAGE_S = 10.0


def _wait_started(proc, recovery, log):
    assert wait_for(lambda: any(recovery.glob("part-*.sqlite3")) or proc.poll() is not None,
                    timeout=120) and proc.poll() is None, log.read_text()[-2000:]


def test_flow_rides_out_a_10s_outage_of_its_broker(own_broker, reference_alerts, tmp_path):
    bs = own_broker.bootstrap_servers
    source, alerts = create_topic(bs, 4, "metrics"), create_topic(bs, 1, "alerts")
    spec = write_spec(flow_spec(bs, source, alerts, tail=True), tmp_path / "flow.json")
    recovery, log = tmp_path / "recovery", tmp_path / "flow.log"
    total = len(reference_alerts)
    proc = start(run_cmd(spec, 1, recovery), log)
    watch = TopicWatch(bs, alerts)
    try:
        _wait_started(proc, recovery, log)
        producer = PacedProducer(bs, source, EVENTS, 8.0)
        producer.start()
        assert wait_for(lambda: watch.count() >= total // 5, timeout=120)
        freeze(own_broker)
        time.sleep(OUTAGE_S)
        own_broker.resume()
        producer.join()
        complete = wait_for(lambda: watch.alert_ids() >= set(reference_alerts), timeout=120,
                            interval=0.5)
        assert proc.poll() is None, f"the flow died: {log.read_text()[-2000:]}"
        assert complete, f"{len(watch.alert_ids())} of {total} alerts: {log.read_text()[-2000:]}"
    finally:
        watch.close()
        if proc.poll() is None:
            kill9(proc)
    assert_same_alerts(alerts_of(bs, alerts), reference_alerts)


def test_alerts_broker_down_beyond_the_budget_exits_loudly_then_resumes(
        bootstrap, own_broker, reference_alerts, tmp_path):
    alerts_bs = own_broker.bootstrap_servers
    source, alerts = create_topic(bootstrap, 4, "metrics"), create_topic(alerts_bs, 1, "alerts")
    live = write_spec(flow_spec(bootstrap, source, alerts, tail=True, delivery_timeout_s=1.0,
                                alerts_bootstrap=alerts_bs), tmp_path / "live.json")
    to_end = write_spec(flow_spec(bootstrap, source, alerts, delivery_timeout_s=1.0,
                                  alerts_bootstrap=alerts_bs), tmp_path / "to-end.json")
    recovery, log = tmp_path / "recovery", tmp_path / "flow.log"
    total = len(reference_alerts)
    proc = start(run_cmd(live, 1, recovery), log)
    watch = TopicWatch(alerts_bs, alerts)
    producer = PacedProducer(bootstrap, source, EVENTS, 8.0)
    try:
        _wait_started(proc, recovery, log)
        producer.start()
        assert wait_for(lambda: watch.count() >= total // 5 or proc.poll() is not None,
                        timeout=120)
        assert proc.poll() is None, f"the flow ended early: {log.read_text()[-2000:]}"
        freeze(own_broker)
        try:
            exited = wait_for(lambda: proc.poll() is not None, timeout=60)
        finally:
            own_broker.resume()
        assert exited, f"the alert sink did not give up: {log.read_text()[-3000:]}"
        output = log.read_text()
        assert proc.returncode != 0
        assert f"pynomaly: error: kafka sink {alerts!r}" in output, output[-3000:]
        assert "not delivered" in output and "retry 3/3" in output

        producer.join()
        restart = subprocess.run(run_cmd(to_end, 1, recovery), capture_output=True, text=True,
                                 timeout=300)
        assert restart.returncode == 0, restart.stdout[-2000:] + restart.stderr[-2000:]
    finally:
        watch.close()
        if proc.poll() is None:
            kill9(proc)
    assert_same_alerts(alerts_of(alerts_bs, alerts), reference_alerts)
