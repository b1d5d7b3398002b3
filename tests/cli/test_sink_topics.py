"""Sink topics are created when a flow starts, unless a sink opts out."""

from __future__ import annotations

from services import unique_name

from pynomaly.connectors.kafka_admin import topic_partitions
from pynomaly.runtime.preflight import prepare_kafka
from pynomaly.spec import parse_spec


def spec_for(bootstrap: str, alerts: str, dead: str, source: str, *, create_dead: bool):
    return parse_spec({
        "name": "topics",
        "source": {"type": "kafka", "bootstrap_servers": bootstrap, "topics": [source]},
        "record": {"value_fields": ["cpu"]},
        "sinks": [{"type": "kafka", "bootstrap_servers": bootstrap, "topic": alerts,
                   "partitions": 3}],
        "dead_letter": {"type": "kafka", "bootstrap_servers": bootstrap, "topic": dead,
                        "create_topic": create_dead},
    })


def test_missing_sink_topics_are_created_with_their_partitions(bootstrap, topic_factory):
    alerts, dead = unique_name("alerts"), unique_name("dead")
    spec = spec_for(bootstrap, alerts, dead, topic_factory(1, "src"), create_dead=False)
    assert prepare_kafka(spec) == [alerts]
    assert topic_partitions(bootstrap, alerts) == 3
    assert topic_partitions(bootstrap, dead) == 0  # create_topic: false
    assert prepare_kafka(spec) == []  # already there


def test_no_topics_are_created_when_turned_off(bootstrap, topic_factory):
    alerts, dead = unique_name("alerts"), unique_name("dead")
    spec = spec_for(bootstrap, alerts, dead, topic_factory(1, "src"), create_dead=True)
    assert prepare_kafka(spec, create_topics=False) == []
    assert topic_partitions(bootstrap, alerts) == 0 and topic_partitions(bootstrap, dead) == 0
