"""``pynomaly produce``: write a synthetic, labelled metric stream.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="pynomaly")
>>> register(parser.add_subparsers())
>>> args = parser.parse_args(["produce", "--count", "10", "--to", "m.jsonl", "--seed", "7"])
>>> args.count, args.to, args.seed, args.keys
(10, ['m.jsonl'], 7, 100)
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from pynomaly.devtools.generator_anomalies import ANOMALY_KINDS

#: names of the generator's default value fields (kept here so that building
#: the command line does not import the generator and pyarrow)
DEFAULT_FIELD_NAMES = ("cpu", "latency_ms")


def parse_start(text: str, now: datetime | None = None) -> datetime:
    """``--start``: ``now`` (the default: event times follow the clock) or an
    ISO-8601 time (a fixed start, for reproducible files).

    >>> parse_start("2026-01-01T00:00:00Z").isoformat()
    '2026-01-01T00:00:00+00:00'
    >>> parse_start("now", now=datetime(2026, 12, 5, 1, 2, 3, 456789, tzinfo=UTC)).isoformat()
    '2026-12-05T01:02:03+00:00'
    """
    if text.strip().lower() == "now":
        return (now or datetime.now(UTC)).replace(microsecond=0)
    try:
        start = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--start: expected now or an ISO-8601 time, got {text!r}") from None
    return start if start.tzinfo is not None else start.replace(tzinfo=UTC)


def _run(args: argparse.Namespace) -> int:
    from pynomaly.devtools.generator_sinks import produce

    if args.count is None and args.duration is None and args.rate is None:
        raise ValueError("give --count N, --duration S, or --rate R (then it runs until stopped)")
    kinds = tuple(k.strip() for k in args.anomaly_kinds.split(",") if k.strip())
    wanted = [f.strip() for f in args.fields.split(",") if f.strip()]
    from pynomaly.devtools.generator import DEFAULT_FIELDS, GeneratorConfig

    known = {f.name: f for f in DEFAULT_FIELDS}
    unknown = [f for f in wanted if f not in known]
    if unknown or not wanted:
        raise ValueError(f"--fields: choose from {','.join(known)}, got {args.fields!r}")
    config = GeneratorConfig(
        keys=args.keys,
        fields=tuple(known[f] for f in wanted),
        seed=args.seed,
        interval_s=args.interval,
        start=parse_start(args.start),
        anomaly_rate=args.anomaly_rate,
        anomaly_kinds=kinds,
        malformed_rate=args.malformed_rate,
    )
    if args.labels:
        Path(args.labels).parent.mkdir(parents=True, exist_ok=True)
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    stopped = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stopped.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        summary = produce(
            config,
            args.to,
            count=args.count,
            rate=args.rate,
            duration=args.duration,
            labels_path=args.labels,
            partitions=args.partitions,
            progress=progress,
            stop=stopped.is_set,
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not args.quiet:
        print(
            f"wrote {summary.records} records ({summary.malformed} malformed, "
            f"{summary.anomalies} anomalies) in {summary.seconds:.2f} s "
            f"({summary.records_per_s:,.0f} records/s) to {', '.join(args.to)}",
            file=sys.stderr,
        )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "produce",
        help="write a synthetic metric stream with labelled anomalies",
        description="Write synthetic metrics (daily/weekly seasonality, noise, injected "
        "anomalies with ground-truth labels) to Kafka or files.",
    )
    p.add_argument("--to", action="append", required=True, metavar="TARGET",
                   help="kafka://host:port/topic, file.jsonl, file.csv, file.parquet or - "
                   "(repeat for several)")  # fmt: skip
    how_many = p.add_argument_group("how many")
    how_many.add_argument("--count", type=int, help="number of well-formed records")
    how_many.add_argument("--rate", type=float,
                          help="records per second (default: unpaced); alone, runs until "
                          "Ctrl-C or SIGTERM, which end it cleanly")  # fmt: skip
    how_many.add_argument("--duration", type=float, help="seconds to run")
    p.add_argument("--keys", type=int, default=100, help="entities (default 100)")
    p.add_argument("--fields", default=",".join(DEFAULT_FIELD_NAMES),
                   help="value fields, comma list (default: all of cpu,latency_ms)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--interval", type=float, default=60.0,
                   help="event-time seconds between a key's records (default 60)")  # fmt: skip
    p.add_argument("--start", default="now",
                   help="event time of the first record: now (default) or ISO-8601, "
                   "e.g. 2026-01-01T00:00:00Z for the same file on every run")  # fmt: skip
    p.add_argument("--anomaly-rate", type=float, default=0.001,
                   help="chance that a record starts an anomaly (default 0.001)")  # fmt: skip
    p.add_argument("--anomaly-kinds", default=",".join(ANOMALY_KINDS),
                   help=f"comma list from {','.join(ANOMALY_KINDS)}")  # fmt: skip
    p.add_argument("--malformed-rate", type=float, default=0.0,
                   help="fraction of extra malformed records (JSONL/Kafka only)")  # fmt: skip
    p.add_argument("--labels", help="write ground-truth labels to this JSONL file "
                   "(default: none; its folder is created)")
    p.add_argument("--partitions", type=int, default=1,
                   help="partitions when creating a Kafka topic (default 1)")  # fmt: skip
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: when stderr is a terminal)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no summary line")
    p.set_defaults(func=_run)
