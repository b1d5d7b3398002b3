"""``pynomaly demo``: the whole product on one machine in one command.

Starts the embedded Kafka-protocol broker on 127.0.0.1, the live dashboard,
a synthetic metrics producer (with injected anomalies and some malformed
records) and the detection flow, then prints alerts as they arrive on the
alerts topic. Event times follow the clock: the producer starts at now and
spaces a key's records by keys / rate seconds. Ctrl-C stops everything
(children die with this process even if it is killed); the working folder
(spec, logs, labels) is removed on exit unless it was given with
``--work-dir``, ``--keep-work-dir`` is set, or a process failed.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

EPILOG = """\
examples:
  pynomaly demo                                  # until Ctrl-C; dashboard on :8765
  pynomaly demo --no-dashboard --duration 60     # one minute, alerts on the terminal only
  pynomaly demo --keys 200 --rate 5000 --anomaly-rate 0.001
  pynomaly demo --work-dir out/demo              # keep spec, logs and labels there
"""

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    fh = open(log, "ab")  # noqa: SIM115 - handed to the child for its lifetime
    return subprocess.Popen([sys.executable, "-m", "pynomaly.cli.main", *args], env=env,
                            stdout=fh, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)


def demo_spec(bootstrap: str, ingest_url: str | None, out_dir: Path) -> dict[str, Any]:
    """The flow the demo runs (also a good starting point for a real one)."""
    sinks: list[dict[str, Any]] = [
        {"type": "kafka", "bootstrap_servers": bootstrap, "topic": "alerts"},
        {"type": "jsonl", "path": str(out_dir / "alerts.jsonl")},
    ]
    if ingest_url:
        sinks.append({"type": "dashboard", "url": ingest_url})
    return {
        "name": "demo",
        "source": {"type": "kafka", "bootstrap_servers": bootstrap, "topics": ["metrics"],
                   "batch_size": 2000},
        "record": {"value_fields": ["cpu", "latency_ms"], "max_future_s": 30 * 86400},
        "detection": {"detector": {"name": "robust_zscore", "params": {"alpha": 0.02}},
                      "calibration": {"kind": "conformal", "window": 2000},
                      "threshold": {"kind": "static", "value": 7.0},
                      "warmup": 30},
        # a key's records are 50 ms apart: a silence counts after 10 s, not 5 cadences
        "alerts": {"cooldown_s": 60, "explain_top": 2, "missing_data": {"min_silence_s": 10.0}},
        "keys": {"shards": 8},
        "sinks": sinks,
        "dead_letter": {"type": "kafka", "bootstrap_servers": bootstrap, "topic": "dead-letters"},
    }


class ChildFailed(RuntimeError):
    """A process of the demo exited on its own."""


def _tail_alerts(bootstrap: str, procs: dict[str, subprocess.Popen], duration: float,
                 logs: Path) -> int:
    from pynomaly.alerts import AlertConsumer, AlertError, format_alert

    def on_error(error: AlertError) -> None:
        print(f"pynomaly: alerts topic: {error}", file=sys.stderr, flush=True)

    t0 = time.monotonic()
    seen = 0
    with AlertConsumer(bootstrap, "alerts", on_error=on_error, poll_timeout_s=0.5) as consumer:
        while duration <= 0 or time.monotonic() - t0 < duration:
            for name, p in procs.items():
                code = p.poll()
                if code is not None and not (name == "producer" and code == 0):
                    raise ChildFailed(f"{name} exited with code {code}; "
                                      f"see {logs / (name + '.log')}")
            got = consumer.poll()
            if got is not None:
                seen += 1
                if seen == 1:
                    print(f"first alert after {time.monotonic() - t0:.1f}s")
                print(format_alert(got.alert), flush=True)
    return seen


def _stop(signum: int, frame: object) -> None:
    """SIGTERM stops the demo as Ctrl-C does (processes stopped, folder removed)."""
    raise KeyboardInterrupt


def _cmd(args: argparse.Namespace) -> int:
    from pynomaly.connectors.kafka_admin import ensure_topics
    from pynomaly.devtools.broker import EmbeddedBroker

    signal.signal(signal.SIGTERM, _stop)

    own_work_dir = args.work_dir is None
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="pynomaly-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    keep = args.keep_work_dir or not own_work_dir
    procs: dict[str, subprocess.Popen] = {}
    dashboard = None
    broker = EmbeddedBroker(port=args.port).start()
    try:
        bootstrap = broker.bootstrap_servers
        ensure_topics(bootstrap, {"metrics": 4, "alerts": 1, "dead-letters": 1})
        env = dict(os.environ)
        ingest_url = None
        if not args.no_dashboard:
            from pynomaly.dashboard.config import DashboardSettings
            from pynomaly.dashboard.server import DashboardServer

            ingest_token = secrets.token_urlsafe(24)
            settings = DashboardSettings(ingest_token=ingest_token,
                                         view_token=args.view_token or secrets.token_urlsafe(24))
            dashboard = DashboardServer(settings, port=args.dashboard_port).start()
            ingest_url = dashboard.ingest_url
            env["PYNOMALY_DASHBOARD_INGEST_TOKEN"] = ingest_token
        spec_path = work / "demo-flow.json"
        spec_path.write_bytes(orjson.dumps(demo_spec(bootstrap, ingest_url, work),
                                           option=orjson.OPT_INDENT_2))
        # a key's records keys/rate seconds apart: event time keeps pace with the clock
        interval = args.keys / args.rate
        procs["producer"] = _spawn(
            ["produce", "--to", f"kafka://{bootstrap}/metrics", "--keys", str(args.keys),
             "--rate", str(args.rate), "--interval", f"{interval:g}", "--start", "now",
             "--anomaly-rate", str(args.anomaly_rate), "--malformed-rate", "0.001",
             "--labels", str(work / "labels.jsonl"), "--no-progress", "--seed", "7",
             *(["--duration", str(args.duration)] if args.duration > 0 else [])],
            env, work / "producer.log")
        procs["flow"] = _spawn(["run", str(spec_path)], env, work / "flow.log")
        print(f"broker     {bootstrap}  (topics: metrics, alerts, dead-letters)")
        if dashboard is not None:
            print(f"dashboard  {dashboard.viewer_url}")
        print(f"flow spec  {spec_path}")
        print(f"logs       {work}/{{producer,flow}}.log   alerts also in {work / 'alerts.jsonl'}"
              + ("" if keep else "  (removed on exit; --keep-work-dir keeps them)"))
        print(f"producing {args.rate} records/s for {args.keys} keys; Ctrl-C stops everything\n",
              flush=True)
        seen = _tail_alerts(bootstrap, procs, args.duration, work)
        print(f"\n{seen} alerts")
    except KeyboardInterrupt:
        print("\nstopping…", file=sys.stderr)
    except ChildFailed:
        keep = True  # its log says why
        raise
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 10
        for p in procs.values():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if dashboard is not None:
            dashboard.stop()
        broker.stop()
        if keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            with contextlib.suppress(OSError):
                shutil.rmtree(work)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo", help="broker + producer + flow + dashboard, all local",
        description=__doc__.split("\n\n", 1)[1].replace("``", ""), epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--keys", type=int, default=50, help="entities to simulate (default 50)")
    p.add_argument("--rate", type=float, default=1000,
                   help="records per second, all keys together (default 1000)")
    p.add_argument("--anomaly-rate", type=float, default=0.002,
                   help="chance that a record starts an anomaly (default 0.002)")
    p.add_argument("--port", type=int, default=None, help="broker port (default: a free one)")
    p.add_argument("--dashboard-port", type=int, default=8765,
                   help="dashboard port (default 8765)")
    p.add_argument("--view-token", default=None, help="dashboard viewer token (default: random)")
    p.add_argument("--no-dashboard", action="store_true", help="run without the dashboard")
    p.add_argument("--duration", type=float, default=0,
                   help="stop after N seconds (default 0: never)")
    p.add_argument("--work-dir", default=None,
                   help="where spec, logs and labels go, kept on exit (default: a temporary "
                   "folder, removed on exit)")
    p.add_argument("--keep-work-dir", action="store_true",
                   help="keep the temporary folder on exit")
    p.set_defaults(func=_cmd)
