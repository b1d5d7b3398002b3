"""Session fixtures for real services: the embedded Kafka-protocol broker and Redis.

Services run on 127.0.0.1 free ports and are started once per session; the
logic lives in ``tests/services.py`` so benchmarks can reuse it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from services import (
    EmbeddedBroker,
    RedisServer,
    create_topic,
    free_port,
    kafka_consume_all,
    start_broker,
)


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """The session's embedded tansu broker. Do not pause or stop it; use ``own_broker``."""
    server = start_broker()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def bootstrap(broker: EmbeddedBroker) -> str:
    """``host:port`` of the session broker."""
    return broker.bootstrap_servers


@pytest.fixture
def own_broker() -> Iterator[EmbeddedBroker]:
    """A broker for one test alone: pause, resume or stop it freely."""
    server = start_broker()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def topic_factory(bootstrap: str) -> Callable[..., str]:
    """``make(partitions=1, prefix="t") -> name``: a new, created topic on the session broker."""

    def make(partitions: int = 1, prefix: str = "t") -> str:
        return create_topic(bootstrap, partitions=partitions, prefix=prefix)

    return make


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """URL (``redis://127.0.0.1:PORT/0``) of a session redis-server without persistence.

    Fails, never skips, when redis-server is not installed.
    """
    try:
        server = RedisServer().start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(name="kafka_consume_all")
def kafka_consume_all_fixture() -> Callable[..., list]:
    """The ``kafka_consume_all(bootstrap, topic, expected=None, timeout=15.0)`` helper."""
    return kafka_consume_all


@pytest.fixture(name="free_port")
def free_port_fixture() -> Callable[[], int]:
    """The ``free_port()`` helper."""
    return free_port
