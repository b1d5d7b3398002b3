"""A slow, literal transcription of NAB's Sweeper (nab/sweeper.py, MIT) to test against."""

from __future__ import annotations

import math


def _scaled_sigmoid(p: float) -> float:
    return -1.0 if p > 3.0 else 2.0 / (1.0 + math.exp(5.0 * p)) - 1.0


def sweep_rows(times, scores, windows, name, cost, probation=0.15):
    """NAB's ``calcSweepScore``: (score, sweep score, window name) per row."""
    times = list(times)
    windows = list(windows)
    max_tp = _scaled_sigmoid(-1.0)
    prob_len = min(math.floor(probation * len(times)), probation * 5000)
    rows = []
    cur = cur_name = cur_width = cur_right = prev_width = prev_right = None
    for i, (t, s) in enumerate(zip(times, scores, strict=True)):
        if windows and t == windows[0][0]:
            cur = windows.pop(0)
            cur_name = f"{name}|{cur[0]}"
            cur_right = times.index(cur[1])
            cur_width = float(cur_right - times.index(cur[0]) + 1)
        if cur is not None:
            w = _scaled_sigmoid(-(cur_right - i + 1) / cur_width) * cost["tpWeight"] / max_tp
        elif prev_right is None:
            w = -1.0 * cost["fpWeight"]
        else:
            w = _scaled_sigmoid(abs(prev_right - i) / float(prev_width - 1)) * cost["fpWeight"]
        rows.append((s, w, cur_name if i >= prob_len else "probationary"))
        if cur is not None and t == cur[1]:
            prev_right, prev_width = i, cur_width
            cur = cur_name = cur_width = cur_right = None
    return rows


def best_score(rows, cost):
    """NAB's ``calcScoreByThreshold`` followed by the optimiser's max: (threshold, score)."""
    rows = sorted((r for r in rows if r[2] != "probationary"), key=lambda r: r[0], reverse=True)
    parts = {"fp": 0.0}
    for r in rows:
        if r[2] is not None:
            parts[r[2]] = -cost["fnWeight"]
    out = []
    thr = 1.1
    for s, w, name in rows:
        if s != thr:
            out.append((thr, sum(parts.values())))
            thr = s
        if name is None:
            parts["fp"] += w
        else:
            parts[name] = max(parts[name], w)
    out.append((thr, sum(parts.values())))
    return max(out, key=lambda x: x[1])
