"""Fixtures that start real asgi-master processes on free 127.0.0.1 ports and clean up by PID."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--expect-build",
        choices=("compiled", "pure"),
        help="fail unless the hot modules load as this build (tests/unit/test_build.py)",
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def wait_until_stable(read, timeout: float, hold: float = 1.0, what: str = "a value"):
    """The value ``read()`` settles on: the same for ``hold`` seconds (within ``timeout``).

    For proving that something stops (a sender blocked by flow control) without betting on a
    sleep being long enough: a sender that is not stopped runs to its end and settles there,
    and the caller's assertion on the value tells the two apart."""
    deadline = time.monotonic() + timeout
    value = read()
    since = time.monotonic()
    while True:
        time.sleep(0.1)
        current = read()
        now = time.monotonic()
        if current != value:
            value, since = current, now
        elif now - since >= hold:
            return value
        if now > deadline:
            raise AssertionError(f"{what} did not settle within {timeout}s (last: {value!r})")


def _is_file_watcher(process: psutil.Process) -> bool:
    try:
        cmdline = " ".join(process.cmdline())
    except psutil.Error:
        return False
    return "file watcher" in cmdline or "asgi_master.supervisor.filewatch" in cmdline


class Server:
    """A running ``asgi-master`` master process and the files its output goes to."""

    def __init__(
        self,
        args: list[str],
        tmp_path: Path,
        env: dict[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.log_path = tmp_path / f"server-{self.port}.log"
        self.out_path = tmp_path / f"server-{self.port}.out"
        full_env = {**os.environ, **(env or {})}
        full_env.setdefault("PYTHONUNBUFFERED", "1")
        # the files stay open for the life of the process; cleanup() closes them
        self._out = open(self.out_path, "wb")  # noqa: SIM115
        self._err = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "asgi_master", *args],
            cwd=ROOT,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=self._err,
        )
        self.pid = self.proc.pid
        self._seen: set[int] = {self.pid}

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def children(self) -> list[psutil.Process]:
        """The master's live child processes (and remember them for cleanup)."""
        try:
            children = psutil.Process(self.pid).children()
        except psutil.NoSuchProcess:
            return []
        live = []
        for child in children:
            try:
                if child.status() != psutil.STATUS_ZOMBIE:
                    live.append(child)
            except psutil.NoSuchProcess:
                continue  # exited while being listed: workers come and go during reloads
        self._seen.update(c.pid for c in live)
        return live

    def workers(self) -> list[psutil.Process]:
        """The master's live workers: its children but the ``reload`` file watcher."""
        return [c for c in self.children() if not _is_file_watcher(c)]

    def file_watcher(self) -> psutil.Process | None:
        """The ``reload = true`` watchfiles process, if one runs."""
        return next((c for c in self.children() if _is_file_watcher(c)), None)

    def worker_pids(self) -> set[int]:
        """The PIDs of ``workers()``."""
        return {p.pid for p in self.workers()}

    def wait_ready(self, workers: int = 1, timeout: float = 20.0) -> None:
        """Wait until the master logged that ``workers`` workers serve, and the port answers."""

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log}")
            return self.log.count(") ready") >= workers and "Ready:" in self.log

        wait_for(ready, timeout, what="workers ready")
        self.workers()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def wait_exit(self, timeout: float = 30.0) -> int:
        return self.proc.wait(timeout=timeout)

    def cleanup(self) -> None:
        """Kill whatever is left of this server, by the PIDs it was seen with."""
        self.workers()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._out.close()
        self._err.close()
        for pid in self._seen - {self.pid}:
            with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    os.kill(pid, signal.SIGKILL)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator:
    """``start_server(args...) -> Server``; every server started is cleaned up by PID."""
    servers: list[Server] = []

    def start(
        *args: str, env: dict[str, str] | None = None, port: int | None = None, bind: bool = True
    ) -> Server:
        server_port = port or free_port()
        extra = ["--bind", f"127.0.0.1:{server_port}"] if bind else []
        server = Server([*args, *extra], tmp_path, env=env, port=server_port)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.cleanup()


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    """Run ``asgi-master`` to completion (for commands that exit by themselves)."""
    return subprocess.run(
        [sys.executable, "-m", "asgi_master", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
