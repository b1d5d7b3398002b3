"""Read NAB-format corpora: data files, label windows, cost profiles, results.

A NAB checkout has ``data/<category>/<series>.csv`` (``timestamp,value``),
``labels/combined_windows.json`` and ``config/profiles.json``. A results folder
holds ``<detector>/<category>/<detector>_<series>.csv`` (``.csv.gz`` accepted)
with at least ``timestamp`` and ``anomaly_score`` columns.

Example
-------
>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> _ = (root / "a.csv").write_text("timestamp,value\\n2020-01-01 00:00:00,1.5\\n")
>>> table = read_table(root / "a.csv")
>>> table.timestamps[0], float(table.column("value")[0])
('2020-01-01 00:00:00', 1.5)
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WINDOWS_FILE = Path("labels") / "combined_windows.json"
PROFILES_FILE = Path("config") / "profiles.json"

#: NAB's published cost profiles (config/profiles.json of NAB v1.1).
DEFAULT_PROFILES: dict[str, dict[str, float]] = {
    "standard": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0},
    "reward_low_FP_rate": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22, "tnWeight": 1.0},
    "reward_low_FN_rate": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11, "tnWeight": 1.0},
}


@dataclass(frozen=True)
class Table:
    """One CSV file: raw timestamp strings, and named float columns."""

    timestamps: list[str]
    columns: dict[str, np.ndarray]

    def column(self, name: str) -> np.ndarray:
        try:
            return self.columns[name]
        except KeyError:
            raise KeyError(f"no column {name!r}; have {', '.join(self.columns)}") from None

    def times(self) -> np.ndarray:
        """Timestamps as ``datetime64[s]``."""
        return parse_times(self.timestamps)


def parse_times(values: list[str]) -> np.ndarray:
    """Parse NAB timestamp strings (``YYYY-MM-DD HH:MM:SS[.ffffff]``) to datetime64[s]."""
    return np.array([v.strip() for v in values], dtype="datetime64[s]")


def _open_text(path: Path) -> str:
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            return fh.read()
    return path.read_text(encoding="utf-8")


def read_table(path: str | Path) -> Table:
    """Read a CSV whose first column is a timestamp and the rest numbers."""
    path = Path(path)
    lines = _open_text(path).splitlines()
    if not lines:
        raise ValueError(f"{path}: empty file")
    header = [h.strip() for h in lines[0].split(",")]
    if not header or header[0] != "timestamp":
        raise ValueError(f"{path}: first column must be 'timestamp', got {header[:1]}")
    rows = [line.split(",") for line in lines[1:] if line.strip()]
    bad = next((i for i, r in enumerate(rows) if len(r) != len(header)), None)
    if bad is not None:
        raise ValueError(
            f"{path}: row {bad + 2} has {len(rows[bad])} fields, expected {len(header)}"
        )
    stamps = [r[0] for r in rows]
    columns: dict[str, np.ndarray] = {}
    for j, name in enumerate(header[1:], start=1):
        try:
            columns[name] = np.array([r[j] for r in rows], dtype=np.float64)
        except ValueError:
            continue  # non-numeric column (e.g. a label name): not needed here
    return Table(stamps, columns)


def find_root(path: str | Path) -> Path:
    """The NAB root of ``path``: the folder with ``data/`` (or ``path`` itself)."""
    path = Path(path)
    if (path / "data").is_dir():
        return path
    if path.name == "data" and (path.parent / WINDOWS_FILE).exists():
        return path.parent
    raise FileNotFoundError(f"{path}: not a NAB corpus (no data/ folder)")


def list_series(data_root: str | Path) -> list[str]:
    """Sorted relative paths ``<category>/<series>.csv`` of a NAB data folder."""
    data = find_root(data_root) / "data"
    return sorted(p.relative_to(data).as_posix() for p in data.glob("*/*.csv"))


def load_windows(path: str | Path) -> dict[str, list[tuple[np.datetime64, np.datetime64]]]:
    """Label windows per relative series path, as (start, end) datetime64[s]."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    return {
        key: [(parse_times([a])[0], parse_times([b])[0]) for a, b in spans]
        for key, spans in raw.items()
    }


def load_profiles(root: str | Path | None = None) -> dict[str, dict[str, float]]:
    """Cost profiles of a NAB checkout (``config/profiles.json``), else NAB's defaults."""
    if root is not None:
        path = Path(root) / PROFILES_FILE
        if path.exists():
            raw = json.loads(path.read_text(encoding="utf-8"))
            return {name: dict(p["CostMatrix"]) for name, p in raw.items()}
    return {k: dict(v) for k, v in DEFAULT_PROFILES.items()}


def find_windows_file(*candidates: str | Path | None) -> Path:
    """The first ``labels/combined_windows.json`` found at or above the candidates."""
    for cand in candidates:
        if cand is None:
            continue
        for base in [Path(cand), *Path(cand).resolve().parents]:
            if (base / WINDOWS_FILE).exists():
                return base / WINDOWS_FILE
    raise FileNotFoundError("labels/combined_windows.json not found; pass --labels")


def detector_results(results_dir: str | Path, series: list[str]) -> dict[str, Path]:
    """Map relative series paths to the result files in one detector folder.

    ``results_dir`` holds ``<category>/<anything>_<series>.csv[.gz]``; each
    series of ``series`` (``<category>/<series>.csv``) found there is returned.
    """
    results_dir = Path(results_dir)
    found: dict[str, Path] = {}
    for rel in series:
        category, name = rel.split("/", 1)
        folder = results_dir / category
        if not folder.is_dir():
            continue
        for suffix in (".csv", ".csv.gz"):
            stem = name[: -len(".csv")]
            hits = sorted(folder.glob(f"*_{stem}{suffix}"))
            hits = [h for h in hits if h.name.endswith(f"_{stem}{suffix}")]
            if hits:
                found[rel] = min(hits, key=lambda h: len(h.name))
                break
    return found
