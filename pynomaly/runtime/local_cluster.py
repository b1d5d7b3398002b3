"""``pynomaly run -p N``: N processes of one Bytewax cluster on loopback.

Kept apart from :mod:`pynomaly.runtime.runner` so that the launching process imports
nothing heavy (Bytewax, numba, the detectors): each child does that itself,
in parallel, and the launcher only forwards signals and exit codes.

Bytewax's cluster set-up (timely) has process ``i`` connect to every process
with a lower id and sleep a whole second before retrying when one is not
listening yet; started together, the processes lost that second about one
start in three. :func:`wait_for_peers` lets a process wait, on loopback,
until the peers it connects to listen.

>>> import subprocess, sys
>>> code = ("import sys, pynomaly.runtime.local_cluster; "
...         "print([m for m in ('bytewax', 'numba', 'numpy', 'pydantic') if m in sys.modules])")
>>> subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip()
'[]'
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

#: TCP state LISTEN in /proc/net/tcp
_LISTEN = "0A"


def run_local_cluster(argv_for_process: list[str], processes: int, base_port: int,
                      metrics_port: int | None = None) -> int:
    """Spawn ``processes`` copies of ``pynomaly run`` forming one cluster on
    loopback (process ``i`` serves metrics on ``metrics_port + i``); forward
    SIGINT/SIGTERM; return the worst exit code."""
    addresses = ";".join(f"127.0.0.1:{base_port + i}" for i in range(processes))
    procs = [
        subprocess.Popen([sys.executable, "-m", "pynomaly.cli.main", *argv_for_process,
                          "--process-id", str(i), "--addresses", addresses,
                          *(["--metrics-port", str(metrics_port + i)] if metrics_port else [])])
        for i in range(processes)
    ]

    def forward(sig: int, _frame: Any) -> None:
        for p in procs:
            if p.poll() is None:
                p.send_signal(sig)

    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        codes = [p.wait() for p in procs]
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return max(codes, key=abs)


def _listening_ports() -> set[int] | None:
    """Local TCP ports in the LISTEN state (IPv4 and IPv6), or None where
    ``/proc/net/tcp`` cannot be read."""
    lines: list[str] = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                lines += fh.read().splitlines()[1:]
        except OSError:
            if table.endswith("tcp"):
                return None
    ports = set()
    for line in lines:
        fields = line.split()
        if len(fields) > 3 and fields[3] == _LISTEN:
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def wait_for_peers(addresses: list[str], process_id: int, timeout_s: float = 10.0) -> bool:
    """Wait until the cluster processes with lower ids than ``process_id``
    listen (only for peers on this machine's loopback, where it can be
    seen without connecting); True if they all do.

    >>> import socket
    >>> s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
    >>> wait_for_peers([f"127.0.0.1:{s.getsockname()[1]}", "127.0.0.1:1"], 1, timeout_s=2)
    True
    >>> s.close()
    """
    ports = set()
    for address in addresses[:process_id]:
        host, _, port = address.rpartition(":")
        if host not in ("127.0.0.1", "localhost") or not port.isdigit():
            return False  # another machine: nothing to look at
        ports.add(int(port))
    deadline = time.monotonic() + timeout_s
    while True:
        listening = _listening_ports()
        if listening is None:
            return False
        if ports <= listening:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
