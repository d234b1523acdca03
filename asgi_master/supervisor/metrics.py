"""The master's Prometheus endpoint (``metrics_bind``): worker and reload state as text.

The master is single-threaded and must never block on a scraper, so the endpoint is a
non-blocking listener serviced once per turn of the master's loop: connections are accepted,
read until their request head is complete (or dropped after ``_CLIENT_TIMEOUT``), answered with
the exposition text, and closed. Worker figures come from the workers' STATS messages (requests,
connections, request-duration histogram) and from psutil (RSS, CPU time).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from ..channel import DURATION_BUCKETS, WorkerStats
from ..config import BindSpec
from .generations import Generations
from .handle import WorkerHandle

log = logging.getLogger("asgi_master.error")

_CLIENT_TIMEOUT: Final = 5.0
_MAX_CLIENTS: Final = 16


@dataclass(slots=True)
class Totals:
    """Counters the master keeps across worker lifetimes."""

    exits: Counter[str] = field(default_factory=Counter)
    recycles: Counter[str] = field(default_factory=Counter)
    reloads: Counter[str] = field(default_factory=Counter)
    #: requests and duration buckets of workers that have exited
    requests: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    duration_sum: float = 0.0
    #: requests cut off by the slow-body rule, by workers that have exited
    body_timeouts: int = 0

    def add(self, stats: WorkerStats) -> None:
        """Fold one worker's figures in (an exited worker's, or a live one's for a scrape)."""
        self.requests += stats.requests
        self.body_timeouts += stats.body_timeouts
        for index, count in enumerate(stats.durations):
            self.buckets[index] += count
        self.duration_sum += stats.duration_sum


class Supervised(Protocol):
    """What the endpoint reads of the master."""

    @property
    def workers(self) -> Mapping[int, WorkerHandle]:
        """Live workers by PID."""

    @property
    def target(self) -> int:
        """How many workers the master aims for."""

    @property
    def generations(self) -> Generations:
        """The generation the workers serve, among others."""

    @property
    def totals(self) -> Totals:
        """Counters kept across worker lifetimes."""


class MetricsEndpoint:
    """A tiny, non-blocking HTTP responder for ``GET /metrics``."""

    def __init__(self, spec: BindSpec) -> None:
        infos = socket.getaddrinfo(spec.host, spec.port, type=socket.SOCK_STREAM)
        family, type_, proto, _, address = infos[0]
        self.sock = socket.socket(family, type_, proto)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(address)
        self.sock.listen(16)
        self.sock.setblocking(False)
        self._clients: dict[socket.socket, tuple[bytearray, float]] = {}

    @property
    def fds(self) -> list[int]:
        """What the master's select waits on for us."""
        return [self.sock.fileno(), *(c.fileno() for c in self._clients)]

    def describe(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"{host}:{port}"

    def service(self, master: Supervised) -> None:
        """Accept, read and answer whatever is ready now, without blocking."""
        now = time.monotonic()
        while len(self._clients) < _MAX_CLIENTS:
            try:
                client, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                break
            client.setblocking(False)
            self._clients[client] = (bytearray(), now)
        for client, (buffer, since) in list(self._clients.items()):
            try:
                data = client.recv(4096)
            except BlockingIOError:
                data = None
            except OSError:
                data = b""
            if data:
                buffer += data
            if b"\r\n\r\n" in buffer or len(buffer) > 8192:
                self._answer(client, buffer, master)
            elif data == b"" or now - since > _CLIENT_TIMEOUT:
                self._drop(client)

    def _answer(self, client: socket.socket, request: bytearray, master: Supervised) -> None:
        line = bytes(request).split(b"\r\n", 1)[0].split(b" ")
        if len(line) == 3 and line[0] == b"GET" and line[1].split(b"?")[0] == b"/metrics":
            body = render(master).encode("utf-8")
            head = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4; charset=utf-8\r\n"
        else:
            body = b"not found: the metrics are at /metrics\n"
            head = b"HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\n"
        response = head + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body) + body
        with contextlib.suppress(OSError):
            # small enough for the socket buffer of a fresh connection; never wait for it
            client.send(response)
        self._drop(client)

    def _drop(self, client: socket.socket) -> None:
        self._clients.pop(client, None)
        client.close()

    def close(self) -> None:
        for client in list(self._clients):
            self._drop(client)
        self.sock.close()


def _lines(name: str, kind: str, help_text: str, samples: Iterable[tuple[str, float]]) -> list[str]:
    out = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    out += [f"{name}{labels} {value:g}" for labels, value in samples]
    return out


