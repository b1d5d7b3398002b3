"""Read a folder in the SMD layout.

The layout (Su et al., KDD 2019) holds, per machine ``NAME``:

- ``train/NAME.txt``: comma-separated rows, one column per metric, unlabelled;
- ``test/NAME.txt``: the rows that follow, same columns;
- ``test_label/NAME.txt``: one 0/1 per test row;
- ``interpretation_label/NAME.txt`` (optional): ``start-end:dim,dim,...`` per
  incident: test rows ``start <= row < end`` (0-based, as the labelled rows
  show) and the metrics involved, 1-based.

Every file may also be gzipped (``NAME.txt.gz``).

Example
-------
>>> import gzip, tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> for part, text in [("train", "0,1\\n0,1\\n"), ("test", "0,1\\n5,1\\n"), ("test_label", "0\\n1\\n")]:
...     (root / part).mkdir()
...     _ = (root / part / "m-1.txt").write_text(text)
>>> (root / "interpretation_label").mkdir()
>>> _ = (root / "interpretation_label" / "m-1.txt").write_text("1-2:1\\n")
>>> list_machines(root)
['m-1']
>>> m = load_machine(root, "m-1")
>>> m.train.shape, m.test.shape, m.labels.tolist(), m.incidents
((2, 2), (2, 2), [False, True], [Incident(start=1, end=2, metrics=(0,))])
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PARTS = ("train", "test", "test_label")
INTERPRETATION = "interpretation_label"
SUFFIXES = (".txt", ".txt.gz")


@dataclass(frozen=True)
class Incident:
    """A labelled incident: test rows ``start <= row < end`` and its metrics (0-based)."""

    start: int
    end: int
    metrics: tuple[int, ...]


@dataclass
class Machine:
    """One machine's train rows, test rows, test labels and incidents."""

    name: str
    train: np.ndarray
    test: np.ndarray
    labels: np.ndarray
    incidents: list[Incident] = field(default_factory=list)


def _machine_name(path: Path) -> str | None:
    for suffix in SUFFIXES[::-1]:  # ".txt.gz" before ".txt"
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return None


def _find(root: Path, part: str, name: str) -> Path | None:
    for suffix in SUFFIXES:
        path = root / part / f"{name}{suffix}"
        if path.is_file():
            return path
    return None


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return raw.decode("utf-8")


def read_matrix(path: Path) -> np.ndarray:
    """A comma-separated numeric file as a 2-D float64 array."""
    arr = np.loadtxt(io.StringIO(_read_text(path)), delimiter=",", dtype=np.float64, ndmin=2)
    return arr


def read_incidents(path: Path) -> list[Incident]:
    """``start-end:dim,dim`` lines (1-based dims) as incidents with 0-based metrics."""
    incidents = []
    for line in _read_text(path).splitlines():
        line = line.strip()
        if not line:
            continue
        span, _, dims = line.partition(":")
        start, _, end = span.partition("-")
        metrics = tuple(sorted({int(d) - 1 for d in dims.split(",") if d.strip()}))
        incidents.append(Incident(int(start), int(end or int(start) + 1), metrics))
    return incidents


def list_machines(root: str | Path) -> list[str]:
    """Names of the machines that have train, test and test_label files, sorted."""
    root = Path(root)
    if not (root / "test").is_dir():
        raise FileNotFoundError(f"{root}: no test/ folder (expected the SMD layout)")
    names = sorted(
        {n for p in (root / "test").iterdir() if (n := _machine_name(p)) is not None}
    )
    found = [n for n in names if all(_find(root, part, n) for part in PARTS)]
    if not found:
        raise FileNotFoundError(f"{root}: no machine with train/, test/ and test_label/ files")
    return found


def load_machine(root: str | Path, name: str) -> Machine:
    """Read one machine; checks that the parts agree in shape."""
    root = Path(root)
    paths = {part: _find(root, part, name) for part in PARTS}
    missing = [part for part, p in paths.items() if p is None]
    if missing:
        raise FileNotFoundError(f"{root}: machine {name!r} has no {', '.join(missing)} file")
    train = read_matrix(paths["train"])  # type: ignore[arg-type]
    test = read_matrix(paths["test"])  # type: ignore[arg-type]
    labels = read_matrix(paths["test_label"]).reshape(-1) > 0  # type: ignore[arg-type]
    if train.shape[1] != test.shape[1]:
        raise ValueError(f"{name}: train has {train.shape[1]} columns, test {test.shape[1]}")
    if labels.shape[0] != test.shape[0]:
        raise ValueError(f"{name}: {labels.shape[0]} labels for {test.shape[0]} test rows")
    interp = _find(root, INTERPRETATION, name)
    incidents = read_incidents(interp) if interp is not None else []
    return Machine(name, train, test, labels, incidents)
