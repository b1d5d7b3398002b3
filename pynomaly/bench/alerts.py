"""Labelled scenarios for incidents, feedback and the alert budget, each run
through the engine's own detect step (``pynomaly bench alerts``).

Every scenario starts from the synthetic generator's healthy metrics
(:mod:`pynomaly.devtools.generator`, daily cycle and per-key noise, no
anomalies of its own) and injects labelled events into them:

- **incidents**: keys carry ``service``/``region``/``host`` labels (services ×
  regions × hosts). Outages hit one (service, region): most of its hosts move,
  each with its own lag (0–4 min) and magnitude (latency up 6–15 σ, CPU up
  3–8 σ), for 15–40 min; half of them as a level shift, half flapping (each
  minute bad or not, as timeouts and retries come and go). Unrelated single-key anomalies (6–20 σ spikes) run
  in the background, also during outages. The detect step (robust statistics,
  default calibration, threshold, rules and cooldown) raises the alerts; :class:`~pynomaly.incidents.grouping.IncidentGrouper`
  groups them. *compression* is alerts per incident over the outages'
  alerts; *purity* the share of each outage incident's alerts that belong to
  its main outage; *outages_found* the share of outages whose alerts lead an
  incident.
- **feedback**: some keys run a nightly job that lifts CPU 5–7 σ for 15
  minutes, every night, a false positive that recurs. On-call marks each
  alert it raises as ``false_positive`` (scope key) when it arrives; true
  anomalies (spikes of 12–20 σ) hit the same keys and others from day 3 on.
  *fp_reduction* is ``1 - (false alerts let through with feedback) / (false
  alerts without)`` on each key after its first verdict; *tp_kept* the share of true
  anomalies that alert with feedback among those that alert without.
- **budget**: a null stream of ``budget_keys`` (100k) healthy keys at a
  one-minute cadence for ``budget_hours``, scored by the banked robust
  z-score, candidates at the flow's static threshold, with spikes/dips of
  the generator's sizes (6–10 σ) and larger (10–20 σ) injected on some keys;
  :class:`~pynomaly.incidents.budget.AlertBudget` decides. *alerts_over_budget*
  is the relative excess of the null alerts per hour over the budget;
  *recall_ratio* the injected anomalies' recall with the budget over their
  recall without it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from pynomaly.incidents.budget import AlertBudget, BudgetConfig
from pynomaly.incidents.feedback import Feedback, FeedbackConfig, Verdict
from pynomaly.incidents.grouping import GroupingConfig, IncidentGrouper, event_seconds

FIELDS = ("cpu", "latency_ms")


@dataclass(frozen=True)
class AlertsBenchConfig:
    """Sizes of the scenarios (the defaults are what RESULTS.md reports)."""

    seed: int = 0
    services: int = 4
    regions: int = 3
    hosts: int = 16
    incident_hours: float = 12.0
    outages: int = 8
    background: int = 20
    feedback_keys: int = 30
    job_keys: int = 10
    feedback_days: int = 7
    budget_keys: int = 100_000
    budget_hours: float = 3.0
    budget_warmup_steps: int = 120
    alerts_per_hour: float = 100.0
    budget_anomalies: int = 60


def healthy(keys: int, steps: int, interval_s: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Generator metrics without anomalies: values (steps, keys, 2) and the
    per-key noise sigma (keys, 2)."""
    from pynomaly.devtools.generator import GeneratorConfig, MetricGenerator

    gen = MetricGenerator(GeneratorConfig(keys=keys, seed=seed, anomaly_rate=0.0,
                                          interval_s=interval_s))
    out = np.empty((steps * keys, len(FIELDS)))
    n = 0
    for batch in gen.batches(count=steps * keys):
        out[n:n + len(batch)] = batch.values
        n += len(batch)
    return out.reshape(steps, keys, len(FIELDS)), gen.sigma


def step_rows(gen: Any, keys: int, steps: int) -> Iterator[np.ndarray]:
    """The generator's records one step at a time, as (keys, fields) arrays."""
    for batch in gen.batches(count=steps * keys):
        for X in batch.values.reshape(-1, keys, len(FIELDS)):
            yield np.ascontiguousarray(X)


