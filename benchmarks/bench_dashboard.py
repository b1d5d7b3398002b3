"""Dashboard under load: many keys and a high update rate pushed through the real
publisher into a served dashboard, watched by a reading viewer, a stalled viewer and
(optionally) headless Chromium.

Reports what the dashboard process costs (CPU, RSS from /proc), what it ingested
versus what was offered, what reached the viewers, and whether the browser kept
rendering (requestAnimationFrame rate and longest gap between frames).

    .venv/bin/python benchmarks/bench_dashboard.py --keys 10000 --rate 20000 --duration 20 --browser
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import orjson
from websockets.sync.client import connect

from pynomaly.connectors.live_view import LiveViewPublisher
from pynomaly.dashboard.server import free_port

INGEST_TOKEN = "bench-ingest-token-0123456789"
VIEW_TOKEN = "bench-view-token-0123456789"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def proc_usage(pid: int) -> tuple[float, int, int]:
    """(CPU seconds user+system, RSS bytes, peak RSS bytes) of ``pid`` from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    status = Path(f"/proc/{pid}/status").read_text()
    rss = hwm = 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
        elif line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) * 1024
    return cpu, rss, hwm


def start_dashboard(port: int, redis_url: str | None = None) -> subprocess.Popen:
    code = (
        "from pynomaly.dashboard.config import DashboardSettings\n"
        "from pynomaly.dashboard.server import serve\n"
        f"serve(DashboardSettings(ingest_token={INGEST_TOKEN!r}, view_token={VIEW_TOKEN!r}, "
        f"redis_url={redis_url!r}), port={port})\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("dashboard did not start")


def stats(port: int) -> dict:
    return httpx.get(f"http://127.0.0.1:{port}/api/stats",
                     headers={"authorization": f"Bearer {VIEW_TOKEN}"}, timeout=10).json()


def produce(url: str, keys: int, rate: float, seconds: float, out: dict, seed: int = 7) -> None:
    """Offer ``rate`` point updates/s spread over ``keys`` keys for ``seconds``."""
    rng = np.random.default_rng(seed)
    names = [f"host-{i:05d}" for i in range(keys)]
    step = 0.05
    per_step = int(rate * step)
    pub = LiveViewPublisher(url, INGEST_TOKEN, max_queue=200_000, max_batch=2000)
    start = time.monotonic()
    n = 0
    cursor = 0
    while time.monotonic() - start < seconds:
        ts = time.time() * 1000.0
        values = rng.normal(50, 5, per_step).tolist()
        scores = np.abs(rng.normal(0, 1, per_step)).tolist()
        events = []
        for j in range(per_step):
            events.append({"type": "point", "key": names[(cursor + j) % keys], "ts": ts,
                           "value": values[j], "score": scores[j], "probability": None,
                           "threshold": 4.0})
        cursor = (cursor + per_step) % keys
        if n % 20 == 0:
            k = names[int(rng.integers(keys))]
            events.append({"type": "alert", "id": f"a{n}", "flow": "bench", "key": k,
                           "event_time": ts, "emit_time": ts, "values": {"value": 90.0},
                           "score": 9.0, "probability": 0.9999, "threshold": 4.0,
                           "detector": "bench", "explanation": {"value": 1.0},
                           "schema_version": 1})
            events.append({"type": "stats", "events_per_s": rate, "lag_s": 0.2,
                           "alert_rate": 1 / (20 * per_step), "active_keys": keys,
                           "drift_events": 0, "sinks": {"jsonl": "ok"}})
        pub.publish_batch(events)
        n += 1
        time.sleep(max(0.0, start + n * step - time.monotonic()))
    pub.flush(10.0)
    pub.close(2.0)  # counts what it could not send as dropped
    out.update(pub.stats())
    out["offered_points"] = n * per_step


def produce_in_process(url: str, keys: int, rate: float, seconds: float, conn) -> None:
    out: dict = {}
    produce(url, keys, rate, seconds, out)
    conn.send(out)
    conn.close()


def reading_viewer(port: int, keys: list[str], stop: threading.Event, out: dict) -> None:
    frames = bytes_in = points = 0
    with connect(f"ws://127.0.0.1:{port}/ws/view", proxy=None, max_size=None,
                 additional_headers={"Authorization": f"Bearer {VIEW_TOKEN}"}) as ws:
        ws.send(json.dumps({"op": "select", "keys": keys}))
        start = time.monotonic()
        while not stop.is_set():
            try:
                raw = ws.recv(timeout=1.0)
            except TimeoutError:
                continue
            bytes_in += len(raw)
            message = orjson.loads(raw)
            if message["type"] == "frame":
                frames += 1
                points += sum(len(p["t"]) for p in message["points"].values())
        elapsed = time.monotonic() - start
    out.update(frames_per_s=frames / elapsed, kib_per_s=bytes_in / elapsed / 1024,
               points_per_s=points / elapsed)


def wait_viewers(port: int, n: int) -> None:
    deadline = time.monotonic() + 10
    while len(stats(port)["viewers"]) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{n} viewers did not connect")
        time.sleep(0.05)


def stalled_viewer(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET /ws/view HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Version: 13\r\n"
                 + f"Authorization: Bearer {VIEW_TOKEN}\r\n\r\n".encode())
    sock.recv(12)
    # ask for 8 keys, then never read again
    payload = json.dumps({"op": "select", "keys": [f"host-{i:05d}" for i in range(8)]}).encode()
    mask = b"\x01\x02\x03\x04"
    header = bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big")  # masked text frame
    sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    return sock


def browser_probe(port: int, keys: list[str], seconds: float, out: dict) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.add_init_script(f"localStorage.setItem('pynomaly.selected.v1', '{json.dumps(keys)}')")
        page.goto(f"http://127.0.0.1:{port}/#token={VIEW_TOKEN}")
        page.wait_for_selector('#conn[data-state="live"]', timeout=20_000)
        if keys:  # steady state: every chart created and drawn before measuring
            page.wait_for_function(
                """(n) => { const c = document.querySelectorAll('.chart-card');
                            return c.length === n && [...c].every((e) => Number(e.dataset.points) > 0); }""",
                arg=len(keys), timeout=60_000)
        time.sleep(2)
        result = page.evaluate(
            """(ms) => new Promise((resolve) => {
                 const gaps = []; let last = performance.now(); const end = last + ms;
                 function tick(now) { gaps.push(now - last); last = now;
                   if (now < end) requestAnimationFrame(tick);
                   else resolve({frames: gaps.length, max_gap_ms: Math.max(...gaps),
                                 p99_gap_ms: gaps.sort((a, b) => a - b)[Math.floor(gaps.length * 0.99)],
                                 heap_mb: (performance.memory ? performance.memory.usedJSHeapSize : 0) / 1048576,
                                 charts: document.querySelectorAll('.chart-card').length}); }
                 requestAnimationFrame(tick); })""", seconds * 1000)
        result["fps"] = result["frames"] / seconds
        out.update(result)
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=20_000, help="point updates per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    parser.add_argument("--browser", action="store_true", help="also measure headless Chromium")
    parser.add_argument("--redis", action="store_true",
                        help="keep history in a throw-away redis-server (backfill from Redis)")
    parser.add_argument("--out", default="out/bench_dashboard.json")
    args = parser.parse_args(argv)

    redis = None
    if args.redis:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from services import RedisServer

        redis = RedisServer().start()
    port = free_port()
    dash = start_dashboard(port, redis.url if redis else None)
    selected = [f"host-{i:05d}" for i in range(8)]
    try:
        stalled = stalled_viewer(port)
        wait_viewers(port, 1)
        stalled_id = stats(port)["viewers"][0]["id"]
        stop = threading.Event()
        viewer_out: dict = {}
        viewer = threading.Thread(target=reading_viewer, args=(port, selected, stop, viewer_out))
        viewer.start()
        wait_viewers(port, 2)
        reading_id = next(v["id"] for v in stats(port)["viewers"] if v["id"] != stalled_id)
        # the producer runs in its own process, as a flow would
        ctx = multiprocessing.get_context("spawn")
        receive_end, send_end = ctx.Pipe(duplex=False)
        producer = ctx.Process(target=produce_in_process, args=(
            f"ws://127.0.0.1:{port}/ws/ingest", args.keys, args.rate, args.duration, send_end))
        warmup = min(5.0, args.duration / 4)
        producer.start()
        time.sleep(warmup)
        cpu0, _, _ = proc_usage(dash.pid)
        s0, t0 = stats(port), time.monotonic()
        snapshots = [s0]
        samples: list[int] = []
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.is_set():
                samples.append(stats(port)["counters"]["points"])
                sampling.wait(1.0)

        sampler = threading.Thread(target=sample)
        sampler.start()
        browser_out: dict = {}
        bare_browser: dict = {}
        if args.browser:
            browser_probe(port, selected[:4], 8.0, browser_out)
            snapshots.append(stats(port))
            # same load, page open with no key watched: what the machine's contention costs
            browser_probe(port, [], 8.0, bare_browser)
        snapshots.append(stats(port))
        while producer.is_alive() and not receive_end.poll(1.0):
            snapshots.append(stats(port))
        producer_out = receive_end.recv()  # the measured window ends with the offered load
        sampling.set()
        sampler.join()
        cpu1, rss, hwm = proc_usage(dash.pid)
        s1, t1 = stats(port), time.monotonic()
        snapshots.append(s1)
        producer.join()
        idle_browser: dict = {}
        if args.browser:  # the same page and data after the load: the machine's own baseline
            browser_probe(port, selected[:4], 8.0, idle_browser)
        stop.set()
        viewer.join()
        time.sleep(1.0)  # let the dashboard finish what is in its socket
        final = stats(port)
        stalled.close()
    finally:
        dash.terminate()
        dash.wait(10)
        if redis is not None:
            redis.stop()
    window = t1 - t0
    # whole seconds of steady load: drop the last samples (the producer's final flush)
    per_second = [b - a for a, b in itertools.pairwise(samples[:-2])]
    # the stalled viewer never reads (its bytes stall in socket buffers); uvicorn's ping
    # timeout closes it after ~40 s, so read its counters at the end of the window
    def viewer_counters(snapshot: dict, vid: int) -> dict:
        found = next((v for v in snapshot["viewers"] if v["id"] == vid), {})
        return {k: v for k, v in found.items() if k != "selected"}

    stalled_counters = next((viewer_counters(s, stalled_id) for s in reversed(snapshots)
                             if viewer_counters(s, stalled_id)), {})
    stalled_counters["open_at_end_of_window"] = bool(viewer_counters(s1, stalled_id))
    reading0, reading1 = viewer_counters(s0, reading_id), viewer_counters(s1, reading_id)
    viewer_out["window_frames_per_s"] = (reading1["frames_sent"] - reading0["frames_sent"]) / window
    viewer_out["window_kib_per_s"] = (reading1["bytes_sent"] - reading0["bytes_sent"]) / window / 1024
    viewer_out["points_missed"] = reading1["points_missed"]
    viewer_out["frames_skipped"] = reading1["frames_skipped"]
    result = {
        "keys": args.keys, "offered_rate": args.rate, "duration_s": args.duration,
        "redis": bool(args.redis), "redis_errors": s1.get("redis_errors"),
        "window_s": round(window, 1),
        "ingest_points_per_s": round((s1["counters"]["points"] - s0["counters"]["points"]) / window),
        # points ingested per second, sampled every second while the producer offered load
        "ingest_points_per_s_median_1s": round(float(np.median(per_second or [0.0]))),
        "ingest_points_per_s_min_1s": round(float(min(per_second or [0.0]))),
        "dashboard_cpu_pct": round(100 * (cpu1 - cpu0) / window, 1),
        # CPU of the dashboard process per update ingested in the window (it also serves the
        # viewers and the browser): x 20,000 updates/s = the share of one core at that rate
        "dashboard_cpu_us_per_update": round(1e6 * (cpu1 - cpu0) / max(
            1, s1["counters"]["points"] - s0["counters"]["points"]), 2),
        "dashboard_rss_mib": round(rss / 2**20, 1),
        "dashboard_peak_rss_mib": round(hwm / 2**20, 1),
        "keys_held": final["keys"],
        "offered_points": producer_out.get("offered_points"),
        "ingested_points": final["counters"]["points"],
        "publisher_sent": producer_out.get("sent"),
        "publisher_dropped": producer_out.get("dropped"),
        "viewer": {k: round(v, 1) for k, v in viewer_out.items()},
        "stalled_viewer": stalled_counters,
        "browser": {k: round(v, 1) if isinstance(v, float) else v for k, v in browser_out.items()},
        "browser_idle": {k: round(v, 1) if isinstance(v, float) else v
                         for k, v in idle_browser.items()},
        "browser_load_no_keys": {k: round(v, 1) if isinstance(v, float) else v
                                 for k, v in bare_browser.items()},
        "load_average_1m": os.getloadavg()[0],
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
