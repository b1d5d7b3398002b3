"""``pynomaly bench alerts``: incidents, feedback and the alert budget on
labelled scenarios (:mod:`pynomaly.bench.alerts`).

``--json`` prints one JSON object whose keys are fixed: ``incidents``
(``compression``, ``purity``, ``outages_found``), ``feedback``
(``fp_reduction``, ``tp_kept``) and ``budget`` (``alerts_over_budget``,
``recall_ratio``), each with the counts behind it.

>>> from pynomaly.cli.main import build_parser
>>> args = build_parser().parse_args(["bench", "alerts", "--budget-keys", "1000"])
>>> args.budget_keys, args.alerts_per_hour
(1000, 100.0)
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "alerts", help="alert fatigue: incidents, feedback and the alert budget on labelled scenarios",
        description="Runs three labelled scenarios built on the generator's metrics through the "
        "default detect step: multi-key outages grouped into incidents, a recurring false "
        "positive marked by verdicts, and a 100k-key null stream under an alert budget.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--budget-keys", type=int, default=100_000, help="keys of the null stream")
    p.add_argument("--budget-hours", type=float, default=3.0, help="measured hours of it")
    p.add_argument("--alerts-per-hour", type=float, default=100.0, help="the budget")
    p.add_argument("--incident-hours", type=float, default=12.0)
    p.add_argument("--feedback-days", type=int, default=7)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pynomaly.bench.alerts import AlertsBenchConfig, format_text, run_all

    cfg = AlertsBenchConfig(seed=args.seed, budget_keys=args.budget_keys,
                            budget_hours=args.budget_hours, alerts_per_hour=args.alerts_per_hour,
                            incident_hours=args.incident_hours, feedback_days=args.feedback_days)
    report = run_all(cfg, log=sys.stderr)
    print(json.dumps(report) if args.json else format_text(report))
    return 0