def default_detect(name: str) -> Any:
    """The detect step of the scenarios: robust statistics per key with the
    default calibration, threshold, rules and cooldown."""
    from pynomaly.dataflow.detect import make_detect_logic
    from pynomaly.spec import FlowSpec

    spec = FlowSpec.model_validate({
        "name": name, "source": {"type": "file", "path": "unused.jsonl"},
        "record": {"value_fields": list(FIELDS)}, "detection": {"detector": "robust_zscore"},
        "sinks": [{"type": "stdout"}]})
    return make_detect_logic(spec)


def detect_alerts(values: np.ndarray, key_names: list[str], t0: float, interval_s: float,
                  name: str, labels: dict[str, dict[str, Any]] | None = None,
                  chunk_steps: int = 30) -> list[dict[str, Any]]:
    """All alerts of the default detect step on ``values`` (steps, keys, fields)."""
    from pynomaly.dataflow.records import EventBatch

    logic = default_detect(name)
    state = None
    steps, n_keys, _ = values.shape
    alerts: list[dict[str, Any]] = []
    for s0 in range(0, steps, chunk_steps):
        block = values[s0:s0 + chunk_steps]
        k = block.shape[0]
        times = np.repeat(t0 + (s0 + np.arange(k)) * interval_s, n_keys)
        batch = EventBatch(key_names * k, times, block.reshape(-1, len(FIELDS)).copy(), FIELDS)
        if labels is not None and hasattr(batch, "labels") and s0 == 0:
            batch.labels = labels
        state, out = logic.process(state, batch)
        alerts.extend(out.alerts)
    for a in alerts:
        a.setdefault("labels", {})
        if labels is not None and not a["labels"]:
            a["labels"] = dict(labels[a["key"]])
    return alerts


# -- incidents -----------------------------------------------------------------


@dataclass
class Injected:
    """One injected event: which keys, from when (per key) to when, its kind."""

    name: str
    kind: str                     # outage | background | job | true
    onset: dict[str, float]       # key -> event time its effect starts
    end: float
    slack_s: float = 600.0
    extra: dict[str, Any] = field(default_factory=dict)

    def owns(self, key: str, t: float) -> bool:
        return key in self.onset and self.onset[key] <= t <= self.end + self.slack_s


