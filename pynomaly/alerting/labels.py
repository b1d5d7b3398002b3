"""Labels: record fields carried through to a key's alerts (``region``,
``service``, …).

The parse step hands the detect step each key's labels the first time it
sees the key, and again after every ``refresh_batches`` batches (so a label
that changes reaches alerts within that many batches); the detect step keeps
the latest labels per key. Per batch the cost is a set difference over the
batch's keys plus one JSON decode per key whose labels are due; nothing per
record.

By default every scalar field that is neither the key, the time nor a value
field is a label (up to ``max_fields``, in record order); ``include`` is an
allow-list.

Example
-------
>>> from pynomaly.alerting.config import LabelsSpec
>>> from pynomaly.spec import RecordSpec
>>> pick = LabelPicker(LabelsSpec(), RecordSpec(key_field="host", value_fields=["cpu"]))
>>> rows = [b'{"host":"a","ts":"2026-01-01T00:00:00Z","cpu":1,"region":"eu","tags":[1]}',
...         b'{"host":"b","ts":"2026-01-01T00:00:00Z","cpu":2,"region":"us","up":true}']
>>> sorted(pick(rows, ["a", "b"]).items())
[('a', {'region': 'eu'}), ('b', {'region': 'us', 'up': True})]
>>> pick(rows, ["a", "b"]) is None   # known keys: nothing to send
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from pynomaly.alerting.config import LabelsSpec

#: the labels of every key are sent again after this many batches
REFRESH_BATCHES = 1000
#: keys whose labels were sent, at most this many remembered
MAX_REMEMBERED = 1_000_000

Labels = dict[str, Any]


class LabelPicker:
    """The labels of the keys of a batch that the detect step needs; see
    the module docstring."""

    def __init__(self, spec: LabelsSpec, record: Any, refresh_batches: int = REFRESH_BATCHES
                 ) -> None:
        self.spec = spec
        self.roles = {record.key_field, record.time_field, *record.value_fields}
        self.include = None if spec.include is None else tuple(spec.include)
        self.key_field = record.key_field
        self.refresh_batches = refresh_batches
        self.sent: set[str] = set()
        self.batches = 0
        self.off = spec.max_fields == 0 or self.include == ()

    def __call__(self, payloads: Sequence[Any], keys: list[str]) -> dict[str, Labels] | None:
        """Labels of the keys in ``keys`` whose labels are due, or None.
        ``keys`` are the batch's valid events; when they are the payloads
        row for row (no record of the batch was rejected) a key's labels come
        from its last row, else from its last payload that carries the key."""
        if self.off or not keys:
            return None
        self.batches += 1
        if self.batches % self.refresh_batches == 0 or len(self.sent) > MAX_REMEMBERED:
            self.sent.clear()
        if self.sent.issuperset(keys):  # the usual case: one lookup per row in C, no set built
            return None
        due = set(keys) - self.sent
        if not due:
            return None
        out: dict[str, Labels] = {}
        if len(payloads) == len(keys):
            last = dict(zip(keys, range(len(keys)), strict=True))
            record_batch = getattr(payloads, "record_batch", None)
            if record_batch is not None:  # Arrow rows (Parquet, CSV): one take for all keys
                out = self._from_arrow(record_batch, due, last)
            else:
                for k in due:
                    lab = self.pick(payloads[last[k]])
                    if lab is not None:
                        out[k] = lab
        else:
            for i in range(len(payloads) - 1, -1, -1):
                obj = _as_dict(payloads[i])
                k = obj.get(self.key_field) if obj is not None else None
                if isinstance(k, str) and k in due and k not in out:
                    out[k] = self.from_dict(obj)  # type: ignore[arg-type]
                    if len(out) == len(due):
                        break
        self.sent |= due
        return out or None

    def _from_arrow(self, rb: Any, due: set[str], last: dict[str, int]) -> dict[str, Labels]:
        """Labels of the ``due`` keys from an Arrow record batch: the scalar
        label columns of their last rows, converted in one call."""
        import pyarrow as pa

        scalar = (pa.types.is_string, pa.types.is_large_string, pa.types.is_integer,
                  pa.types.is_floating, pa.types.is_boolean)
        wanted = self.include if self.include is not None else rb.schema.names
        cols = [n for n in wanted if n not in self.roles and rb.schema.get_field_index(n) >= 0
                and any(t(rb.schema.field(n).type) for t in scalar)]
        if not cols:
            return {}
        order = list(due)
        rows = rb.select(cols).take(pa.array([last[k] for k in order])).to_pylist()
        return {k: self.from_dict(r) for k, r in zip(order, rows, strict=True)}

    def pick(self, payload: Any) -> Labels | None:
        """The labels of one record (bytes or dict), or None when it is not a JSON object."""
        obj = _as_dict(payload)
        return None if obj is None else self.from_dict(obj)

    def from_dict(self, obj: dict[str, Any]) -> Labels:
        spec = self.spec
        names = (self.include if self.include is not None
                 else [n for n in obj if n not in self.roles])
        out: Labels = {}
        for name in names:
            if len(out) >= spec.max_fields:
                break
            v = obj.get(name)
            if isinstance(v, str):
                out[name] = v[: spec.max_value_chars]
            elif isinstance(v, bool | int | float) and v == v and v not in (float("inf"),
                                                                             float("-inf")):
                out[name] = v
        return out


def labels_for(labels: dict[str, Labels] | None, keys: list[str]) -> dict[str, Labels] | None:
    """The part of a batch's ``labels`` that belongs to ``keys`` (a shard's part).

    >>> labels_for({"a": {"r": "eu"}, "b": {"r": "us"}}, ["b", "b"])
    {'b': {'r': 'us'}}
    """
    if not labels:
        return None
    got = {k: labels[k] for k in set(keys) & labels.keys()}
    return got or None


def _as_dict(payload: Any) -> dict[str, Any] | None:
    if isinstance(payload, dict):
        return payload
    if isinstance(payload, bytes | bytearray | memoryview | str):
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return None
        return obj if isinstance(obj, dict) else None
    return None
