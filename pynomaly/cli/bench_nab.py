"""``pynomaly bench nab``: run and score the Numenta Anomaly Benchmark.

``pynomaly bench nab --data DIR --detector SPEC --out DIR [--json]`` streams
every series of a NAB-format corpus through the detector, writes NAB-format
results and prints the three profile scores. ``--score-only RESULTS_DIR``
scores existing results of one detector, or of every detector folder under
it (NAB's own ``results/`` folder included).

>>> from pynomaly.cli.main import build_parser
>>> args = build_parser().parse_args(["bench", "nab", "--score-only", "r"])
>>> args.score_only, args.detector
('r', 'default')
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("nab", help="Numenta Anomaly Benchmark: run a detector and score it")
    p.add_argument("--data", help="NAB corpus root (holds data/, labels/, config/)")
    p.add_argument(
        "--detector",
        default="default",
        help="detector spec: default, NAME, NAME:k=v,..., or a JSON/YAML mapping",
    )
    p.add_argument("--out", default="out/nab", help="results folder (default out/nab)")
    p.add_argument("--name", help="results name (default: the detector name)")
    p.add_argument(
        "--labels", help="label windows JSON (default: labels/combined_windows.json of the corpus)"
    )
    p.add_argument(
        "--score-only", metavar="RESULTS_DIR", help="score existing results of one detector"
    )
    p.add_argument(
        "--thresholds",
        help="JSON {profile: threshold} fixing thresholds instead of optimising (score-only)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar (stderr)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pynomaly.bench.nab.harness import format_report, run_benchmark, score_folders

    if args.score_only:
        thresholds = json.loads(Path(args.thresholds).read_text()) if args.thresholds else None
        reports = score_folders(args.score_only, data=args.data, labels=args.labels,
                                thresholds=thresholds)
        if len(reports) > 1:  # a results root with one folder per detector (NAB's results/)
            if args.json:
                print(json.dumps({"detectors": {r["name"]: r for r in reports}}))
            else:
                print("\n\n".join(format_report(r) for r in reports))
            return 0
        report = reports[0]
    else:
        if not args.data:
            raise ValueError("--data is required unless --score-only is given")
        report = run_benchmark(
            args.data,
            args.detector,
            args.out,
            labels=args.labels,
            name=args.name,
            progress=not args.no_progress,
        )
    print(json.dumps(report) if args.json else format_report(report))
    return 0
