"""The asyncio adapter of one HTTP/1.1 connection: transport, flow control, tasks, keep-alive.

All parsing is in ``reader`` and all serialising in ``writer``; this class only moves bytes
between them and the transport, starts one task per request, and applies back-pressure:
reading pauses while a request body waits unread above ``READ_HIGH_WATER`` (and while pipelined
requests queue behind the current one); ``send`` waits while the transport's write buffer is
above its high water mark.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import unquote

from ..asgi import ASGI_VERSION, ASGIMessageError, ClientDisconnected
from ..tls import tls_scope_extension
from .cycle import RequestCycle
from .head import RequestHead
from .reader import CLOSED, END_OF_BODY, NEED_DATA, PAUSED, Body, ProtocolError, RequestReader
from .writer import ResponseWriter, simple_response

if TYPE_CHECKING:
    from ..context import ServerContext

access_log = logging.getLogger("asgi_master.access")
log = logging.getLogger("asgi_master.error")

READ_HIGH_WATER: Final = 64 * 1024
#: while draining, an idle connection this recently used may have a request on its way (the
#: client sent it as we decided to close): closing it now would drop that request
DRAIN_IDLE_GRACE: Final = 0.5
WRITE_HIGH_WATER: Final = 64 * 1024
_RETRY_AFTER: Final = b"retry-after: 1\r\n"
#: how much of a file one os.sendfile call may send (it returns early on a full socket anyway)
_SENDFILE_CHUNK: Final = 1 << 22
#: copy-mode chunk when the transport already holds data (order must be kept)
_COPY_CHUNK: Final = 256 * 1024


def _address(sock: socket.socket | None, peer: bool) -> tuple[str, int] | None:
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return None
    try:
        addr = sock.getpeername() if peer else sock.getsockname()
    except OSError:
        return None
    return (str(addr[0]), int(addr[1]))


class HTTPProtocol(asyncio.Protocol):
    """One client connection speaking HTTP/1.1."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.loop = ctx.loop
        self.reader = RequestReader(ctx.limits)
        self.transport: asyncio.Transport | None = None
        self.cycle: RequestCycle | None = None
        self.write_paused = False
        self.idle_since = self.loop.time()
        #: when the first byte of the request head being read arrived (0: none pending)
        self.head_since = 0.0
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._reading_paused = False
        self._closed = False
        self._client: tuple[str, int] | None = None
        self._server: tuple[str, int | None] | None = None
        self._scheme = "http"
        #: ``scope["extensions"]``: the worker's, plus ``tls`` on a TLS connection
        self._extensions = ctx.extensions

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        sock = transport.get_extra_info("socket")
        self._client = _address(sock, peer=True)
        server = _address(sock, peer=False)
        if server is None and sock is not None and sock.family == socket.AF_UNIX:
            self._server = (str(sock.getsockname()), None)
        else:
            self._server = server
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self._scheme = "https"
            self._extensions = {**self.ctx.extensions, "tls": tls_scope_extension(ssl_object)}
        self.ctx.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self.ctx.connections.discard(self)
        cycle = self.cycle
        if cycle is not None:
            cycle.disconnected = True
            cycle.wake()
        self._wake_drain_waiters()

    def data_received(self, data: bytes) -> None:
        self.idle_since = self.loop.time()
        cycle = self.cycle
        if cycle is not None:
            # the common case of an upload: body data (of a Content-Length body, or inside a
            # chunk) with nothing buffered before it goes to the app as the very bytes object
            # received, uncopied
            body = self.reader.take_body(data)
            if body is not None:
                chunk, data = body
                cycle.add_body(chunk)
                if self.reader.request_complete:
                    cycle.body_complete = True
                if not data:
                    if cycle.body_size > READ_HIGH_WATER:
                        self._pause_reading()
                    return
        self.reader.feed(data)
        self._pump()

    def eof_received(self) -> bool:
        self.reader.feed(b"")
        self._pump()
        # keep our side open: a response may still be owed for what was received
        return True

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._wake_drain_waiters()

    # -- reading --------------------------------------------------------------------------

    def _pump(self) -> None:
        """Turn buffered bytes into request events for as long as they can be acted on."""
        reader = self.reader
        while not self._closed:
            cycle = self.cycle
            if cycle is not None and cycle.body_size > READ_HIGH_WATER:
                self._pause_reading()
                return
            try:
                event = reader.next_event()
            except ProtocolError as exc:
                self._protocol_error(exc)
                return
            if type(event) is Body:
                if cycle is not None:
                    cycle.add_body(event.data)
            elif type(event) is RequestHead:
                self._start_cycle(event)
                if reader.request_complete and not reader.buffered:
                    return
            elif event is END_OF_BODY:
                if cycle is not None:
                    cycle.body_complete = True
                    cycle.wake()
            elif event is NEED_DATA:
                if not self.head_since and reader.head_started:
                    self.head_since = self.loop.time()
                return
            elif event is PAUSED:
                # pipelined requests wait their turn; stop reading once enough are queued
                if reader.buffered > READ_HIGH_WATER:
                    self._pause_reading()
                return
            elif event is CLOSED:
                self.close()
                return

    def _pause_reading(self) -> None:
        if not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._reading_paused and self.transport is not None and not self._closed:
            self._reading_paused = False
            self.transport.resume_reading()

    def body_consumed(self) -> None:
        """The app took the buffered body: read more."""
        if self._reading_paused:
            self._resume_reading()
            self._pump()

    def _protocol_error(self, exc: ProtocolError) -> None:
        log.info("Bad request from %s: %s", self._client, exc.reason)
        cycle = self.cycle
        if cycle is not None:
            cycle.disconnected = True
            cycle.wake()
            if cycle.writer.headers_sent:
                self.close()
                return
        self.send_error(exc.status, exc.reason.encode("utf-8", "replace"))

    # -- request cycles -------------------------------------------------------------------

    def base_scope(self, head: RequestHead) -> dict[str, Any]:
        """The scope keys HTTP and WebSocket share, built from a request head."""
        ctx = self.ctx
        target = head.target
        if target[:1] != b"/":
            target = _origin_form(target)
        raw_path, _, query = target.partition(b"?")
        path = raw_path.decode("ascii")
        if "%" in path:
            path = unquote(path)
        root_path = ctx.root_path
        scope = {
            "type": "http",
            "asgi": ASGI_VERSION,
            "http_version": head.http_version,
            "server": self._server,
            "client": self._client,
            "scheme": self._scheme,
            "root_path": root_path,
            "path": root_path + path if root_path else path,
            "raw_path": root_path.encode("ascii") + raw_path if root_path else raw_path,
            "query_string": query,
            "headers": head.headers,
            "state": ctx.state.copy(),
        }
        if ctx.proxy is not None:
            ctx.proxy.apply(scope)
        return scope

    def _start_cycle(self, head: RequestHead) -> None:
        ctx = self.ctx
        if (
            head.upgrade is not None
            and head.upgrade.lower() == b"websocket"
            and self._start_websocket(head)
        ):
            return
        self.head_since = 0.0
        limit = ctx.limit_concurrency
        if limit and (len(ctx.tasks) >= limit or len(ctx.connections) > limit):
            log.warning("limit_concurrency (%d) reached: 503 to %s", limit, self._client)
            self.send_error(503, b"Service Unavailable", extra=_RETRY_AFTER)
            return
        if ctx.health_paths and self._answer_health(head):
            return
        scope = self.base_scope(head)
        scope["method"] = head.method
        scope["extensions"] = self._extensions
        keep_alive = head.keep_alive and not ctx.draining and ctx.keepalive_timeout > 0
        writer = ResponseWriter(head.method, head.http_version, keep_alive, ctx.server_line)
        cycle = self.cycle = RequestCycle(self, scope, writer, head.expect_continue)
        if not head.content_length and not head.chunked:
            cycle.body_complete = True
        # the cycle removes its own task from ctx.tasks when it ends (no done callback)
        cycle.task = task = self.loop.create_task(cycle.run(ctx.app))
        ctx.tasks.add(task)

    def _start_websocket(self, head: RequestHead) -> bool:
        """Hand the connection to the WebSocket layer; False if it is not available."""
        try:
            from ..ws import start_websocket
        except ImportError:
            return False
        start_websocket(self, head)
        return True

    def detach(self) -> bytes:
        """Give up the connection to another protocol (an upgrade): stop tracking it and
        return the bytes received after the request head."""
        self.ctx.connections.discard(self)
        self._closed = True
        reader = self.reader
        # an upgrade request has no body; reading to its end hands back the bytes after it
        while not reader.request_complete:
            if reader.next_event() is NEED_DATA:
                break
        return reader.take_trailing()

    def _answer_health(self, head: RequestHead) -> bool:
        """Answer a health path without the app; False if ``head`` is not one."""
        ctx = self.ctx
        kind = ctx.health_paths.get(head.target.partition(b"?")[0])
        if kind is None:
            return False
        ok = kind == "live" or (ctx.ready and not ctx.draining)
        keep_alive = head.keep_alive and not ctx.draining and ctx.keepalive_timeout > 0
        writer = ResponseWriter(head.method, head.http_version, keep_alive, ctx.server_line)
        writer.start(
            200 if ok else 503,
            [(b"content-type", b"text/plain; charset=utf-8"), (b"cache-control", b"no-store")],
        )
        self.write(writer.body(b"ok\n" if ok else b"not ready\n", False))
        if ctx.health_access_log and ctx.access_log:
            access_log.info(
                '%s - "%s %s HTTP/%s" %d (health)',
                f"{self._client[0]}:{self._client[1]}" if self._client else "-",
                head.method,
                head.target.decode("ascii", "replace"),
                head.http_version,
                writer.status,
            )
        # called from _pump's loop, which goes on to the next request: do not pump again here
        self._after_response(writer.keep_alive, pump=False)
        return True

    def response_complete(self, cycle: RequestCycle) -> None:
        """The last body part was written: log it, then reuse or close the connection."""
        ctx = self.ctx
        ctx.count_request()
        if ctx.durations is not None:
            ctx.observe(time.monotonic() - cycle.start_time)
        if ctx.access_log:
            self._log_access(cycle)
        self.cycle = None
        self._after_response(cycle.writer.keep_alive)

    def _after_response(self, keep_alive: bool, pump: bool = True) -> None:
        """Reuse the connection for the next request, or close it."""
        if keep_alive and self.reader.request_complete and not self.ctx.draining:
            reader = self.reader
            reader.next_cycle()
            self.idle_since = self.loop.time()
            self._resume_reading()
            # a pipelined request may be waiting, or the client half-closed meanwhile
            if pump and (reader.buffered or reader.eof):
                self._pump()
        else:
            self.close()

    def _log_access(self, cycle: RequestCycle) -> None:
        scope = cycle.scope
        access_format = self.ctx.access_format
        if access_format is not None:
            writer = cycle.writer
            access_log.info(
                "%s",
                access_format.render(
                    scope, writer.status, writer.body_bytes, time.monotonic() - cycle.start_time
                ),
            )
            return
        client = scope["client"]
        query = scope["query_string"]
        access_log.info(
            '%s - "%s %s%s HTTP/%s" %d %d %.1fms',
            f"{client[0]}:{client[1]}" if client else "-",
            scope["method"],
            scope["path"],
            "?" + query.decode("ascii", "replace") if query else "",
            scope["http_version"],
            cycle.writer.status,
            cycle.writer.body_bytes,
            (time.monotonic() - cycle.start_time) * 1000,
        )

    # -- writing --------------------------------------------------------------------------

    def write(self, data: bytes | tuple[bytes, ...]) -> None:
        """Queue bytes (or pieces to send together) on the transport; dropped once the
        connection is closed."""
        if not self._closed and self.transport is not None:
            if isinstance(data, bytes):
                self.transport.write(data)
            else:
                self.transport.writelines(data)

    async def drain(self) -> None:
        """Wait until the transport's write buffer is below its low water mark."""
        if self._closed:
            raise ClientDisconnected("the client has disconnected")
        waiter = self.loop.create_future()
        self._drain_waiters.append(waiter)
        await waiter
        if self._closed:
            raise ClientDisconnected("the client has disconnected")

    def _wake_drain_waiters(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def send_error(
        self,
        status: int,
        reason: bytes,
        *,
        content_type: bytes = b"text/plain; charset=utf-8",
        extra: bytes = b"",
    ) -> None:
        """Answer with a server-made error response and close the connection."""
        body = reason if reason.endswith(b"\n") else reason + b"\n"
        self.write(simple_response(status, body, content_type=content_type, extra=extra))
        self.cycle = None
        self.close()

    async def send_file(self, fd: int, size: int) -> None:
        """Send ``size`` bytes of the open file ``fd`` after what is queued.

        Zero-copy (``os.sendfile`` on the socket) whenever the transport's own buffer is empty,
        so nothing can overtake bytes already queued; otherwise (a slow client, or TLS) it
        copies through the transport under the usual write flow control.
        """
        transport = self.transport
        assert transport is not None
        sock = transport.get_extra_info("socket")
        zero_copy = sock is not None and transport.get_extra_info("sslcontext") is None
        offset = 0
        while offset < size:
            if self._closed:
                raise ClientDisconnected("the client has disconnected")
            if zero_copy and transport.get_write_buffer_size() == 0:
                try:
                    sent = os.sendfile(
                        sock.fileno(), fd, offset, min(size - offset, _SENDFILE_CHUNK)
                    )
                except BlockingIOError:
                    sent = -1
                except OSError as exc:
                    raise ClientDisconnected(f"sendfile failed: {exc.strerror}") from None
                if sent == 0:
                    raise ASGIMessageError(
                        "http.response.pathsend: the file shrank while it was sent"
                    )
                if sent > 0:
                    offset += sent
                    continue
            chunk = os.pread(fd, min(size - offset, _COPY_CHUNK), offset)
            if not chunk:
                raise ASGIMessageError("http.response.pathsend: the file shrank while it was sent")
            self.write(chunk)
            offset += len(chunk)
            if self.write_paused:
                await self.drain()

    def abort(self, reason: str) -> None:
        """Close at once (a failure mid-response, or a forced stop); a response in progress
        is cut short."""
        log.info("Closing connection from %s: %s", self._client, reason)
        self.cycle = None
        if not self._closed and self.transport is not None:
            self._closed = True
            self.transport.abort()

    def close(self) -> None:
        """Close after what is queued has been written."""
        if not self._closed and self.transport is not None:
            self._closed = True
            self.transport.close()

    # -- worker control -------------------------------------------------------------------

    def shutdown(self) -> None:
        """Graceful drain: the response in flight (or the next request, if one is already on
        its way) is answered with ``connection: close``; idle connections are closed by
        ``close_if_idle`` once they have been idle for ``DRAIN_IDLE_GRACE``."""
        cycle = self.cycle
        if cycle is not None:
            # effective while the headers are still held; after that response_complete closes
            cycle.writer.keep_alive = False
        else:
            self.close_if_idle(self.loop.time(), DRAIN_IDLE_GRACE)

    def close_if_idle(self, now: float, idle_for: float) -> None:
        """Close the connection if no request is in progress and nothing has arrived for
        ``idle_for`` seconds; a request head slower than ``request_header_timeout`` gets 408."""
        if self.cycle is not None:
            return
        head_since = self.head_since
        if head_since and now - head_since > self.ctx.request_header_timeout:
            log.info(
                "Request head from %s not complete after %.0fs: 408", self._client, now - head_since
            )
            self.send_error(408, b"Request Timeout")
        elif now - self.idle_since >= idle_for and not head_since:
            self.close()


def _origin_form(target: bytes) -> bytes:
    """The path and query of an absolute-form target (``http://host/p?q`` -> ``/p?q``)."""
    scheme_end = target.find(b"://")
    if scheme_end < 0:
        return target
    slash = target.find(b"/", scheme_end + 3)
    return target[slash:] if slash >= 0 else b"/"
