"""Anomaly detection as Bytewax operators, and the step logic they wrap.

Use them next to the stock ``bytewax.operators``::

    import bytewax.operators as op
    import pynomaly.dataflow as pxo

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

The submodules follow the flow, stage by stage: what a source hands over
(``records``, ``arrow_rows``), parse and validate (``parse``, ``json_scan``,
``parse_arrow``, ``record_rows``, ``parse_op``), key and window (``routing``,
``windowing``, ``window_op``), detect and decide (``detect``,
``detect_banked``, ``detect_options``, ``detect_op``, ``alert_record``,
``score_records``), triage (``triage_op``) and sinks (``sinks_op``);
``instrumented`` adds metrics and tracing to the parse and detect steps. The
``*_op`` modules are the Bytewax operators; the others hold the pure step
logic. Flows built from a spec (:func:`pynomaly.dataflow.flow.build_flow`)
use these same operators. See docs/python-flows.md and docs/architecture.md.
"""

from pynomaly.dataflow.detect_op import DetectOut, detect
from pynomaly.dataflow.parse_op import ParseOut, parse, shard
from pynomaly.dataflow.sinks_op import alert_sink, to_alert_sinks
from pynomaly.dataflow.triage_op import TriageOut, triage
from pynomaly.dataflow.window_op import WindowOut, window

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
