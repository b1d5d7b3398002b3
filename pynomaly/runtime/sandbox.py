"""Confining a flow spec's files to one directory (``--sandbox-paths DIR``).

A flow spec is trusted like code: without a sandbox its file source may read
and its file sinks may write any path the process can. With one, every file
path of the spec (the file source, JSONL sinks, a JSONL dead-letter output,
any other ``path`` field) must lie inside the sandbox directory once resolved:

- a path with a ``..`` component is refused outright;
- relative paths are taken from the working directory, as the flow would;
- symbolic links are followed before the check, so a link inside the
  sandbox that points outside it is refused.

The check runs when the spec is loaded, before anything is opened. It checks
the paths as they are then: a link created later, by someone who can write
into the sandbox, is not seen.

Example
-------
>>> import tempfile
>>> from pynomaly.spec import parse_spec
>>> root = tempfile.mkdtemp()
>>> spec = parse_spec({"name": "f", "record": {"value_fields": ["v"]},
...     "source": {"type": "file", "path": f"{root}/in.jsonl"},
...     "sinks": [{"type": "jsonl", "path": "/etc/cron.d/alerts"}]})
>>> PathSandbox(root).check_spec(spec)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
pynomaly.runtime.sandbox.SandboxError: sinks.0.path: '/etc/cron.d/alerts' is outside the sandbox ... (--sandbox-paths)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel


class SandboxError(ValueError):
    """A spec path outside the sandbox; the message names the field and the path."""


def _is_path_field(name: str) -> bool:
    return name == "path" or name.endswith(("_path", "_dir"))


def spec_file_paths(data: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """``(field path, value)`` of every file path in a spec's plain data.

    >>> list(spec_file_paths({"source": {"type": "file", "path": "a.jsonl"},
    ...                       "sinks": [{"type": "stdout"}, {"type": "jsonl", "path": "b"}]}))
    [('source.path', 'a.jsonl'), ('sinks.1.path', 'b')]
    """
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{prefix}{key}"
            if isinstance(value, str) and _is_path_field(str(key)):
                yield where, value
            else:
                yield from spec_file_paths(value, where + ".")
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from spec_file_paths(value, f"{prefix}{i}.")


class PathSandbox:
    """The directory a spec's files must stay in.

    Parameters
    ----------
    root
        An existing directory; resolved once (it may itself be a link).
    """

    def __init__(self, root: str | Path) -> None:
        given = Path(root)
        if not given.is_dir():
            raise SandboxError(f"--sandbox-paths {str(root)!r} is not a directory")
        self.root = given.resolve(strict=True)

    def confine(self, path: str, field: str = "path") -> Path:
        """``path`` resolved, when it lies inside the sandbox; :class:`SandboxError` otherwise."""
        if ".." in Path(path).parts:
            raise SandboxError(f"{field}: {path!r} contains '..' (refused with --sandbox-paths)")
        resolved = (Path.cwd() / path).resolve()  # follows links, existing or not yet
        if not resolved.is_relative_to(self.root):
            via = "" if resolved == Path(path).absolute() else f" (resolves to {str(resolved)!r})"
            raise SandboxError(f"{field}: {path!r}{via} is outside the sandbox "
                               f"{str(self.root)!r} (--sandbox-paths)")
        return resolved

    def check_spec(self, spec: BaseModel) -> None:
        """Refuse ``spec`` unless every file path of it lies inside the sandbox."""
        for field, path in spec_file_paths(spec.model_dump()):
            self.confine(path, field)