def render(master: Supervised) -> str:
    """The exposition text of the master's current state."""
    import psutil  # (only with metrics_bind: workers inherit what the master imports)

    workers = sorted(master.workers.values(), key=lambda h: (h.slot, h.pid))
    per_worker: list[tuple[str, float, float, int, int]] = []
    overall = Totals(
        requests=master.totals.requests,
        buckets=list(master.totals.buckets),
        duration_sum=master.totals.duration_sum,
        body_timeouts=master.totals.body_timeouts,
    )
    for handle in workers:
        labels = f'{{slot="{handle.slot}",pid="{handle.pid}"}}'
        try:
            process = psutil.Process(handle.pid)
            rss = float(process.memory_info().rss)
            cpu = sum(process.cpu_times()[:2])
        except psutil.Error:
            rss, cpu = 0.0, 0.0
        stats = handle.stats
        per_worker.append((labels, rss, cpu, stats.requests, stats.connections))
        overall.add(stats)
    totals = master.totals
    requests, buckets, duration_sum = overall.requests, overall.buckets, overall.duration_sum
    states = Counter(h.state.value for h in workers)
    generations = Counter(h.generation for h in workers)
    out: list[str] = []
    out += _lines(
        "asgi_master_workers",
        "gauge",
        "Worker processes by state.",
        [(f'{{state="{s}"}}', float(n)) for s, n in sorted(states.items())],
    )
    out += _lines(
        "asgi_master_workers_by_generation",
        "gauge",
        "Worker processes by the configuration generation they run.",
        [(f'{{generation="{g}"}}', float(n)) for g, n in sorted(generations.items())],
    )
    out += _lines(
        "asgi_master_workers_target",
        "gauge",
        "Workers the master aims for.",
        [("", float(master.target))],
    )
    out += _lines(
        "asgi_master_worker_rss_bytes",
        "gauge",
        "Resident memory of each worker.",
        [(w[0], w[1]) for w in per_worker],
    )
    out += _lines(
        "asgi_master_worker_cpu_seconds_total",
        "counter",
        "CPU time (user + system) of each worker.",
        [(w[0], w[2]) for w in per_worker],
    )
    out += _lines(
        "asgi_master_worker_requests_total",
        "counter",
        "Requests served by each live worker.",
        [(w[0], float(w[3])) for w in per_worker],
    )
    out += _lines(
        "asgi_master_worker_connections",
        "gauge",
        "Open connections of each worker.",
        [(w[0], float(w[4])) for w in per_worker],
    )
    out += _lines(
        "asgi_master_requests_total",
        "counter",
        "Requests served by all workers, exited ones included.",
        [("", float(requests))],
    )
    out += _lines(
        "asgi_master_request_body_timeouts_total",
        "counter",
        "Requests cut off because their body came too slowly (request_body_timeout, "
        "request_body_min_rate), all workers, exited ones included.",
        [("", float(overall.body_timeouts))],
    )
    out += _lines(
        "asgi_master_worker_exits_total",
        "counter",
        "Worker exits: stopped (by the master) or crashed.",
        [(f'{{reason="{r}"}}', float(n)) for r, n in sorted(totals.exits.items())],
    )
    out += _lines(
        "asgi_master_worker_recycles_total",
        "counter",
        "Workers replaced for max_requests, lifetime or memory.",
        [(f'{{reason="{r}"}}', float(n)) for r, n in sorted(totals.recycles.items())],
    )
    out += _lines(
        "asgi_master_reloads_total",
        "counter",
        "Rolling reloads by result.",
        [(f'{{result="{r}"}}', float(n)) for r, n in sorted(totals.reloads.items())],
    )
    out += _lines(
        "asgi_master_generation",
        "gauge",
        "Generation of the configuration the workers run.",
        [("", float(master.generations.live))],
    )
    out += [
        "# HELP asgi_master_request_duration_seconds Request durations, from the first "
        "byte of the head to the last byte of the response.",
        "# TYPE asgi_master_request_duration_seconds histogram",
    ]
    cumulative = 0
    for bound, count in zip((*DURATION_BUCKETS, float("inf")), buckets, strict=True):
        cumulative += count
        le = "+Inf" if bound == float("inf") else f"{bound:g}"
        out.append(f'asgi_master_request_duration_seconds_bucket{{le="{le}"}} {cumulative}')
    out.append(f"asgi_master_request_duration_seconds_sum {duration_sum:g}")
    out.append(f"asgi_master_request_duration_seconds_count {cumulative}")
    return "\n".join(out) + "\n"
