"""``pynomaly replay``: a CSV/JSONL/Parquet file through a flow, as fast as
possible or at N× event-time speed, with a progress bar.

The flow comes from ``--spec`` or from the record/detector options given
here. With ``--spec`` only the source is replaced by the file: alerts and
dead letters go to the spec's own sinks unless ``--out``/``--dead-letters``
replace them. Without ``--spec`` they go to ``out/<file>-alerts.jsonl`` and
``out/<file>-alerts-dead-letters.jsonl`` unless those options say otherwise.

>>> from pynomaly.cli.main import build_parser
>>> args = build_parser().parse_args(["replay", "flows/data/sample.jsonl",
...                                   "--spec", "flows/file_replay.yaml"])
>>> spec, out, dead = build_replay_spec(args)
>>> spec.source.path, [s.path for s in spec.sinks], spec.dead_letter.path
('flows/data/sample.jsonl', ['out/file-replay/alerts.jsonl'], 'out/file-replay/dead-letters.jsonl')
>>> out, dead
(None, None)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pynomaly.cli.run import (
    add_memory_check_option,
    add_preflight_options,
    add_run_options,
    add_sandbox_option,
    check_memory_at_start,
    confine_spec,
    options_from,
)


def count_records(path: str, fmt: str = "auto") -> int | None:
    """Number of records in a file (for the progress bar), or None if unknown."""
    from pynomaly.connectors.file_source import detect_format

    kind = detect_format(path, fmt)
    if kind == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    n = 0
    last = b"\n"
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 24):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    n += last != b"\n"
    return n - 1 if kind == "csv" else n


def build_replay_spec(args: argparse.Namespace):
    from pynomaly.spec import load_spec, parse_spec

    source = {"type": "file", "path": args.file, "format": args.format, "speed": args.speed,
              "batch_size": args.batch_size}
    if args.spec:
        data = load_spec(args.spec).model_dump()
        data["source"] = source
    else:
        if not args.value_fields:
            raise ValueError("give --spec or --value-fields")
        data = {
            "name": args.name,
            "source": source,
            "record": {"key_field": args.key_field, "time_field": args.time_field,
                       "time_format": args.time_format,
                       "value_fields": args.value_fields.split(","),
                       "max_future_s": 3.2e9},
            "detection": {"detector": {"name": args.detector,
                                       "params": json.loads(args.params) if args.params else {}},
                          "threshold": {"kind": "static", "value": args.threshold},
                          "warmup": args.warmup},
        }
    out = args.out
    if out is None and not args.spec:
        out = str(Path("out") / f"{Path(args.file).stem}-alerts.jsonl")
    if out is not None:
        data["sinks"] = [{"type": "jsonl", "path": out}]
    dead = args.dead_letters
    if dead is None and out is not None:
        dead = str(Path(out).with_name(Path(out).stem + "-dead-letters.jsonl"))
    if dead is not None:
        data["dead_letter"] = {"type": "jsonl", "path": dead}
    return parse_spec(data, args.spec or "replay options"), out, dead


def _destinations(spec, out: str | None, dead: str | None) -> tuple[str, str]:
    """Where alerts and dead letters went, for the summary line."""
    from pynomaly.runtime.run_status import describe_sink

    alerts_to = out or ", ".join(describe_sink(s) for s in spec.sinks) or "nowhere"
    dead_to = dead or (describe_sink(spec.dead_letter) if spec.dead_letter else "stderr")
    return alerts_to, dead_to


def _cmd(args: argparse.Namespace) -> int:
    import sys
    import time

    from tqdm import tqdm

    from pynomaly.dataflow.flow import build_flow
    from pynomaly.runtime.preflight import prepare_kafka
    from pynomaly.runtime.run_status import RunStatus
    from pynomaly.runtime.runner import run_dataflow

    if not Path(args.file).is_file():
        raise FileNotFoundError(f"no such file: {args.file}")
    spec, out, dead = build_replay_spec(args)
    confine_spec(spec, args.sandbox_paths)  # the replayed file and every output
    from pynomaly.runtime.plan import key_limit
    from pynomaly.spec import load_spec

    check_memory_at_start(spec, key_limit(load_spec(args.spec)) if args.spec else None, args)
    prepare_kafka(spec, timeout_s=args.kafka_timeout, create_topics=args.create_topics)
    total = count_records(args.file, args.format)
    bar = tqdm(total=total, unit="rec", unit_scale=True, disable=args.quiet, file=sys.stderr,
               desc="replay")
    t0 = time.perf_counter()
    flow = build_flow(spec, on_batch=lambda b: bar.update(len(b.payloads)),
                      recovery=bool(args.recovery_dir))
    opts = options_from(args)
    opts.status = RunStatus(interval_s=0, quiet=True)  # counts only: the bar shows progress
    run_dataflow(flow, opts, spec)
    bar.close()
    dt = time.perf_counter() - t0
    counts = opts.status.counters.snapshot()
    alerts_to, dead_to = _destinations(spec, out, dead)
    rate = (total or 0) / dt if dt > 0 else 0.0
    print(f"replayed {total} records in {dt:.2f}s ({rate:,.0f} rec/s): "
          f"{counts.alerts} alerts → {alerts_to}, {counts.dead_letters} dead letters → {dead_to}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("replay", help="replay a CSV/JSONL/Parquet file through a flow")
    p.add_argument("file", help="input file (.jsonl, .csv, .parquet)")
    p.add_argument("--spec", help="flow spec whose source is replaced by the file (its sinks "
                   "and dead-letter output are kept unless --out/--dead-letters are given)")
    p.add_argument("--format", default="auto", choices=["auto", "jsonl", "csv", "parquet"])
    p.add_argument("--speed", type=float, default=0.0,
                   help="0 = as fast as possible; N = N x event-time speed")
    p.add_argument("--batch-size", type=int, default=10_000)
    p.add_argument("--name", default="replay", help="flow name (without --spec)")
    p.add_argument("--key-field", default="key")
    p.add_argument("--time-field", default="ts")
    p.add_argument("--time-format", default="iso", choices=["iso", "epoch_s", "epoch_ms"])
    p.add_argument("--value-fields", help="comma-separated numeric fields (without --spec)")
    p.add_argument("--detector", default="robust_zscore")
    p.add_argument("--params", help="detector parameters as JSON")
    p.add_argument("--threshold", type=float, default=8.0)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--out", help="write alerts to this JSONL file instead of the spec's sinks "
                   "(default without --spec: out/<file>-alerts.jsonl)")
    p.add_argument("--dead-letters", help="write dead letters to this JSONL file instead "
                   "(default with --out: next to it, <out>-dead-letters.jsonl)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_preflight_options(p)
    add_sandbox_option(p)
    add_memory_check_option(p)
    add_run_options(p)
    p.set_defaults(func=_cmd)
