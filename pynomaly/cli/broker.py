"""``pynomaly broker start|stop|status``: the embedded Kafka-protocol broker.

``start`` runs ``tansu`` in the background (its pid and address go to
``broker.json`` in ``$PYNOMALY_STATE_DIR``, default ``~/.cache/pynomaly``) or,
with ``--foreground``, until Ctrl-C. Commands that take ``--bootstrap-servers``
work with this broker or with any real Kafka.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="pynomaly")
>>> register(parser.add_subparsers())
>>> args = parser.parse_args(["broker", "start", "--port", "9093"])
>>> args.action, args.port, args.foreground
('start', 9093, False)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

import orjson

from pynomaly.devtools.broker import EmbeddedBroker, broker_reachable

STATE_DIR_ENV = "PYNOMALY_STATE_DIR"

DESCRIPTION = """\
The embedded Kafka-protocol broker (tansu) on this machine, for the demo,
tests and trying flows out. It keeps its log in memory: stopping it loses
every record. `start` runs it in the background and records its pid and
address in $PYNOMALY_STATE_DIR/broker.json (default ~/.cache/pynomaly);
`stop` and `status` find it there. Every command that takes
--bootstrap-servers or kafka://HOST:PORT works with it or with any Kafka."""

EPILOG = """\
examples:
  pynomaly broker start                  # 127.0.0.1:9092, in the background
  pynomaly broker start --port 0         # any free port (printed)
  pynomaly broker start --foreground     # until Ctrl-C
  pynomaly broker status
  pynomaly broker stop
"""


def state_dir() -> Path:
    """Where background services record their state (created on demand)."""
    path = Path(os.environ.get(STATE_DIR_ENV) or Path.home() / ".cache" / "pynomaly")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _state_file() -> Path:
    return state_dir() / "broker.json"


def _is_tansu(pid: int) -> bool:
    """Whether ``pid`` is a live tansu process (guards against recycled pids)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X") and b"tansu" in cmdline


def read_state() -> dict[str, Any] | None:
    """The recorded background broker, or ``None`` when none is alive."""
    path = _state_file()
    if not path.exists():
        return None
    try:
        state = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError:
        return None
    if not _is_tansu(int(state.get("pid", -1))):
        return None
    return state


def _start(args: argparse.Namespace) -> int:
    running = read_state()
    if running is not None:
        raise RuntimeError(
            f"a broker is already running at {running['bootstrap_servers']} "
            f"(pid {running['pid']}); `pynomaly broker stop` first"
        )
    if args.foreground:
        return _run_foreground(args)
    log = state_dir() / "broker.log"
    port = args.port or None  # 0: any free port
    broker = EmbeddedBroker(port, args.host, die_with_parent=False, log_path=log).start()
    state = {
        "pid": broker.pid,
        "bootstrap_servers": broker.bootstrap_servers,
        "log": str(log),
        "started_at": time.time(),
    }
    _state_file().write_bytes(orjson.dumps(state))
    print(broker.bootstrap_servers)
    return 0


def _run_foreground(args: argparse.Namespace) -> int:
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        with EmbeddedBroker(args.port or None, args.host) as broker:
            print(broker.bootstrap_servers, flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                while not stop and broker.running:
                    time.sleep(0.2)
            if not broker.running:
                raise RuntimeError(f"tansu exited: {broker.log_tail(500)}")
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def _stop(args: argparse.Namespace) -> int:
    state = read_state()
    _state_file().unlink(missing_ok=True)
    if state is None:
        print("no broker running")
        return 0
    pid = int(state["pid"])
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
        os.killpg(pid, signal.SIGCONT)  # in case it was paused
    deadline = time.monotonic() + args.timeout
    while _is_tansu(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _is_tansu(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    print(f"stopped broker at {state['bootstrap_servers']} (pid {pid})")
    return 0


def _status(args: argparse.Namespace) -> int:
    state = read_state()
    if state is None:
        print("no broker running")
        return 1
    answers = broker_reachable(state["bootstrap_servers"], timeout=2.0)
    print(
        f"broker at {state['bootstrap_servers']} (pid {state['pid']}): "
        f"{'answering' if answers else 'not answering'}"
    )
    return 0 if answers else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "broker", help="run the embedded Kafka-protocol broker (tansu)", description=DESCRIPTION,
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    start = actions.add_parser(
        "start", help="start the broker (background by default)",
        description="Start the embedded broker and print its address (host:port).")
    start.add_argument("--port", type=int, default=9092,
                       help="TCP port (default 9092; 0 picks a free one)")  # fmt: skip
    start.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    start.add_argument(
        "--foreground", action="store_true", help="run until Ctrl-C instead of detaching"
    )
    start.set_defaults(func=_start)
    stop = actions.add_parser("stop", help="stop the background broker",
                              description="Stop the broker `start` left in the background.")
    stop.add_argument("--timeout", type=float, default=3.0,
                      help="seconds to wait after SIGTERM before SIGKILL")
    stop.set_defaults(func=_stop)
    status = actions.add_parser(
        "status", help="show whether the background broker answers",
        description="Say whether the background broker runs and answers (exit code 0 if so).")
    status.set_defaults(func=_status)
