"""AlertConsumer and ``pynomaly alerts tail`` against the embedded broker."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any

import orjson
from confluent_kafka import Producer
from services import unique_name

from pynomaly.alerts import AlertConsumer, AlertError, AlertV1, AlertV2
from pynomaly.connectors.kafka_admin import ensure_topics
from pynomaly.dataflow.alert_record import make_alert

BAD = [b"{not json", b"", b'{"schema_version": 7, "id": "x"}', b'{"schema_version": 1}']


def alert(key: str, t: float) -> dict[str, Any]:
    return make_alert("cpu", key, t, {"cpu": 0.9}, 9.0, None, 8.0, "static", "robust_zscore",
                      {"cpu": 1.0}, emit_time=t + 1)


def produce(bootstrap: str, topic: str, values: list[bytes], keys: list[bytes | None]) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1})
    for v, k in zip(values, keys, strict=True):
        p.produce(topic, v, k)
    assert p.flush(15) == 0


def alerts_with_bad_messages(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    docs = [alert(f"host-{i}", 1767225600.0 + 60 * i) for i in range(4)]
    values: list[bytes] = []
    keys: list[bytes | None] = []
    for i, d in enumerate(docs):
        values.append(orjson.dumps(d))
        keys.append(d["key"].encode())
        values.append(BAD[i])
        keys.append(None)
    produce(bootstrap, topic, values, keys)
    return docs


def test_alerts_are_typed_and_bad_messages_go_to_on_error(bootstrap, topic_factory):
    topic = topic_factory(1, "alerts")
    docs = alerts_with_bad_messages(bootstrap, topic)
    errors: list[AlertError] = []
    with AlertConsumer(bootstrap, topic, on_error=errors.append, idle_timeout_s=2.0) as c:
        got = list(c)
    assert [a.id for a in got] == [d["id"] for d in docs]
    assert all(isinstance(a, AlertV1) for a in got)
    assert got[0].event_time.isoformat() == "2026-01-01T00:00:00+00:00"
    assert [(e.reason, e.offset, e.value) for e in errors] == [
        ("invalid_json", 1, BAD[0]), ("empty", 3, b""), ("unsupported_version", 5, BAD[2]),
        ("invalid_alert", 7, BAD[3])]
    assert str(errors[0]).startswith(f"{topic}/0@1: invalid_json: not JSON")


def test_group_commits_after_handling_so_a_cut_short_alert_comes_again(bootstrap,
                                                                       topic_factory):
    topic = topic_factory(1, "alerts")
    docs = alerts_with_bad_messages(bootstrap, topic)
    group = unique_name("pager")
    with AlertConsumer(bootstrap, topic, group_id=group, idle_timeout_s=10.0) as c:
        seen = []
        for a in c:
            seen.append(a.id)
            if len(seen) == 2:
                break  # the second one was not handled to the end
    with AlertConsumer(bootstrap, topic, group_id=group, idle_timeout_s=3.0,
                       on_error=lambda e: None) as c:
        again = [a.id for a in c]
    assert seen == [d["id"] for d in docs[:2]]
    assert again == [d["id"] for d in docs[1:]]  # at least once: the second comes again
    with AlertConsumer(bootstrap, topic, group_id=group, idle_timeout_s=2.0) as c:
        assert list(c) == []  # the loop asked for more after the last one: all committed


def test_dedup_skips_repeated_ids(bootstrap, topic_factory):
    topic = topic_factory(1, "alerts")
    docs = [alert("a", 1767225600.0), alert("b", 1767225660.0)]
    values = [orjson.dumps(d) for d in (docs[0], docs[1], docs[0], docs[1], docs[0])]
    produce(bootstrap, topic, values, [None] * len(values))
    with AlertConsumer(bootstrap, topic, dedup=100, idle_timeout_s=2.0) as c:
        assert [a.key for a in c] == ["a", "b"]
        assert c.duplicates == 3
    with AlertConsumer(bootstrap, topic, idle_timeout_s=2.0) as c:
        assert len(list(c)) == 5


def test_waits_for_a_topic_that_does_not_exist_yet(bootstrap):
    topic = unique_name("later")
    waits: list[str] = []
    got: list[AlertV1 | AlertV2] = []

    def read() -> None:
        with AlertConsumer(bootstrap, topic, on_wait=waits.append, idle_timeout_s=10.0) as c:
            for a in c:
                got.append(a)
                break

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(1.5)
    ensure_topics(bootstrap, {topic: 1})
    doc = alert("late", 1767225600.0)
    produce(bootstrap, topic, [orjson.dumps(doc)], [b"late"])
    reader.join(30)
    assert not reader.is_alive()
    assert waits == [f"topic {topic!r} does not exist on {bootstrap} yet; waiting for it"]
    assert [a.id for a in got] == [doc["id"]]


def tail(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pynomaly.cli.main", "alerts", "tail", *argv],
                          capture_output=True, text=True, timeout=timeout)


def test_tail_prints_alerts_and_shows_bad_messages(bootstrap, topic_factory):
    topic = topic_factory(1, "alerts")
    docs = alerts_with_bad_messages(bootstrap, topic)
    url = f"kafka://{bootstrap}/{topic}"
    proc = tail(url, "--from-beginning", "--idle-exit", "2")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 4 and lines[0].startswith("ALERT host-0     2026-01-01T00:00:00.000Z")
    assert "cpu=0.9  score=9.0  [cpu 100%]" in lines[0]
    assert f"skipped {topic}/0@1: invalid_json" in proc.stderr
    assert f"skipped {topic}/0@5: unsupported_version" in proc.stderr
    as_json = tail(url, "--from-beginning", "--json", "--key", "host-2", "--count", "1")
    assert as_json.returncode == 0, as_json.stderr
    assert [orjson.loads(x) for x in as_json.stdout.splitlines()] == [docs[2]]


def test_tail_of_a_missing_topic_says_it_waits(bootstrap):
    topic = unique_name("nothing")
    proc = tail(f"kafka://{bootstrap}/{topic}", "--idle-exit", "1")
    assert proc.returncode == 1
    assert f"topic {topic!r} does not exist on {bootstrap} yet; waiting for it (Ctrl-C stops)" \
        in proc.stderr
    assert f"pynomaly: error: topic {topic!r} did not appear within 1 s" in proc.stderr


def test_tail_of_a_down_broker_says_so(tmp_path):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = tail(f"kafka://127.0.0.1:{port}/alerts")
    assert proc.returncode == 1
    assert f"kafka 127.0.0.1:{port} is unreachable (connection refused)" in proc.stderr
    assert len(proc.stderr.splitlines()) <= 3
