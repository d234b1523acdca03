"""What every connection of a worker shares: the settings it serves with, built once from the
``Config`` (``WorkerSettings``, frozen), and the worker's live state (``WorkerState``: the app,
open connections, running tasks, counters, the drain). Defaults live in the settings table
(config/settings.py) only: everything here is built from a ``Config``.
"""

from __future__ import annotations

import asyncio
import bisect
import contextvars
import ssl
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from ..channel import DURATION_BUCKETS, WorkerStats
from ..config import Config
from .accesslog import AccessLog
from .asgi import HTTP_EXTENSIONS, ASGIApp
from .bodyrate import BodyRate
from .h2.limits import ConnectionLimits
from .http.proxy import ProxyTrust
from .http.reader import Limits
from .http.writer import ResponseDefaults
from .tls import build_ssl_context

#: the headers of the answer to a health path
HEALTH_HEADERS: Final = (
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"cache-control", b"no-store"),
)


class Connection(Protocol):
    """What the worker needs of any open connection to sweep and drain it."""

    def shutdown(self) -> None:
        """Graceful drain: finish what is in flight, then close."""

    def close_if_idle(self, now: float, idle_for: float) -> None:
        """Close if nothing happened for ``idle_for`` seconds and nothing is in flight."""

    def abort(self, reason: str) -> None:
        """Close at once."""


@dataclass(frozen=True, slots=True)
class WebSocketSettings:
    """The ``websocket_*`` settings as the WebSocket layer reads them (0 disables a limit)."""

    max_message_size: int
    ping_interval: float
    ping_timeout: float
    per_message_deflate: bool
    drain_timeout: float

    @classmethod
    def from_config(cls, config: Config) -> WebSocketSettings:
        return cls(
            max_message_size=config.websocket_max_message_size,
            ping_interval=config.websocket_ping_interval,
            ping_timeout=config.websocket_ping_timeout,
            per_message_deflate=config.websocket_per_message_deflate,
            drain_timeout=config.websocket_drain_timeout,
        )


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """The settings connections read on every request, in the form they use them."""

    root_path: str
    keepalive_timeout: float
    request_header_timeout: float
    #: the slow-body rule every request cycle applies
    body_rate: BodyRate
    limit_concurrency: int
    debug: bool
    limits: Limits
    websocket: WebSocketSettings
    #: the header lines every response gets (``server``, ``date``, the ``headers`` setting)
    response_defaults: ResponseDefaults
    #: ``scope["extensions"]`` of HTTP requests (``tls`` is added per TLS connection)
    extensions: dict[str, Any]
    #: proxy headers are applied from trusted peers (None: ``proxy_headers = false``)
    proxy: ProxyTrust | None
    #: connections must start with a PROXY header, from these peers (None: ``proxy_protocol =
    #: false``)
    proxy_protocol: ProxyTrust | None
    #: access-log lines (None: ``access_log = false``)
    access_log: AccessLog | None
    #: TLS on the listening sockets (None: plain TCP)
    ssl: ssl.SSLContext | None
    #: raw path -> "live" or "ready" for the paths the worker answers itself
    health_paths: dict[bytes, str]
    health_access_log: bool
    #: request durations are counted into a histogram (a metrics endpoint wants them)
    durations: bool
    #: what an HTTP/2 connection is allowed (None: ``http2 = false``, HTTP/1.1 only)
    http2: ConnectionLimits | None
    #: ``Upgrade: h2c`` is taken on plain connections (``http2_upgrade``)
    http2_upgrade: bool
    #: every connection speaks HTTP/2 from its first byte, whatever it sends (``http2_only``)
    http2_only: bool

    @classmethod
    def from_config(cls, config: Config) -> WorkerSettings:
        """The settings of a worker serving with ``config``."""
        return cls(
            root_path=config.root_path,
            keepalive_timeout=config.keepalive_timeout,
            request_header_timeout=config.request_header_timeout,
            body_rate=BodyRate(config.request_body_timeout, config.request_body_min_rate),
            limit_concurrency=config.limit_concurrency,
            debug=config.debug,
            limits=Limits.from_config(config),
            websocket=WebSocketSettings.from_config(config),
            response_defaults=ResponseDefaults.from_config(config),
            extensions=dict(HTTP_EXTENSIONS),
            proxy=ProxyTrust(config.forwarded_allow_ips) if config.proxy_headers else None,
            proxy_protocol=(
                ProxyTrust(config.forwarded_allow_ips) if config.proxy_protocol else None
            ),
            access_log=AccessLog.from_config(config),
            ssl=build_ssl_context(config),
            health_paths={
                path.encode("ascii"): kind
                for path, kind in (
                    (config.health_live_path, "live"),
                    (config.health_ready_path, "ready"),
                )
                if path
            },
            health_access_log=config.health_access_log,
            durations=bool(config.metrics_bind),
            # WebSocket over HTTP/2 (RFC 8441) works: SETTINGS_ENABLE_CONNECT_PROTOCOL is sent
            http2=ConnectionLimits.from_config(config, connect_protocol=True)
            if config.http2
            else None,
            http2_upgrade=config.http2 and config.http2_upgrade,
            http2_only=config.http2 and config.http2_only,
        )


