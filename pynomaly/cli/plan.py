"""``pynomaly plan``: the memory and CPU a flow needs at N keys and R records/s,
measured on its own detect step before it starts (:mod:`pynomaly.runtime.plan`).

>>> from pynomaly.cli.main import build_parser
>>> args = build_parser().parse_args(["plan", "cpu.yaml", "--keys", "10000", "--rate", "5e4"])
>>> args.keys, args.rate, args.processes, args.recovery, args.json
(10000, 50000.0, 1, False, False)
"""

from __future__ import annotations

import argparse
import json
import sys

PLAN_DESCRIPTION = """\
Size a flow before starting it: the resident and peak memory (the process
baseline plus the detect state, in all and per key) and the cores it needs,
for a spec at --keys keys and --rate records/s, and the detect path it takes
(banked, or per key with the reason). Nothing is guessed from a formula: the
spec's own detect step runs on a synthetic stream of its value fields (a
sample of keys, each past its warm-up and with every window filled), and the
memory per key and records/s per core measured there are scaled to --keys.
The measurement takes a few seconds."""

PLAN_EPILOG = """\
examples:
  pynomaly plan cpu.yaml --keys 10000 --rate 50000      # one process
  pynomaly plan cpu.yaml --keys 1000000 -p 4            # keys spread over 4 processes
  pynomaly plan cpu.yaml --keys 200000 --recovery       # with recovery snapshots' copies
  pynomaly plan flows/kafka_metrics.yaml --json         # at the spec's keys.max_keys, as JSON
"""


def _cmd(args: argparse.Namespace) -> int:
    from pynomaly.runtime.plan import estimate, memory_room
    from pynomaly.runtime.runner import load_target
    from pynomaly.spec import FlowSpec

    spec = load_target(args.spec)
    if not isinstance(spec, FlowSpec):
        raise ValueError(f"{args.spec}: pynomaly plan needs a flow spec (a file, or "
                         "module:attribute naming a FlowSpec), not a built dataflow")
    keys = args.keys if args.keys is not None else spec.keys.max_keys
    if keys < 1 or args.rate < 0 or args.processes < 1:
        raise ValueError("--keys and --processes must be at least 1 and --rate not negative")
    est = estimate(spec, keys, args.rate, processes=args.processes, recovery=args.recovery,
                   snapshot_interval_s=args.snapshot_interval)
    room = memory_room(own_rss=False)
    if args.json:
        out = est.as_dict()
        out["room_bytes"], out["room_source"] = room.bytes, room.source
        json.dump(out, sys.stdout, indent=2, default=str)
        print()
        return 0
    print("\n".join(est.lines(room)))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("plan", help="memory and CPU a flow needs at N keys and R records/s",
                              description=PLAN_DESCRIPTION, epilog=PLAN_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec", help="flow spec (.yaml/.toml/.json) or module:attribute naming a FlowSpec")
    p.add_argument("--keys", type=int, default=None,
                   help="live keys to plan for (default: the spec's keys.max_keys)")
    p.add_argument("--rate", type=float, default=0.0,
                   help="records per second, for the cores (0: rates per core only)")
    p.add_argument("-p", "--processes", type=int, default=1,
                   help="processes the keys are spread over (each with its own baseline)")
    p.add_argument("--recovery", action="store_true",
                   help="plan for a run with --recovery-dir: the detect state is copied for "
                   "every recovery snapshot (memory of the copy, CPU at --snapshot-interval)")
    p.add_argument("--snapshot-interval", type=float, default=10.0,
                   help="seconds between recovery snapshots (CPU of the copies)")
    p.add_argument("--json", action="store_true", help="the estimate as JSON")
    p.set_defaults(func=_cmd)
