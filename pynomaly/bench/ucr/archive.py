"""Read UCR anomaly archive files: ``NNN_UCR_Anomaly_NAME_k_b_e.txt[.gz]``.

The numbers in a file name are 1-based and inclusive: points ``1..k`` are the
training part (free of the anomaly) and ``b..e`` the anomaly. Values are one
per line, or (in a few files of the archive) all on one line separated by
spaces; both read the same.

Example
-------
>>> s = parse_name("004_UCR_Anomaly_DISTORTEDBIDMC1_2500_5400_5600.txt.gz")
>>> s.number, s.name, s.train_end, s.begin, s.end
(4, 'DISTORTEDBIDMC1', 2500, 5400, 5600)
>>> s.stem, s.group
('004_UCR_Anomaly_DISTORTEDBIDMC1_2500_5400_5600', 'BIDMC')
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_NAME = re.compile(r"^(\d+)_UCR_Anomaly_(.+)_(\d+)_(\d+)_(\d+)$")
_SUFFIXES = (".txt.gz", ".txt")


@dataclass(frozen=True)
class UcrSeries:
    """The labels a UCR archive file name carries (1-based, inclusive)."""

    path: Path
    stem: str
    number: int
    name: str
    train_end: int
    begin: int
    end: int

    @property
    def group(self) -> str:
        """The recording the series was cut from: the name without the ``DISTORTED``/``NOISE``
        variant prefix and without leading and trailing numbers (``DISTORTEDsddb40`` and
        ``sddb49`` are both ``sddb``). Cross-validation keeps a group on one side."""
        bare = re.sub(r"^(DISTORTED|NOISE)", "", self.name)
        return re.sub(r"\d+$", "", re.sub(r"^\d+", "", bare)) or bare

    def read(self) -> np.ndarray:
        """The values of the series as float64."""
        return read_values(self.path)


def _stem(file_name: str) -> str | None:
    for suffix in _SUFFIXES:
        if file_name.endswith(suffix):
            return file_name[: -len(suffix)]
    return None


def parse_name(path: str | Path) -> UcrSeries:
    """The labels of an archive file from its name; ``ValueError`` when it does not follow
    the convention or the numbers are inconsistent."""
    path = Path(path)
    stem = _stem(path.name)
    match = _NAME.match(stem) if stem else None
    if match is None or stem is None:
        raise ValueError(f"{path.name}: not a UCR archive name NNN_UCR_Anomaly_NAME_k_b_e.txt")
    number, name, k, b, e = match.groups()
    series = UcrSeries(path, stem, int(number), name, int(k), int(b), int(e))
    if not 1 <= series.train_end < series.begin <= series.end:
        raise ValueError(f"{path.name}: expected 1 <= k < b <= e, got k={k} b={b} e={e}")
    return series


def read_values(path: str | Path) -> np.ndarray:
    """Whitespace-separated values of a ``.txt`` or ``.txt.gz`` file (one per line or one line)."""
    path = Path(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        data = fh.read()
    values = np.array(data.split(), dtype=np.float64)
    if values.size == 0:
        raise ValueError(f"{path}: no values")
    return values


def list_series(folder: str | Path) -> list[UcrSeries]:
    """Every archive file directly in ``folder``, in file-name order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    found = [
        parse_name(p) for p in sorted(folder.iterdir()) if p.is_file() and _stem(p.name) is not None
    ]
    if not found:
        raise FileNotFoundError(f"{folder}: no UCR archive files (*.txt, *.txt.gz)")
    return found
