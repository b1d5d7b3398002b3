"""Keyword arguments of :func:`pynomaly.dataflow.detect` → a validated
:class:`~pynomaly.spec.FlowSpec`.

Every option of a flow spec's ``detection``, ``alerts``, ``keys`` and
``record`` sections is accepted under its spec name (``warmup``,
``calibration``, ``threshold``, ``drift``, ``cooldown_s``, ``explain_top``,
``ttl_s``, ``max_future_s`` …); a whole section is accepted under the
section's name (``window={...}``, ``detection={...}``). Values are validated
exactly as in a spec file, and an invalid one raises
:class:`~pynomaly.spec.SpecError` naming its path.

>>> from pynomaly.dataflow.detect_options import detect_spec
>>> spec = detect_spec("cpu", ["cpu"], "ts", {"detector": "robust_zscore", "warmup": 50,
...                    "cooldown_s": 60, "window": {"kind": "tumbling", "size_s": 10}})
>>> spec.detection.warmup, spec.alerts.cooldown_s, spec.window.kind
(50, 60.0, 'tumbling')
>>> detect_spec("cpu", ["cpu"], "ts", {"warmup": -1})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
pynomaly.spec.model.SpecError: detect 'cpu': ...detection.warmup...
>>> detect_spec("cpu", ["cpu"], "ts", {"warmpu": 5})
Traceback (most recent call last):
...
TypeError: detect 'cpu': unknown option 'warmpu'
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from pynomaly.spec import FlowSpec, parse_spec

#: spec sections whose fields are accepted one by one, in lookup order
_FLAT_SECTIONS = ("detection", "alerts", "keys", "record")
#: record fields set by the operator's own arguments, never by an option
_RECORD_FIXED = frozenset({"key_field", "time_field", "value_fields"})
#: top-level spec fields that are not options (the operator has no source or sinks)
_NOT_OPTIONS = frozenset({"name", "source", "sinks", "dead_letter"})
#: the key field of the internal record form (the stream key is the entity)
KEY_FIELD = "key"


def _section_fields(section: str) -> frozenset[str]:
    model = FlowSpec.model_fields[section].annotation
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return frozenset()
    names = frozenset(model.model_fields)
    return names - _RECORD_FIXED if section == "record" else names


def option_names() -> dict[str, str]:
    """Every accepted option → the spec section it belongs to (``""`` for a
    whole section)."""
    out: dict[str, str] = {s: "" for s in FlowSpec.model_fields if s not in _NOT_OPTIONS}
    for section in _FLAT_SECTIONS:
        for name in sorted(_section_fields(section)):
            out.setdefault(name, section)
    return out


def _as_data(value: Any) -> Any:
    return value.model_dump() if isinstance(value, BaseModel) else value


def detect_spec(name: str, fields: list[str], time_field: str,
                options: dict[str, Any]) -> FlowSpec:
    """The flow spec a ``detect`` step with these options stands for."""
    known = option_names()
    data: dict[str, Any] = {
        "name": name,
        "source": {"type": "file", "path": "-"},  # never opened: the stream is the source
        "record": {"key_field": KEY_FIELD, "time_field": time_field,
                   "value_fields": list(fields), "time_format": "iso"},
    }
    for opt, value in options.items():
        section = known.get(opt)
        if section is None:
            raise TypeError(f"detect {name!r}: unknown option {opt!r}")
        if section == "":
            merged = _as_data(value)
            if isinstance(merged, dict) and isinstance(data.get(opt), dict):
                merged = {**data[opt], **merged}
            data[opt] = merged
        else:
            data.setdefault(section, {})[opt] = _as_data(value)
    if isinstance(data["record"], dict):  # the operator's own arguments win
        data["record"].update(key_field=KEY_FIELD, time_field=time_field,
                              value_fields=list(fields))
    return parse_spec(data, origin=f"detect {name!r}")
