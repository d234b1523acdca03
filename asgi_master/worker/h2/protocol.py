"""The asyncio adapter of one HTTP/2 connection: the transport, an app task per stream, write
flow control, the timers and the worker's drain.

What the connection decides is the sans-IO core's (``connection.Connection``): this class feeds
it the transport's bytes and the time and acts on its events. A request stream runs on the one
protocol-agnostic ``RequestCycle`` (worker/cycle.py), whose ``Stream`` is an ``H2Stream``
(request_stream.py); a WebSocket stream (RFC 8441) runs on the WebSocket layer, with the stream
as its transport (websocket.py).

Writes: bytes the core produces while it reads are written at the end of ``data_received``;
bytes the apps produce are written once per turn of the event loop (``schedule_flush``), so the
responses of many streams leave together, or at once past ``FLUSH_NOW`` bytes, so that the
transport's back-pressure reaches an app sending in a loop before it has queued more. Reading
pauses while the transport's write buffer is above its high water mark: a client that sends
requests (or pings) and reads nothing fills its own socket, not our memory. The worker's sweep
(``close_if_idle``, once a second) drives the core's timers (``tick``), ``shutdown`` the RFC
9113 6.8 drain, ``abort`` the hard close.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, cast

from ..accesslog import unparsed_request_scope
from ..cycle import RequestCycle
from ..flow import WriteGate
from ..http.writer import DATE
from ..scope import ConnectionInfo, request_scope
from .compression import encode_field
from .connection import Connection
from .errors import ENHANCE_YOUR_CALM, NO_ERROR, error_name
from .events import (
    ConnectionTerminated,
    Event,
    RequestBody,
    RequestEnded,
    RequestReceived,
    RequestRefused,
    StreamReset,
    StreamWritable,
)
from .request_stream import H2Stream

if TYPE_CHECKING:
    from ..context import WorkerState
    from .request import RequestHead
    from .streams import ServerStream
    from .websocket import StreamTransport

log = logging.getLogger("asgi_master.error")

_RETRY_AFTER: Final = (encode_field(b"retry-after", b"1"),)
#: the apps' bytes are written at once, not at the end of the turn, past this much: the
#: transport must see them (and say ``pause_writing``) before an app that sends in a loop
#: without waiting has queued more
FLUSH_NOW: Final = 64 * 1024


def date_value() -> bytes:
    """The ``date`` value of responses now (HTTP/1.1's, cached per second)."""
    return DATE.get()[6:-2]


class H2Protocol(asyncio.Protocol):
    """One client connection speaking HTTP/2 (taken over from ``HTTPProtocol``)."""

    def __init__(
        self, worker: WorkerState, transport: asyncio.Transport, info: ConnectionInfo
    ) -> None:
        self.worker = worker
        settings = self.settings = worker.settings
        assert settings.http2 is not None
        loop = self.loop = worker.loop
        self.transport = transport
        self.info = info
        client = info.client
        self.peer = f"{client[0]}:{client[1]}" if client else "a client"
        defaults = settings.response_defaults
        self.conn = Connection(
            settings.http2, loop.time(), fields=defaults.fields(), peer=self.peer
        )
        #: responses carry a ``date`` (``date_header``)
        self._dated = defaults.date
        if self._dated:
            self.conn.set_date(date_value())
        #: request streams whose response is not over, by id
        self.requests: dict[int, H2Stream] = {}
        #: WebSocket streams, by id
        self.websockets: dict[int, StreamTransport] = {}
        self.gate = WriteGate(loop)
        #: the transport's buffer is above its high water mark
        self.write_paused = False
        #: the transport is closing or gone: nothing more is written
        self.closed = False
        #: the transport is gone (``connection_lost``)
        self._lost = False
        #: the worker drains: this connection is going away (RFC 9113 6.8)
        self.draining = False
        self._flush_scheduled = False
        #: bytes of the apps' DATA given to the core since the last write
        self.unflushed = 0

    def start(self, data: bytes, events: Sequence[Event] = ()) -> None:
        """Take the transport over (from ``HTTPProtocol``) with the bytes it already read;
        ``events``: what the core made of an ``Upgrade: h2c`` request (its stream 1)."""
        self.worker.connections.add(self)
        self.transport.set_protocol(self)
        if events:
            self._handle(list(events))
        if data:
            self.data_received(data)
        else:
            self._flush()  # our SETTINGS, the server's connection preface

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Not called: the transport is handed over by ``set_protocol``."""

    def data_received(self, data: bytes) -> None:
        events = self.conn.receive_data(data, self.loop.time())
        if events:
            self._handle(events)
        self._flush()

    def eof_received(self) -> bool:
        # the client will send nothing more; what it asked for is still answered: the core
        # closes once the streams in flight are done (as in a drain)
        if not self.conn.streams:
            return False
        self._handle(self.conn.start_drain(self.loop.time()))
        self._flush()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = self._lost = True
        self.worker.connections.discard(self)
        self.gate.close()
        self._handle(self.conn.connection_lost(), lost=True)

    def pause_writing(self) -> None:
        self.write_paused = True
        self.gate.pause()
        for stream in self.requests.values():
            stream.write_paused = True
        for websocket in self.websockets.values():
            websocket.pause_writing()
        if not self.closed:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self.gate.resume()
        for stream in list(self.requests.values()):
            stream.writable()
        for websocket in list(self.websockets.values()):
            websocket.writable()
        if not self.closed:
            self.transport.resume_reading()

    # -- the core's events ----------------------------------------------------------------

    def _handle(self, events: list[Event], lost: bool = False) -> None:
        """Act on the core's events, in order. ``lost``: the transport is gone (streams it
        ends are disconnected, not cancelled: as on HTTP/1.1)."""
        requests = self.requests
        for event in events:
            kind = type(event)
            if kind is RequestReceived:
                self._request(cast(RequestReceived, event))
            elif kind is RequestBody:
                event = cast(RequestBody, event)
                stream = requests.get(event.stream_id)
                if stream is not None:
                    assert stream.cycle is not None
                    stream.cycle.add_body(event.data)
                elif event.stream_id in self.websockets:
                    self.websockets[event.stream_id].received(event.data)
            elif kind is RequestEnded:
                stream_id = cast(RequestEnded, event).stream_id
                stream = requests.get(stream_id)
                if stream is not None:
                    assert stream.cycle is not None
                    stream.cycle.end_body()
                elif stream_id in self.websockets:
                    self.websockets[stream_id].ended()
            elif kind is StreamWritable:
                stream_id = cast(StreamWritable, event).stream_id
                stream = requests.get(stream_id)
                if stream is not None:
                    stream.writable()
                elif stream_id in self.websockets:
                    self.websockets[stream_id].writable()
            elif kind is StreamReset:
                event = cast(StreamReset, event)
                stream = requests.get(event.stream_id)
                if stream is not None:
                    stream.reset(cancel=event.by_peer and not lost)
                websocket = self.websockets.get(event.stream_id)
                if websocket is not None:
                    websocket.reset()
            elif kind is RequestRefused:
                self._log_refused(cast(RequestRefused, event))
            else:
                self._terminated(cast(ConnectionTerminated, event))

    def _request(self, event: RequestReceived) -> None:
        core = event.stream
        head = event.head
        worker = self.worker
        settings = self.settings
        if settings.limit_concurrency and worker.over_capacity():
            log.warning(
                "limit_concurrency (%d) reached: 503 to %s",
                settings.limit_concurrency,
                self.peer,
            )
            core.refuse_request(503, "Service Unavailable", _RETRY_AFTER)
            self.log_own(head, core)
            return
        if head.protocol is not None:
            from .websocket import start_websocket  # (the first loads WebSocket: ws/__init__)

            start_websocket(self, core, head)
            return
        if settings.health_paths and self._answer_health(core, head):
            return
        scope = self.scope_for(head)
        scope["method"] = head.method
        scope["extensions"] = self.info.extensions
        stream = H2Stream(self, core)
        cycle = stream.cycle = RequestCycle(scope, stream, worker, not event.end_stream)
        self.requests[core.stream_id] = stream
        self.run_cycle(cycle)

    def run_cycle(self, cycle: RequestCycle) -> None:
        """Start the app for one request: the one place where this connection creates the
        task of a request (the cycle takes it out of the worker's tasks when it ends), in a
        fresh copy of the worker's base context like every app task (request isolation)."""
        worker = self.worker
        cycle.task = worker.start_task(cycle.run(worker.app))

    def scope_for(self, head: RequestHead) -> dict[str, object]:
        """The scope keys HTTP and WebSocket share, for a request of this connection (the
        headers copied: the core shares heads between identical requests)."""
        return request_scope(
            self.settings, self.info, self.worker.state, head.target, "2", list(head.headers)
        )

    def _answer_health(self, core: ServerStream, head: RequestHead) -> bool:
        """Answer a health path without the app; False if ``head`` is not one."""
        answer = self.worker.health_answer(head.raw_path)
        if answer is None:
            return False
        core.start(answer[0], answer[1], False)
        core.body(answer[2], False)
        access = self.settings.access_log
        if access is not None and access.health:
            scope = self.scope_for(head)
            scope["method"] = head.method
            access.response(scope, core.status, core.response_bytes, 0.0)
        return True

    def log_own(self, head: RequestHead, core: ServerStream) -> None:
        """Count and log a response the server made to a request the app never had."""
        self.worker.response_done(0.0)
        access = self.settings.access_log
        if access is not None:
            scope = self.scope_for(head)
            scope["method"] = head.method
            access.response(scope, core.status, core.response_bytes, 0.0)

    def _log_refused(self, event: RequestRefused) -> None:
        log.info(
            "Bad request from %s on HTTP/2 stream %d: %s",
            self.peer,
            event.stream_id,
            event.reason,
        )
        self.worker.response_done(0.0)
        access = self.settings.access_log
        if access is not None:
            scope = unparsed_request_scope(self.info.client)
            scope["http_version"] = "2"
            # the body is the reason's line (refuse_request)
            size = len(event.reason.encode("utf-8", "replace")) + 1
            access.response(scope, event.status, size, 0.0)

    def _terminated(self, event: ConnectionTerminated) -> None:
        """The core ended the connection: write its last frames (GOAWAY), then close."""
        if not event.by_peer and event.error_code not in (NO_ERROR, ENHANCE_YOUR_CALM):
            # (abuse is logged by the core's guard, once)
            log.info(
                "HTTP/2 connection from %s closed: %s (GOAWAY %s)",
                self.peer,
                event.reason,
                error_name(event.error_code),
            )
        self._flush()
        self._close()

    # -- writing --------------------------------------------------------------------------

    def schedule_flush(self) -> None:
        """Write what the core holds at the end of this turn of the event loop (the streams'
        sends of one turn leave in one write), or now if the apps gave ``FLUSH_NOW`` bytes."""
        if self.unflushed >= FLUSH_NOW:
            self.flush_now()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._deferred_flush)

    def _deferred_flush(self) -> None:
        self._flush_scheduled = False
        self.flush_now()

    def flush_now(self) -> None:
        """Write what the core holds, after acting on what the streams' calls raised (one may
        have ended a draining connection: its last stream closed)."""
        events = self.conn.take_events()
        if events:
            self._handle(events)
        self._flush()

    def _flush(self) -> None:
        self.unflushed = 0
        pieces = self.conn.pieces_to_send()
        if pieces and not self.closed:
            self.transport.writelines(pieces)

    def _close(self) -> None:
        """Close after what is queued has been written."""
        if not self.closed:
            self.closed = True
            self.gate.close()
            self.transport.close()

    # -- worker control (context.Connection) ----------------------------------------------

    def shutdown(self) -> None:
        """Graceful drain (RFC 9113 6.8): GOAWAY, a PING round trip, the last GOAWAY; the
        streams in flight finish, then the connection closes. WebSockets close with 1012 or
        1001, as on HTTP/1.1."""
        self.draining = True
        events = self.conn.start_drain(self.loop.time())
        for websocket in list(self.websockets.values()):
            websocket.shutdown()
        if events:
            self._handle(events)
        self._flush()

    def close_if_idle(self, now: float, idle_for: float) -> None:
        """The worker's sweep: the slow-body rule on every request stream (``408`` on the
        stream, the connection goes on), and the core's timers (keep-alive PINGs,
        ``http2_idle_timeout``, the drain's PING wait), which take the place of HTTP/1.1's
        ``idle_for``."""
        for stream in list(self.requests.values()):
            cycle = stream.cycle
            if cycle is not None:
                cycle.enforce_body_rate(now)
        conn = self.conn
        if self._dated:
            conn.set_date(date_value())
        events = conn.tick(now)
        if events:
            self._handle(events)
        self._flush()

    def abort(self, reason: str) -> None:
        """Close at once (a stop out of time): GOAWAY, then the transport is cut."""
        log.info("Closing HTTP/2 connection from %s: %s", self.peer, reason)
        self._handle(self.conn.close(reason), lost=True)
        self._flush()
        self.closed = True
        self.gate.close()
        if not self._lost:
            self.transport.abort()
