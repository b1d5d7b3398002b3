"""Which Bytewax worker owns a state key, and shard labels that stay local.

Bytewax 0.21 routes every item of a stateful step to the worker
``h(key) % worker_count``, where ``h`` is Rust's ``DefaultHasher`` —
SipHash-1-3 with zero keys — over the key string's bytes followed by one
``0xff`` byte (how Rust hashes a ``str``). :func:`worker_of` computes the same
function, so a flow can name its shards so that they route to the worker
that made them (:func:`local_label`): with ``keys.route: partition`` the
records of a Kafka partition are detected by the worker that reads that
partition, and no record crosses between processes.

The worker that runs this process is set by the runner before the dataflow
starts (:func:`set_local_worker`); with one worker per process it is the
process id.

Example
-------
>>> label = local_label(5, worker=1, workers=2)
>>> worker_of(label, 2)
1
"""

from __future__ import annotations

from dataclasses import dataclass

_MASK = (1 << 64) - 1


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & _MASK


def _round(v0: int, v1: int, v2: int, v3: int) -> tuple[int, int, int, int]:
    v0 = (v0 + v1) & _MASK
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = (v2 + v3) & _MASK
    v3 = _rotl(v3, 16) ^ v2
    v0 = (v0 + v3) & _MASK
    v3 = _rotl(v3, 21) ^ v0
    v2 = (v2 + v1) & _MASK
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def siphash13(data: bytes, k0: int = 0, k1: int = 0) -> int:
    """SipHash-1-3 (one compression round, three finalisation rounds) of ``data``.

    >>> siphash13(b"abc") == siphash13(b"abc") != siphash13(b"abd")
    True
    """
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573
    n = len(data)
    end = n - n % 8
    for i in range(0, end, 8):
        m = int.from_bytes(data[i : i + 8], "little")
        v3 ^= m
        v0, v1, v2, v3 = _round(v0, v1, v2, v3)
        v0 ^= m
    last = ((n & 0xFF) << 56) | int.from_bytes(data[end:], "little")
    v3 ^= last
    v0, v1, v2, v3 = _round(v0, v1, v2, v3)
    v0 ^= last
    v2 ^= 0xFF
    for _ in range(3):
        v0, v1, v2, v3 = _round(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


def worker_of(key: str, workers: int) -> int:
    """The worker Bytewax 0.21 routes stateful items keyed ``key`` to.

    >>> sorted({worker_of(str(i), 4) for i in range(100)})
    [0, 1, 2, 3]
    """
    return siphash13(key.encode() + b"\xff") % workers


def local_label(shard: int, worker: int, workers: int) -> str:
    """The first of ``"<shard>@<worker>"``, ``"<shard>@<worker>.1"``, … that
    Bytewax routes to ``worker`` (on average ``workers`` candidates are tried).

    >>> local_label(3, 0, 1)
    '3@0'
    """
    label = f"{shard}@{worker}"
    k = 0
    while worker_of(label, workers) != worker:
        k += 1
        label = f"{shard}@{worker}.{k}"
    return label


@dataclass(frozen=True)
class LocalWorker:
    """This process's worker index and the cluster's worker count."""

    index: int = 0
    count: int = 1


_local = LocalWorker()


def set_local_worker(index: int, count: int) -> None:
    """Record the worker running in this process (the runner calls this).

    >>> set_local_worker(1, 2); local_worker()
    LocalWorker(index=1, count=2)
    >>> set_local_worker(0, 1)
    """
    global _local
    if not 0 <= index < count:
        raise ValueError(f"worker index {index} out of range for {count} workers")
    _local = LocalWorker(index, count)


def local_worker() -> LocalWorker:
    """The worker recorded by :func:`set_local_worker` (worker 0 of 1 by default)."""
    return _local
