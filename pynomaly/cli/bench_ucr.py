"""``pynomaly bench ucr``: run a detector over the UCR anomaly archive and judge it.

``pynomaly bench ucr --data DIR --detector SPEC --out DIR [--json]`` streams
every archive file of ``DIR`` (``NNN_UCR_Anomaly_NAME_k_b_e.txt[.gz]``)
through a fresh detector, writes ``OUT/<file stem>.npy`` (one score per
point), and prints the location of each series' highest score after its
training part, the accuracy under the ``±100`` and the loose ``max(L, 100)``
rules, and points/s.

>>> from pynomaly.cli.main import build_parser
>>> args = build_parser().parse_args(["bench", "ucr", "--data", "d"])
>>> args.data, args.detector, args.out
('d', 'default', 'out/ucr')
"""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "ucr", help="UCR anomaly archive: run a detector, judge the argmax locations"
    )
    p.add_argument("--data", required=True, help="folder of archive files (*.txt, *.txt.gz)")
    p.add_argument(
        "--detector",
        default="default",
        help="detector spec: default, NAME, NAME:k=v,..., or a JSON/YAML mapping",
    )
    p.add_argument("--out", default="out/ucr", help="scores folder (default out/ucr)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar (stderr)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pynomaly.bench.ucr.harness import format_report, run_benchmark

    report = run_benchmark(args.data, args.detector, args.out, progress=not args.no_progress)
    print(json.dumps(report) if args.json else format_report(report))
    return 0