def run_incidents(cfg: AlertsBenchConfig) -> dict[str, Any]:
    rng = np.random.default_rng([cfg.seed, 1])
    interval = 60.0
    steps = int(cfg.incident_hours * 3600 / interval)
    names, labels = [], {}
    for s in range(cfg.services):
        for r in range(cfg.regions):
            for h in range(cfg.hosts):
                key = f"svc{s}-r{r}-h{h:02d}"
                names.append(key)
                labels[key] = {"service": f"svc{s}", "region": f"r{r}", "host": f"h{h:02d}"}
    values, sigma = healthy(len(names), steps, interval, cfg.seed)
    t0 = 1.7e9
    index = {k: i for i, k in enumerate(names)}
    events: list[Injected] = []
    groups = [(s, r) for s in range(cfg.services) for r in range(cfg.regions)]
    first, last = 240, steps - 60
    starts = np.linspace(first, last - 40, cfg.outages).astype(int)
    rng.shuffle(groups)
    for o in range(cfg.outages):
        s, r = groups[o % len(groups)]
        start = int(starts[o] + rng.integers(0, 20))
        dur = int(rng.integers(15, 41))
        members = [k for k in names if labels[k]["service"] == f"svc{s}"
                   and labels[k]["region"] == f"r{r}" and rng.random() < 0.9]
        onset = {}
        flapping = o % 2 == 1
        for k in members:
            lag = int(rng.integers(0, 5))
            i, a, b = index[k], start + lag, start + dur
            # a level shift, or (half the outages) a flapping one: each minute
            # bad or not, as timeouts and retries come and go
            on = rng.random(b - a) < 0.5 if flapping else np.ones(b - a, dtype=bool)
            on[0] = True
            values[a:b, i, 1] += on * rng.uniform(6, 15) * sigma[i, 1]
            values[a:b, i, 0] += on * rng.uniform(3, 8) * sigma[i, 0]
            onset[k] = t0 + a * interval
        events.append(Injected(f"outage-{o}", "outage", onset, t0 + (start + dur) * interval,
                               extra={"flapping": flapping}))
    for b in range(cfg.background):
        k = names[int(rng.integers(0, len(names)))]
        step = int(rng.integers(first, last))
        f = int(rng.integers(0, 2))
        values[step, index[k], f] += rng.uniform(6, 20) * sigma[index[k], f]
        events.append(Injected(f"background-{b}", "background", {k: t0 + step * interval},
                               t0 + step * interval))
    t = time.perf_counter()
    alerts = detect_alerts(values, names, t0, interval, "bench-incidents", labels)
    detect_s = time.perf_counter() - t
    grouper = IncidentGrouper(GroupingConfig(group_by=("service", "region"), gap_s=600,
                                             resolve_after_s=1200), flow="bench-incidents")
    members: dict[str, list[str]] = {}
    t = time.perf_counter()
    for a in sorted(alerts, key=lambda a: (event_seconds(a["event_time"]), a["key"])):
        for ev in grouper.add(a):
            members.setdefault(ev.incident.id, [])
        inc = grouper._open[grouper.group_of(a)]
        members[inc.id].append(a["id"])
    grouper.advance(float("inf"))
    group_s = time.perf_counter() - t
    owner = {}
    for a in alerts:
        te = event_seconds(a["event_time"])
        owner[a["id"]] = next((e.name for e in events if e.owns(a["key"], te)), "false")
    outage_names = {e.name for e in events if e.kind == "outage"}
    outage_alerts = sum(1 for o in owner.values() if o in outage_names)
    per_kind: dict[str, list[int]] = {"level_shift": [], "flapping": []}
    for e in events:
        if e.kind == "outage":
            per_kind["flapping" if e.extra["flapping"] else "level_shift"].append(
                sum(1 for o in owner.values() if o == e.name))
    purities, found, outage_incidents = [], set(), 0
    for ids in members.values():
        owners = [owner[i] for i in ids]
        in_outage = [o for o in owners if o in outage_names]
        if not in_outage:
            continue
        main = max(set(in_outage), key=in_outage.count)
        outage_incidents += 1
        purities.append(owners.count(main) / len(owners))
        found.add(main)
    return {
        "compression": round(outage_alerts / max(outage_incidents, 1), 3),
        "purity": round(float(np.mean(purities)) if purities else 0.0, 4),
        "outages_found": round(len(found) / max(cfg.outages, 1), 4),
        "alerts": len(alerts), "outage_alerts": outage_alerts,
        "incidents": len(members), "outage_incidents": outage_incidents,
        "false_alerts": sum(1 for o in owner.values() if o == "false"),
        "alerts_per_outage": {k: round(float(np.mean(v)), 2) if v else 0.0
                              for k, v in per_kind.items()},
        "keys": len(names), "records": steps * len(names),
        "detect_s": round(detect_s, 2), "group_s": round(group_s, 4),
    }


# -- feedback ------------------------------------------------------------------


