"""Flow spec validation errors as the user wrote the spec.

Pydantic reports the location of an error inside a tagged union with the tag
as an extra segment (``source.kafka.bootstrap_server``) and knows nothing of
the fields a misspelt key was meant to be. :func:`describe_errors` turns each
error into ``path: message`` where the path follows the user's own keys and an
unknown key comes with the closest known one.

Example
-------
>>> from pydantic import ValidationError
>>> from pynomaly.spec import FlowSpec
>>> data = {"name": "f", "record": {"value_fields": ["v"]},
...         "source": {"type": "kafka", "topics": ["m"], "bootstrap_server": "h:9092"}}
>>> try:
...     FlowSpec.model_validate(data)
... except ValidationError as exc:
...     describe_errors(exc, data, FlowSpec)
["source.bootstrap_server: Extra inputs are not permitted (did you mean 'bootstrap_servers'?)"]
"""

from __future__ import annotations

import difflib
import re
import tomllib
import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

_UNION_ORIGINS = (typing.Union, types.UnionType)
#: the choices pydantic lists in a tag or literal error: 'kafka', 'file'
_QUOTED = re.compile(r"'([^']*)'")


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, else ``''``.

    >>> did_you_mean("n_tree", ["n_trees", "height"])
    " (did you mean 'n_trees'?)"
    >>> did_you_mean("zzz", ["n_trees"])
    ''
    """
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _strip_annotated(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _union_member(tp: Any, tag: Any) -> type[BaseModel] | None:
    """The member of a tagged union whose literal tag field equals ``tag``."""
    for member in typing.get_args(tp):
        member = _strip_annotated(member)
        if not (isinstance(member, type) and issubclass(member, BaseModel)):
            continue
        for field in member.model_fields.values():
            if typing.get_origin(field.annotation) is typing.Literal and typing.get_args(
                field.annotation
            ) == (tag,):
                return member
    return None


def _resolve(tp: Any) -> Any:
    """``tp`` without ``Annotated`` wrappers and without ``None`` in an optional."""
    while True:
        tp = _strip_annotated(tp)
        if typing.get_origin(tp) not in _UNION_ORIGINS:
            return tp
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(members) != 1:
            return tp
        tp = members[0]


def _child(tp: Any, segment: Any, data: Any) -> Any:
    """The type found under ``segment`` of a value of type ``tp`` (``None``: unknown)."""
    origin = typing.get_origin(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if segment == "params" and isinstance(data, dict) and "params" in tp.model_fields:
            return _detector_params(data.get("name"))
        field = tp.model_fields.get(segment) if isinstance(segment, str) else None
        return field.annotation if field is not None else None
    if origin in (list, tuple) and isinstance(segment, int):
        return typing.get_args(tp)[0]
    if origin is dict:
        return typing.get_args(tp)[1]
    return None


def _detector_params(name: Any) -> type[BaseModel] | None:
    from pynomaly.engine.registry import detector_class

    try:
        return detector_class(name).Params if isinstance(name, str) else None
    except KeyError:
        return None


def _item(data: Any, segment: Any) -> Any:
    if isinstance(data, dict):
        return data.get(segment)
    if isinstance(data, list) and isinstance(segment, int) and -len(data) <= segment < len(data):
        return data[segment]
    return None


def _walk(root: type[BaseModel], loc: Sequence[Any], data: Any) -> tuple[list[str], Any]:
    """The user's path of ``loc`` (union tags dropped) and the type found at its end."""
    tp: Any = root
    path: list[str] = []
    for segment in loc:
        tp = _resolve(tp)
        if typing.get_origin(tp) in _UNION_ORIGINS:  # a tagged union: the segment is the tag
            tp = _union_member(tp, segment)
            continue
        path.append(str(segment))
        tp = _child(tp, segment, data) if tp is not None else None
        data = _item(data, segment)
    return path, _resolve(tp)


def _parent_model(root: type[BaseModel], loc: Sequence[Any], data: Any) -> type[BaseModel] | None:
    _, tp = _walk(root, loc[:-1], data)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


#: Where a user path (``["sinks", "0", "path"]``) was written: (line, column), 1-based.
Locator = Callable[[Sequence[str]], "tuple[int, int] | None"]


def describe_errors(exc: ValidationError, data: Any, root: type[BaseModel],
                    locate: Locator | None = None) -> list[str]:
    """One ``path: message`` per error of ``exc``, raised validating ``data`` as ``root``;
    with ``locate``, ``path (line L, column C): message``."""
    out = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        path, _ = _walk(root, loc, data)
        msg = err["msg"]
        if err["type"] == "extra_forbidden" and loc:
            parent = _parent_model(root, loc, data)
            if parent is not None:
                msg += did_you_mean(str(loc[-1]), list(parent.model_fields))
        elif err["type"] in ("union_tag_invalid", "literal_error"):
            ctx = err.get("ctx") or {}
            given = ctx.get("tag", err.get("input"))
            choices = _QUOTED.findall(str(ctx.get("expected_tags", ctx.get("expected", ""))))
            if isinstance(given, str):
                msg += did_you_mean(given, choices)
        where = locate(path) if locate is not None else None
        at = f" (line {where[0]}, column {where[1]})" if where else ""
        out.append(f"{'.'.join(path) or '(root)'}{at}: {msg}")
    return out


def yaml_locator(text: str) -> Locator:
    """A :data:`Locator` for a YAML (or JSON) document: the position of the
    deepest key or item of the path that the document has.

    >>> locate = yaml_locator("name: f\\nsinks:\\n  - {type: jsonl, pth: a}\\n")
    >>> locate(["sinks", "0", "pth"]), locate(["sinks", "0", "path"]), locate(["nope"])
    ((3, 19), (3, 5), None)
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        root = None

    def locate(path: Sequence[str]) -> tuple[int, int] | None:
        node, found = root, None
        for segment in path:
            if isinstance(node, yaml.MappingNode):
                pair = next(((k, v) for k, v in node.value
                             if isinstance(k, yaml.ScalarNode) and k.value == segment), None)
                if pair is None:
                    break
                found, node = pair
            elif isinstance(node, yaml.SequenceNode) and segment.isdigit() \
                    and int(segment) < len(node.value):
                found = node = node.value[int(segment)]
            else:
                break
        if found is None:
            return None
        return found.start_mark.line + 1, found.start_mark.column + 1

    return locate


_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def syntax_error_line(path: Path, exc: Exception) -> str:
    """A YAML/TOML syntax error as one line, ``FILE:LINE:COLUMN: not valid ...``.

    >>> import yaml
    >>> try:
    ...     yaml.safe_load("name: f\\nsource: {type: file\\n")
    ... except yaml.YAMLError as exc:
    ...     print(syntax_error_line(Path("f.yaml"), exc))
    f.yaml:3:1: not valid YAML: expected ',' or '}', but got '<stream end>' (while parsing a flow mapping that starts at 2:9)
    """
    kind = "TOML" if path.suffix == ".toml" else "YAML"
    where, text = str(path), " ".join(str(exc).split())
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}"
        text = exc.problem or "syntax error"
        if exc.context and exc.context_mark is not None:
            ctx = exc.context_mark
            text += f" ({exc.context} that starts at {ctx.line + 1}:{ctx.column + 1})"
        elif exc.context:
            text += f" ({exc.context})"
    elif isinstance(exc, tomllib.TOMLDecodeError):
        found = _TOML_AT.search(str(exc))
        if found:
            where = f"{path}:{found.group(1)}:{found.group(2)}"
            text = _TOML_AT.sub("", str(exc))
    return f"{where}: not valid {kind}: {text}"
