"""``pynomaly run``: run a flow from a spec file or ``module:flow``."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the runner pulls in Bytewax and the engine: import it when running
    from pynomaly.runtime.runner import RunOptions


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Bytewax execution options shared by ``run`` and ``replay``."""
    p.add_argument("-w", "--workers", type=int, default=1, help="worker threads per process")
    p.add_argument("-p", "--processes", type=int, default=1,
                   help="local processes forming one cluster on loopback")
    p.add_argument("-i", "--process-id", type=int, default=None,
                   help="this process's index in a multi-machine cluster (with -a)")
    p.add_argument("-a", "--addresses", default=None,
                   help="host:port of every cluster process, ';'-separated (with -i)")
    p.add_argument("--base-port", type=int, default=2101,
                   help="first loopback port used between local processes (-p)")
    p.add_argument("--recovery-dir", default=None,
                   help="enable recovery: state snapshots live here (created when missing)")
    p.add_argument("--snapshot-interval", type=float, default=10.0,
                   help="seconds between recovery snapshots")
    p.add_argument("--metrics-port", type=int, default=None,
                   help="serve /metrics, /healthz, /readyz on this port (with -p N: port + i "
                   "for process i; 0 = any free port)")
    p.add_argument("--metrics-host", default="127.0.0.1", help="address for --metrics-port")
    p.add_argument("--shutdown-timeout", type=float, default=30.0,
                   help="seconds a graceful shutdown (SIGTERM/SIGINT) may take")


def add_preflight_options(p: argparse.ArgumentParser) -> None:
    """Checks made before the dataflow starts (``run`` and ``replay``)."""
    p.add_argument("--kafka-timeout", type=float, default=5.0,
                   help="seconds each Kafka cluster of the spec has to answer at start")
    p.add_argument("--create-topics", action=argparse.BooleanOptionalAction, default=True,
                   help="create missing Kafka sink topics at start (a sink's "
                   "create_topic: false opts out)")


def add_memory_check_option(p: argparse.ArgumentParser) -> None:
    """``--no-memory-check``, shared by ``run`` and ``replay``."""
    p.add_argument("--no-memory-check", action="store_true",
                   help="start even when the spec's keys.max_keys keys would need more memory "
                   "than this machine has (the check estimates it at start; "
                   "PYNOMALY_MEMORY_LIMIT_BYTES sets the limit in bytes instead of the "
                   "machine's)")


def check_memory_at_start(spec, max_keys: int | None, args: argparse.Namespace, *,
                          local_processes: int = 1) -> None:
    """Refuse to start when ``spec`` at ``max_keys`` keys (the cap it sets; None:
    no check) needs more memory than this machine has (see
    :func:`pynomaly.runtime.plan.check_memory`). ``local_processes``: the
    processes this command starts here (``-p``); the check then runs before
    they start, not in this process's memory."""
    if args.no_memory_check or max_keys is None:
        return
    from pynomaly.runtime.plan import MemoryRefused, check_memory, processes_here

    addresses = args.addresses.split(";") if args.addresses else None
    if addresses and args.process_id is not None:
        processes, here = len(addresses), processes_here(addresses, args.process_id)
    else:
        processes = here = local_processes
    try:
        check_memory(spec, max_keys, processes=processes, colocated=here,
                     recovery=bool(args.recovery_dir), own_rss=local_processes == 1)
    except MemoryRefused:
        raise
    except Exception as exc:  # the flow reports its own errors when it starts
        logging.getLogger(__name__).warning("memory check skipped: %s", exc)


def add_sandbox_option(p: argparse.ArgumentParser) -> None:
    """``--sandbox-paths DIR``, shared by ``run`` and ``replay``."""
    p.add_argument("--sandbox-paths", metavar="DIR", default=None,
                   help="confine the spec's file source and file sinks to DIR (paths resolved, "
                   "links followed, '..' refused; a Python module:flow is refused). Without "
                   "it a spec is trusted like code (default: no sandbox)")


def confine_spec(spec, sandbox_dir: str | None) -> None:
    """Refuse ``spec`` when ``sandbox_dir`` is given and a file path of it lies outside."""
    if sandbox_dir:
        from pynomaly.runtime.sandbox import PathSandbox

        PathSandbox(sandbox_dir).check_spec(spec)


def _check_sandboxed_target(args: argparse.Namespace) -> None:
    """With ``--sandbox-paths``, only a spec file whose paths stay inside may run
    (checked before any Python module named by the target is imported)."""
    if not args.sandbox_paths:
        return
    from pynomaly.runtime.runner import is_spec_file
    from pynomaly.runtime.sandbox import SandboxError
    from pynomaly.spec import load_spec

    if not is_spec_file(args.target):
        raise SandboxError(f"{args.target}: --sandbox-paths takes a spec file; a Python flow "
                           "(module:attr) is code and cannot be confined")
    confine_spec(override_bootstrap(load_spec(args.target), args.bootstrap_servers),
                 args.sandbox_paths)


def options_from(args: argparse.Namespace) -> RunOptions:
    from pynomaly.runtime.runner import RunOptions

    return RunOptions(workers=args.workers, processes=args.processes,
                      process_id=args.process_id,
                      addresses=args.addresses.split(";") if args.addresses else None,
                      recovery_dir=args.recovery_dir,
                      snapshot_interval_s=args.snapshot_interval,
                      metrics_port=args.metrics_port, metrics_host=args.metrics_host,
                      shutdown_timeout_s=args.shutdown_timeout)


