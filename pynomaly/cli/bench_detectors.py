"""``pynomaly bench detectors``: native detectors side by side with their peers
(:mod:`pynomaly.bench.detectors`).

>>> from pynomaly.cli.main import build_parser
>>> args = build_parser().parse_args(["bench", "detectors", "--events", "500", "--json"])
>>> args.events, args.features, args.json
(500, 4, True)
"""

from __future__ import annotations

import argparse
import json

from pynomaly.bench.detectors import NATIVE_NAMES, WARMUP, format_report, run_benchmark


def register(subparsers: argparse._SubParsersAction) -> None:
    names = ", ".join(NATIVE_NAMES)
    p = subparsers.add_parser(
        "detectors", help="native detectors vs River/PySAD/rrcf peers",
        description="Native detectors side by side with their peers on one seeded stream: "
        "events/s in batch and per-event mode, and ROC-AUC. The peers come with the bench "
        "extra (pip install -e '.[bench]'); a peer that is not installed is skipped with a "
        f"note. Native detectors: {names}.")
    p.add_argument("--events", type=int, default=20_000, help="stream length (default 20000)")
    p.add_argument("--features", type=int, default=4, help="features per event (default 4)")
    p.add_argument("--seed", type=int, default=0, help="stream seed (default 0)")
    p.add_argument("--batch", type=int, default=256, help="micro-batch size (default 256)")
    p.add_argument("--per-event-events", type=int, default=3000, help="events in per-event mode")
    p.add_argument("--peer-events", type=int, default=4000, help="events given to each peer")
    p.add_argument("--slow-peer-events", type=int, default=1000, help="events for rrcf peers")
    p.add_argument("--repeats", type=int, default=3, help="timed runs, best kept (default 3)")
    p.add_argument(
        "--auc-seeds", type=int, default=5, help="seeds each side's ROC-AUC is averaged over (default 5)"
    )
    p.add_argument("--only", nargs="*", metavar="NAME", choices=NATIVE_NAMES,
                   help=f"native detectors to run, from: {names} (default: all)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.events < 2 * WARMUP:
        raise ValueError(f"--events must be at least {2 * WARMUP}")
    report = run_benchmark(
        events=args.events,
        features=args.features,
        seed=args.seed,
        batch=args.batch,
        per_event_events=args.per_event_events,
        peer_events=args.peer_events,
        slow_peer_events=args.slow_peer_events,
        repeats=args.repeats,
        only=args.only,
        auc_seeds=args.auc_seeds,
    )
    print(json.dumps(report) if args.json else format_report(report))
    return 0
