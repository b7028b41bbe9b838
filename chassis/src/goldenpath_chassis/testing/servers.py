"""Throwaway PostgreSQL and Redis servers started from the local binaries, for tests.

Real servers, not mocks: the suites run against what production runs. Each server lives in a
temporary directory on a free loopback port and can be stopped and started again on the same
data and port, which is how the reliability tests take a dependency away and bring it back.
`free_port()` only finds a port that was free a moment ago: a server whose first start finds it
taken moves to another (a restart cannot: the tests' settings hold its URL).

PostgreSQL refuses to run as root, so under root (CI containers) it runs as the `postgres` user.

The standard library only: the template's own tests load this file into an environment without
the chassis's dependencies (tests/support/servers.py).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

POSTGRES_HINTS = (
    "install the PostgreSQL server binaries (Debian/Ubuntu: `apt-get install postgresql`, "
    "macOS: `brew install postgresql`) or set TEST_DATABASE_URL to a database the tests may "
    "use, e.g. postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/postgres"
)
REDIS_HINTS = (
    "install redis-server (Debian/Ubuntu: `apt-get install redis-server`, macOS: "
    "`brew install redis`) or set TEST_REDIS_URL, e.g. redis://127.0.0.1:6379/0"
)


# Ports a start tries before giving up (a server's first start here; the template's tests'
# starts of services, containers and Prometheus, tests/support/ports.py).
PORT_ATTEMPTS = 3


def port_taken(output: str) -> bool:
    """Whether the output of a process that exited says its bind failed: "Address already in
    use" in PostgreSQL's and Redis's logs (the OS's words), lowercase from Python's asyncio
    (uvicorn, on the standard loop and uvloop alike) and Go's net package (Prometheus)."""
    return "address already in use" in output.lower()


