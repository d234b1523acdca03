"""The servers under test: how to start each one, wait for it, find its worker, stop it.

Every server runs pinned to CPU 0 (``taskset -c 0``) in its own session, so
the whole process tree (master and workers) can be stopped through its
process group, whose id is the PID of the process we started.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

BENCH_DIR = Path(__file__).resolve().parent
ROOT_DIR = BENCH_DIR.parent
HOST = "127.0.0.1"
SERVER_CPU = "0"

# The peers live in the venv running the harness (bench/.venv).
PEER_PYTHON = sys.executable
#: asgi-master's switch to pure Python at import (asgi_master/_build.py)
NO_EXTENSIONS_ENV = "ASGI_MASTER_NO_EXTENSIONS"

CommandBuilder = Callable[[str, int, int], list[str]]


@dataclass
class ServerSpec:
    """One server configuration under test.

    ``build`` turns (app import path, port, worker count) into an argv.
    ``workloads`` limits what the server is meaningful for (None: all).
    ``supports_hup`` marks servers whose master reloads workers on SIGHUP.
    """

    name: str
    python: str
    build: CommandBuilder
    modules: tuple[str, ...]
    packages: tuple[str, ...]
    workloads: frozenset[str] | None = None
    supports_hup: bool = False
    source_dir: Path | None = None
    note: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    #: set for the server and its probe, on top of the harness's environment
    env: dict[str, str] = field(default_factory=dict)
    #: asgi-master only: the build it must run ("compiled" or "pure"), checked before a run
    expect_build: str | None = None

    def runs(self, workload: str) -> bool:
        """Whether this server takes part in ``workload``."""
        if workload == "reload":
            return self.supports_hup
        return self.workloads is None or workload in self.workloads


def _child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for servers: the repo root importable, so ``bench.apps`` loads."""
    env = dict(os.environ)
    # the build switch only where a spec sets it (the pure row)
    env.pop(NO_EXTENSIONS_ENV, None)
    env.update(extra or {})
    env["PYTHONPATH"] = str(ROOT_DIR) + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    env.pop("WEB_CONCURRENCY", None)  # uvicorn/gunicorn read it; --workers must win
    return env


