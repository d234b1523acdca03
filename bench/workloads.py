"""The measurements: each takes a running server and returns one round's numbers.

Every function returns a flat JSON-ready dict. ``server_cpu`` is the share of
one core the serving process used during the measurement: well below 1.0
means something other than the server's CPU (the client, the machine, or the
server waiting on something) was the limit. ``server_tree_cpu`` is the same
for the whole process tree (master included).
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from bench.load import (
    MIB,
    finish_python_client,
    run_python_client,
    run_wrk,
    start_python_client,
)
from bench.servers import HOST, RunningServer, rss_mib

HTTP_WORKLOADS = ("hello", "close", "stream", "upload", "ws")
ALL_WORKLOADS = ("hello", "close", "stream", "upload", "ws", "rss", "reload")
DEFAULT_WORKLOADS = ("hello", "close", "stream", "upload", "ws", "rss")


@dataclass
class Settings:
    """Knobs shared by all workloads for one harness run."""

    duration: float
    rss_requests: int
    reload_hups: int = 2


def _core_times() -> dict[str, tuple[int, int]]:
    """(busy, total) jiffies per core from /proc/stat, e.g. ``{"cpu0": (..., ...)}``."""
    out: dict[str, tuple[int, int]] = {}
    with open("/proc/stat", encoding="ascii") as stat:
        for line in stat:
            name, *fields = line.split()
            if name.startswith("cpu") and name != "cpu":
                ticks = [int(f) for f in fields[:8]]
                idle = ticks[3] + ticks[4]  # idle + iowait
                out[name] = (sum(ticks) - idle, sum(ticks))
    return out


class CpuMeter:
    """CPU time (user + system, all threads) used between construction and ``shares()``.

    Measures the worker alone and the server's whole process tree: a master
    that does per-request work shows up as tree CPU above worker CPU.
    """

    def __init__(self, worker: int, root: int) -> None:
        self.worker = psutil.Process(worker)
        self.root = root
        self.worker0 = self._cpu(self.worker)
        self.tree0 = self._tree_cpu()
        self.cores0 = _core_times()
        self.t0 = time.perf_counter()

    @staticmethod
    def _cpu(proc: psutil.Process) -> float:
        times = proc.cpu_times()
        return float(times.user + times.system)

    def _tree_cpu(self) -> dict[int, float]:
        try:
            root = psutil.Process(self.root)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return {}
        out: dict[int, float] = {}
        for proc in procs:
            try:
                out[proc.pid] = self._cpu(proc)
            except psutil.NoSuchProcess:
                continue
        return out

    def shares(self) -> dict[str, float | None]:
        """Fractions of one core used by the worker and by the whole tree."""
        elapsed = time.perf_counter() - self.t0
        try:
            worker: float | None = (self._cpu(self.worker) - self.worker0) / elapsed
        except psutil.NoSuchProcess:
            worker = None
        tree1 = self._tree_cpu()
        # Only processes alive at both ends count: enough for a fixed set of workers.
        used = sum(tree1[pid] - cpu for pid, cpu in self.tree0.items() if pid in tree1)
        shares: dict[str, float | None] = {
            "server_cpu": worker,
            "server_tree_cpu": used / elapsed,
        }
        # How busy each core was, whoever used it: core 0 near 1.00 with the
        # server well below it means other processes took CPU 0 from the server.
        for name, (busy1, total1) in _core_times().items():
            busy0, total0 = self.cores0.get(name, (busy1, total1))
            if name in ("cpu0", "cpu1") and total1 > total0:
                shares[f"{name}_busy"] = (busy1 - busy0) / (total1 - total0)
        return shares


def _metered(
    server: RunningServer, worker: int, measure: Callable[[], dict[str, object]]
) -> dict[str, object]:
    meter = CpuMeter(worker, server.pid)
    result = measure()
    result.update(meter.shares())
    result["source_digest"] = server.source_digest
    return result


def hello(server: RunningServer, worker: int, settings: Settings) -> dict[str, object]:
    """``wrk -t1 -c64 --latency`` on ``/``: requests/s, p50 and p99 latency."""

    def measure() -> dict[str, object]:
        return run_wrk(server.port, "/", settings.duration, connections=64).as_dict()

    return _metered(server, worker, measure)


def closes_after_response(port: int, timeout: float = 5.0) -> bool:
    """Whether the server answers a ``Connection: close`` request and then closes.

    wrk opens a new connection only when the response says ``connection: close``; a server
    that kept the connection open would turn the ``close`` workload into keep-alive hello.
    """
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head = received.partition(b"\r\n\r\n")[0].lower()
    return head.startswith(b"http/1.1 200") and b"\r\nconnection: close" in head


def close(server: RunningServer, worker: int, settings: Settings) -> dict[str, object]:
    """``wrk -t1 -c32`` on ``/`` with ``Connection: close``: a new connection per request."""

    def measure() -> dict[str, object]:
        if not closes_after_response(server.port):
            raise RuntimeError("the server does not close after Connection: close")
        return run_wrk(
            server.port, "/", settings.duration, connections=32, script="close.lua"
        ).as_dict()

    return _metered(server, worker, measure)


def stream(server: RunningServer, worker: int, settings: Settings) -> dict[str, object]:
    """``wrk -t1 -c8`` on ``/stream`` (1 MiB in 64 KiB chunks): MiB/s from Transfer/sec."""

    def measure() -> dict[str, object]:
        result = run_wrk(server.port, "/stream", settings.duration, connections=8)
        return {**result.as_dict(), "mib_per_s": result.transfer_per_s / MIB}

    return _metered(server, worker, measure)


def upload(server: RunningServer, worker: int, settings: Settings) -> dict[str, object]:
    """``wrk -t1 -c8 -s upload.lua``: POST 1 MiB to ``/upload``; MiB/s of request body."""

    def measure() -> dict[str, object]:
        result = run_wrk(
            server.port, "/upload", settings.duration, connections=8, script="upload.lua"
        )
        # Each request carries exactly 1 MiB up (and the same back down).
        return {**result.as_dict(), "mib_per_s": result.requests_per_s}

    return _metered(server, worker, measure)


def ws(server: RunningServer, worker: int, settings: Settings) -> dict[str, object]:
    """WebSocket echo via :mod:`bench.wsclient`: messages/s, payloads checked."""

    def measure() -> dict[str, object]:
        return run_python_client(
            "wsclient",
            ["--port", str(server.port), "--duration", str(settings.duration)],
            timeout=settings.duration + 60,
        )

    return _metered(server, worker, measure)


def rss(server: RunningServer, worker: int, settings: Settings) -> dict[str, object]:
    """Worker RSS idle, then after ``settings.rss_requests`` hello requests.

    Run on a fresh server. wrk cannot stop at a request count by itself
    (count.lua stops its thread, but wrk still waits out ``-d``), so the
    requests go in 1-second wrk runs, each capped at what is still missing.
    """
    time.sleep(0.5)  # let start-up allocations settle
    idle = rss_mib(worker)
    done, runs, deadline = 0, 0, time.monotonic() + 120
    while done < settings.rss_requests and time.monotonic() < deadline:
        result = run_wrk(
            server.port,
            "/",
            1,
            connections=64,
            script="count.lua",
            env={"BENCH_REQUESTS": str(settings.rss_requests - done)},
        )
        done += result.requests
        runs += 1
        if result.requests == 0:
            break
    time.sleep(0.5)
    after = rss_mib(worker)
    return {
        "idle_mib": idle,
        "after_mib": after,
        "growth_mib": after - idle,
        "requests": done,
        "worker_pid": worker,
        "is_master": worker == server.pid,
        "source_digest": server.source_digest,
    }


def reload(server: RunningServer, settings: Settings) -> dict[str, object]:
    """Keep-alive hello load while the master gets SIGHUP ``settings.reload_hups`` times.

    The server must have been started with 2 workers. Reports the client's
    failures and stalls, plus what happened to the master and its workers.
    """
    before = server.wait_children(2)
    client = start_python_client(
        "hupclient", ["--port", str(server.port), "--duration", str(settings.duration)]
    )
    started = time.perf_counter()
    hups: list[float] = []
    for index in range(settings.reload_hups):
        # Spread the HUPs evenly inside the measured window.
        target = started + settings.duration * (index + 1) / (settings.reload_hups + 1)
        time.sleep(max(0.0, target - time.perf_counter()))
        if server.alive():
            os.kill(server.pid, signal.SIGHUP)
            hups.append(time.perf_counter() - started)
    result = finish_python_client(client, timeout=settings.duration + 60)
    after = server.child_pids()
    result.update(
        {
            "hup_at_s": hups,
            "master_alive": server.alive(),
            "master_exit_code": server.proc.returncode,
            "children_before": before,
            "children_after": after,
            "children_replaced": len(set(before) - set(after)),
            "source_digest": server.source_digest,
        }
    )
    return result


SESSION_WORKLOADS: dict[str, Callable[[RunningServer, int, Settings], dict[str, object]]] = {
    "hello": hello,
    "close": close,
    "stream": stream,
    "upload": upload,
    "ws": ws,
}