def run_feedback(cfg: AlertsBenchConfig) -> dict[str, Any]:
    rng = np.random.default_rng([cfg.seed, 2])
    interval = 300.0
    per_day = int(86_400 / interval)
    steps = cfg.feedback_days * per_day
    names = [f"batch-{i:02d}" for i in range(cfg.feedback_keys)]
    values, sigma = healthy(len(names), steps, interval, cfg.seed + 1)
    t0 = 1.7e9
    events: list[Injected] = []
    job_at = 2 * 3600 // int(interval)  # 02:00, three records of 5 min
    for i in range(cfg.job_keys):
        for d in range(1, cfg.feedback_days):
            a = d * per_day + job_at
            values[a:a + 3, i, 0] += rng.uniform(5, 7) * sigma[i, 0]
            events.append(Injected(f"job-{i}-{d}", "job", {names[i]: t0 + a * interval},
                                   t0 + (a + 2) * interval, slack_s=interval))
    n_true = 0
    for d in range(3, cfg.feedback_days):
        for i in rng.choice(len(names), size=len(names) // 3, replace=False):
            step = int(d * per_day + rng.integers(job_at + 12, per_day - 12))
            f = int(rng.integers(0, 2))
            values[step, i, f] += rng.uniform(12, 20) * sigma[i, f]
            events.append(Injected(f"true-{n_true}", "true", {names[i]: t0 + step * interval},
                                   t0 + step * interval, slack_s=interval))
            n_true += 1
    alerts = detect_alerts(values, names, t0, interval, "bench-feedback", chunk_steps=per_day)
    fb = Feedback(FeedbackConfig())
    marked: set[str] = set()  # keys with a verdict: their later job alerts count
    kind_of = {e.name: e.kind for e in events}
    fp_without = fp_with = 0
    tp_without: set[str] = set()
    tp_with: set[str] = set()
    for a in sorted(alerts, key=lambda a: (event_seconds(a["event_time"]), a["key"])):
        t = event_seconds(a["event_time"])
        who = next((e.name for e in events if e.owns(a["key"], t)), "false")
        allowed = fb.allows(a)
        if allowed:
            fb.remember(a)
        kind = kind_of.get(who, "false")
        if kind == "job":
            if a["key"] in marked:
                fp_without += 1
                fp_with += allowed
            if allowed:  # on-call marks what reached them
                fb.apply(Verdict(alert_id=a["id"], verdict="false_positive", by="on-call",
                                 note="nightly job"), at=t)
                marked.add(a["key"])
        elif kind == "true":
            tp_without.add(who)
            if allowed:
                tp_with.add(who)
    return {
        "fp_reduction": round(1.0 - fp_with / fp_without, 4) if fp_without else 0.0,
        "tp_kept": round(len(tp_with) / len(tp_without), 4) if tp_without else 0.0,
        "false_alerts_without": fp_without, "false_alerts_with": fp_with,
        "true_anomalies": n_true, "true_alerting_without": len(tp_without),
        "true_alerting_with": len(tp_with), "adaptations": len(fb.log),
        "alerts": len(alerts), "keys": len(names), "records": steps * len(names),
    }


# -- budget --------------------------------------------------------------------


def run_budget(cfg: AlertsBenchConfig, threshold: float = 3.5) -> dict[str, Any]:
    from pynomaly.devtools.generator import GeneratorConfig, MetricGenerator
    from pynomaly.engine.banked import make_bank
    from pynomaly.engine.pipeline import PipelineConfig

    rng = np.random.default_rng([cfg.seed, 3])
    interval = 60.0
    measured = int(cfg.budget_hours * 3600 / interval)
    steps = cfg.budget_warmup_steps + measured
    n = cfg.budget_keys
    gen = MetricGenerator(GeneratorConfig(keys=n, seed=cfg.seed + 2, anomaly_rate=0.0,
                                          interval_s=interval))
    sigma = gen.sigma
    bank = make_bank(PipelineConfig.model_validate({
        "detector": {"name": "robust_zscore"}, "calibration": {"kind": "none"},
        "threshold": {"kind": "static", "value": threshold}}), n_features=len(FIELDS))
    bank.ensure(n)
    slots = np.arange(n, dtype=np.int64)
    offsets = np.arange(n) * (interval / n)  # keys report spread over the minute
    keep = np.ones(n, dtype=bool)
    budget = AlertBudget(BudgetConfig(alerts_per_hour=cfg.alerts_per_hour))
    # injected anomalies: (step, key, field, sigmas), spread over the measured hours
    inj_steps = rng.integers(cfg.budget_warmup_steps, steps, size=cfg.budget_anomalies)
    inj_keys = rng.choice(n, size=cfg.budget_anomalies, replace=False)
    sizes = np.where(np.arange(cfg.budget_anomalies) % 2 == 0,
                     rng.uniform(6, 10, cfg.budget_anomalies),
                     rng.uniform(10, 20, cfg.budget_anomalies))
    signs = np.where(rng.random(cfg.budget_anomalies) < 0.5, -1.0, 1.0)
    fields_ = rng.integers(0, len(FIELDS), size=cfg.budget_anomalies)
    injected_key = {int(k): i for i, k in enumerate(inj_keys)}
    found_without: set[int] = set()
    found_with: set[int] = set()
    true_scores: dict[int, float] = {}
    null_candidates = null_released = 0
    t0 = 1.7e9
    t = time.perf_counter()
    for step, X in enumerate(step_rows(gen, n, steps)):
        here = np.flatnonzero(inj_steps == step)
        for j in here:
            k, f = int(inj_keys[j]), int(fields_[j])
            X[k, f] += signs[j] * sizes[j] * sigma[k, f]
        scores = bank.score_learn(X, slots, keep)
        times = t0 + step * interval + offsets
        budget.observe_many(times, scores)  # the warm-up fills the pool too
        if step >= cfg.budget_warmup_steps:
            for k in np.flatnonzero(scores >= threshold):
                k = int(k)
                j = injected_key.get(k)
                is_true = j is not None and inj_steps[j] == step
                if is_true:
                    found_without.add(j)
                    true_scores[j] = float(scores[k])
                else:
                    null_candidates += 1
                budget.offer({"key": k, "true": j if is_true else None}, t=float(times[k]),
                             score=float(scores[k]))
        if step >= cfg.budget_warmup_steps:
            for a in budget.close(t0 + step * interval):
                if a["true"] is not None:
                    found_with.add(a["true"])
                else:
                    null_released += 1
    for a in budget.close(float("inf")):
        if a["true"] is not None:
            found_with.add(a["true"])
        else:
            null_released += 1
    secs = time.perf_counter() - t
    hours = measured * interval / 3600.0
    rate = null_released / hours
    recall_without = len(found_without) / cfg.budget_anomalies
    recall_with = len(found_with) / cfg.budget_anomalies
    return {
        "alerts_over_budget": round(rate / cfg.alerts_per_hour - 1.0, 4),
        "recall_ratio": round(recall_with / recall_without, 4) if recall_without else 0.0,
        "budget_per_hour": cfg.alerts_per_hour, "null_alerts_per_hour": round(rate, 2),
        "null_candidates_per_hour": round(null_candidates / hours, 1),
        "recall_without": round(recall_without, 4), "recall_with": round(recall_with, 4),
        "held_back": budget.held_back, "keys": n, "hours": hours,
        "records": steps * n, "seconds": round(secs, 1),
        "slice_s": round(budget.slice_s, 3), "slice_level": round(budget.q, 5),
        "missed": sorted((round(float(sizes[j]), 1), round(true_scores.get(j, 0.0), 1))
                         for j in range(cfg.budget_anomalies) if j not in found_with),
        "z_at_p": {str(p): round(float(budget.score_at_p(p)), 2) for p in (1e-3, 1e-4, 1e-5, 1e-6)},
    }


def run_all(cfg: AlertsBenchConfig, log: TextIO | None = None) -> dict[str, Any]:
    """The three scenarios, each with its ``wall_s``; the report's top-level
    keys are fixed. ``log`` gets a line as each scenario starts."""
    report: dict[str, Any] = {}
    for name, fn in (("incidents", run_incidents), ("feedback", run_feedback),
                     ("budget", run_budget)):
        t = time.perf_counter()
        if log is not None:
            print(f"bench alerts: {name} …", file=log, flush=True)
        report[name] = fn(cfg)
        report[name]["wall_s"] = round(time.perf_counter() - t, 1)
    return report


def format_text(report: dict[str, Any]) -> str:
    """One line per scenario: its scalar results."""
    lines = []
    for name, row in report.items():
        head = {k: v for k, v in row.items() if not isinstance(v, dict | list)}
        lines.append(f"{name}: " + ", ".join(f"{k}={v}" for k, v in head.items()))
    return "\n".join(lines)
