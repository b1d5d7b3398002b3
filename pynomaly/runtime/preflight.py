"""Checks run before a flow's dataflow is built: Kafka reachable, sink topics there.

:func:`prepare_kafka` asks every Kafka cluster a spec names (its source, its
alert sinks, its dead-letter output) whether it answers, and fails within a
few seconds with :class:`~pynomaly.connectors.kafka_probe.KafkaUnreachable`
— what is unreachable, what needs it and what to do — instead of inside
Bytewax. It then creates the sink topics that do not exist yet (a sink's
``create_topic: false`` opts out), so a consumer started before the first
alert finds its topic.

>>> from pynomaly.spec import FlowSpec
>>> spec = FlowSpec.model_validate({"name": "f",
...     "source": {"type": "kafka", "bootstrap_servers": "k:9092", "topics": ["m"]},
...     "record": {"value_fields": ["v"]},
...     "sinks": [{"type": "kafka", "bootstrap_servers": "k:9092", "topic": "alerts"},
...               {"type": "jsonl", "path": "out/a.jsonl"}],
...     "dead_letter": {"type": "kafka", "bootstrap_servers": "k:9092", "topic": "dead",
...                     "create_topic": False}})
>>> kafka_users(spec)
{'k:9092': ['the source (topics: m)', "the alert sink (topic 'alerts')", "the dead-letter output (topic 'dead')"]}
>>> topics_to_create(spec)
{'k:9092': {'alerts': 1}}
"""

from __future__ import annotations

import logging
from typing import Any

from pynomaly.spec import FlowSpec, KafkaSinkSpec, KafkaSourceSpec

__all__ = ["dataflow_kafka_users", "kafka_users", "prepare_kafka", "probe_dataflow",
           "topics_to_create"]

log = logging.getLogger("pynomaly.preflight")


def _kafka_sinks(spec: FlowSpec) -> list[tuple[str, KafkaSinkSpec]]:
    sinks = [("alert sink", s) for s in spec.sinks if isinstance(s, KafkaSinkSpec)]
    if isinstance(spec.dead_letter, KafkaSinkSpec):
        sinks.append(("dead-letter output", spec.dead_letter))
    return sinks


def kafka_users(spec: FlowSpec) -> dict[str, list[str]]:
    """Each Kafka cluster the spec names, with what uses it (in spec order)."""
    users: dict[str, list[str]] = {}
    if isinstance(spec.source, KafkaSourceSpec):
        users.setdefault(spec.source.bootstrap_servers, []).append(
            f"the source (topics: {', '.join(spec.source.topics)})")
    for role, sink in _kafka_sinks(spec):
        users.setdefault(sink.bootstrap_servers, []).append(f"the {role} (topic {sink.topic!r})")
    return users


def _kafka_endpoint(part: Any) -> tuple[str, str] | None:
    """``(bootstrap servers, what)`` of a Kafka source or sink object, else None."""
    from pynomaly.connectors.kafka_sink import KafkaAlertSink, KafkaDeadLetterSink
    from pynomaly.connectors.kafka_source import KafkaBatchSource

    if isinstance(part, KafkaBatchSource):
        return part.bootstrap, f"the source (topics: {', '.join(part.topics)})"
    if isinstance(part, KafkaAlertSink | KafkaDeadLetterSink):
        role = "dead-letter output" if isinstance(part, KafkaDeadLetterSink) else "alert sink"
        return part.bootstrap, f"the {role} (topic {part.topic!r})"
    brokers = getattr(part, "_brokers", None)  # Bytewax's own KafkaSource / KafkaSink
    if type(part).__module__.startswith("bytewax.connectors.kafka") and brokers:
        topics = getattr(part, "_topics", None) or [getattr(part, "_topic", None) or "?"]
        kind = "source" if hasattr(part, "_topics") else "sink"
        return ",".join(brokers), f"the {kind} {part.__class__.__name__} ({', '.join(topics)})"
    return None


def dataflow_kafka_users(flow: Any) -> dict[str, list[str]]:
    """Each Kafka cluster the inputs and outputs of a Bytewax ``flow`` read or
    write, with what uses it (a flow built in Python, without a spec)."""
    users: dict[str, list[str]] = {}

    def walk(step: Any) -> None:
        for sub in getattr(step, "substeps", None) or []:
            for attr in ("source", "sink"):
                found = _kafka_endpoint(getattr(sub, attr, None))
                if found is not None:
                    users.setdefault(found[0], []).append(found[1])
            walk(sub)

    walk(flow)
    return users


def probe_dataflow(flow: Any, *, timeout_s: float = 5.0) -> None:
    """:func:`~pynomaly.connectors.kafka_probe.probe` every Kafka cluster of a
    Bytewax ``flow`` (its Kafka inputs and outputs, ours or Bytewax's)."""
    users = dataflow_kafka_users(flow)
    if users:
        from pynomaly.connectors.kafka_probe import probe

        for bootstrap, needed_by in users.items():
            probe(bootstrap, timeout_s=timeout_s, needed_by=needed_by)


def topics_to_create(spec: FlowSpec) -> dict[str, dict[str, int]]:
    """Sink topics to create at start, by cluster: topic name → partitions."""
    wanted: dict[str, dict[str, int]] = {}
    for _role, sink in _kafka_sinks(spec):
        if sink.create_topic:
            topics = wanted.setdefault(sink.bootstrap_servers, {})
            topics[sink.topic] = max(topics.get(sink.topic, 1), sink.partitions)
    return wanted


def prepare_kafka(spec: FlowSpec, *, timeout_s: float = 5.0, create_topics: bool = True
                  ) -> list[str]:
    """Probe every Kafka cluster of ``spec``, then create its missing sink topics.

    Returns the topics created. Raises
    :class:`~pynomaly.connectors.kafka_probe.KafkaUnreachable` for the first
    cluster that does not answer within ``timeout_s``, and
    :class:`~pynomaly.connectors.kafka_admin.TopicError` when a topic cannot
    be created.
    """
    users = kafka_users(spec)
    if not users:
        return []
    from pynomaly.connectors.kafka_probe import probe

    for bootstrap, needed_by in users.items():
        probe(bootstrap, timeout_s=timeout_s, needed_by=needed_by)
    if not create_topics:
        return []
    from pynomaly.connectors.kafka_admin import ensure_topics

    created: list[str] = []
    for bootstrap, topics in topics_to_create(spec).items():
        made = ensure_topics(bootstrap, topics, timeout=max(timeout_s, 10.0))
        created += made
        for name in made:
            log.info("created topic %s on %s", name, bootstrap)
    return created
