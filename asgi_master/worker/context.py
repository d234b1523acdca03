"""What every connection of a worker shares: the app, per-worker settings and live counters."""

from __future__ import annotations

import asyncio
import bisect
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..channel import DURATION_BUCKETS, WorkerStats
from ..config import Config
from .asgi import HTTP_EXTENSIONS, ASGIApp
from .http.accesslog import AccessLogFormat
from .http.proxy import ProxyTrust
from .http.reader import Limits
from .http.writer import SERVER_LINE
from .tls import build_ssl_context


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

    max_message_size: int = 16 * 1024 * 1024
    ping_interval: float = 20.0
    ping_timeout: float = 20.0
    per_message_deflate: bool = True
    drain_timeout: float = 5.0


@dataclass(slots=True, eq=False)
class ServerContext:
    """Shared state of one worker's server; connections read it on every request."""

    app: ASGIApp
    loop: asyncio.AbstractEventLoop
    root_path: str = ""
    keepalive_timeout: float = 5.0
    access_log: bool = True
    limits: Limits = field(default_factory=Limits)
    websocket: WebSocketSettings = field(default_factory=WebSocketSettings)
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
    request_header_timeout: float = 10.0
    limit_concurrency: int = 0
    debug: bool = False
    #: the ``server:`` line of every response (empty with ``server_header = false``)
    server_line: bytes = SERVER_LINE
    #: ``scope["extensions"]`` of HTTP requests
    extensions: dict[str, Any] = field(default_factory=dict)
    #: proxy headers are applied from trusted peers (None: ``proxy_headers = false``)
    proxy: ProxyTrust | None = None
    #: the access-log line's format (None: the built-in line)
    access_format: AccessLogFormat | None = None
    #: TLS on the listening sockets (None: plain TCP)
    ssl: ssl.SSLContext | None = None
    #: raw path -> "live" or "ready" for the paths the worker answers itself
    health_paths: dict[bytes, str] = field(default_factory=dict)
    health_access_log: bool = False
    #: false during ``shutdown_delay`` and the drain: the ready path answers 503
    ready: bool = True
    #: request-duration histogram (counts per bucket of DURATION_BUCKETS + one above) and the
    #: sum of durations; None when no metrics endpoint wants them
    durations: list[int] | None = None
    duration_sum: float = 0.0

    def observe(self, seconds: float) -> None:
        """Count one request's duration into the histogram."""
        assert self.durations is not None
        self.durations[bisect.bisect_left(DURATION_BUCKETS, seconds)] += 1
        self.duration_sum += seconds

    def stats(self) -> WorkerStats:
        """The figures the worker sends its master every second (channel.py encodes them)."""
        return WorkerStats(
            requests=self.requests_served,
            connections=len(self.connections),
            durations=tuple(self.durations or ()),
            duration_sum=self.duration_sum,
        )

    @classmethod
    def from_config(
        cls, config: Config, app: ASGIApp, loop: asyncio.AbstractEventLoop, state: dict[str, Any]
    ) -> ServerContext:
        """The context of a worker serving ``app`` with ``config``."""
        return cls(
            app=app,
            loop=loop,
            root_path=config.root_path,
            keepalive_timeout=config.keepalive_timeout,
            access_log=config.access_log,
            limits=Limits(
                max_line=config.limit_request_line,
                max_fields=config.limit_request_fields,
                max_field_size=config.limit_request_field_size,
                max_body=config.limit_request_body,
            ),
            state=state,
            request_header_timeout=config.request_header_timeout,
            limit_concurrency=config.limit_concurrency,
            debug=config.debug,
            server_line=SERVER_LINE if config.server_header else b"",
            extensions=dict(HTTP_EXTENSIONS),
            websocket=WebSocketSettings(
                max_message_size=config.websocket_max_message_size,
                ping_interval=config.websocket_ping_interval,
                ping_timeout=config.websocket_ping_timeout,
                per_message_deflate=config.websocket_per_message_deflate,
                drain_timeout=config.websocket_drain_timeout,
            ),
            proxy=ProxyTrust(config.forwarded_allow_ips) if config.proxy_headers else None,
            access_format=AccessLogFormat(
                config.access_log_format, json=config.log_format == "json"
            ),
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
            durations=[0] * (len(DURATION_BUCKETS) + 1) if config.metrics_bind else None,
        )

    def count_request(self) -> None:
        """One response completed; ask for retirement when the budget is spent."""
        self.requests_served += 1
        if self.requests_served == self.retire_after and self.on_retire is not None:
            self.on_retire()