@dataclass(slots=True, eq=False)
class WorkerState:
    """The live state of one worker's server; connections read and update it."""

    settings: WorkerSettings
    app: ASGIApp
    loop: asyncio.AbstractEventLoop
    #: the lifespan ``state``; each request scope gets a shallow copy
    state: dict[str, Any] = field(default_factory=dict)
    #: every open connection, HTTP or WebSocket (see ``Connection``)
    connections: set[Connection] = field(default_factory=set)
    #: app tasks still running, including ones past their response (drain waits for them)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    requests_served: int = 0
    #: set when the worker drains: no new requests on kept-alive connections
    draining: bool = False
    #: why it drains: "shutdown" (TERM: the server stops) or "restart" (HUP: this worker is
    #: being replaced by a new one); WebSockets close with 1001 or 1012 accordingly
    drain_reason: str = "shutdown"
    #: after this many requests the worker asks to be replaced (0: never)
    retire_after: int = 0
    #: called once when ``retire_after`` is reached
    on_retire: Callable[[], None] | None = None
    #: false during ``shutdown_delay`` and the drain: the ready path answers 503
    ready: bool = True
    #: request-duration histogram (counts per bucket of DURATION_BUCKETS + one above) and the
    #: sum of durations; None when no metrics endpoint wants them
    durations: list[int] | None = None
    duration_sum: float = 0.0
    #: debug pages for app errors (``debug``), read by every request cycle
    debug: bool = False
    #: the slow-body rule, read by every request cycle, and the requests it cut off
    body_rate: BodyRate = BodyRate(0.0, 0)  # noqa: RUF009 (frozen; replaced from settings)
    body_timeouts: int = 0
    #: the context variables as the worker's boot left them (the app imported, ``post_fork``
    #: run), captured once: every task that runs the app starts from a copy (``start_task``)
    base_context: contextvars.Context = field(default_factory=contextvars.copy_context)
    #: takes over a connection speaking HTTP/2 from its start, from ``HTTPProtocol`` (ALPN
    #: ``h2`` or the h2c preface); None with ``http2 = false``
    http2_handover: Callable[[Any], None] | None = None

    def __post_init__(self) -> None:
        self.debug = self.settings.debug
        self.body_rate = self.settings.body_rate
        if self.settings.durations and self.durations is None:
            self.durations = [0] * (len(DURATION_BUCKETS) + 1)

    def start_task(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coro`` (one HTTP request, one WebSocket session) as a task in a fresh copy of
        ``base_context``, tracked in ``tasks`` until it removes itself. Whatever code path
        starts it (the previous request's ``send`` starting a pipelined one, the app's
        ``receive`` resuming the read), it never sees another request's context variables."""
        task = self.loop.create_task(coro, context=self.base_context.copy())
        self.tasks.add(task)
        return task

    def over_capacity(self) -> bool:
        """``limit_concurrency`` is reached: a new request or WebSocket gets a 503."""
        limit = self.settings.limit_concurrency
        return bool(limit) and (len(self.tasks) >= limit or len(self.connections) > limit)

    def health_answer(self, path: bytes) -> tuple[int, Sequence[tuple[bytes, bytes]], bytes] | None:
        """The status, headers and body that answer a request for ``path`` if it is a health
        path (``health_live_path``: up; ``health_ready_path``: booted and not draining), else
        None. Each protocol sends it itself, without the app."""
        kind = self.settings.health_paths.get(path)
        if kind is None:
            return None
        if kind == "live" or (self.ready and not self.draining):
            return 200, HEALTH_HEADERS, b"ok\n"
        return 503, HEALTH_HEADERS, b"not ready\n"

    def response_done(self, duration: float | None) -> None:
        """One response went out (the app's or the server's): count it, time it (unless
        ``duration`` is None: a WebSocket session), and ask for retirement when the
        ``max_requests`` budget is spent."""
        if self.durations is not None and duration is not None:
            self.durations[bisect.bisect_left(DURATION_BUCKETS, duration)] += 1
            self.duration_sum += duration
        self.requests_served += 1
        if self.requests_served == self.retire_after and self.on_retire is not None:
            self.on_retire()

    def stats(self) -> WorkerStats:
        """The figures the worker sends its master every second (channel.py encodes them)."""
        return WorkerStats(
            requests=self.requests_served,
            connections=len(self.connections),
            durations=tuple(self.durations or ()),
            duration_sum=self.duration_sum,
            body_timeouts=self.body_timeouts,
        )
