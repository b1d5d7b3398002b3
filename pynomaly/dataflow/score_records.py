"""Score records: one per scored event, for the ``scores`` output of
:func:`pynomaly.dataflow.detect`.

>>> import numpy as np
>>> from pynomaly.dataflow.score_records import score_records
>>> points = [("k", np.array([0.0, 60.0]), np.array([[1.0], [9.0]]), np.array([0.1, 7.0]),
...            np.array([0.4, np.nan]), np.array([0.99, 0.99]), np.array([False, True]))]
>>> [(r["event_time"], r["values"], r["score"], r["probability"], r["anomaly"])
...  for r in score_records("cpu", ("cpu",), points)]
[('1970-01-01T00:00:00.000Z', {'cpu': 1.0}, 0.1, 0.4, False), ('1970-01-01T00:01:00.000Z', {'cpu': 9.0}, 7.0, None, True)]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pynomaly.dataflow.alert_record import iso_ms


def score_records(flow: str, fields: Sequence[str],
                  points: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Score records of a detect step's scored points (``ShardOutput.points``):
    flow, key, event time (ISO-8601 and epoch seconds ``ts``), values, raw
    score, calibrated probability (``None`` without a calibrator), the
    threshold in force and whether the event was flagged."""
    out: list[dict[str, Any]] = []
    append = out.append
    for key, times, X, scores, prob, thr, flag in points:
        rows = X.tolist()
        for t, row, s, p, th, f in zip(times.tolist(), rows, scores.tolist(), prob.tolist(),
                                       thr.tolist(), flag.tolist(), strict=True):
            append({
                "flow": flow,
                "key": key,
                "event_time": iso_ms(t),
                "ts": t,
                "values": dict(zip(fields, row, strict=True)),
                "score": s,
                "probability": None if math.isnan(p) else p,
                "threshold": th,
                "anomaly": bool(f),
            })
    return out
