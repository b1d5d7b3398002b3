"""``pxo.parse`` and ``pxo.shard``: raw records → columnar event batches,
dead letters, and batches split into shards for :func:`~pynomaly.dataflow.detect`.

>>> import bytewax.operators as op
>>> import pynomaly.dataflow as pxo
>>> from bytewax.dataflow import Dataflow
>>> from bytewax.testing import TestingSink, TestingSource, run_main
>>> flow = Dataflow("parse-doc")
>>> raw = op.input("in", flow, TestingSource([b'{"key":"a","ts":1,"cpu":0.5}', b'{oops']))
>>> parsed = pxo.parse("parse", raw, fields=["cpu"])
>>> good, dead = [], []
>>> op.output("good", op.map("n", parsed.batches, lambda b: (b.keys, b.values.tolist())),
...           TestingSink(good))
>>> op.output("dead", op.map("r", parsed.dead, lambda d: str(d.reason)), TestingSink(dead))
>>> run_main(flow)
>>> good, dead
([(['a'], [[0.5]])], ['malformed_json'])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard, cast

import bytewax.operators as op
from bytewax.dataflow import Stream, operator
from bytewax.operators import KeyedStream

from pynomaly.dataflow.detect import ShardSplitter
from pynomaly.dataflow.instrumented import parse_step
from pynomaly.dataflow.parse import RecordParser
from pynomaly.dataflow.records import DeadLetter, EventBatch, RawBatch
from pynomaly.spec import RecordSpec


@dataclass(frozen=True)
class ParseOut:
    """What :func:`parse` produces."""

    #: valid events, one columnar :class:`~pynomaly.dataflow.records.EventBatch` per input batch
    batches: Stream[EventBatch]
    #: records that failed validation, with their reason and original bytes
    dead: Stream[DeadLetter]


def _payload(item: Any) -> Any:
    """The record inside an input item: bytes, str, a dict, or a message
    object with a ``value`` (Bytewax's ``KafkaSourceMessage``)."""
    if isinstance(item, bytes | bytearray | dict):
        return item
    if isinstance(item, str):
        return item.encode()
    value = getattr(item, "value", None)
    return item if value is None else value


def _record_spec(record: RecordSpec | dict[str, Any] | None, fields: list[str] | None,
                 options: dict[str, Any]) -> RecordSpec:
    if record is not None:
        if fields is not None or options:
            raise TypeError("parse: give either record= or fields= and record options, not both")
        return record if isinstance(record, RecordSpec) else RecordSpec.model_validate(record)
    return RecordSpec.model_validate({"value_fields": fields, **options})


@operator
def parse(step_id: str, up: Stream[Any], fields: list[str] | None = None, *,
          record: RecordSpec | dict[str, Any] | None = None, name: str | None = None,
          **record_options: Any) -> ParseOut:
    """Validate raw records into event batches and dead letters.

    ``up`` carries single records (JSON bytes or str, dicts, Kafka messages)
    or whole :class:`~pynomaly.dataflow.records.RawBatch` objects from a source; the
    records of one Bytewax batch are parsed together. ``fields`` are the
    value fields; ``key_field``, ``time_field`` (epoch seconds or ISO-8601),
    ``max_future_s`` … are the flow spec's ``record`` options, or pass a
    whole ``record=``. ``name`` labels metrics (default: the step id).
    """
    spec = _record_spec(record, fields, record_options)
    label = name or step_id.rpartition(".")[2]
    run = parse_step(RecordParser(spec), label)

    def parse_items(items: list[Any]) -> list[EventBatch | DeadLetter]:
        out: list[EventBatch | DeadLetter] = []
        singles: list[Any] = []
        for item in items:
            if isinstance(item, RawBatch):
                out += _parsed(run(item))
            else:
                singles.append(_payload(item))
        if singles:
            out += _parsed(run(RawBatch(singles, label)))
        return out

    both = op.flat_map_batch("parse", up, parse_items)
    split = op.branch("split", both, _is_batch)
    # the branch leaves only dead letters on the false side
    return ParseOut(split.trues, cast(Stream[DeadLetter], split.falses))


def _is_batch(item: EventBatch | DeadLetter) -> TypeGuard[EventBatch]:
    return isinstance(item, EventBatch)


def _parsed(result: tuple[EventBatch, list[DeadLetter]]) -> list[EventBatch | DeadLetter]:
    good, dead = result
    head: list[EventBatch | DeadLetter] = [good] if len(good) else []
    return [*head, *dead]


@operator
def shard(step_id: str, up: Stream[EventBatch], shards: int = 64,
          route: str = "hash") -> KeyedStream[EventBatch]:
    """Split event batches by ``crc32(key) % shards``; each part is keyed by
    its shard label, the unit of detect state (``route`` as the spec's
    ``keys.route``)."""
    splitter = ShardSplitter(shards, route=route)
    return op.flat_map("split", up, splitter)
