"""Broker outages during one run, with the broker frozen (SIGSTOP) — tansu
keeps its log in memory, so it is never restarted.

The flow reads a backlog, so it always has alerts to write while the broker
is away. Its alert sink's budget is 5 s per attempt, 4 attempts with 0.5/1/2 s
backoff: about 24 s.

1. A 10 s outage, shorter than the budget: the flow rides it out, stays up and
   emits alerts again once the broker is back.
2. An outage that outlasts the budget (the broker stays frozen until the flow
   has exited): the alert sink gives up and the flow exits non-zero with
   ``pynomaly: error: kafka sink '<topic>': N message(s) not delivered``.
   Restarted with the same recovery directory once the broker is back, it
   resumes, and the alerts are exactly those of an uninterrupted run.
"""

from __future__ import annotations

import subprocess
import time

import pytest
from faults import freeze
from flowproc import TopicWatch, alerts_of, kill9, run_cmd, start, wait_for, write_spec
from recovery_flow import EVENTS, assert_same_alerts, flow_spec
from services import create_topic
from streams import produce

pytestmark = [pytest.mark.broker, pytest.mark.slow]

OUTAGE_S = 10.0


def test_short_outage_is_ridden_out_long_one_exits_loudly_and_resumes(
        own_broker, reference_alerts, tmp_path):
    bs = own_broker.bootstrap_servers
    source, alerts = create_topic(bs, 4, "metrics"), create_topic(bs, 1, "alerts")
    produce(bs, source, EVENTS)
    spec = write_spec(flow_spec(bs, source, alerts, delivery_timeout_s=5.0),
                      tmp_path / "flow.json")
    recovery, log = tmp_path / "recovery", tmp_path / "flow.log"
    cmd = run_cmd(spec, 1, recovery)
    total = len(reference_alerts)
    proc = start(cmd, log)
    watch = TopicWatch(bs, alerts)
    try:
        # 1. a 10 s outage is ridden out
        assert wait_for(lambda: watch.count() >= total // 5 or proc.poll() is not None,
                        timeout=120)
        assert proc.poll() is None, f"the flow ended early: {log.read_text()[-2000:]}"
        freeze(own_broker)
        time.sleep(OUTAGE_S)
        own_broker.resume()
        seen = watch.count()
        assert wait_for(lambda: watch.count() > seen or proc.poll() is not None, timeout=60)
        assert proc.poll() is None, f"the flow died: {log.read_text()[-2000:]}"
        assert "retry" in log.read_text(), "the sink never waited for the broker"

        # 2. an outage beyond the budget: the flow exits loudly
        assert watch.count() < total, "the flow finished before the second outage"
        freeze(own_broker)
        try:
            exited = wait_for(lambda: proc.poll() is not None, timeout=90)
        finally:
            own_broker.resume()
        assert exited, f"the alert sink did not give up: {log.read_text()[-3000:]}"
        output = log.read_text()
        assert proc.returncode != 0
        assert f"pynomaly: error: kafka sink {alerts!r}" in output, output[-3000:]
        assert "not delivered" in output

        # ... and resumes from its recovery store
        restart = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert restart.returncode == 0, restart.stdout[-2000:] + restart.stderr[-2000:]
    finally:
        watch.close()
        if proc.poll() is None:
            kill9(proc)
    assert_same_alerts(alerts_of(bs, alerts), reference_alerts)
