"""Run the end-to-end benchmark flow once, for a profiler to watch.

Starts an embedded broker, writes ``records`` generated records over 10k keys,
warms the flow up (kernels, imports, one untimed run), prints READY and runs
the Kafka → parse → detect → Kafka-alerts flow once more, in this process::

    .venv/bin/python benchmarks/profile_e2e.py robust_zscore 1500000 &
    # after READY:
    py-spy record -p <pid> -d 8 -r 200 -f raw -o prof.txt --nonblocking

(``pip install py-spy``; ``-f raw`` gives collapsed stacks to sum per frame.)
"""

from __future__ import annotations

import sys
import time

from pynomaly.bench.e2e import run_flow, warm_up
from pynomaly.bench.e2e_setup import bench_spec, produce_stream
from pynomaly.connectors.kafka_admin import ensure_topics
from pynomaly.devtools.broker import EmbeddedBroker


def main() -> None:
    det, n = sys.argv[1], int(sys.argv[2])
    with EmbeddedBroker() as broker:
        bs = broker.bootstrap_servers
        produce_stream(bs, "metrics", n, 10_000)
        ensure_topics(bs, {"alerts": 1})
        spec = bench_spec(det, bs, "metrics", "alerts")
        warm_up(spec)
        run_flow(bench_spec(det, bs, "metrics", None), n)
        print("READY", flush=True)
        time.sleep(1)
        secs, _ = run_flow(spec, n)
        print(f"{det}: {n / secs:,.0f} records/s")


if __name__ == "__main__":
    main()
