"""The asyncio adapter of one HTTP/1.1 connection: the transport, the app's task per request,
write flow control, and the access log.

What the connection decides is in ``connection.HTTPConnection`` (sans-IO): this class feeds it
the transport's bytes and the time, acts on its events (start a request's cycle, hand body to
it, hand the connection over to WebSocket, answer an error), and is the ``Stream`` of the
current request's ``RequestCycle``: the app's response goes through it to the connection's
serialiser and onto the transport. ``send`` waits while the transport's write buffer is above
its high water mark (``WriteGate``); reading pauses when the connection says so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol, cast

from ..accesslog import unparsed_request_scope
from ..asgi import ClientDisconnected
from ..cycle import RequestCycle
from ..flow import WriteGate
from ..scope import ConnectionInfo, request_scope
from .connection import (
    CLOSE,
    CLOSED,
    END_OF_BODY,
    NEED_DATA,
    NEXT,
    PAUSED,
    Body,
    ConnectionState,
    HTTPConnection,
    PriorKnowledge,
    Rejected,
    Upgrade,
)
from .head import RequestHead
from .sendfile import send_file

if TYPE_CHECKING:
    from ..context import WorkerState
    from ..proxyproto import ProxyHeader

log = logging.getLogger("asgi_master.error")

#: while draining, an idle connection this recently used may have a request on its way (the
#: client sent it as we decided to close): closing it now would drop that request
DRAIN_IDLE_GRACE: Final = 0.5
WRITE_HIGH_WATER: Final = 64 * 1024
_RETRY_AFTER: Final = b"retry-after: 1\r\n"
_REQUEST: Final = ConnectionState.REQUEST
_CLOSE: Final = CLOSE
_NEXT: Final = NEXT
_UPGRADED: Final = ConnectionState.UPGRADED


class UpgradeHandler(Protocol):
    """Takes over a connection whose request asks for its protocol (``Upgrade: <token>``): it
    calls ``http.detach()`` and moves the transport on, answers ``http.refuse_request``, or
    declines (the request is served as an ordinary one)."""

    def __call__(self, http: HTTPProtocol, head: RequestHead) -> None: ...


class HTTPProtocol(asyncio.Protocol):
    """One client connection speaking HTTP/1.1, and the stream of its current request."""

    __slots__ = (
        "_closed",
        "_gate",
        "_proxy_header",
        "_reading",
        "_upgrades",
        "conn",
        "cycle",
        "info",
        "loop",
        "settings",
        "transport",
        "worker",
        "write_paused",
    )

    def __init__(
        self,
        worker: WorkerState,
        upgrades: Mapping[bytes, UpgradeHandler] | None = None,
        proxy_header: ProxyHeader | None = None,
    ) -> None:
        self.worker = worker
        self._proxy_header = proxy_header  # the PROXY header it began with: its addresses
        settings = self.settings = worker.settings
        loop = self.loop = worker.loop
        self._upgrades = upgrades or {}
        self.conn = HTTPConnection(
            settings.limits,
            loop.time(),
            keep_alive=settings.keepalive_timeout > 0,
            upgrades=self._upgrades,
            defaults=settings.response_defaults,
            http2_preface=worker.http2_handover is not None,
        )
        self.transport: asyncio.Transport | None = None
        self.info = ConnectionInfo(None, None, "http", settings.extensions)
        self.cycle: RequestCycle | None = None
        #: the transport asked us to stop writing (``Stream.write_paused``)
        self.write_paused = False
        self._gate = WriteGate(loop)
        self._reading = True
        #: the transport is closing or was given away: nothing more is written
        self._closed = False

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        self.info = ConnectionInfo.of(transport, self.settings.extensions, self._proxy_header)
        worker = self.worker
        worker.connections.add(self)
        if worker.http2_handover and (self.info.alpn == "h2" or self.settings.http2_only):
            worker.http2_handover(self)  # HTTP/2 from the start: it calls detach()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        if self.conn.state is not _UPGRADED:
            self.conn.close()
        self.worker.connections.discard(self)
        cycle = self.cycle
        if cycle is not None:
            cycle.disconnect()
        self._gate.close()

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        cycle = self.cycle
        if cycle is not None:
            # the common case of an upload: body data (of a Content-Length body, or inside a
            # chunk) with nothing buffered before it goes to the app as the very bytes object
            # received, uncopied
            taken = conn.take_body(data)
            if taken is not None:
                chunk, data, ended = taken
                cycle.add_body(chunk)
                if ended:
                    cycle.end_body()
                if not data:
                    if not conn.reading:
                        self._sync_reading()
                    return
        conn.receive_data(data, self.loop.time())
        self._pump()

    def eof_received(self) -> bool:
        self.conn.receive_data(b"", self.loop.time())
        self._pump()
        # keep our side open: a response may still be owed for what was received
        return True

    def pause_writing(self) -> None:
        self.write_paused = True
        self._gate.pause()

    def resume_writing(self) -> None:
        self.write_paused = False
        self._gate.resume()

    # -- reading --------------------------------------------------------------------------

    def _pump(self) -> None:
        """Act on the connection's events for as long as there are any."""
        conn = self.conn
        while True:
            event = conn.next_event()
            if isinstance(event, RequestHead):
                self._start(event)
                if conn.head_alone:
                    break  # the common request without a body: nothing more to do now
            elif isinstance(event, Body):
                assert self.cycle is not None
                self.cycle.add_body(event.data)
            elif event is END_OF_BODY:
                assert self.cycle is not None
                self.cycle.end_body()
            elif event is NEED_DATA or event is PAUSED:
                break
            elif event is CLOSED:
                self._close()
                return
            elif isinstance(event, Upgrade):
                self._upgrade(event.head)
                return
            elif isinstance(event, PriorKnowledge):
                self.worker.http2_handover(self)  # type: ignore[misc]  # (set, or no such event)
                return
            else:
                self._rejected(event)
                return
        if conn.reading is not self._reading:
            self._sync_reading()

    def _sync_reading(self) -> None:
        """Pause or resume the transport's reading as the connection wants."""
        want = self.conn.reading
        if want is self._reading or self._closed or self.transport is None:
            return
        self._reading = want
        if want:
            self.transport.resume_reading()
        else:
            self.transport.pause_reading()

    def _rejected(self, event: Rejected) -> None:
        log.info("Bad request from %s: %s", self.info.client, event.reason)
        cycle = self.cycle
        conn = self.conn
        if cycle is None:
            self._log_refusal()
        else:
            cycle.disconnect()
            self.cycle = None
            # the error response, or what left of the app's (cut off by the close)
            if event.response or conn.response_started:
                self._log(cycle)
        self._write(event.response)
        self._close()

    # -- requests -------------------------------------------------------------------------

    def scope_for(self, head: RequestHead) -> dict[str, Any]:
        """The scope keys HTTP and WebSocket share, for a request head of this connection."""
        return request_scope(
            self.settings,
            self.info,
            self.worker.state,
            head.target,
            head.http_version,
            head.headers,
        )

    def _start(self, head: RequestHead) -> None:
        worker = self.worker
        settings = self.settings
        if settings.limit_concurrency and worker.over_capacity():
            log.warning(
                "limit_concurrency (%d) reached: 503 to %s",
                self.settings.limit_concurrency,
                self.info.client,
            )
            self.refuse_request(503, b"Service Unavailable", head, extra=_RETRY_AFTER)
            return
        if settings.health_paths and self._answer_health(head):
            return
        scope = request_scope(
            settings, self.info, worker.state, head.target, head.http_version, head.headers
        )
        scope["method"] = head.method
        scope["extensions"] = self.info.extensions
        has_body = bool(head.content_length or head.chunked)
        cycle = self.cycle = RequestCycle(scope, self, worker, has_body)
        # a fresh context (start_task); the cycle removes its own task from worker.tasks
        cycle.task = worker.start_task(cycle.run(worker.app))

    def _upgrade(self, head: RequestHead) -> None:
        if self.worker.over_capacity():
            log.warning(
                "limit_concurrency (%d) reached: 503 to an upgrade from %s",
                self.settings.limit_concurrency,
                self.info.client,
            )
            self.refuse_request(503, b"Service Unavailable", head, extra=_RETRY_AFTER)
            return
        assert head.upgrade is not None
        self._upgrades[head.upgrade.lower()](self, head)
        if not self._closed:  # declined (as a server may): served as an ordinary request
            self._start(head)
            self._pump()

    def detach(self) -> bytes:
        """Give up the connection to another protocol (an upgrade, or HTTP/2): stop tracking
        it and return the bytes received after the request head (all, for HTTP/2)."""
        self.worker.connections.discard(self)
        self._closed = True
        return self.conn.upgrade()

    def refuse_request(
        self, status: int, body: bytes, head: RequestHead | None = None, extra: bytes = b""
    ) -> None:
        """Answer a request without the app (an error of the server's), then close."""
        data = self.conn.refuse(status, body, extra=extra)
        self._log_refusal(head)
        self._write(data)
        self._close()

    def _answer_health(self, head: RequestHead) -> bool:
        """Answer a health path without the app; False if ``head`` is not one."""
        answer = self.worker.health_answer(head.target.partition(b"?")[0])
        if answer is None:
            return False
        conn = self.conn
        conn.start_response(answer[0], answer[1])
        self._write(conn.send_body(answer[2], False))
        access = self.settings.access_log
        if access is not None and access.health:
            access.response(self.scope_for(head), conn.response_status, conn.response_bytes, 0.0)
        # called from _pump's loop, which goes on to the next request
        if conn.response_complete(self.loop.time()) is _CLOSE:
            self._close()
        else:
            self._sync_reading()
        return True

    # -- the Stream of the current request (stream.py) ------------------------------------

    def early_hint(self, links: Sequence[bytes]) -> None:
        self._write(self.conn.early_hint(links))

    def start(self, status: int, headers: Iterable[Iterable[bytes]], trailers: bool) -> None:
        self.conn.start_response(status, headers, trailers)

    def body(self, data: bytes, more: bool) -> None:
        data_out = self.conn.send_body(data, more)
        # (the hot path: _write written out)
        if not self._closed and self.transport is not None:
            if isinstance(data_out, bytes):
                self.transport.write(data_out)
            else:
                self.transport.writelines(data_out)

    def trailers(self, headers: Iterable[Iterable[bytes]], more: bool) -> None:
        data = self.conn.send_trailers(headers, more)
        if data:
            self._write(data)

    async def file(self, fd: int, size: int) -> None:
        conn = self.conn
        self._write(conn.file_head(size))
        if conn.file_body_wanted:
            await send_file(self, fd, size)

    def send_continue(self) -> None:
        data = self.conn.send_continue()
        if data:
            self._write(data)

    def body_consumed(self, size: int) -> None:
        conn = self.conn
        conn.body_consumed(size)
        if conn.reading and not self._reading:
            self._sync_reading()
            self._pump()

    def complete(self) -> None:
        """The last body part was written: log it, then reuse or close the connection."""
        cycle = self.cycle
        conn = self.conn
        if cycle is not None:
            self.cycle = None
            # (the hot path: _log written out)
            worker = self.worker
            access = self.settings.access_log
            if access is None and worker.durations is None:
                worker.response_done(None)
            else:
                duration = time.monotonic() - cycle.start_time
                worker.response_done(duration)
                if access is not None:
                    access.response(
                        cycle.scope, conn.response_status, conn.response_bytes, duration
                    )
        after = conn.response_complete(self.loop.time())
        if after is _CLOSE:
            self._close()
            return
        if not self._reading:
            self._sync_reading()
        if after is _NEXT:
            # a pipelined request is waiting, or the client half-closed meanwhile
            self._pump()

    def refuse(self, status: int, body: bytes, content_type: bytes) -> None:
        data = self.conn.refuse(status, body, content_type)
        cycle = self.cycle
        if cycle is not None:
            self.cycle = None
            self._log(cycle)
        self._write(data)
        self._close()

    async def drain(self) -> None:
        if self._closed or not await self._gate.wait():
            raise ClientDisconnected("the client has disconnected")

    # -- writing --------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """The transport is closing or was given away: nothing more is written."""
        return self._closed

    def write(self, data: bytes) -> None:
        """Queue bytes on the transport (``sendfile.FileSink``)."""
        self._write(data)

    def _write(self, data: bytes | tuple[bytes, ...]) -> None:
        """Queue bytes (or pieces to send together) on the transport; dropped once the
        connection is closed."""
        if not self._closed and self.transport is not None:
            if isinstance(data, bytes):
                self.transport.write(data)
            else:
                self.transport.writelines(data)

    # -- the access log -------------------------------------------------------------------

    def _log(self, cycle: RequestCycle) -> None:
        """Count and log the response (the app's, or the server's instead) to a request the
        app had."""
        worker = self.worker
        access = self.settings.access_log
        if access is None and worker.durations is None:
            worker.response_done(None)  # nobody wants the time
            return
        duration = time.monotonic() - cycle.start_time
        worker.response_done(duration)
        if access is not None:
            conn = self.conn
            access.response(cycle.scope, conn.response_status, conn.response_bytes, duration)

    def _log_refusal(self, head: RequestHead | None = None) -> None:
        """Count and log a response the server made to a request the app never had."""
        self.worker.response_done(0.0)
        access = self.settings.access_log
        if access is None:
            return
        if head is not None:
            scope = self.scope_for(head)
            scope["method"] = head.method
        else:
            scope = unparsed_request_scope(self.info.client)
        conn = self.conn
        access.response(scope, conn.response_status, conn.response_bytes, 0.0)

    # -- closing and worker control -------------------------------------------------------

    def _close(self) -> None:
        """Close after what is queued has been written."""
        if not self._closed and self.transport is not None:
            self._closed = True
            self._gate.close()
            self.transport.close()

    def abort(self, reason: str) -> None:
        """Close at once (a failure mid-response, or a forced stop); a response in progress
        is cut short."""
        log.info("Closing connection from %s: %s", self.info.client, reason)
        cycle = self.cycle
        conn = self.conn
        if cycle is not None and conn.state is _REQUEST and conn.response_started:
            # what left of it is logged, with the status it went out with
            self.cycle = None
            self._log(cycle)
        if conn.state is not _UPGRADED:
            conn.close()
        if not self._closed and self.transport is not None:
            self._closed = True
            self._gate.close()
            self.transport.abort()

    def shutdown(self) -> None:
        """Graceful drain: the response in flight (or the next request, if one is already on
        its way) is answered with ``connection: close``; an idle connection is closed by
        ``close_if_idle`` once it has been idle for ``DRAIN_IDLE_GRACE``."""
        self.conn.shutdown()
        if self.conn.state is not _REQUEST:
            self.close_if_idle(self.loop.time(), DRAIN_IDLE_GRACE)

    def close_if_idle(self, now: float, idle_for: float) -> None:
        """Close the connection if no request is in progress and nothing has arrived for
        ``idle_for`` seconds; a request head slower than ``request_header_timeout`` gets 408."""
        if self.cycle is not None:
            self.cycle.enforce_body_rate(now)  # a body slower than the slow-body rule: 408
        conn = self.conn
        verdict = conn.idle_verdict(now, idle_for, self.settings.request_header_timeout)
        if verdict is None:
            return
        if type(verdict) is Rejected:
            log.info(
                "Request head from %s not complete after %.0fs: 408",
                self.info.client,
                now - conn.head_since,
            )
            assert isinstance(verdict, Rejected)
            self._log_refusal()
            self._write(verdict.response)
        self._close()
