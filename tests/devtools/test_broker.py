"""The embedded tansu broker, topic helpers and the service fixtures, against real processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from services import FAST_GROUP_CONFIG, RedisServer, free_port, topic_end_offsets, unique_name

from pynomaly.connectors.kafka_admin import TopicError, ensure_topics, topic_partitions
from pynomaly.devtools.broker import BrokerError, EmbeddedBroker, broker_reachable

pytestmark = pytest.mark.broker


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def _produce(bootstrap: str, topic: str, n: int, start: int = 0) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(start, start + n):
        producer.produce(topic, key=f"host-{i % 7:04d}".encode(), value=str(i).encode())
    assert producer.flush(10) == 0


def test_round_trip_over_several_partitions(bootstrap, topic_factory, kafka_consume_all):
    topic = topic_factory(partitions=3)
    assert topic_partitions(bootstrap, topic) == 3
    _produce(bootstrap, topic, 500)
    records = kafka_consume_all(bootstrap, topic, expected=500)
    assert sorted(int(r.value) for r in records) == list(range(500))
    assert kafka_consume_all(bootstrap, topic) == records  # no count given: reads to the end
    ends = topic_end_offsets(bootstrap, topic)
    assert ends == {p: 1 + max(r.offset for r in records if r.partition == p) for p in (0, 1, 2)}
    assert {r.partition for r in records} == {0, 1, 2}
    by_key: dict[bytes, set[int]] = {}
    for r in records:
        by_key.setdefault(r.key, set()).add(r.partition)
    assert all(len(parts) == 1 for parts in by_key.values())  # a key stays on one partition


def test_consume_all_of_an_empty_topic(bootstrap, topic_factory, kafka_consume_all):
    topic = topic_factory(partitions=2)
    assert kafka_consume_all(bootstrap, topic) == []
    assert topic_end_offsets(bootstrap, topic) == {0: 0, 1: 0}


def test_consumer_group_reads_everything_and_commits(bootstrap, topic_factory):
    topic = topic_factory(partitions=2)
    _produce(bootstrap, topic, 200)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique_name("g"),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **FAST_GROUP_CONFIG,
        }
    )
    consumer.subscribe([topic])
    seen = []
    deadline = time.monotonic() + 20
    while len(seen) < 200 and time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is not None and msg.error() is None:
            seen.append(int(msg.value()))
    consumer.commit(asynchronous=False)
    committed = consumer.committed([TopicPartition(topic, p) for p in (0, 1)], timeout=5)
    consumer.close()
    assert sorted(seen) == list(range(200))
    assert sum(tp.offset for tp in committed) == 200


def test_pause_keeps_the_log_and_resume_delivers_held_records(own_broker, kafka_consume_all):
    bootstrap = own_broker.bootstrap_servers
    topic = unique_name("outage")
    ensure_topics(bootstrap, {topic: 2})
    _produce(bootstrap, topic, 50)
    producer = Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": 60_000})
    producer.poll(0)  # connect before the outage

    own_broker.pause()
    assert own_broker.paused
    with open(f"/proc/{own_broker.pid}/stat") as f:
        assert f.read().rsplit(")", 1)[1].split()[0] == "T"
    assert not broker_reachable(bootstrap, timeout=0.5)
    for i in range(50, 80):
        producer.produce(topic, key=b"k", value=str(i).encode())
    assert producer.flush(0.5) > 0  # held while the broker is frozen

    own_broker.resume()
    assert producer.flush(20) == 0
    del producer
    records = kafka_consume_all(bootstrap, topic, expected=80)
    assert sorted(int(r.value) for r in records) == list(range(80))


def test_stop_leaves_no_process_and_frees_the_port():
    broker = EmbeddedBroker().start()
    pid, port = broker.pid, broker.port or int(broker.bootstrap_servers.rsplit(":", 1)[1])
    assert pid is not None and _alive(pid)
    broker.pause()
    broker.stop()  # a paused broker stops too
    broker.stop()  # idempotent
    assert not _alive(pid)
    assert not broker.running
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
    with pytest.raises(BrokerError, match="not started"):
        _ = broker.bootstrap_servers


def test_broker_dies_with_its_parent():
    script = (
        "from pynomaly.devtools.broker import EmbeddedBroker\n"
        "b = EmbeddedBroker().start()\n"
        "print(b.pid, flush=True)\n"
        "import time; time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        assert _alive(pid)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid)
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


def test_taken_port_is_reported():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(BrokerError, match="tansu"):
            EmbeddedBroker(port=port, startup_timeout=5).start()


def test_ensure_topics_is_idempotent_and_checks_partitions(bootstrap):
    name = unique_name("admin")
    assert ensure_topics(bootstrap, {name: 2}) == [name]
    assert ensure_topics(bootstrap, {name: 2}) == []
    assert ensure_topics(bootstrap, {name: 1}) == []  # more partitions than asked is fine
    with pytest.raises(TopicError, match="exists with 2 partitions, 4 asked"):
        ensure_topics(bootstrap, {name: 4})
    with pytest.raises(TopicError, match="at least 1 partition"):
        ensure_topics(bootstrap, {"x": 0})
    assert topic_partitions(bootstrap, unique_name("absent")) == 0


def test_bad_binary_override_is_reported(monkeypatch, tmp_path):
    monkeypatch.setenv("PYNOMALY_TANSU_BIN", str(tmp_path / "nope"))
    with pytest.raises(BrokerError, match="PYNOMALY_TANSU_BIN"):
        EmbeddedBroker().start()


def test_redis_server_fixture_answers(redis_server):
    import redis

    client = redis.Redis.from_url(redis_server)
    client.set("k", "v")
    assert client.get("k") == b"v"
    client.close()


def test_redis_server_stops_cleanly():
    server = RedisServer().start()
    pid = server.pid
    assert pid is not None and server.ping()
    server.stop()
    assert not _alive(pid)


def _cli(argv: list[str]) -> int:
    """Run ``pynomaly broker ...`` through its own parser (the full CLI imports every flow)."""
    import argparse

    from pynomaly.cli import broker as broker_cli

    parser = argparse.ArgumentParser(prog="pynomaly")
    broker_cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return int(args.func(args))


# `broker start` leaves the broker running after it returns, by design; run in
# this process, its Popen handle is collected while the broker still runs.
@pytest.mark.filterwarnings("ignore:subprocess \\d+ is still running:ResourceWarning")
def test_cli_start_status_stop(monkeypatch, tmp_path, capsys):
    from pynomaly.cli.broker import read_state

    monkeypatch.setenv("PYNOMALY_STATE_DIR", str(tmp_path))
    free = free_port()
    try:
        assert _cli(["broker", "start", "--port", str(free)]) == 0
        assert capsys.readouterr().out.strip() == f"127.0.0.1:{free}"
        state = read_state()
        assert state is not None and _alive(state["pid"])
        assert _cli(["broker", "status"]) == 0
        assert "answering" in capsys.readouterr().out
        with pytest.raises(RuntimeError, match="already running"):
            _cli(["broker", "start", "--port", str(free)])
    finally:
        assert _cli(["broker", "stop"]) == 0
    assert not _alive(state["pid"])
    assert _cli(["broker", "status"]) == 1
    assert "no broker running" in capsys.readouterr().out
    try:
        assert _cli(["broker", "start", "--port", "0"]) == 0  # any free port
        host, port = capsys.readouterr().out.strip().rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) > 0
    finally:
        assert _cli(["broker", "stop"]) == 0
