"""Is a Kafka cluster there? Asked once, quickly, before anything depends on it.

A flow started against a broker that is not there used to fail deep inside
Bytewax (a Rust panic and hundreds of librdkafka lines); a producer waited
for its topic until a bare ``TimeoutError``. :func:`probe` answers within a
few seconds with :class:`KafkaUnreachable`, whose message says which address
did not answer and why, and whose :attr:`~KafkaUnreachable.hint` says what to
do about it.

>>> import socket
>>> closed = socket.socket(); closed.bind(("127.0.0.1", 0))
>>> port = closed.getsockname()[1]; closed.close()   # nothing listens there now
>>> try:
...     probe(f"127.0.0.1:{port}", timeout_s=2.0, needed_by=["the source (topics: metrics)"])
... except KafkaUnreachable as exc:
...     print(str(exc).replace(str(port), "PORT"))
kafka 127.0.0.1:PORT is unreachable (connection refused), needed by the source (topics: metrics)
"""

from __future__ import annotations

import socket
from collections.abc import Sequence

__all__ = ["KafkaUnreachable", "probe", "split_servers"]

DEFAULT_TIMEOUT_S = 5.0


class KafkaUnreachable(ConnectionError):
    """No broker of ``bootstrap_servers`` answered; ``hint`` says what to do."""

    def __init__(self, bootstrap_servers: str, reason: str, needed_by: Sequence[str] = (),
                 hint: str | None = None) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.reason = reason
        self.needed_by = list(needed_by)
        self.hint = hint or default_hint(bootstrap_servers)
        what = f"kafka {bootstrap_servers} is unreachable ({reason})"
        if self.needed_by:
            what += ", needed by " + ", ".join(self.needed_by)
        super().__init__(what)


def split_servers(bootstrap_servers: str) -> list[tuple[str, int]]:
    """``"h1:9092,h2:9093"`` → ``[("h1", 9092), ("h2", 9093)]`` (port 9092 when absent).

    >>> split_servers("127.0.0.1:9092, kafka-1")
    [('127.0.0.1', 9092), ('kafka-1', 9092)]
    """
    servers = []
    for item in bootstrap_servers.split(","):
        item = item.strip().removeprefix("PLAINTEXT://")
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep:
            host, port = item, "9092"
        if not port.isdigit():
            raise ValueError(f"bad Kafka address {item!r} in {bootstrap_servers!r}: "
                             "expected host:port")
        servers.append((host.strip("[]"), int(port)))
    if not servers:
        raise ValueError(f"no Kafka address in {bootstrap_servers!r}")
    return servers


#: How a flow is pointed at another Kafka.
FLOW_ELSEWHERE = "point the flow at a running Kafka with --bootstrap-servers HOST:PORT"


def default_hint(bootstrap_servers: str, elsewhere: str = FLOW_ELSEWHERE) -> str:
    """What a user can do about an unreachable ``bootstrap_servers``.

    >>> default_hint("127.0.0.1:9092")
    'start it (`pynomaly broker start --port 9092`) or point the flow at a running Kafka with --bootstrap-servers HOST:PORT'
    """
    servers = split_servers(bootstrap_servers)
    local = [p for h, p in servers if h in ("127.0.0.1", "localhost", "::1")]
    if local:
        return f"start it (`pynomaly broker start --port {local[0]}`) or {elsewhere}"
    return f"check that it runs, or {elsewhere}"


def _tcp_reason(host: str, port: int, timeout_s: float) -> str | None:
    """Why a TCP connection to ``host:port`` fails, or None when it opens."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except ConnectionRefusedError:
        return "connection refused"
    except TimeoutError:
        return f"no answer within {timeout_s:g} s"
    except socket.gaierror as exc:
        return f"unknown host {host!r}: {exc.strerror}"
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def probe(bootstrap_servers: str, *, timeout_s: float = DEFAULT_TIMEOUT_S,
          needed_by: Sequence[str] = (), hint: str | None = None) -> None:
    """Return when a broker of ``bootstrap_servers`` answers a metadata request
    within ``timeout_s``; raise :class:`KafkaUnreachable` otherwise.

    First a TCP connection to each address (a refused or unknown address fails
    at once, with the operating system's reason), then one metadata request
    through a client whose log lines go to :mod:`pynomaly.connectors.kafka_logging`.
    """
    servers = split_servers(bootstrap_servers)
    reasons = {f"{h}:{p}": _tcp_reason(h, p, timeout_s) for h, p in servers}
    if all(r is not None for r in reasons.values()):
        distinct = set(reasons.values())
        reason = (next(iter(distinct)) if len(distinct) == 1
                  else "; ".join(f"{a}: {r}" for a, r in reasons.items()))
        raise KafkaUnreachable(bootstrap_servers, str(reason), needed_by, hint)
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    from pynomaly.connectors.kafka_logging import with_client_logger

    admin = AdminClient(with_client_logger({"bootstrap.servers": bootstrap_servers}))
    try:
        admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        err = exc.args[0]
        text = err.str() if hasattr(err, "str") else str(err)
        raise KafkaUnreachable(
            bootstrap_servers, f"no Kafka metadata within {timeout_s:g} s: {text}", needed_by,
            hint or "the port is open but does not answer as Kafka (a paused broker, or "
            "another service): check the address, or " + FLOW_ELSEWHERE) from None
