"""Alert sinks beyond Kafka and files, built from their spec: Redis streams
and HTTP webhooks. :func:`pynomaly.dataflow.flow.make_sink` asks here for sink types
it does not build itself.

>>> from pynomaly.spec import RedisSinkSpec, StdoutSinkSpec
>>> type(build(RedisSinkSpec(stream="alerts", maxlen=1000))).__name__
'RedisStreamSink'
>>> build(StdoutSinkSpec()) is None
True
"""

from __future__ import annotations

from typing import Any

from bytewax.outputs import DynamicSink

from pynomaly.spec import RedisSinkSpec, WebhookSinkSpec


def build(sink_spec: Any) -> DynamicSink | None:
    """The sink for ``sink_spec``, or ``None`` when its type is not handled here."""
    if isinstance(sink_spec, RedisSinkSpec):
        from pynomaly.connectors.redis_sink import RedisStreamSink

        return RedisStreamSink(sink_spec.url, sink_spec.stream, sink_spec.maxlen)
    if isinstance(sink_spec, WebhookSinkSpec):
        from pynomaly.connectors.webhook_sink import WebhookSink

        return WebhookSink(sink_spec.url, timeout_s=sink_spec.timeout_s,
                           max_retries=sink_spec.max_retries)
    return None
