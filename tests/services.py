"""Real services on loopback for tests and benchmarks: tansu, redis-server, Kafka reads.

Used by ``tests/conftest.py``; benchmarks import it too (``from tests.services
import ...`` from the repository root). Every service binds 127.0.0.1 on a free
port and dies with the process that started it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import NamedTuple

from pynomaly.connectors.kafka_admin import ensure_topics
from pynomaly.devtools.broker import (
    FAST_GROUP_CONFIG,
    BrokerError,
    EmbeddedBroker,
    free_port,
    kill_when_parent_dies,
)

__all__ = [
    "FAST_GROUP_CONFIG",
    "BrokerError",
    "ConsumedRecord",
    "EmbeddedBroker",
    "RedisServer",
    "create_topic",
    "free_port",
    "kafka_consume_all",
    "start_broker",
    "topic_end_offsets",
    "unique_name",
]

REDIS_MISSING = (
    "redis-server is not installed: run `apt-get install redis-server` "
    "(scripts/bootstrap.sh test installs it); tests that need Redis do not skip"
)


def unique_name(prefix: str = "t") -> str:
    """A fresh topic/group/key name: ``prefix-<12 hex>``."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def start_broker(port: int | None = None) -> EmbeddedBroker:
    """Start an embedded tansu broker on a free loopback port."""
    return EmbeddedBroker(port=port).start()


def create_topic(bootstrap: str, partitions: int = 1, prefix: str = "t") -> str:
    """Create a uniquely named topic with ``partitions`` partitions; return its name."""
    name = unique_name(prefix)
    ensure_topics(bootstrap, {name: partitions})
    return name


# -- Kafka reads --------------------------------------------------------------------


class ConsumedRecord(NamedTuple):
    """One record read back from Kafka."""

    key: bytes | None
    value: bytes | None
    partition: int
    offset: int
    timestamp_ms: int


def kafka_consume_all(
    bootstrap: str,
    topic: str,
    expected: int | None = None,
    timeout: float = 15.0,
) -> list[ConsumedRecord]:
    """Read every record of ``topic`` with a real confluent-kafka consumer.

    The consumer assigns all partitions from offset 0 (no group join, so no
    rebalance wait) and reads until every partition reports end-of-partition.
    With ``expected``, it keeps reading until at least that many records arrived
    (records may still be in flight). On timeout it returns what it read, so the
    caller's assertion shows the shortfall.

    End-of-partition comes from fetch responses: tansu's ListOffsets answers the
    last batch's base offset + 1 as the high watermark, which is too low when the
    last batch holds several records.

    Returns
    -------
    list of ConsumedRecord
        Ordered by partition, then offset.
    """
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    deadline = time.monotonic() + timeout
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique_name("consume-all"),
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 50,
            "log_level": 0,
        }
    )
    records: list[ConsumedRecord] = []
    try:
        partitions = _wait_partitions(consumer, topic, deadline, required=expected is not None)
        if not partitions:
            return records
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        at_end: set[int] = set()
        while time.monotonic() < deadline:
            if len(at_end) == len(partitions) and (expected is None or len(records) >= expected):
                break
            for msg in consumer.consume(num_messages=10_000, timeout=0.1):
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        at_end.add(msg.partition())
                        continue
                    raise RuntimeError(f"reading {topic!r}: {err.str()}")
                at_end.discard(msg.partition())
                records.append(
                    ConsumedRecord(
                        msg.key(), msg.value(), msg.partition(), msg.offset(), msg.timestamp()[1]
                    )
                )
    finally:
        consumer.close()
    records.sort(key=lambda r: (r.partition, r.offset))
    return records


def topic_end_offsets(bootstrap: str, topic: str, timeout: float = 10.0) -> dict[int, int]:
    """The end offset (last offset + 1) of every partition of ``topic``.

    Correct against tansu too: its ListOffsets answer (the last batch's base
    offset + 1) is used only as a starting point; the last batch is then read,
    and fetch responses give the true end. Sum the values to count records.
    """
    from confluent_kafka import OFFSET_END, Consumer, KafkaError, TopicPartition

    deadline = time.monotonic() + timeout
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique_name("end-offsets"),
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 50,
            "log_level": 0,
        }
    )
    try:
        partitions = _wait_partitions(consumer, topic, deadline, required=True)
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)[1]
            for p in partitions
        }
        start = {p: max(0, e - 1) for p, e in ends.items() if e != OFFSET_END}
        consumer.assign([TopicPartition(topic, p, o) for p, o in start.items()])
        at_end: set[int] = set()
        while len(at_end) < len(start) and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=10_000, timeout=0.1):
                err = msg.error()
                if err is None:
                    ends[msg.partition()] = max(ends[msg.partition()], msg.offset() + 1)
                    at_end.discard(msg.partition())
                elif err.code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition())
                else:
                    raise RuntimeError(f"reading {topic!r}: {err.str()}")
        if len(at_end) < len(start):
            raise TimeoutError(f"end offsets of {topic!r} not known within {timeout:g} s")
    finally:
        consumer.close()
    return ends


def _wait_partitions(consumer: object, topic: str, deadline: float, required: bool) -> list[int]:
    while True:
        metadata = consumer.list_topics(timeout=5)  # type: ignore[attr-defined]
        info = metadata.topics.get(topic)
        if info is not None and info.error is None and info.partitions:
            return sorted(info.partitions)
        if not required or time.monotonic() > deadline:
            return []
        time.sleep(0.05)


# -- Redis --------------------------------------------------------------------------


def redis_server_binary() -> str:
    """Path of Debian's ``redis-server``; raises with install advice when absent."""
    path = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None
    )
    if path is None:
        raise RuntimeError(REDIS_MISSING)
    return path


class RedisServer:
    """A throw-away ``redis-server`` on loopback: no persistence, dies with its parent.

    Examples
    --------
    >>> with RedisServer() as server:
    ...     server.ping()
    True
    """

    def __init__(self, port: int | None = None, startup_timeout: float = 10.0) -> None:
        self.port = port
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._port = port

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self._port}/0"

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def start(self) -> RedisServer:
        binary = redis_server_binary()
        attempts = 1 if self.port is not None else 3
        error = ""
        for _ in range(attempts):
            self._port = self.port if self.port is not None else free_port()
            self._dir = tempfile.TemporaryDirectory(prefix="redis-")
            log = Path(self._dir.name) / "redis.log"
            self._proc = subprocess.Popen(
                [
                    binary,
                    "--bind", "127.0.0.1",
                    "--port", str(self._port),
                    "--save", "",
                    "--appendonly", "no",
                    "--daemonize", "no",
                    "--dir", self._dir.name,
                    "--logfile", str(log),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=kill_when_parent_dies,
            )  # fmt: skip
            deadline = time.monotonic() + self.startup_timeout
            while time.monotonic() < deadline and self._proc.poll() is None:
                if self.ping():
                    return self
                time.sleep(0.02)
            error = f"redis-server did not start on port {self._port}: " + (
                log.read_text(errors="replace")[-1000:] if log.exists() else ""
            )
            self.stop()
        raise RuntimeError(error)

    def ping(self) -> bool:
        """Whether the server answers ``PING`` with ``+PONG``."""
        try:
            with socket.create_connection(("127.0.0.1", self._port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
            self._proc = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
