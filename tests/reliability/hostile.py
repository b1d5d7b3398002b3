"""Hostile records of every kind, with the dead-letter reason each must get.

The stream is meant for a one-partition topic (a total order), keys
``host-000``..``host-{n_keys-1}`` with strictly increasing event times, and
a flow with ``time_format: epoch_s``, ``max_age_s`` of two years,
``allowed_lateness_s: 5``, one shard and ``max_keys = n_keys + FLOOD_ADMITTED``.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import orjson
from streams import T0

#: new keys of the flood that still fit under the key cap (they are scored)
FLOOD_ADMITTED = 10
BIG = 10_000_000


def _rec(key, ts, cpu) -> bytes:
    return orjson.dumps({"key": key, "ts": ts, "cpu": cpu})


def malformed_kinds(key: str, ts: float) -> list[tuple[bytes, str]]:
    """One record of each parse-level defect and its reason code."""
    ok = orjson.dumps({"key": key, "ts": ts, "cpu": 1.0})
    return [
        (ok[:-7], "malformed_json"),
        (b"", "empty"),
        (b"\xff\xfe\xfd" + ok, "not_utf8"),
        (b"[1, 2, 3]", "not_object"),
        (orjson.dumps({"key": key, "ts": ts}), "missing_field"),
        (orjson.dumps({"ts": ts, "cpu": 1.0}), "missing_field"),
        (orjson.dumps({"key": key, "ts": ts, "cpu": "high"}), "wrong_type"),
        (orjson.dumps({"key": [key], "ts": ts, "cpu": 1.0}), "wrong_type"),
        (orjson.dumps({"key": key, "ts": ts, "cpu": True}), "wrong_type"),
        (ok.replace(b"1.0", b"NaN"), "non_finite"),
        (ok.replace(b"1.0", b"1e999"), "non_finite"),
        (ok.replace(b"1.0", b"-1e999"), "non_finite"),
        (ok.replace(b"1.0", b"1e308"), "out_of_range"),
        (orjson.dumps({"key": key, "ts": "yesterday", "cpu": 1.0}), "bad_timestamp"),
        (orjson.dumps({"key": key, "ts": 946_684_800, "cpu": 1.0}), "stale_timestamp"),
        (orjson.dumps({"key": key, "ts": 4_070_908_800, "cpu": 1.0}), "future_timestamp"),
        (orjson.dumps({"key": key, "ts": 3.25e10, "cpu": 1.0}), "bad_timestamp"),
    ]


def hostile_stream(n_good: int, n_bad: int, n_keys: int = 50, seed: int = 3
                   ) -> tuple[list[tuple[bytes | None, bytes]], int, int, Counter]:
    """``(records, alerting, out_of_order, reasons)``.

    ``records`` in topic order; ``alerting``: the in-order good records (with
    a threshold that flags everything and no cooldown, each one alerts);
    ``out_of_order``: good records 2.5 s behind their key, within the allowed
    lateness: scored, and with no cooldown they alert too (cooldown is measured
    from the key's latest alert on both sides); ``reasons``: the dead-letter
    reason counts.
    ``n_bad`` records are bad: parse defects of every kind, two 10 MB records,
    late events (100 s behind their key) and a flood of new keys.
    """
    rng = np.random.default_rng(seed)
    records: list[tuple[bytes | None, bytes]] = []
    reasons: Counter = Counter()
    scored = out_of_order = 0
    # every key's first event comes first, so the flood cannot crowd them out
    per_key = n_good // n_keys
    n_flood = FLOOD_ADMITTED + n_bad // 50  # the first ones are admitted: good
    n_late = n_bad // 50
    n_defects = n_bad - (n_flood - FLOOD_ADMITTED) - n_late - 2
    kinds_seq = np.array(["flood"] * n_flood + ["late"] * n_late + ["defect"] * n_defects)
    rng.shuffle(kinds_seq)
    # how many bad records follow each good one (none before every key is known)
    per_slot = np.r_[np.zeros(n_keys, dtype=np.int64),
                     rng.multinomial(len(kinds_seq), np.full(n_good - n_keys, 1 / (n_good - n_keys)))]
    kinds = malformed_kinds("host-000", T0)
    flood_i = late_i = defect_i = bad_i = 0
    i_good = 0
    for i in range(per_key):
        for k in range(n_keys):
            key = f"host-{k:03d}"
            ts = T0 + i * 10.0
            records.append((key.encode(), _rec(key, ts, round(float(rng.normal(50, 5)), 3))))
            scored += 1
            if i_good % 997 == 996:
                records.append((key.encode(), _rec(key, ts - 2.5, 2.0)))
                out_of_order += 1
            for _ in range(per_slot[i_good]):
                kind = kinds_seq[bad_i]
                bad_i += 1
                if kind == "flood":
                    fk = f"flood-{flood_i:06d}"
                    records.append((fk.encode(), _rec(fk, ts, 1.0)))
                    if flood_i < FLOOD_ADMITTED:
                        scored += 1
                    else:
                        reasons["key_overflow"] += 1
                    flood_i += 1
                elif kind == "late":
                    records.append((key.encode(), _rec(key, ts - 100.0, 1.0)))
                    reasons["late_event"] += 1
                    late_i += 1
                else:
                    payload, reason = kinds[defect_i % len(kinds)]
                    records.append((None, payload))
                    reasons[reason] += 1
                    defect_i += 1
            i_good += 1
    for _ in range(2):
        records.append((None, b'{"key":"' + b"x" * BIG + b'"}'))
        reasons["too_large"] += 1
    assert defect_i == n_defects and late_i == n_late and flood_i == n_flood
    return records, scored, out_of_order, reasons
