"""Anomaly detection as Bytewax operators, and the step logic they wrap.

Use them next to the stock ``bytewax.operators``::

    import bytewax.operators as op
    import pynomaly.operators as pxo

    keyed = op.key_on("by-host", records, lambda r: r["host"])
    out = pxo.detect("detect", keyed, fields=["cpu"], time_field="ts",
                     detector="robust_zscore", warmup=50)
    op.output("alerts", out.alerts, alert_sink)   # alert dicts (the alert JSON Schema)
    op.output("scores", out.scores, score_sink)   # one score record per scored event
    op.output("dead", out.dead, dead_sink)        # dead letters

- :func:`detect`: keyed dict records → alerts, scores, dead letters;
- :func:`parse`: raw records (bytes, Kafka messages, source batches) →
  columnar event batches and dead letters; :func:`shard` keys them by shard;
- :func:`window`: per-key event-time windows with allowed lateness;
- :func:`to_alert_sinks`: alerts to flow spec sinks or Bytewax sinks;
- :func:`triage`: verdict feedback, a global alert budget and incidents
  across keys, between the alerts and their sinks.

The submodules (``parse``, ``detect``, ``windowing`` …) hold the pure step
logic; flows built from a spec (:func:`pynomaly.flow.build_flow`) use these
same operators. See docs/python-flows.md.
"""

from pynomaly.operators.detect_op import DetectOut, detect
from pynomaly.operators.parse_op import ParseOut, parse, shard
from pynomaly.operators.sinks_op import alert_sink, to_alert_sinks
from pynomaly.operators.triage_op import TriageOut, triage
from pynomaly.operators.window_op import WindowOut, window

__all__ = [
    "DetectOut",
    "ParseOut",
    "TriageOut",
    "WindowOut",
    "alert_sink",
    "detect",
    "parse",
    "shard",
    "to_alert_sinks",
    "triage",
    "window",
]
