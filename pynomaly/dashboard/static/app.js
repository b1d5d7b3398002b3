/* Pynomaly live view. Talks to /ws/view (see pynomaly/dashboard/app.py).
 * Data from the server is only ever placed with textContent or ECharts data, never as HTML. */
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const esc = (s) => echarts.format.encodeHTML(String(s));
  const SNAPSHOT_KEY = "pynomaly.snapshot.v1";
  const SELECTED_KEY = "pynomaly.selected.v1";
  const MAX_ALERTS = 200;
  const COLORS = ["#58a6ff", "#bc8cff", "#39c5cf", "#e3b341"];

  const S = {
    ws: null, live: false, paused: false, retry: 500,
    limits: { max_selected_keys: 8, history_points: 240 },
    selected: loadSelected(), series: new Map(), alerts: [], overview: null, top: [],
    results: null, query: "", lastDataAt: null, dirty: new Set(), listDirty: true,
    feedDirty: true, overviewDirty: true, feedReset: true, feedTop: undefined,
    incidents: new Map(), incidentsDirty: true, verdicts: false,
  };

  function loadSelected() {
    try { return JSON.parse(localStorage.getItem(SELECTED_KEY) || "[]").slice(0, 8); } catch { return []; }
  }
  function saveSelected() { localStorage.setItem(SELECTED_KEY, JSON.stringify(S.selected)); }

  // ------------------------------------------------------------------ formatting
  const fmtNum = (x, d = 2) => (x === null || x === undefined || Number.isNaN(x)) ? "–"
    : Math.abs(x) >= 1e5 ? x.toExponential(1) : Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(d);
  const fmtP = (p) => (p === null || p === undefined) ? "–" : p < 1e-3 ? p.toExponential(1) : p.toFixed(p > 0.99 ? 4 : 3);
  const fmtTime = (ms) => ms ? new Date(ms).toLocaleTimeString([], { hour12: false }) : "–";
  const fmtRate = (x) => x === null || x === undefined ? "–" : x >= 1000 ? (x / 1000).toFixed(1) + "k" : x.toFixed(x < 10 ? 1 : 0);
  const fmtLag = (s) => s === null || s === undefined ? "–" : s < 1 ? (s * 1000).toFixed(0) + " ms" : s < 120 ? s.toFixed(1) + " s" : (s / 60).toFixed(1) + " min";

  // ------------------------------------------------------------------ series store
  function newSeries(key) {
    return { key, fields: [], t: [], s: [], p: [], h: [], v: {}, alerts: [], drift: [], total: 0, chart: null, el: null };
  }
  function cap() { return S.limits.history_points * 2; }
  function setHistory(m) {
    const ser = S.series.get(m.key) || newSeries(m.key);
    S.series.set(m.key, ser);
    const pts = m.points || { t: [], s: [], p: [], h: [], v: {} };
    ser.fields = m.fields && m.fields.length ? m.fields : Object.keys(pts.v || {});
    ser.t = pts.t.slice(); ser.s = pts.s.slice(); ser.p = pts.p.slice(); ser.h = pts.h.slice();
    ser.v = {}; for (const f of ser.fields) ser.v[f] = (pts.v[f] || []).slice();
    ser.alerts = (m.alerts || []).slice(); ser.drift = (m.drift || []).slice();
    ser.total = m.total || ser.t.length; ser.missing = !!m.missing;
    ser.thresholdOn = m.threshold_on || "score";
    S.dirty.add(m.key);
  }
  function appendPoints(key, pts) {
    let ser = S.series.get(key);
    if (!ser) { ser = newSeries(key); S.series.set(key, ser); }
    if (!ser.fields.length) ser.fields = Object.keys(pts.v || {});
    for (const c of ["t", "s", "p", "h"]) ser[c].push(...pts[c]);
    for (const f of ser.fields) { (ser.v[f] = ser.v[f] || []).push(...((pts.v || {})[f] || [])); }
    const extra = ser.t.length - cap();
    if (extra > 0) {
      for (const c of ["t", "s", "p", "h"]) ser[c].splice(0, extra);
      for (const f of ser.fields) ser.v[f].splice(0, extra);
    }
    ser.total += (pts.decimated_from || pts.t.length); ser.missing = false;
    if (pts.threshold_on) ser.thresholdOn = pts.threshold_on;
    S.dirty.add(key);
  }

  // ------------------------------------------------------------------ messages
  function onMessage(m) {
    if (m.type === "welcome") {
      S.limits = m.limits || S.limits;
      S.alerts = (m.alerts || []).slice().reverse();
      S.overview = m.overview; S.top = m.top || [];
      S.verdicts = !!m.verdicts;
      S.incidents = new Map((m.incidents || []).map((i) => [i.id, i]));
      S.feedDirty = S.overviewDirty = S.listDirty = S.feedReset = S.incidentsDirty = true;
      send({ op: "select", keys: S.selected });
      if (S.query) send({ op: "search", q: S.query });
    } else if (m.type === "history") {
      setHistory(m);
    } else if (m.type === "verdict") {
      verdictDone(m);
    } else if (m.type === "keys") {
      if (m.q === S.query) { S.results = m.items; S.listDirty = true; }
    } else if (m.type === "frame") {
      if (S.paused) return;
      S.lastDataAt = Date.now();
      for (const [key, pts] of Object.entries(m.points || {})) appendPoints(key, pts);
      for (const a of (m.alerts || [])) addAlert(a, true);
      for (const d of (m.drift || [])) addDrift(d);
      for (const i of (m.incidents || [])) { S.incidents.delete(i.id); S.incidents.set(i.id, i); S.incidentsDirty = true; }
      if (m.overview) { S.overview = m.overview; S.overviewDirty = true; }
      if (m.top) { S.top = m.top; S.listDirty = true; }
      if (m.viewer) S.viewer = m.viewer;
    }
  }
  function addAlert(a, fresh) {
    a.fresh = fresh;
    S.alerts.unshift(a);
    if (S.alerts.length > MAX_ALERTS) S.alerts.length = MAX_ALERTS;
    const ser = S.series.get(a.key);
    if (ser) {
      // the band of the first value field (schema v2): drawn at the alert on the value chart
      const f0 = ser.fields[0], band = a.bounds && f0 !== undefined ? a.bounds[f0] : null;
      ser.alerts.push({ t: a.event_time, score: a.score, probability: a.probability, id: a.id,
        kind: a.kind || "anomaly", low: band ? band[0] : null, high: band ? band[1] : null,
        expected: a.expected && f0 !== undefined ? a.expected[f0] : null });
      S.dirty.add(a.key);
    }
    S.feedDirty = true;
    if (fresh) saveSoon(); // an alert must survive a reload or going offline
  }
  function addDrift(d) {
    for (const ser of S.series.values()) {
      if (d.key === null || d.key === ser.key) { ser.drift.push({ t: d.ts, monitor: d.monitor }); S.dirty.add(ser.key); }
    }
    S.alerts.unshift({ drift: true, ...d }); S.feedDirty = true;
  }

  // ------------------------------------------------------------------ selection
  function toggleKey(key, on) {
    const has = S.selected.includes(key);
    if (on === undefined) on = !has;
    if (on && !has) {
      S.selected.unshift(key);
      if (S.selected.length > S.limits.max_selected_keys) S.selected.length = S.limits.max_selected_keys;
    } else if (!on && has) {
      S.selected = S.selected.filter((k) => k !== key);
    }
    for (const k of [...S.series.keys()]) if (!S.selected.includes(k)) dropChart(k);
    saveSelected(); send({ op: "select", keys: S.selected });
    S.listDirty = true; S.dirty.add(key);
  }
  function dropChart(key) {
    const ser = S.series.get(key);
    if (ser && ser.chart) { ser.chart.dispose(); ser.el.remove(); }
    S.series.delete(key);
  }

  // ------------------------------------------------------------------ rendering
  function render() {
    if (S.overviewDirty) renderOverview();
    if (S.listDirty) renderKeyList();
    if (S.feedDirty) renderFeed();
    if (S.incidentsDirty) renderIncidents();
    const todo = S.dirty; S.dirty = new Set();
    for (const key of todo) renderChart(key);  // a throttled chart puts itself back
    S.overviewDirty = S.listDirty = S.feedDirty = S.incidentsDirty = false;
    $("charts-empty").hidden = S.selected.length > 0;
    if (S.lastDataAt) $("updated").textContent = "updated " + fmtTime(S.lastDataAt);
    requestAnimationFrame(render);
  }

  function renderOverview() {
    const o = S.overview; if (!o) return;
    const eps = o.events_per_s ?? null;
    $("m-eps").textContent = fmtRate(eps ?? o.ingest_points_per_s);
    $("m-eps-sub").textContent = `dashboard receives ${fmtRate(o.ingest_points_per_s)} pts/s`;
    const lag = $("m-lag"); lag.textContent = fmtLag(o.lag_s);
    lag.className = "metric" + (o.lag_s > 30 ? " bad" : o.lag_s > 5 ? " warn" : "");
    const ar = o.alert_rate;
    $("m-alert").textContent = ar === null || ar === undefined ? fmtRate(o.ingest_alerts_per_s * 60) + "/min"
      : ar === 0 ? "0%" : ar < 1e-4 ? ar.toExponential(1) : ar < 1 ? (ar * 100).toFixed(2) + "%" : fmtRate(ar) + "/s";
    $("m-alert-sub").textContent = `of events · ${o.alerts_total} alerts seen`;
    const active = Math.round(o.active_keys ?? o.keys_active);
    $("m-keys").textContent = active >= 1000 ? fmtRate(active) : String(active);
    $("m-keys-sub").textContent = `${o.keys} keys known`;
    $("m-drift").textContent = o.drift_events ?? o.drift_total;
    $("m-drift-sub").textContent = o.flow_stats_stale ? "flow stats not reported lately"
      : `reported by ${o.flow_publishers} publisher${o.flow_publishers === 1 ? "" : "s"}`;
    const sinks = $("m-sinks"); sinks.textContent = "";
    const names = Object.keys(o.sinks || {});
    if (!names.length) { const s = document.createElement("span"); s.className = "muted"; s.textContent = "not reported by the flow"; sinks.append(s); }
    for (const name of names) {
      const s = document.createElement("span"); s.className = "sink " + o.sinks[name];
      s.textContent = `${name} · ${o.sinks[name]}`; sinks.append(s);
    }
    const maint = $("m-maint"); maint.textContent = "";
    const windows = o.maintenance || [];
    $("maint-card").hidden = windows.length === 0;
    for (const w of windows) {
      const s = document.createElement("span"); s.className = "sink maint";
      const who = [...(w.keys || []), ...Object.entries(w.labels || {}).map(([k, val]) => `${k}=${val}`)].join(", ") || "all keys";
      s.textContent = `${w.name} · until ${fmtTime((w.end || 0) * 1000)} · ${who}` + (w.learning === "skip" ? " · not learning" : "");
      maint.append(s);
    }
    const v = S.viewer || {};
    $("m-dropped").textContent = `dropped: publisher ${o.publisher_dropped ?? 0} · seq gaps ${o.seq_gaps} · this view ${(v.points_missed || 0) + (v.alerts_skipped || 0)} · rejected ${o.rejected}`;
  }

  function renderKeyList() {
    const list = $("key-list"); list.textContent = "";
    const items = S.query ? (S.results || []) : S.top;
    $("search-hint").textContent = S.query ? `${items.length} match${items.length === 1 ? "" : "es"}` : "Most anomalous right now";
    for (const it of items) {
      const li = document.createElement("li");
      li.dataset.key = it.key;
      if (S.selected.includes(it.key)) li.classList.add("selected");
      const k = document.createElement("span"); k.className = "k"; k.textContent = it.key; k.title = it.key;
      const s = document.createElement("span"); s.className = "s";
      const hot = it.score !== null && it.threshold !== null && it.score > it.threshold;
      if (hot) s.classList.add("hot");
      s.textContent = "score " + fmtNum(it.score) + (it.probability !== null ? " · " + fmtP(it.probability) : "");
      li.append(k, s); li.addEventListener("click", () => toggleKey(it.key)); list.append(li);
    }
    const chips = $("selected"); chips.textContent = "";
    for (const key of S.selected) {
      const li = document.createElement("li"); li.textContent = key + " ×"; li.title = "Stop watching " + key;
      li.addEventListener("click", () => toggleKey(key, false)); chips.append(li);
    }
    $("sel-count").textContent = `${S.selected.length}/${S.limits.max_selected_keys}`;
  }

  function contributions(expl) {
    const entries = Object.entries(expl || {}).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
    const total = entries.reduce((acc, [, v]) => acc + Math.abs(v), 0) || 1;
    return entries.slice(0, 3).map(([f, v]) => [f, Math.abs(v) / total]);
  }

  const FEED_ITEMS = 100;
  function renderFeed() {
    // new items are prepended; the list is rebuilt only after a welcome or a restore
    const ol = $("alerts");
    const fresh = S.feedReset ? S.alerts.slice(0, FEED_ITEMS) : S.alerts.slice(0, S.alerts.indexOf(S.feedTop) >>> 0);
    if (S.feedReset) ol.textContent = "";
    S.feedReset = false; S.feedTop = S.alerts[0];
    const n = S.alerts.filter((a) => !a.drift).length;
    $("alert-count").textContent = n ? `(${n}${n >= MAX_ALERTS ? "+" : ""})` : "";
    const nodes = fresh.slice(0, FEED_ITEMS).map(alertNode);
    ol.prepend(...nodes);
    while (ol.children.length > FEED_ITEMS) ol.lastElementChild.remove();
  }

  function alertNode(a) {
    {
      const li = document.createElement("li"); li.className = "alert" + (a.drift ? " drift-item" : "") + (a.fresh ? " fresh" : "");
      a.fresh = false;
      const row1 = document.createElement("div"); row1.className = "row1";
      const key = document.createElement("span"); key.className = "key";
      key.textContent = a.drift ? `drift · ${a.key ?? "all keys"}` : a.key;
      const time = document.createElement("span"); time.className = "time"; time.textContent = fmtTime(a.drift ? a.ts : a.event_time);
      row1.append(key, time); li.append(row1);
      if (!a.drift && a.severity) {
        li.classList.add("sev-" + a.severity);
        const sev = document.createElement("span"); sev.className = "sev";
        sev.textContent = (a.kind && a.kind !== "anomaly" ? a.kind.replace("_", " ") + " · " : "") + a.severity;
        row1.insertBefore(sev, time);
      }
      const row2 = document.createElement("div"); row2.className = "row2";
      if (a.drift) {
        row2.textContent = `${a.monitor}` + (a.detail ? " · " + JSON.stringify(a.detail).slice(0, 80) : "");
      } else {
        const parts = [["score", fmtNum(a.score)], ["prob", fmtP(a.probability)], ["threshold", fmtNum(a.threshold)]];
        for (const [label, val] of parts) {
          row2.append(label + " "); const b = document.createElement("b"); b.textContent = val; row2.append(b, " · ");
        }
        row2.append(a.detector || "detector");
      }
      li.append(row2);
      if (!a.drift) for (const row of alertDetails(a)) li.append(row);
      for (const [f, share] of a.drift ? [] : contributions(a.explanation)) {
        const row = document.createElement("div"); row.className = "contrib";
        const name = document.createElement("span"); name.className = "f"; name.textContent = f; name.title = f;
        const bar = document.createElement("span"); bar.className = "bar";
        const fill = document.createElement("i"); fill.style.width = (share * 100).toFixed(0) + "%"; bar.append(fill);
        const pct = document.createElement("span"); pct.className = "pct"; pct.textContent = (share * 100).toFixed(0) + "%";
        row.append(name, bar, pct); li.append(row);
      }
      if (!a.drift && a.id && S.verdicts) li.append(verdictButtons({ alert_id: a.id, keys: [a.key] }));
      if (a.key !== null && a.key !== undefined) li.addEventListener("click", () => toggleKey(a.key, true));
      return li;
    }
  }

  // Incidents: the latest record of each, newest first, with verdict buttons.
  const INCIDENT_ITEMS = 30;
  function renderIncidents() {
    const ol = $("incidents"); ol.textContent = "";
    const all = [...S.incidents.values()].reverse();
    const open = all.filter((i) => i.event !== "resolve").length;
    $("incident-count").textContent = all.length ? `(${open} open)` : "";
    $("incidents-panel").hidden = all.length === 0;
    for (const inc of all.slice(0, INCIDENT_ITEMS)) {
      const li = document.createElement("li"); li.className = "alert incident" + (inc.event === "resolve" ? " resolved" : "");
      li.dataset.incident = inc.id;
      const row1 = document.createElement("div"); row1.className = "row1";
      const where = document.createElement("span"); where.className = "key";
      where.textContent = Object.entries(inc.group || {}).map(([k, v]) => `${k}=${v}`).join(" · ") || "incident";
      const state = document.createElement("span"); state.className = "sev";
      state.textContent = inc.event === "resolve" ? "resolved" : "open";
      const time = document.createElement("span"); time.className = "time"; time.textContent = fmtTime((inc.updated_at || 0) * 1000);
      row1.append(where, state, time);
      const row2 = document.createElement("div"); row2.className = "row2"; row2.textContent = inc.summary;
      li.append(row1, row2);
      const first = (inc.root_cause || [])[0];
      if (first) { const d = document.createElement("div"); d.className = "labels"; d.textContent = `root cause: ${first.key} ${first.field}`; li.append(d); }
      if (S.verdicts) li.append(verdictButtons({ incident_id: inc.id, keys: inc.keys || [] }));
      if (first) li.addEventListener("click", () => toggleKey(first.key, true));
      ol.append(li);
    }
  }

  // Verdict buttons: the choice goes over the viewer WebSocket to the flow's verdict topic.
  const VERDICTS = [["false_positive", "Not an anomaly"], ["expected_change", "Expected change"], ["true_positive", "Confirm"]];
  function verdictButtons(target) {
    const row = document.createElement("div"); row.className = "verdicts";
    row.dataset.target = target.alert_id || target.incident_id;
    for (const [verdict, label] of VERDICTS) {
      const b = document.createElement("button"); b.type = "button"; b.className = "btn btn-small";
      b.textContent = label; b.dataset.verdict = verdict;
      b.addEventListener("click", (ev) => {
        ev.stopPropagation();
        for (const x of row.querySelectorAll("button")) x.disabled = true;
        row.dataset.state = "sending";
        send({ op: "verdict", ...target, verdict, scope: "key", by: "dashboard" });
      });
      row.append(b);
    }
    const note = document.createElement("span"); note.className = "verdict-note muted"; row.append(note);
    return row;
  }
  function verdictDone(m) {
    for (const row of document.querySelectorAll(".verdicts")) {
      if (row.dataset.target !== m.target) continue;
      row.dataset.state = m.ok ? "sent" : "failed";
      row.querySelector(".verdict-note").textContent = m.ok ? `sent: ${m.verdict.replace("_", " ")}` : `not sent: ${m.error}`;
      if (!m.ok) for (const x of row.querySelectorAll("button")) x.disabled = false;
    }
  }

  // Schema-v2 alert fields as card rows: value vs expected and band per field
  // (arrow = direction), carried-through labels, held-back count, silence, link.
  function alertDetails(a) {
    const rows = [];
    const line = (cls) => { const d = document.createElement("div"); d.className = cls; rows.push(d); return d; };
    for (const [f, v] of Object.entries(a.values || {})) {
      const e = a.expected ? a.expected[f] : null, b = a.bounds ? a.bounds[f] : null;
      if (e === null || e === undefined) continue;
      const d = line("expect");
      const arrow = a.direction && a.direction[f] === "down" ? "\u2193" : "\u2191";
      d.textContent = `${f} ${arrow} ${fmtNum(v)} · expected ${fmtNum(e)}` + (b ? ` · normal ${fmtNum(b[0])} to ${fmtNum(b[1])}` : "");
    }
    if (a.missing) line("expect").textContent = `silent ${fmtNum(a.missing.silent_s)} s · cadence ${fmtNum(a.missing.cadence_s)} s`;
    const labels = Object.entries(a.labels || {});
    if (labels.length) line("labels").textContent = labels.map(([k, v]) => `${k}=${v}`).join(" · ");
    if (a.suppressed) line("labels").textContent = `${a.suppressed} held back since the previous alert`;
    if (a.link) {
      const d = line("labels"); const l = document.createElement("a");
      l.href = a.link; l.textContent = "open on the dashboard"; l.rel = "noopener"; d.append(l);
    }
    return rows;
  }

  // Charts read column arrays through an ECharts dataset (no per-point arrays are
  // built); after the first draw only the dataset and the markers are updated, at most
  // every CHART_MIN_MS per chart.
  const CHART_MIN_MS = 500;
  function chartSource(ser) {
    const onProb = ser.thresholdOn === "probability";
    const source = { t: ser.t, lower: onProb ? ser.p : ser.s, h: ser.h };
    ser.fields.forEach((f, j) => { source["v" + j] = ser.v[f]; });
    return source;
  }
  function markerSeries(ser) {
    const onProb = ser.thresholdOn === "probability";
    const first = ser.fields.length ? ser.v[ser.fields[0]] : [];
    const valueAt = (t) => { const i = ser.t.lastIndexOf(t); return i >= 0 ? first[i] : null; };
    const drift = { symbol: "none", silent: true, animation: false,
      lineStyle: { color: "#d29922", type: "dashed", width: 1.5 },
      label: { color: "#d29922", formatter: (p) => p.name, fontSize: 10 },
      data: ser.drift.map((d) => ({ xAxis: d.t, name: d.monitor })) };
    return [
      { id: "v0", markLine: drift },
      { id: "lower", markLine: drift },
      { id: "alert", data: ser.alerts.map((a) => [a.t, onProb ? a.probability : a.score]) },
      { id: "anomaly", data: ser.alerts.map((a) => [a.t, valueAt(a.t)]).filter((d) => d[1] !== null && d[1] !== undefined) },
      { id: "band", markLine: { symbol: "none", silent: true, animation: false,
        lineStyle: { color: "#3fb950", width: 6, opacity: 0.35, type: "solid" }, label: { show: false },
        data: ser.alerts.filter((a) => a.low !== null && a.low !== undefined && a.high !== null)
          .map((a) => [{ coord: [a.t, a.low] }, { coord: [a.t, a.high] }]) },
        data: ser.alerts.filter((a) => a.expected !== null && a.expected !== undefined).map((a) => [a.t, a.expected]) },
    ];
  }
  function chartOption(ser) {
    const onProb = ser.thresholdOn === "probability";
    const lowerName = onProb ? "probability" : "score";
    const twoAxes = ser.fields.length > 1;
    const line = (id, name, y, yAxisIndex, grid, color, extra) => ({ id, name, type: "line", datasetIndex: 0,
      xAxisIndex: grid, yAxisIndex, encode: { x: "t", y }, showSymbol: false, sampling: "lttb", color,
      lineStyle: { width: 1.5 }, ...extra });
    const [v0, lower, alert, anomaly, band] = markerSeries(ser);
    return {
      animation: false, backgroundColor: "transparent", textStyle: { color: "#8b98a8" },
      dataset: { source: chartSource(ser) },
      grid: [{ left: 52, right: 52, top: 24, height: "42%" }, { left: 52, right: 52, top: "61%", bottom: 26 }],
      legend: { top: 0, right: 52, itemWidth: 14, itemHeight: 6, textStyle: { color: "#8b98a8", fontSize: 11 } },
      tooltip: { trigger: "axis", backgroundColor: "#151b23", borderColor: "#2a3441", textStyle: { color: "#e6edf3", fontSize: 12 },
        formatter: (items) => items.length ? esc(fmtTime(Array.isArray(items[0].value) ? items[0].value[0] : items[0].axisValue)) + "<br>" +
          items.map((it) => {
            const y = Array.isArray(it.value) ? it.value[it.encode && it.encode.y ? it.encode.y[0] : 1] : it.value;
            return `${it.marker}${esc(it.seriesName)}: ${esc(fmtNum(y, 3))}`;
          }).join("<br>") : "" },
      axisPointer: { link: [{ xAxisIndex: "all" }], lineStyle: { color: "#58a6ff" } },
      xAxis: [0, 1].map((g) => ({ type: "time", gridIndex: g, axisLabel: { show: g === 1, color: "#8b98a8", hideOverlap: true },
        axisLine: { lineStyle: { color: "#2a3441" } }, splitLine: { show: false } })),
      yAxis: [
        // value axes are colour-coded like their series (left: first field, right: the others)
        ...[0, 1].map((g) => ({ type: "value", gridIndex: g, scale: true, name: g ? lowerName : "", splitNumber: g ? 3 : 4,
          nameTextStyle: { color: "#8b98a8", fontSize: 10, align: "left" },
          axisLabel: { color: g || !twoAxes ? "#8b98a8" : COLORS[0], fontSize: 10 },
          splitLine: { lineStyle: { color: "#1f2731" } } })),
        { type: "value", gridIndex: 0, scale: true, position: "right", show: twoAxes, splitNumber: 4,
          axisLabel: { color: COLORS[1], fontSize: 10 }, splitLine: { show: false } },
      ],
      series: [
        ...ser.fields.map((f, j) => line("v" + j, f, "v" + j, twoAxes && j > 0 ? 2 : 0, 0, COLORS[j % COLORS.length],
          j === 0 ? { markLine: v0.markLine } : {})),
        line("h", "threshold", "h", 1, 1, "#3fb950", { step: "end", sampling: undefined,
          lineStyle: { type: "dashed", width: 1 }, areaStyle: { color: "rgba(63,185,80,0.10)", origin: "start" } }),
        line("lower", lowerName, "lower", 1, 1, "#58a6ff", { markLine: lower.markLine }),
        { id: "alert", name: "alert", type: "scatter", xAxisIndex: 1, yAxisIndex: 1, symbolSize: 10, color: "#f85149", z: 5, data: alert.data },
        { id: "anomaly", name: "anomaly", type: "scatter", xAxisIndex: 0, yAxisIndex: 0, symbol: "diamond", symbolSize: 11,
          color: "#f85149", z: 5, data: anomaly.data },
        { id: "band", name: "expected", type: "scatter", xAxisIndex: 0, yAxisIndex: 0, symbol: "emptyCircle", symbolSize: 8,
          color: "#3fb950", z: 4, data: band.data, markLine: band.markLine },
      ],
    };
  }

  function renderChart(key) {
    const ser = S.series.get(key);
    if (!ser || !S.selected.includes(key)) return;
    if (!ser.chart) {
      const node = $("chart-tpl").content.firstElementChild.cloneNode(true);
      node.dataset.key = key;
      node.querySelector(".chart-key").textContent = key;
      node.querySelector(".chart-close").addEventListener("click", () => toggleKey(key, false));
      $("charts").append(node);
      ser.el = node;
      ser.chart = echarts.init(node.querySelector(".chart"), null, { renderer: "canvas" });
    }
    const now = performance.now();
    if (ser.drawnAt && now - ser.drawnAt < CHART_MIN_MS) { S.dirty.add(key); return; }
    ser.drawnAt = now;
    const shape = ser.fields.join("\u0001") + "|" + ser.thresholdOn;
    if (ser.shape !== shape) {
      ser.chart.setOption(chartOption(ser), { notMerge: true, lazyUpdate: true, silent: true });
      ser.shape = shape;
    } else {
      ser.chart.setOption({ dataset: { source: chartSource(ser) }, series: markerSeries(ser) },
        { lazyUpdate: true, silent: true });
    }
    const last = ser.t.length - 1;
    const f0 = ser.fields[0];
    ser.el.dataset.points = String(ser.t.length);
    ser.el.dataset.alerts = String(ser.alerts.length);
    ser.el.querySelector(".chart-meta").textContent = ser.missing && last < 0 ? "waiting for data…" :
      `${ser.t.length} pts · ${f0 || "value"} ${fmtNum(last >= 0 && f0 ? ser.v[f0][last] : null)} · score ${fmtNum(ser.s[last])}` +
      ` · prob ${fmtP(ser.p[last])} · ${ser.alerts.length} alerts`;
  }

  // ------------------------------------------------------------------ offline snapshot
  let saveTimer = null;
  function saveSoon() {
    if (saveTimer === null) saveTimer = setTimeout(() => { saveTimer = null; saveSnapshot(); }, 300);
  }
  function saveSnapshot() {
    if (!S.lastDataAt) return;
    const series = {};
    for (const [key, ser] of S.series) {
      const n = S.limits.history_points;
      series[key] = { fields: ser.fields, t: ser.t.slice(-n), s: ser.s.slice(-n), p: ser.p.slice(-n), h: ser.h.slice(-n),
        v: Object.fromEntries(ser.fields.map((f) => [f, ser.v[f].slice(-n)])), alerts: ser.alerts.slice(-50), drift: ser.drift.slice(-50) };
    }
    try {
      localStorage.setItem(SNAPSHOT_KEY, JSON.stringify({ savedAt: S.lastDataAt, overview: S.overview, top: S.top,
        alerts: S.alerts.slice(0, 50), series }));
    } catch { /* storage full: keep the previous snapshot */ }
  }
  function restoreSnapshot() {
    let snap; try { snap = JSON.parse(localStorage.getItem(SNAPSHOT_KEY) || "null"); } catch { snap = null; }
    if (!snap) return null;
    S.overview = snap.overview; S.top = snap.top || []; S.alerts = snap.alerts || [];
    for (const [key, ser] of Object.entries(snap.series || {})) {
      if (S.selected.includes(key)) setHistory({ key, fields: ser.fields, points: ser, alerts: ser.alerts, drift: ser.drift });
    }
    S.overviewDirty = S.listDirty = S.feedDirty = S.feedReset = true;
    return snap.savedAt;
  }

  // ------------------------------------------------------------------ connection
  function setConn(state, text) {
    const pill = $("conn"); pill.dataset.state = state; pill.textContent = text;
    pill.className = "pill " + ({ live: "pill-live", paused: "pill-paused", offline: "pill-offline", denied: "pill-bad" }[state] || "pill-idle");
  }
  function banner(text) { const b = $("banner"); b.hidden = !text; b.textContent = text || ""; }
  function send(obj) { if (S.ws && S.ws.readyState === WebSocket.OPEN) S.ws.send(JSON.stringify(obj)); }

  async function login(token) {
    const r = await fetch("/api/session", { method: "POST", headers: { Authorization: "Bearer " + token }, credentials: "same-origin" });
    return r.status === 204;
  }

  async function connect() {
    let status;
    try { status = (await fetch("/api/session", { cache: "no-store", credentials: "same-origin" })).status; }
    catch { return offline(); }
    if (status === 401) { setConn("denied", "sign in"); $("login").hidden = false; $("token").focus(); return; }
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/view");
    S.ws = ws;
    ws.onopen = () => { S.live = true; S.retry = 500; banner(""); setConn(S.paused ? "paused" : "live", S.paused ? "paused" : "live"); if (S.paused) send({ op: "pause" }); };
    ws.onmessage = (ev) => onMessage(JSON.parse(ev.data));
    ws.onclose = () => { S.live = false; S.ws = null; offline(); };
  }
  function offline() {
    setConn("offline", "offline");
    banner(S.lastDataAt ? `Connection lost — showing the last data received (${fmtTime(S.lastDataAt)}). Reconnecting…` : "Cannot reach the dashboard server. Reconnecting…");
    setTimeout(connect, S.retry); S.retry = Math.min(S.retry * 2, 10000);
  }

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const ok = await login($("token").value).catch(() => false);
    if (ok) { $("login").hidden = true; $("token").value = ""; connect(); }
    else { const e = $("login-error"); e.hidden = false; e.textContent = "That token was not accepted."; }
  });
  $("pause").addEventListener("click", () => {
    S.paused = !S.paused;
    $("pause").textContent = S.paused ? "Resume" : "Pause"; $("pause").setAttribute("aria-pressed", String(S.paused));
    send({ op: S.paused ? "pause" : "resume" });
    if (S.live) setConn(S.paused ? "paused" : "live", S.paused ? "paused" : "live");
  });
  let searchTimer = null;
  $("search").addEventListener("input", (ev) => {
    S.query = ev.target.value.trim(); S.results = null; S.listDirty = true;
    clearTimeout(searchTimer); if (S.query) searchTimer = setTimeout(() => send({ op: "search", q: S.query, limit: 100 }), 150);
  });
  window.addEventListener("resize", () => { for (const ser of S.series.values()) if (ser.chart) ser.chart.resize(); });

  async function boot() {
    const savedAt = restoreSnapshot();
    if (savedAt) { S.lastDataAt = savedAt; banner(`Showing the last data received (${fmtTime(savedAt)}) while connecting…`); }
    requestAnimationFrame(render);
    setInterval(saveSnapshot, 3000);
    window.addEventListener("pagehide", saveSnapshot);
    if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});
    const m = location.hash.match(/token=([^&]+)/);
    if (m) {
      history.replaceState(null, "", location.pathname + location.search);
      try { await login(decodeURIComponent(m[1])); } catch { /* offline: fall through */ }
    }
    connect();
  }
  boot();
})();
