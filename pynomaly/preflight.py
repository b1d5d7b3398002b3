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

from pynomaly.spec import FlowSpec, KafkaSinkSpec, KafkaSourceSpec

__all__ = ["kafka_users", "prepare_kafka", "topics_to_create"]

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
