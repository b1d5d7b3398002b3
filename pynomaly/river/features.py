"""A stable feature → column mapping between River's dicts and the engine's rows.

River hands a detector one ``dict`` per event: keys in any order, some
missing, new ones appearing. The engine's kernels want a 2-D float64 array
with a fixed column per feature. :class:`FeatureColumns` fixes the columns
once, from the first event, and keeps them:

- **order**: features are sorted by name (as River's ``HalfSpaceTrees`` does
  when it builds its trees), so dict order never matters;
- **missing** features (absent keys, ``None`` or NaN values) take the last
  value learned for that feature (0 before any), so a feature that stops
  arriving holds its level instead of jumping;
- **new** features, unknown when the columns were fixed, are ignored (as River's
  ``HalfSpaceTrees`` ignores features its trees were not built on);
- values beyond ``±INPUT_LIMIT`` are clipped, as the engine does.

Two preallocated ``(1, d)`` rows serve the per-event path: the *learn* row,
which is also the last-learned value of every feature, and a scratch *score*
row, so scoring never changes what learning sees and neither allocates.

Example
-------
>>> cols = FeatureColumns.from_names(["b", "a"])
>>> cols.names
('a', 'b')
>>> cols.learn_row({"b": 2.0, "a": 1.0}).tolist()
[[1.0, 2.0]]
>>> cols.score_row({"a": 5.0, "new": 9.0}).tolist()  # b missing: its last value
[[5.0, 2.0]]
>>> cols.learn_row({"b": 3.0}).tolist()  # a missing: held at 1.0
[[1.0, 3.0]]
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import numpy as np

from pynomaly.engine.base import INPUT_LIMIT
from pynomaly.engine.bounds import within


def _sorted_names(names: Iterable[Hashable]) -> tuple[Hashable, ...]:
    """Names sorted, or in their given order when they cannot be compared."""
    names = tuple(dict.fromkeys(names))
    try:
        return tuple(sorted(names))  # type: ignore[type-var]
    except TypeError:
        return names


class FeatureColumns:
    """The fixed columns of one detector; see the module docstring."""

    def __init__(self, names: tuple[Hashable, ...]) -> None:
        if not names:
            raise ValueError("an event needs at least one feature")
        self.names = names
        self.index = {name: j for j, name in enumerate(names)}
        self.width = len(names)
        self._learn = np.zeros((1, self.width))
        self._score = np.zeros((1, self.width))
        self._learn_flat = self._learn[0]
        self._score_flat = self._score[0]
        # item writes through a memoryview cost half of numpy's scalar __setitem__
        self._learn_view = memoryview(self._learn_flat)
        self._score_view = memoryview(self._score_flat)

    @classmethod
    def from_names(cls, names: Iterable[Hashable]) -> FeatureColumns:
        """Columns for ``names``, sorted (see :func:`_sorted_names`)."""
        return cls(_sorted_names(names))

    @property
    def fill(self) -> np.ndarray:
        """The value each missing feature takes: the last learned one (a copy)."""
        return self._learn_flat.copy()

    def _write(self, x: Mapping[Hashable, Any], flat: Any) -> int:
        """Write the known, present features of ``x`` into ``flat`` (a float64
        memoryview); count them."""
        index = self.index
        hits = 0
        for name, value in x.items():
            j = index.get(name)
            if j is None or value is None:
                continue
            v = float(value)
            if -INPUT_LIMIT <= v <= INPUT_LIMIT:
                flat[j] = v
            elif v != v:  # NaN: missing
                continue
            else:
                flat[j] = INPUT_LIMIT if v > 0 else -INPUT_LIMIT
            hits += 1
        return hits

    def learn_row(self, x: Mapping[Hashable, Any]) -> np.ndarray:
        """The ``(1, d)`` row to learn ``x`` from; it becomes the fill of missing features."""
        self._write(x, self._learn_view)
        return self._learn

    def score_row(self, x: Mapping[Hashable, Any]) -> np.ndarray:
        """The ``(1, d)`` row to score ``x`` with; learned state is left untouched."""
        view = self._score_view
        if len(x) < self.width or self._write(x, view) < self.width:
            self._score_flat[:] = self._learn_flat
            self._write(x, view)
        return self._score

    def matrix(self, X: Any, learn: bool) -> np.ndarray:
        """A contiguous ``(n, d)`` float64 matrix of a DataFrame or 2-D array.

        DataFrame columns are matched by name (unknown ones ignored, absent ones
        filled); an array's columns must be the features in :attr:`names` order.
        Missing cells (absent columns, NaN) take the fill; when ``learn`` is true
        each takes the last value before it in its column, as a ``learn_one``
        loop would, and the last row becomes the new fill.
        """
        fill = self._learn_flat
        out = self._frame(X) if hasattr(X, "columns") else self._array(X)
        if not within(out, INPUT_LIMIT):  # one pass; NaN fails it
            missing = np.isnan(out)
            if learn:
                _forward_fill(out, missing, fill)
            else:
                out[missing] = np.broadcast_to(fill, out.shape)[missing]
            np.clip(out, -INPUT_LIMIT, INPUT_LIMIT, out=out)
        if learn and out.shape[0]:
            fill[:] = out[-1]
        return out

    def _array(self, X: Any) -> np.ndarray:
        out = np.array(X, dtype=np.float64, order="C")
        if out.ndim != 2 or out.shape[1] != self.width:
            raise ValueError(
                f"expected a 2-D array of {self.width} columns ({list(self.names)}), "
                f"got shape {out.shape}"
            )
        return out

    def _frame(self, X: Any) -> np.ndarray:
        """A DataFrame's known columns in column order; absent ones filled, NaN kept."""
        columns = X.columns.tolist()
        if columns == list(self.names):  # the common case: one copy, no reordering
            return np.ascontiguousarray(X.to_numpy(dtype=np.float64, copy=True))
        out = np.empty((len(X), self.width))
        out[:] = self._learn_flat
        at = {name: i for i, name in enumerate(columns)}
        pairs = [(j, at[name]) for name, j in self.index.items() if name in at]
        if pairs:
            values = X.iloc[:, [i for _, i in pairs]].to_numpy(dtype=np.float64)
            out[:, [j for j, _ in pairs]] = values
        return out

    def __getstate__(self) -> dict[str, Any]:
        return {"names": self.names, "fill": self._learn_flat.copy()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(tuple(state["names"]))  # type: ignore[misc]
        self._learn_flat[:] = state["fill"]


def _forward_fill(out: np.ndarray, missing: np.ndarray, fill: np.ndarray) -> None:
    """Replace each missing cell by the last present value above it (``fill`` at the top)."""
    n = out.shape[0]
    rows = np.where(missing, -1, np.arange(n)[:, None])
    np.maximum.accumulate(rows, axis=0, out=rows)
    held = out[np.maximum(rows, 0), np.arange(out.shape[1])]
    out[:] = np.where(rows < 0, fill, held)