def _probe(
    python: str, code: str, timeout: float = 30.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a short Python snippet with ``python`` from the repo root."""
    return subprocess.run(
        [python, "-c", code],
        cwd=ROOT_DIR,
        env=_child_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def check_available(spec: ServerSpec) -> str | None:
    """Return None if ``spec`` can run, else a one-line reason to skip it.

    Also fills ``spec.versions`` with the installed version of each package.
    """
    if not Path(spec.python).exists():
        return f"python not found: {spec.python}"
    code = (
        "import importlib.util, importlib.metadata as md, json, sys\n"
        f"mods = {list(spec.modules)!r}\n"
        "missing = [m for m in mods if importlib.util.find_spec(m) is None]\n"
        "if missing: print('missing module: ' + ', '.join(missing)); sys.exit(1)\n"
        "vers = {}\n"
        f"for p in {list(spec.packages)!r}:\n"
        "    try: vers[p] = md.version(p)\n"
        "    except md.PackageNotFoundError: vers[p] = 'source'\n"
        "if 'asgi_master' in mods:\n"
        "    try:\n"
        "        from asgi_master import _build\n"
        "        vers['build'] = _build.describe()\n"
        "    except ImportError:\n"
        "        pass\n"
        "print(json.dumps(vers))\n"
    )
    try:
        proc = _probe(spec.python, code, env=spec.env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"probe failed: {exc}"
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    if proc.returncode != 0:
        return lines[-1] if lines else f"probe exited {proc.returncode}"
    import json

    spec.versions = json.loads(lines[-1])
    build = spec.versions.get("build")
    if spec.expect_build is None:
        return None
    if build is None:
        # an asgi-master from before the compiled build: one build, the reference row
        return "no compiled/pure switch in this version" if spec.expect_build == "pure" else None
    # a row is named for its build: a compiled row that would run pure Python is not measured
    if spec.expect_build == "compiled" and not build.startswith("compiled:"):
        return f"not the compiled build ({build}): install with a C compiler"
    if spec.expect_build == "pure" and not build.startswith("pure Python:"):
        return f"not the pure build ({build})"
    return None


def _uvicorn(http: str) -> CommandBuilder:
    def build(app: str, port: int, workers: int) -> list[str]:
        return [
            PEER_PYTHON, "-m", "uvicorn", app, "--host", HOST, "--port", str(port),
            "--http", http, "--loop", "uvloop", "--workers", str(workers),
            "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip

    return build


def _hypercorn(app: str, port: int, workers: int) -> list[str]:
    # No access log unless --access-logfile is given.
    return [
        PEER_PYTHON, "-m", "hypercorn", app, "--bind", f"{HOST}:{port}",
        "--worker-class", "uvloop", "-w", str(workers), "--log-level", "warning",
    ]  # fmt: skip


def _gunicorn_native(app: str, port: int, workers: int) -> list[str]:
    # gunicorn >= 25 ships its own asyncio ASGI worker (``-k asgi``).
    return [
        PEER_PYTHON, "-m", "gunicorn", app, "--bind", f"{HOST}:{port}",
        "-w", str(workers), "-k", "asgi", "--asgi-loop", "uvloop", "--log-level", "warning",
    ]  # fmt: skip


def _gunicorn_uvicorn_worker(app: str, port: int, workers: int) -> list[str]:
    return [
        PEER_PYTHON, "-m", "gunicorn", app, "--bind", f"{HOST}:{port}",
        "-w", str(workers), "-k", "uvicorn_worker.UvicornWorker", "--log-level", "warning",
    ]  # fmt: skip


def _granian(app: str, port: int, workers: int) -> list[str]:
    # Access log is off by default in granian.
    return [
        PEER_PYTHON, "-m", "granian", "--interface", "asgi", "--host", HOST,
        "--port", str(port), "--workers", str(workers), "--loop", "uvloop",
        "--log-level", "warning", app,
    ]  # fmt: skip


def _raw_uvloop(app: str, port: int, workers: int) -> list[str]:
    del app, workers  # fixed response, single process
    return [PEER_PYTHON, "-m", "bench.raw_uvloop", "--host", HOST, "--port", str(port)]


def _has_native_gunicorn_asgi() -> bool:
    """True if the installed gunicorn has its own ASGI worker (``-k asgi``)."""
    proc = _probe(
        PEER_PYTHON,
        "import importlib.util, sys; "
        "sys.exit(0 if importlib.util.find_spec('gunicorn.workers.gasgi') else 1)",
    )
    return proc.returncode == 0


def all_specs(asgi_master_python: str) -> list[ServerSpec]:
    """Every server configuration, asgi-master first (it is the reference)."""

    def asgi_master(app: str, port: int, workers: int) -> list[str]:
        return [
            asgi_master_python, "-m", "asgi_master", app, "--bind", f"{HOST}:{port}",
            "--workers", str(workers), "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip

    if _has_native_gunicorn_asgi():
        gunicorn = ServerSpec(
            "gunicorn-asgi", PEER_PYTHON, _gunicorn_native,
            ("gunicorn.workers.gasgi", "uvloop"), ("gunicorn",), supports_hup=True,
        )  # fmt: skip
    else:
        gunicorn = ServerSpec(
            "gunicorn-uvicorn-worker", PEER_PYTHON, _gunicorn_uvicorn_worker,
            ("gunicorn", "uvicorn_worker"), ("gunicorn", "uvicorn-worker", "uvicorn"),
            supports_hup=True,
        )  # fmt: skip
    return [
        ServerSpec(
            "asgi-master", asgi_master_python, asgi_master,
            ("asgi_master", "asgi_master.__main__"), ("asgi-master",), supports_hup=True,
            source_dir=ROOT_DIR / "asgi_master", expect_build="compiled",
        ),
        # the same install with the compiled modules switched off at import
        ServerSpec(
            "asgi-master-pure", asgi_master_python, asgi_master,
            ("asgi_master", "asgi_master.__main__"), ("asgi-master",), supports_hup=True,
            source_dir=ROOT_DIR / "asgi_master", expect_build="pure",
            env={NO_EXTENSIONS_ENV: "1"},
        ),
        ServerSpec(
            "uvicorn-httptools", PEER_PYTHON, _uvicorn("httptools"),
            ("uvicorn", "httptools", "uvloop"), ("uvicorn", "httptools", "uvloop", "websockets"),
            supports_hup=True,  # uvicorn's multiprocess supervisor restarts workers on HUP
        ),
        ServerSpec(
            "uvicorn-h11", PEER_PYTHON, _uvicorn("h11"),
            ("uvicorn", "h11", "uvloop"), ("uvicorn", "h11", "uvloop", "websockets"),
        ),
        ServerSpec(
            "hypercorn", PEER_PYTHON, _hypercorn, ("hypercorn", "uvloop"), ("hypercorn",),
        ),
        gunicorn,
        ServerSpec(
            "granian", PEER_PYTHON, _granian, ("granian",), ("granian",), supports_hup=True,
        ),
        ServerSpec(
            "raw-uvloop", PEER_PYTHON, _raw_uvloop, ("uvloop",), ("uvloop",),
            workloads=frozenset({"hello"}),
        ),
    ]  # fmt: skip


def source_digest(folder: Path) -> str:
    """Short SHA-256 over the ``*.py`` files under ``folder`` (paths and contents)."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        with contextlib.suppress(OSError):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the usual bind-to-0 trick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def http_get_ok(port: int, timeout: float = 1.0) -> bool:
    """One raw-socket ``GET /``; True if any HTTP response line came back."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.")
    except OSError:
        return False


class ServerError(RuntimeError):
    """The server did not start or answer; the message says why."""


class RunningServer:
    """A started server process tree, stopped through its process group."""

    def __init__(self, spec: ServerSpec, app: str, workers: int, log_path: Path) -> None:
        self.spec = spec
        self.port = free_port()
        self.log_path = log_path
        self.argv = ["taskset", "-c", SERVER_CPU, *spec.build(app, self.port, workers)]
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("ab")
        self._log.write(f"$ {' '.join(self.argv)}\n".encode())
        self._log.flush()
        # taskset execs the server, so this PID is the server's (and its pgid).
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT_DIR,
            env=_child_env(spec.env),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.proc.pid
        # The code under test may be edited while a run goes on: fingerprint it.
        self.source_digest = source_digest(spec.source_dir) if spec.source_dir else None

    def log_tail(self, lines: int = 5) -> str:
        """The last lines the server printed, for skip notes."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])

    def wait_ready(self, timeout: float = 30.0) -> float:
        """Poll with raw GETs until the server answers; return seconds taken."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.proc.poll() is not None:
                raise ServerError(f"exited with {self.proc.returncode}: {self.log_tail()}")
            if http_get_ok(self.port):
                return time.monotonic() - start
            time.sleep(0.1)
        raise ServerError(f"no answer within {timeout:.0f}s: {self.log_tail()}")

    def tree(self) -> list[psutil.Process]:
        """The server process and all its descendants that still exist."""
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def worker_pid(self) -> int:
        """PID of the process that serves connections.

        Found by holding one keep-alive connection open and asking which
        process in the tree owns its server-side socket: that is the worker
        for master/worker servers and the server itself otherwise.
        """
        with socket.create_connection((HOST, self.port), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
            sock.recv(4096)
            client_port = sock.getsockname()[1]
            for proc in self.tree():
                try:
                    conns = proc.net_connections(kind="tcp")
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                for conn in conns:
                    if (
                        conn.laddr
                        and conn.raddr
                        and conn.laddr.port == self.port
                        and conn.raddr.port == client_port
                    ):
                        return proc.pid
        return self.pid

    def child_pids(self) -> list[int]:
        """Direct children of the started process (workers, for a master)."""
        try:
            return sorted(p.pid for p in psutil.Process(self.pid).children())
        except psutil.NoSuchProcess:
            return []

    def wait_children(self, count: int, timeout: float = 15.0) -> list[int]:
        """Wait until the server has at least ``count`` children, stable for 0.5 s.

        Masters spawn workers one by one, and some answer before all are up;
        a reload test that starts early would see the spawn, not the reload.
        """
        deadline = time.monotonic() + timeout
        last: list[int] = []
        stable_since = time.monotonic()
        while time.monotonic() < deadline:
            current = self.child_pids()
            if current != last:
                last, stable_since = current, time.monotonic()
            elif len(current) >= count and time.monotonic() - stable_since >= 0.5:
                break
            time.sleep(0.05)
        return last

    def alive(self) -> bool:
        """Whether the started process is still running."""
        return self.proc.poll() is None

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM the process group, SIGKILL it after ``grace`` seconds.

        Returns the exit code of the started process (None if it had to be
        killed and did not report one).
        """
        pgid = self.pid  # start_new_session=True made the server its group leader
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace)
        # Workers may outlive the master briefly; give them the rest of the
        # grace period, then kill whatever of the group remains.
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        self._log.close()
        return code


def rss_mib(pid: int) -> float:
    """Resident set size of ``pid`` in MiB, from /proc/<pid>/status VmRSS."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise ServerError(f"no VmRSS for pid {pid}")
