"""Kafka source that hands over whole micro-batches.

Each Kafka partition is one Bytewax source partition; its resume state is the
next offset to read, so Bytewax recovery replays from the last snapshot.
Every ``next_batch`` returns at most one :class:`~pynomaly.dataflow.records.RawBatch`
(one dataflow item per poll rather than one per record), which keeps the
per-item Bytewax overhead off the hot path.

Example (needs a broker)::

    src = KafkaBatchSource("127.0.0.1:9092", ["metrics"], tail=False)
"""

from __future__ import annotations

import time
from typing import Any

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from pynomaly.connectors.kafka_logging import with_client_logger
from pynomaly.dataflow.records import RawBatch
from pynomaly.runtime import lifecycle


def list_partitions(bootstrap: str, topics: list[str], config: dict[str, str] | None = None,
                    timeout: float = 10.0) -> list[str]:
    """``"<partition>-<topic>"`` names of every partition of ``topics``."""
    client = AdminClient(with_client_logger({"bootstrap.servers": bootstrap, **(config or {})}))
    parts = []
    for topic in topics:
        try:
            md = client.list_topics(topic, timeout=timeout)
        except KafkaException as exc:
            err = exc.args[0]
            what = err.str() if hasattr(err, "str") else str(err)
            raise RuntimeError(f"kafka {bootstrap} unreachable (topic {topic!r}): {what}") from None
        tmd = md.topics.get(topic)
        if tmd is None or tmd.error is not None:
            err = tmd.error.str() if tmd is not None and tmd.error else "not found"
            raise RuntimeError(f"kafka topic {topic!r} on {bootstrap}: {err}")
        parts.extend(f"{i}-{topic}" for i in sorted(tmd.partitions))
    return parts


def consume_available(consumer: Any, max_records: int, timeout_s: float,
                      linger_s: float = 0.0) -> list[Any]:
    """Up to ``max_records`` messages, waiting at most ``linger_s`` once one is there.

    ``Consumer.consume(n, timeout)`` returns only when ``n`` messages are there
    or the timeout has passed, so with one long timeout every record below
    saturation waits all of it. Here the timeout only bounds the wait for the
    first message (``timeout_s``, when librdkafka has fetched nothing); then
    the batch takes what has been fetched and, while it is short of
    ``max_records``, what arrives within ``linger_s`` more. Under load the
    local queue holds a full batch and nothing waits; at low rates a record
    waits at most ``linger_s``. A small linger keeps batches from shrinking to
    a few records, whose fixed per-batch costs (Bytewax steps, the exchange
    between processes) would otherwise dominate.

    Example (needs a broker)::

        msgs = consume_available(consumer, 5000, 0.01, linger_s=0.002)
    """
    msgs = consumer.consume(max_records, 0)
    if not msgs:
        first = consumer.poll(timeout_s)
        if first is None:
            return []
        msgs = [first]
    if len(msgs) < max_records:
        msgs.extend(consumer.consume(max_records - len(msgs), linger_s))
    return msgs


