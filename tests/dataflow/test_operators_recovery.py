"""``pxo.detect`` state across workers and across a crash with Bytewax
recovery: the alerts are those of one uninterrupted single-worker run."""

from datetime import timedelta

import bytewax.operators as op
import numpy as np
from bytewax.dataflow import Dataflow
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import TestingSink, TestingSource, cluster_main, run_main

import pynomaly.dataflow as pxo

OPTIONS = {"detector": "robust_zscore", "warmup": 30,
           "calibration": {"kind": "conformal", "window": 200},
           "threshold": {"kind": "static", "value": 6.0}, "cooldown_s": 0}


def _records() -> list[dict]:
    rng = np.random.default_rng(3)
    rows = []
    for i in range(300):
        for h in range(8):
            v = 1.0 + 0.1 * rng.normal()
            if i in (120, 240) and h % 3 == 0:
                v = 5.0
            rows.append({"host": f"h{h}", "ts": 1_700_000_000.0 + 10 * i, "v": v})
    return rows


def _flow(items: list, alerts: list) -> Dataflow:
    flow = Dataflow("ops-recovery")
    keyed = op.key_on("host", op.input("in", flow, TestingSource(items, batch_size=40)),
                      lambda r: r["host"])
    out = pxo.detect("detect", keyed, fields=["v"], shards=4, **OPTIONS)
    op.output("alerts", out.alerts, TestingSink(alerts))
    return flow


def _ids(alerts: list) -> list[str]:
    return sorted({a["id"] for a in alerts})


def test_two_workers_give_the_alerts_of_one():
    one, two = [], []
    run_main(_flow(_records(), one))
    cluster_main(_flow(_records(), two), [], 0, worker_count_per_proc=2)
    assert len(_ids(one)) >= 6
    assert _ids(two) == _ids(one)


def test_resume_after_an_abort_gives_the_alerts_of_an_uninterrupted_run(tmp_path):
    reference: list = []
    run_main(_flow(_records(), reference))

    init_db_dir(tmp_path, 1)
    recovery = RecoveryConfig(str(tmp_path))
    rows = _records()
    items = [*rows[:1500], TestingSource.ABORT(), *rows[1500:]]
    got: list = []
    flow = _flow(items, got)
    run_main(flow, epoch_interval=timedelta(0), recovery_config=recovery)
    before = len(got)
    assert 0 < before < len(_ids(reference))  # it stopped part way
    run_main(flow, epoch_interval=timedelta(0), recovery_config=recovery)
    assert _ids(got) == _ids(reference)
    # resumed from its last snapshot, not from the start: few alerts again
    assert len(got) - len(_ids(got)) < before
