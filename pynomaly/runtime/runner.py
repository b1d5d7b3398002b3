"""Run a dataflow: in this process, as several local processes, or as one
process of a multi-machine cluster, with Bytewax recovery when asked.

Recovery partitions are created on first use (one per worker of the whole
cluster is enough; more do no harm), so ``--recovery-dir`` is all a user has
to give.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from bytewax.dataflow import Dataflow

from pynomaly.runtime.run_status import RunStatus, start_line
from pynomaly.spec import FlowSpec, load_spec

log = logging.getLogger("pynomaly.runner")


@dataclass
class RunOptions:
    workers: int = 1
    processes: int = 1
    process_id: int | None = None
    addresses: list[str] | None = None
    recovery_dir: str | None = None
    snapshot_interval_s: float = 10.0
    #: epoch length when recovery is off (also bounds how often sinks flush)
    epoch_interval_s: float = 1.0
    #: serve /metrics, /healthz, /readyz on this port (+ process id); None = off
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    #: longest time a graceful shutdown may take before the process exits anyway
    shutdown_timeout_s: float = 30.0
    #: start line, periodic status and summary (:mod:`pynomaly.runtime.run_status`); None = silent
    status: RunStatus | None = None


def is_spec_file(target: str) -> bool:
    """Whether ``target`` names a spec file rather than a Python ``module:attr``.

    >>> is_spec_file("flows/file_replay.yaml"), is_spec_file("flows.python_flow:flow")
    (True, False)
    """
    return Path(target).suffix in (".yaml", ".yml", ".toml", ".json") or (
        ":" not in target and Path(target).exists()
    )


def load_target(target: str) -> FlowSpec | Dataflow:
    """A flow spec file (``.yaml``/``.yml``/``.toml``/``.json``) or ``module:attr``
    naming a Dataflow, a FlowSpec, or a no-argument callable returning one."""
    if is_spec_file(target):
        return load_spec(target)
    mod_name, _, attr = target.partition(":")
    attr = attr or "flow"
    sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(mod_name)
    except ModuleNotFoundError as exc:
        raise ValueError(f"cannot import {mod_name!r} for flow {target!r}: {exc}") from None
    try:
        obj: Any = getattr(module, attr)
    except AttributeError:
        raise ValueError(f"module {mod_name!r} has no attribute {attr!r}") from None
    if callable(obj) and not isinstance(obj, Dataflow | FlowSpec):
        obj = obj()
    if not isinstance(obj, Dataflow | FlowSpec):
        raise ValueError(f"{target!r} is a {type(obj).__name__}, not a Dataflow or FlowSpec")
    return obj


def ensure_recovery_dir(path: str, partitions: int) -> None:
    """Create ``partitions`` recovery partitions in ``path`` unless some exist."""
    from bytewax.recovery import init_db_dir

    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    if not any(p.glob("part-*.sqlite3")):
        init_db_dir(p, partitions)


def start_operations(opts: RunOptions, spec: FlowSpec | None) -> Any:
    """Metrics, health endpoints, tracing and signal handling for a run.
    Returns the health server (or None)."""
    from pynomaly.observability import metrics, tracing
    from pynomaly.runtime import lifecycle

    lifecycle.install_signal_handlers(opts.shutdown_timeout_s)
    tracing.configure(service_name=f"pynomaly-{spec.name}" if spec else "pynomaly")
    if opts.metrics_port is None:
        return None
    from prometheus_client import REGISTRY

    from pynomaly.observability.health import HealthServer
    from pynomaly.observability.readiness import checks_for

    metrics.enable(REGISTRY)
    server = HealthServer(REGISTRY, opts.metrics_host, opts.metrics_port).start()
    if spec is not None:
        for name, check in checks_for(spec, opts.recovery_dir).items():
            server.add_check(name, check)
    log.info("metrics and health on %s (/metrics /healthz /readyz)", server.url)
    return server


def _record_local_worker(opts: RunOptions, spec: FlowSpec | None) -> None:
    """Tell the shard step which worker this process runs (``keys.route: partition``)."""
    from pynomaly.dataflow.routing import set_local_worker

    count = opts.workers * max(1, len(opts.addresses or [None]))
    if spec is not None and spec.keys.route == "partition" and opts.workers > 1:
        raise ValueError("keys.route 'partition' needs one worker per process "
                         f"(got -w {opts.workers}); run more processes instead")
    set_local_worker((opts.process_id or 0) * opts.workers, count)


def run_dataflow(flow: Dataflow, opts: RunOptions, spec: FlowSpec | None = None) -> None:
    """Execute ``flow`` in this process (blocking).

    With ``opts.metrics_port`` set, also serves metrics and health probes; in
    every case SIGTERM/SIGINT drain the flow gracefully (see
    :mod:`pynomaly.runtime.lifecycle`)."""
    from bytewax._bytewax import cli_main
    from bytewax.recovery import RecoveryConfig

    from pynomaly.observability import tracing
    from pynomaly.runtime import lifecycle

    lifecycle.reset()
    _record_local_worker(opts, spec)
    server = start_operations(opts, spec)
    from pynomaly.runtime.gc_tuning import tune_for_streaming

    tune_for_streaming()

    recovery = None
    epoch = timedelta(seconds=opts.epoch_interval_s)
    if opts.recovery_dir:
        total_workers = opts.workers * max(1, len(opts.addresses or [None]))
        ensure_recovery_dir(opts.recovery_dir, max(1, total_workers))
        recovery = RecoveryConfig(opts.recovery_dir, timedelta(seconds=0))
        epoch = timedelta(seconds=opts.snapshot_interval_s)
    if opts.addresses and opts.process_id:
        from pynomaly.runtime.local_cluster import wait_for_peers

        wait_for_peers(opts.addresses, opts.process_id)  # saves Bytewax's 1 s connect retry
    if opts.status is not None:
        opts.status.start(start_line(
            spec, flow.flow_id, workers=opts.workers,
            processes=max(opts.processes, len(opts.addresses or [])),
            process_id=opts.process_id if opts.addresses else None,
            metrics_url=server.url if server is not None else None),
            prefix=f"process {opts.process_id}: " if opts.addresses else "")
    failed = True
    try:
        cli_main(flow, workers_per_process=opts.workers, process_id=opts.process_id,
                 addresses=opts.addresses, epoch_interval=epoch, recovery_config=recovery)
        failed = False
    finally:
        if opts.status is not None:
            opts.status.stop("failed" if failed else (
                lifecycle.shutdown_reason() if lifecycle.stopping() else None))
        tracing.shutdown()
        if server is not None:
            server.stop()
    if lifecycle.stopping():
        log.info("stopped after %s: in-flight batches drained, sinks flushed",
                 lifecycle.shutdown_reason())