class _KafkaBatchPartition(StatefulSourcePartition[RawBatch, int]):
    def __init__(self, config: dict[str, Any], topic: str, part: int, offset: int,
                 batch_size: int, tail: bool, poll_timeout_s: float, linger_s: float) -> None:
        self._consumer = Consumer(with_client_logger(config))
        if offset in (OFFSET_BEGINNING, OFFSET_END):
            offset = self._resolve(topic, part, offset)
        self._consumer.assign([TopicPartition(topic, part, offset)])
        self._topic = topic
        self._part = part
        self._offset = offset
        self._batch_size = batch_size
        self._tail = tail
        self._poll_timeout_s = poll_timeout_s
        self._linger_s = linger_s
        self._eof = False
        self._origin = f"{topic}/{part}"

    def _resolve(self, topic: str, part: int, logical: int) -> int:
        """The first (or next) offset of the partition from its watermarks.

        Assigning the logical ``OFFSET_BEGINNING``/``OFFSET_END`` makes
        librdkafka look the offset up itself, which took ~0.5 s before the
        first fetch against the embedded broker; asking for the watermarks
        takes one round trip. Falls back to the logical offset on failure.
        """
        try:
            low, high = self._consumer.get_watermark_offsets(TopicPartition(topic, part),
                                                             timeout=5.0)
        except KafkaException:
            return logical
        if low < 0 or high < 0:
            return logical
        return low if logical == OFFSET_BEGINNING else high

    def next_batch(self) -> list[RawBatch]:
        if self._eof or lifecycle.stopping():
            raise StopIteration
        msgs = consume_available(self._consumer, self._batch_size, self._poll_timeout_s,
                                 self._linger_s)
        if not msgs:
            return []
        errors = [m.error() for m in msgs]
        # (not ``errors.count(None)``: KafkaError's == raises on None)
        if not any(errors):  # the usual case (a KafkaError is always true)
            payloads: list[bytes | None] = [m.value() for m in msgs]
            first, last = msgs[0].offset(), msgs[-1].offset()
            self._offset = last + 1
            offsets = None if last - first == len(msgs) - 1 else [m.offset() for m in msgs]
            return [RawBatch(payloads, self._origin, first, offsets, time.time())]
        payloads = []
        offs: list[int] = []
        for msg, err in zip(msgs, errors, strict=True):
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    if not self._tail:
                        self._eof = True
                    continue
                if err.retriable() or not err.fatal():
                    continue  # transient broker errors: librdkafka retries by itself
                raise RuntimeError(f"kafka source {self._origin}: {err.str()}")
            payloads.append(msg.value())
            offs.append(msg.offset())
        if not offs:
            return []
        self._offset = offs[-1] + 1
        contiguous = offs[-1] - offs[0] == len(offs) - 1
        return [RawBatch(payloads, self._origin, offs[0], None if contiguous else offs,
                         time.time())]

    def snapshot(self) -> int:
        return self._offset

    def close(self) -> None:
        self._consumer.close()


class KafkaBatchSource(FixedPartitionedSource[RawBatch, int]):
    """Read ``topics`` from ``bootstrap`` as micro-batches of raw records.

    A batch is what :func:`consume_available` returns: up to ``batch_size``
    records, those already fetched plus those arriving within ``linger_s``;
    when none is there it waits up to ``poll_timeout_s`` for the first. Under
    load batches are full; at low rates a record waits at most ``linger_s``
    in the source (the latency knobs, see docs/adr/0091).
    """

    def __init__(self, bootstrap: str, topics: list[str], *, tail: bool = True,
                 from_beginning: bool = True, batch_size: int = 5000,
                 config: dict[str, str] | None = None, poll_timeout_s: float = 0.01,
                 linger_s: float = 0.002) -> None:
        self.bootstrap = bootstrap
        self.topics = list(topics)
        self.tail = tail
        self.from_beginning = from_beginning
        self.batch_size = batch_size
        self.config = dict(config or {})
        self.poll_timeout_s = poll_timeout_s
        self.linger_s = linger_s

    def list_parts(self) -> list[str]:
        return list_partitions(self.bootstrap, self.topics, self.config)

    def build_part(self, step_id: str, for_part: str, resume_state: int | None
                   ) -> _KafkaBatchPartition:
        idx, topic = for_part.split("-", 1)
        config = {
            "bootstrap.servers": self.bootstrap,
            "group.id": f"pynomaly-{step_id}",
            "enable.auto.commit": "false",
            "enable.partition.eof": "true",
            "fetch.wait.max.ms": "10",
            "queued.min.messages": "200000",
            # librdkafka postpones a partition's next fetch by this much once its
            # local queue is over the thresholds above (default 1000 ms): a
            # consumer that drains its queue faster than that sits idle.
            "fetch.queue.backoff.ms": "5",
            **self.config,
        }
        start = OFFSET_BEGINNING if self.from_beginning else OFFSET_END
        offset = start if resume_state is None else resume_state
        return _KafkaBatchPartition(config, topic, int(idx), offset, self.batch_size, self.tail,
                                    self.poll_timeout_s, self.linger_s)
