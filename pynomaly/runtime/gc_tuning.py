"""Garbage-collector settings for a streaming process.

Every micro-batch allocates thousands of short-lived containers (one dict per
decoded JSON record, lists and tuples per column). With CPython's default
thresholds (a young-generation collection every 700 container allocations)
the collector runs several times per batch and scans the long-lived state as
it is promoted; profiles of the Kafka flow show it costing as much as JSON
decoding itself. None of these containers form reference cycles, so reference
counting frees them; the collector only needs to run rarely.

:func:`tune_for_streaming` moves everything allocated at start-up (modules,
the dataflow, compiled kernels) into the permanent generation
(``gc.freeze``) and raises the young-generation threshold. It is called once
per process by :func:`pynomaly.runtime.runner.run_dataflow`; ADR 0092 has the numbers.

>>> import gc
>>> old = gc.get_threshold()
>>> tune_for_streaming()
>>> gc.get_threshold()[0]
50000
>>> gc.set_threshold(*old); gc.unfreeze()
"""

from __future__ import annotations

import gc

#: Container allocations between young-generation collections.
YOUNG_THRESHOLD = 50_000


def tune_for_streaming(young: int = YOUNG_THRESHOLD) -> None:
    """Freeze start-up objects and collect the young generation every
    ``young`` container allocations (instead of 700)."""
    gc.collect()
    gc.freeze()
    _, g1, g2 = gc.get_threshold()
    gc.set_threshold(young, max(g1, 20), max(g2, 10))
