"""One-pass magnitude checks on float arrays, without temporaries.

The detector contract clips inputs and scores whose magnitude is beyond a
limit or NaN. Checking that with ``np.abs(a).max()`` allocates a temporary and
costs a few microseconds per batch; these loops read the array once.

Example
-------
>>> import numpy as np
>>> within(np.array([1.0, -2.0]), 2.0), within(np.array([np.nan]), 2.0)
(True, False)
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _within(flat: np.ndarray, limit: float) -> bool:
    ok = True
    for v in flat:
        ok &= abs(v) <= limit  # False for NaN
    return ok


def within(a: np.ndarray, limit: float) -> bool:
    """Whether every value of the float64 array ``a`` is finite and ``|v| <= limit``.

    >>> import numpy as np
    >>> within(np.ones((2, 3)), 1.0), within(np.array([[np.inf]]), 1e300)
    (True, False)
    """
    flat = a.reshape(-1) if a.flags.c_contiguous else np.ravel(a)
    return bool(_within(flat, limit))