def override_bootstrap(spec, bootstrap: str | None):
    """Point every Kafka source/sink of ``spec`` at ``bootstrap``."""
    if not bootstrap:
        return spec
    data = spec.model_dump()
    if data["source"]["type"] == "kafka":
        data["source"]["bootstrap_servers"] = bootstrap
    for s in [*data["sinks"], data.get("dead_letter") or {}]:
        if s.get("type") == "kafka":
            s["bootstrap_servers"] = bootstrap
    return type(spec).model_validate(data)


def _cmd(args: argparse.Namespace) -> int:
    _check_sandboxed_target(args)
    if args.processes > 1 and args.process_id is None:
        from pynomaly.runtime.local_cluster import run_local_cluster  # the children import the rest
        from pynomaly.runtime.runner import is_spec_file

        forwarded = ["run", args.target, "-w", str(args.workers)]
        if is_spec_file(args.target):  # checked here for all the processes, not in each
            from pynomaly.runtime.plan import key_limit
            from pynomaly.spec import load_spec

            loaded = load_spec(args.target)
            check_memory_at_start(loaded, key_limit(loaded), args,
                                  local_processes=args.processes)
            forwarded.append("--no-memory-check")
        elif args.no_memory_check:
            forwarded.append("--no-memory-check")
        if args.sandbox_paths:
            forwarded += ["--sandbox-paths", args.sandbox_paths]
        if args.recovery_dir:
            forwarded += ["--recovery-dir", args.recovery_dir,
                          "--snapshot-interval", str(args.snapshot_interval)]
        if args.bootstrap_servers:
            forwarded += ["--bootstrap-servers", args.bootstrap_servers]
        forwarded += ["--status-interval", str(args.status_interval), *(["-q"] if args.quiet else [])]
        forwarded += ["--kafka-timeout", str(args.kafka_timeout),
                      "--create-topics" if args.create_topics else "--no-create-topics"]
        forwarded += ["--metrics-host", args.metrics_host,
                      "--shutdown-timeout", str(args.shutdown_timeout)]
        return run_local_cluster(forwarded, args.processes, args.base_port, args.metrics_port)
    from pynomaly.dataflow.flow import build_flow
    from pynomaly.runtime.runner import load_target, run_dataflow
    from pynomaly.spec import FlowSpec

    target = load_target(args.target)
    spec = None
    if isinstance(target, FlowSpec):
        from pynomaly.runtime.plan import key_limit
        from pynomaly.runtime.preflight import prepare_kafka

        spec = override_bootstrap(target, args.bootstrap_servers)
        confine_spec(spec, args.sandbox_paths)
        check_memory_at_start(spec, key_limit(target), args)
        prepare_kafka(spec, timeout_s=args.kafka_timeout, create_topics=args.create_topics)
        target = build_flow(spec, recovery=bool(args.recovery_dir))
    else:
        from pynomaly.runtime.preflight import probe_dataflow

        probe_dataflow(target, timeout_s=args.kafka_timeout)  # a flow built in Python
    from pynomaly.runtime.run_status import RunStatus

    opts = options_from(args)
    opts.status = RunStatus(interval_s=args.status_interval, quiet=args.quiet)
    run_dataflow(target, opts, spec)
    return 0


RUN_DESCRIPTION = """\
Run a flow: a spec file (.yaml/.toml/.json) or module:attribute naming a
Bytewax Dataflow, a FlowSpec or a function returning one. Before the flow
starts, every Kafka cluster of the spec must answer (--kafka-timeout) and
missing sink topics are created, and when the spec sets keys.max_keys the
memory that many keys need is estimated (as 'pynomaly plan' does): a flow
that would not fit in this machine's memory is refused. While it runs it
prints a start line, a status line every --status-interval seconds and a
summary at the end.
SIGTERM or Ctrl-C drain in-flight batches and flush the sinks."""

RUN_EPILOG = """\
examples:
  pynomaly run flows/kafka_metrics.yaml                 # one process, one worker
  pynomaly run cpu.yaml -w 2 --metrics-port 9100        # 2 workers; Prometheus on :9100
  pynomaly run cpu.yaml -p 2 --recovery-dir state/      # 2 local processes, with recovery
  pynomaly run cpu.yaml --bootstrap-servers kafka:9092  # every Kafka of the spec there
  pynomaly run flows.python_flow:flow                   # a flow built in Python
  pynomaly run cpu.yaml -i 0 -a "host-a:2101;host-b:2101"   # process 0 of a 2-machine cluster
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("run", help="run a flow (spec file or module:flow)",
                              description=RUN_DESCRIPTION, epilog=RUN_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", help="flow spec (.yaml/.toml/.json) or module:attribute")
    p.add_argument("--bootstrap-servers", default=None,
                   help="use this Kafka for every Kafka source and sink of the spec")
    add_preflight_options(p)
    p.add_argument("--status-interval", type=float, default=10.0,
                   help="seconds between status lines (0 = only the start and summary lines)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no start, status or summary lines")
    add_sandbox_option(p)
    add_memory_check_option(p)
    add_run_options(p)
    p.set_defaults(func=_cmd)
