"""Readiness checks built from a flow spec: can the source be read, can each
sink be written, is the recovery store there.

Each check returns None when healthy, else one line saying what is wrong.
"""

from __future__ import annotations

import os
from pathlib import Path

from pynomaly.observability.health import Check
from pynomaly.spec import (
    FileSourceSpec,
    FlowSpec,
    JsonlSinkSpec,
    KafkaSinkSpec,
    KafkaSourceSpec,
    RedisSinkSpec,
)


def kafka_check(bootstrap: str, topics: list[str]) -> Check:
    def check() -> str | None:
        from confluent_kafka.admin import AdminClient

        from pynomaly.connectors.kafka_logging import with_client_logger

        admin = AdminClient(with_client_logger({"bootstrap.servers": bootstrap,
                                                "socket.timeout.ms": 2000}))
        try:
            md = admin.list_topics(timeout=2.0)
        except Exception as exc:
            return f"kafka {bootstrap} unreachable: {exc}"
        missing = [t for t in topics if t not in md.topics]
        return f"kafka {bootstrap}: missing topics {missing}" if missing else None

    return check


def writable_dir_check(path: str) -> Check:
    def check() -> str | None:
        d = Path(path)
        probe = d if d.is_dir() else d.parent
        if not probe.exists():
            return f"{probe} does not exist"
        if not os.access(probe, os.W_OK):
            return f"{probe} is not writable"
        return None

    return check


def file_check(path: str) -> Check:
    return lambda: None if Path(path).is_file() else f"input file {path} not found"


def redis_check(url: str) -> Check:
    def check() -> str | None:
        import redis

        try:
            redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping()
        except Exception as exc:
            return f"redis {url}: {exc}"
        return None

    return check


def checks_for(spec: FlowSpec, recovery_dir: str | None) -> dict[str, Check]:
    """Readiness checks of a flow spec (and its recovery store)."""
    out: dict[str, Check] = {}
    src = spec.source
    if isinstance(src, KafkaSourceSpec):
        out["source"] = kafka_check(src.bootstrap_servers, src.topics)
    elif isinstance(src, FileSourceSpec):
        out["source"] = file_check(src.path)
    sinks = [*spec.sinks, *([spec.dead_letter] if spec.dead_letter else [])]
    for i, s in enumerate(sinks):
        name = f"sink:{i}:{s.type}" if i < len(spec.sinks) else "dead_letter"
        if isinstance(s, KafkaSinkSpec):
            out[name] = kafka_check(s.bootstrap_servers, [s.topic])
        elif isinstance(s, JsonlSinkSpec):
            out[name] = writable_dir_check(str(Path(s.path).parent))
        elif isinstance(s, RedisSinkSpec):
            out[name] = redis_check(s.url)
    if recovery_dir:
        out["recovery"] = writable_dir_check(recovery_dir)
    return out
