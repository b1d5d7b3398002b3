"""Detection inside an ordinary Bytewax dataflow: stock operators
(``key_on``, ``filter``, ``map``) around ``pynomaly.dataflow.detect``.

    python -m bytewax.run flows.python_operators:flow

Reads flows/data/sample.jsonl, drops lines that are not JSON objects with a
key, converts
latency to seconds, scores cpu and latency per host, and writes alerts,
score records and dead letters as JSON lines under out/python-operators/.
"""

from pathlib import Path

import bytewax.operators as op
import orjson
from bytewax.connectors.files import FileSource
from bytewax.dataflow import Dataflow

import pynomaly.dataflow as pxo

OUT = Path("out/python-operators")


def decode(line: str) -> dict | None:
    """A JSON object, or None for a line that is not one."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def with_seconds(record: dict) -> dict:
    """The record with its latency in seconds."""
    latency = record.get("latency_ms")
    if isinstance(latency, int | float):
        return {**record, "latency_s": latency / 1000}
    return record


flow = Dataflow("python-operators")
lines = op.input("read", flow, FileSource("flows/data/sample.jsonl"))
records = op.filter_map("decode", lines, decode)
hosts = op.filter("has-key", records, lambda r: isinstance(r.get("key"), str))
seconds = op.map("seconds", hosts, with_seconds)
keyed = op.key_on("by-host", seconds, lambda r: r["key"])

out = pxo.detect(
    "detect", keyed, fields=["cpu", "latency_s"], time_field="ts", name="python-operators",
    detector={"name": "robust_zscore", "params": {"alpha": 0.02, "warmup": 30}},
    warmup=30, threshold={"kind": "static", "value": 8.0}, cooldown_s=600,
    max_future_s=315_360_000,  # a historical file: accept event times up to 10 years ahead
)

pxo.to_alert_sinks("alerts", out.alerts, [{"type": "jsonl", "path": str(OUT / "alerts.jsonl")}])
pxo.to_alert_sinks("scores", out.scores, [{"type": "jsonl", "path": str(OUT / "scores.jsonl")}])
dead = op.map("dead-json", out.dead, lambda d: d.to_json())
pxo.to_alert_sinks("dead", dead, [{"type": "jsonl", "path": str(OUT / "dead-letters.jsonl")}])
