"""Dict records of keyed streams → one columnar :class:`EventBatch`.

A Bytewax keyed stream carries ``(key, record)`` pairs; the stream key is the
entity. :class:`RowParser` validates a list of such pairs with the same
:class:`~pynomaly.dataflow.parse.RecordParser` checks a source's bytes get
(missing field, wrong type, non-finite value, bad timestamp …), so a bad
record becomes a :class:`~pynomaly.dataflow.records.DeadLetter` with its reason and
its original content, never an exception.

>>> from pynomaly.dataflow.record_rows import RowParser
>>> from pynomaly.spec import RecordSpec
>>> rows = RowParser(RecordSpec(value_fields=["cpu"]), origin="detect")
>>> good, dead = rows.parse([("a", {"ts": 0, "cpu": 0.5}),
...                          ("b", {"ts": "1970-01-01T00:00:01Z", "cpu": 0.7}),
...                          ("a", {"ts": 2, "cpu": "high"})])
>>> good.keys, good.times.tolist(), good.values.tolist()
(['a', 'b'], [0.0, 1.0], [[0.5], [0.7]])
>>> [(str(d.reason), d.key, d.origin, d.raw) for d in dead]
[('wrong_type', 'a', 'detect', b'{"ts":2,"cpu":"high"}')]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pynomaly.dataflow.parse import RecordParser
from pynomaly.dataflow.records import DeadLetter, EventBatch, RawBatch, raw_bytes
from pynomaly.spec import RecordSpec


class RowParser:
    """Validate ``(key, record)`` pairs; ``spec.key_field`` names where the
    stream key is put for the checks (the record itself is not changed)."""

    def __init__(self, spec: RecordSpec, origin: str) -> None:
        self.spec = spec
        self.origin = origin
        self._parser = RecordParser(spec)

    def parse(self, pairs: Sequence[tuple[str, Any]]) -> tuple[EventBatch, list[DeadLetter]]:
        """Valid events (in order) and the dead letters of the rest."""
        key_field = self.spec.key_field
        payloads = [{**rec, key_field: key} if isinstance(rec, dict) else rec
                    for key, rec in pairs]
        good, dead = self._parser.parse(RawBatch(payloads, self.origin))
        for d in dead:
            # positions are "origin@index": point back to the record as given
            i = int(d.origin.rpartition("@")[2])
            key, rec = pairs[i]
            d.raw, d.key, d.origin = raw_bytes(rec), key, self.origin
        return good, dead
