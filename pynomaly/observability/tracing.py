"""OpenTelemetry tracing of micro-batches: parse → detect → decide → sink.

Off by default. :func:`configure` turns it on when asked explicitly, or when
the standard ``OTEL_TRACES_EXPORTER`` / ``OTEL_EXPORTER_OTLP_ENDPOINT`` /
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` environment variables are set (then the
OTLP/HTTP exporter reads its endpoint, headers and timeouts from them).
Steps call :func:`span` — a no-op context manager while tracing is off.

>>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
>>> exporter = InMemorySpanExporter()
>>> configure(exporter=exporter)
True
>>> with span("pynomaly.parse", batch_size=10):
...     pass
>>> [(s.name, s.attributes["batch_size"]) for s in exporter.get_finished_spans()]
[('pynomaly.parse', 10)]
>>> shutdown()
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

_tracer: Any = None
_provider: Any = None


def enabled_by_env(env: dict[str, str] | None = None) -> bool:
    env = dict(os.environ) if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "")
    if exporter and exporter != "none":
        return True
    return bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def configure(exporter: Any = None, service_name: str = "pynomaly") -> bool:
    """Start tracing with ``exporter`` (default OTLP/HTTP when the environment
    asks for it). Returns whether tracing is on."""
    global _tracer, _provider
    if exporter is None and not enabled_by_env():
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)})
    provider = TracerProvider(resource=resource)
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    _provider = provider
    _tracer = provider.get_tracer("pynomaly")
    return True


def shutdown() -> None:
    """Flush and stop tracing."""
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


def is_on() -> bool:
    return _tracer is not None


@contextlib.contextmanager
def span(name: str, parent: Any = None, **attributes: Any) -> Iterator[Any]:
    """A span named ``name`` with ``attributes`` (child of ``parent``, a span
    context carried on the batch), or nothing while tracing is off."""
    if _tracer is None:
        yield None
        return
    from opentelemetry import trace

    ctx = trace.set_span_in_context(trace.NonRecordingSpan(parent)) if parent is not None else None
    with _tracer.start_as_current_span(name, context=ctx, attributes=attributes) as s:
        yield s