class ServerUnavailableError(RuntimeError):
    """The binaries for a server are missing; the message says how to provide one."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_listening(port: int, *, timeout: float = 1.0) -> bool:
    """Whether something accepts connections on the loopback port."""
    with socket.socket() as sock:
        sock.settimeout(timeout)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_for_port(port: int, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_listening(port, timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def _wait_for_own_server(
    name: str,
    process: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    *,
    log: Path,
    timeout: float,
) -> None:
    """Until `ready()`; fail with the server's log if its process exits first (a port taken by
    someone else: "Address already in use") or the time runs out."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            state = "did not answer" if process.returncode is None else "exited"
            raise RuntimeError(f"{name} {state}; its log:\n{_tail(log)}")
        time.sleep(0.05)


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid`, read from /proc (Linux; no procps needed)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (command) state ppid ...": the command may hold spaces and parentheses.
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def _read_bulk_string(connection: socket.socket) -> bytes:
    """One RESP bulk string (`$<length>\\r\\n<bytes>\\r\\n`), the answer to INFO."""
    received = b""
    while b"\r\n" not in received:
        received += _receive(connection)
    header, _, body = received.partition(b"\r\n")
    if not header.startswith(b"$"):
        raise ValueError(f"not a bulk string: {header[:80]!r}")
    length = int(header[1:])
    while len(body) < length:
        body += _receive(connection)
    return body[:length]


def _receive(connection: socket.socket) -> bytes:
    chunk = connection.recv(65536)
    if not chunk:
        raise ValueError("the connection closed before the answer ended")
    return chunk


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:] if log.exists() else "(none)"


def _log_size(log: Path) -> int:
    return log.stat().st_size if log.exists() else 0


def _written_since(log: Path, offset: int) -> str:
    with log.open("rb") as opened:
        opened.seek(offset)
        return opened.read().decode(errors="replace")


class _OnOnePort:
    """A server that keeps its port across restarts, and moves to another free port if its
    first start finds its own taken (its log says the address is in use).

    The log is appended to by every start, so whether a start found its port taken is read in
    what that start wrote: an earlier attempt's "Address already in use" must not make a later
    one that failed otherwise move again. Its error shows the whole log, earlier attempts and
    all."""

    port: int
    _started: bool

    @property
    def log_path(self) -> Path:
        raise NotImplementedError

    def start(self) -> None:
        """Start the server; the first time, on another free port if its own was taken."""
        for attempt in range(1, PORT_ATTEMPTS + 1):
            offset = _log_size(self.log_path)
            try:
                self._start()
            except RuntimeError:
                moving = not self._started and port_taken(_written_since(self.log_path, offset))
                if not moving or attempt == PORT_ATTEMPTS:
                    raise
                self.port = free_port()
            else:
                self._started = True
                return

    def _start(self) -> None:
        raise NotImplementedError


def postgres_bindir() -> Path | None:
    """Where initdb and pg_ctl live: PG_BINDIR, then PATH, then Debian's versioned folders."""
    candidates = [os.environ.get("PG_BINDIR", "")]
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    candidates += sorted(glob.glob("/opt/homebrew/opt/postgresql*/bin"), reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    return None


@dataclass
class PostgresServer(_OnOnePort):
    """A private PostgreSQL cluster: `start()`, `stop()`, `start()` again keeps data and port."""

    bindir: Path
    root: Path
    port: int = field(default_factory=free_port)
    user: str = "postgres"
    _run_as: list[str] = field(default_factory=list)
    # More server settings (`-c name=value`), such as TLS's.
    settings: tuple[str, ...] = ()
    _started: bool = field(default=False, init=False, repr=False)

    @classmethod
    def create(cls, *, settings: tuple[str, ...] = ()) -> PostgresServer:
        bindir = postgres_bindir()
        if bindir is None:
            raise ServerUnavailableError(f"PostgreSQL is needed for these tests: {POSTGRES_HINTS}")
        root = Path(tempfile.mkdtemp(prefix="test-postgres-"))
        run_as: list[str] = []
        if os.geteuid() == 0:
            # initdb refuses root; hand the folder to the postgres user and run as it.
            shutil.chown(root, user="postgres")
            run_as = ["runuser", "-u", "postgres", "--"]
        server = cls(bindir=bindir, root=root, _run_as=run_as, settings=settings)
        server._run(
            "initdb",
            "--pgdata",
            str(server.data),
            "--username",
            server.user,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--no-sync",
        )
        return server

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str) -> None:
        completed = subprocess.run(
            [*self._run_as, str(self.bindir / tool), *args],
            check=False,
            capture_output=True,
            text=True,
            cwd=self.root,
        )
        if completed.returncode != 0:
            raise RuntimeError(
                f"{tool} failed with {completed.returncode}:\n{completed.stdout}{completed.stderr}"
            )

    def _start(self) -> None:
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.root}",
                # Durability is not what these tests measure; speed is what they need.
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
                *(f"-c {setting}" for setting in self.settings),
            ]
        )
        try:
            # pg_ctl --wait fails if the postmaster exits, as it does when the port is taken.
            self._run(
                "pg_ctl", "--pgdata", str(self.data), "--log", str(self.log_path),
                "--options", options, "--wait", "start",
            )  # fmt: skip
        except RuntimeError as error:
            raise RuntimeError(f"{error}\nits log:\n{_tail(self.log_path)}") from None
        _wait_for_port(self.port, timeout=30)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "--pgdata", str(self.data), "--mode", "fast", "--wait", "stop")

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """The whole cluster stopped with SIGSTOP, as a frozen host or a network partition
        leaves it: connections stay open and nothing answers (the kernel still accepts new
        ones into the listen queue). Resumed with SIGCONT on exit."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        # The postmaster first, so it forks no backend between the listing and the signals.
        # Each backend leads a process group of its own: one signal to the postmaster's
        # group would miss them.
        os.kill(postmaster, signal.SIGSTOP)
        stopped = [postmaster]
        try:
            for child in _children(postmaster):
                os.kill(child, signal.SIGSTOP)
                stopped.append(child)
            yield
        finally:
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)

    def create_database(self, name: str) -> str:
        """Create an empty database and return its URL."""
        self._run(
            "psql", "--host", "127.0.0.1", "--port", str(self.port), "--username", self.user,
            "--dbname", "postgres", "--quiet", "--command", f'CREATE DATABASE "{name}"',
        )  # fmt: skip
        return self.url_for(name)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class RedisServer(_OnOnePort):
    """A private Redis without persistence: `start()`, `stop()`, `start()` again on one port."""

    binary: Path
    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    # More redis-server options, such as a TLS listener beside the plain port (which the start
    # still waits on).
    options: tuple[str, ...] = ()
    _started: bool = field(default=False, init=False, repr=False)

    @classmethod
    def create(cls, *, options: tuple[str, ...] = ()) -> RedisServer:
        found = shutil.which("redis-server") or (
            "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
        )
        if found is None:
            raise ServerUnavailableError(f"Redis is needed for these tests: {REDIS_HINTS}")
        root = Path(tempfile.mkdtemp(prefix="test-redis-"))
        return cls(binary=Path(found), root=root, options=options)

    @property
    def log_path(self) -> Path:
        return self.root / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _start(self) -> None:
        with self.log_path.open("ab") as log:
            process = subprocess.Popen(
                [
                    str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no", "--dir", str(self.root),
                    *self.options,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.process = process
        try:
            # Whatever listens on the port is not enough: it must be this process.
            _wait_for_own_server(
                f"redis-server on port {self.port}",
                process,
                lambda: self._process_id() == process.pid,
                log=self.log_path,
                timeout=10,
            )
        except RuntimeError:
            self.stop()
            raise

    def _process_id(self) -> int | None:
        """The pid of the Redis answering on the port, if one does. Asked over a plain socket:
        this module serves the template's own tests too, whose environment has no redis-py."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as connection:
                connection.sendall(b"INFO server\r\n")
                answer = _read_bulk_string(connection)
        except (OSError, ValueError):
            return None
        found = re.search(rb"^process_id:(\d+)\r?$", answer, re.MULTILINE)
        return int(found[1]) if found else None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
