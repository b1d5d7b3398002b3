"""Shard labels that Bytewax routes to the worker that made them."""

from __future__ import annotations

import threading

import bytewax.operators as op
import pytest
from bytewax._bytewax import cli_main
from bytewax.dataflow import Dataflow
from bytewax.inputs import DynamicSource, StatelessSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from pynomaly.dataflow.routing import local_label, set_local_worker, siphash13, worker_of
from pynomaly.runtime.runner import RunOptions, _record_local_worker
from pynomaly.spec import FlowSpec


def _run_and_observe(workers: int) -> list[tuple[str, int, int]]:
    """(key, worker that emitted it, thread that ran its stateful step) per item."""
    seen: list[tuple[str, int, int]] = []
    sources: dict[int, int] = {}

    class Part(StatelessSourcePartition):
        def __init__(self, worker: int) -> None:
            self.worker, self.done = worker, False

        def next_batch(self) -> list:
            if self.done:
                raise StopIteration
            self.done = True
            sources[threading.get_ident()] = self.worker
            keys = [f"key-{i}" for i in range(300)]
            keys += [local_label(s, self.worker, workers) for s in range(64)]
            return [(k, self.worker) for k in keys]

    class Source(DynamicSource):
        def build(self, step_id: str, worker_index: int, worker_count: int) -> Part:
            return Part(worker_index)

    class Sink(DynamicSink):
        def build(self, step_id: str, worker_index: int, worker_count: int):
            class P(StatelessSinkPartition):
                def write_batch(self, items: list) -> None:
                    seen.extend(items)
            return P()

    flow = Dataflow("routing")
    items = op.input("in", flow, Source())
    ran = op.stateful_map("st", items, lambda st, w: (None, (w, threading.get_ident())))
    op.output("out", op.map("flat", ran, lambda kv: (kv[0], *kv[1])), Sink())
    cli_main(flow, workers_per_process=workers)
    return [(k, w, sources[t]) for k, w, t in seen]


@pytest.mark.parametrize("workers", [2, 3])
def test_worker_of_predicts_bytewax_routing(workers: int) -> None:
    observed = _run_and_observe(workers)
    assert len(observed) == workers * (300 + 64)
    # arbitrary keys land where the hash says (a wrong hash would miss ~1/2 or 2/3)
    assert all(ran_on == worker_of(k, workers) for k, _, ran_on in observed)
    # local labels stay on the worker that emitted them
    local = [(w, ran_on) for k, w, ran_on in observed if "@" in k]
    assert local and all(w == ran_on for w, ran_on in local)


def test_siphash13_is_sensitive_to_every_byte_and_the_length() -> None:
    base = siphash13(b"shard-17")
    assert len({siphash13(b"shard-17"[:i]) for i in range(9)}) == 9
    assert all(siphash13(bytes([b ^ 1 if j == i else b for j, b in enumerate(b"shard-17")]))
               != base for i in range(8))


def _spec(route: str) -> FlowSpec:
    return FlowSpec.model_validate({
        "name": "r", "source": {"type": "kafka", "topics": ["m"]},
        "record": {"value_fields": ["v"]}, "keys": {"route": route},
        "sinks": [{"type": "jsonl", "path": "/dev/null"}]})


def test_partition_route_needs_one_worker_per_process() -> None:
    with pytest.raises(ValueError, match="one worker per process"):
        _record_local_worker(RunOptions(workers=2), _spec("partition"))
    _record_local_worker(RunOptions(workers=2), _spec("hash"))  # fine
    _record_local_worker(RunOptions(workers=1, process_id=1, addresses=["a", "b"]),
                         _spec("partition"))
    from pynomaly.dataflow.routing import local_worker

    assert (local_worker().index, local_worker().count) == (1, 2)
    set_local_worker(0, 1)
