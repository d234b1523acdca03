"""The connection-level half of the HTTP/2 core: SETTINGS, PING and GOAWAY frames, the timers
(keep-alive PINGs, idle and settings timeouts, the shutdown's PING wait) and the ways a
connection ends. ``Connection`` (connection.py) builds on it with the streams' frames.

A graceful shutdown is RFC 9113 6.8's: a first GOAWAY naming stream 2^31-1 tells the client
to open no more streams while those already on the wire are still taken; a PING follows it,
and when its answer comes back (or ``drain_ping_timeout`` passes) every stream the client
opened before seeing the GOAWAY has arrived, so a second GOAWAY names the last stream taken.
Streams in flight finish; the connection ends when the last one does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, cast

from .abuse import Abuse, AbuseGuard
from .compression import encode_field
from .errors import (
    CANCEL,
    FLOW_CONTROL_ERROR,
    FRAME_SIZE_ERROR,
    NO_ERROR,
    PROTOCOL_ERROR,
    SETTINGS_TIMEOUT,
    H2ConnectionError,
    H2StreamError,
    error_name,
)
from .events import ConnectionTerminated, Event, RequestReceived, StreamReset, StreamWritable
from .frames import (
    ACK,
    DEFAULT_MAX_FRAME_SIZE,
    DEFAULT_WINDOW,
    ENABLE_CONNECT_PROTOCOL,
    ENABLE_PUSH,
    INITIAL_WINDOW_SIZE,
    LARGEST_MAX_FRAME_SIZE,
    MAX_CONCURRENT_STREAMS,
    MAX_FRAME_SIZE,
    MAX_HEADER_LIST_SIZE,
    MAX_STREAM_ID,
    MAX_WINDOW,
    SETTINGS_ACK,
    goaway_frame,
    parse_settings,
    ping_frame,
    settings_frame,
    unpack_u32,
    window_update_frame,
)
from .request import read_request_head
from .state import ConnectionEvent, ConnectionState, ResponseState, connection_transition
from .streams import ServerStream

if TYPE_CHECKING:
    from .connection import Connection
    from .limits import ConnectionLimits
    from .outbox import Outbox

#: the opaque data of our PINGs: the one behind a shutdown's first GOAWAY, and keep-alive ones
DRAIN_PING: Final = b"drain\x00\x00\x00"
KEEPALIVE_PING: Final = b"alive\x00\x00\x00"
_OPEN: Final = ConnectionState.OPEN
_GOING_AWAY: Final = ConnectionState.GOING_AWAY
_DRAINING: Final = ConnectionState.DRAINING
_CLOSED: Final = ConnectionState.CLOSED
_RESPONSE_DONE: Final = ResponseState.DONE
_PREFACE_STATES: Final = frozenset(
    {ConnectionState.AWAITING_PREFACE, ConnectionState.AWAITING_SETTINGS}
)


class ControlFrames:
    """SETTINGS, PING, GOAWAY, timers and endings of a connection (see module docstring)."""

    # set up by Connection.__init__
    limits: ConnectionLimits
    state: ConnectionState
    outbox: Outbox
    streams: dict[int, ServerStream]
    guard: AbuseGuard
    highest_stream_id: int
    local_initial_window: int
    peer_initial_window: int
    #: the client's SETTINGS_MAX_HEADER_LIST_SIZE (advisory; None: not sent)
    peer_max_header_list_size: int | None
    _events: list[Event]
    _last_taken: int
    _now: float
    _created: float
    _idle_since: float
    _last_received: float
    _ping_sent: float | None
    _drain_started: float
    #: a drain asked for before the client's SETTINGS: when (None: none asked for)
    _drain_pending: float | None = None
    _settings_sent: float | None
    _block_head: tuple[int, int, int] | None

    def _count(self, kind: Abuse) -> None:
        raise NotImplementedError

    def take_events(self) -> list[Event]:
        raise NotImplementedError

    # -- output ----------------------------------------------------------------------------

    def set_date(self, value: bytes) -> None:
        """The ``date`` value responses carry (the adapter refreshes it once a second)."""
        self.outbox.date_field = encode_field(b"date", value)

    def data_to_send(self) -> bytes:
        """The bytes to write to the transport now."""
        return self.outbox.take()

    def pieces_to_send(self) -> list[bytes | memoryview]:
        """The same, as pieces for ``transport.writelines`` (large DATA not copied)."""
        return self.outbox.take_pieces()

    # -- frames ----------------------------------------------------------------------------

    def _send_settings(self) -> None:
        """The server's connection preface: our SETTINGS, and the connection window opened
        beyond the default."""
        limits = self.limits
        settings = [
            (MAX_CONCURRENT_STREAMS, limits.max_concurrent_streams),
            (MAX_HEADER_LIST_SIZE, limits.max_header_list_size),
        ]
        if limits.initial_window_size != DEFAULT_WINDOW:
            settings.append((INITIAL_WINDOW_SIZE, limits.initial_window_size))
        if limits.max_frame_size != DEFAULT_MAX_FRAME_SIZE:
            settings.append((MAX_FRAME_SIZE, limits.max_frame_size))
        if limits.connect_protocol:
            settings.append((ENABLE_CONNECT_PROTOCOL, 1))
        self.outbox.pieces.append(settings_frame(settings))
        if limits.connection_window > DEFAULT_WINDOW:
            extra = limits.connection_window - DEFAULT_WINDOW
            self.outbox.pieces.append(window_update_frame(0, extra))

    def _on_settings(self, flags: int, stream_id: int, payload: bytes) -> None:
        if stream_id:
            raise H2ConnectionError(PROTOCOL_ERROR, "SETTINGS on a stream")
        if flags & ACK:
            if payload:
                raise H2ConnectionError(FRAME_SIZE_ERROR, "SETTINGS acknowledgement with a payload")
            self._settings_acknowledged()
            return
        if len(payload) % 6:
            raise H2ConnectionError(FRAME_SIZE_ERROR, "SETTINGS length not a multiple of 6")
        if self.state is ConnectionState.AWAITING_SETTINGS:
            self.state = connection_transition(self.state, ConnectionEvent.SETTINGS)
            if self._drain_pending is not None:
                self._begin_drain(self._now)  # asked for before the client spoke
        else:
            self._count(Abuse.SETTINGS_FLOOD)
        flush = self._apply_settings(payload)
        outbox = self.outbox
        outbox.pieces.append(SETTINGS_ACK)
        if flush and outbox.blocked:
            self.flush()

    def _apply_settings(self, payload: bytes) -> bool:
        """Take the client's settings; True if they opened send windows or frames."""
        outbox = self.outbox
        flush = False
        for key, value in parse_settings(payload):
            if key == INITIAL_WINDOW_SIZE:
                if value > MAX_WINDOW:
                    raise H2ConnectionError(FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE above 2^31-1")
                delta = value - self.peer_initial_window
                self.peer_initial_window = value
                for stream in self.streams.values():
                    stream.send_window += delta
                    if stream.send_window > MAX_WINDOW:
                        raise H2ConnectionError(FLOW_CONTROL_ERROR, "a stream window above 2^31-1")
                flush = flush or delta > 0
            elif key == MAX_FRAME_SIZE:
                if not DEFAULT_MAX_FRAME_SIZE <= value <= LARGEST_MAX_FRAME_SIZE:
                    raise H2ConnectionError(PROTOCOL_ERROR, f"MAX_FRAME_SIZE {value}")
                flush = flush or value > outbox.max_frame
                outbox.max_frame = value
            elif key in (ENABLE_PUSH, ENABLE_CONNECT_PROTOCOL):
                if value > 1:
                    raise H2ConnectionError(PROTOCOL_ERROR, f"setting {key} of {value}")
            elif key == MAX_HEADER_LIST_SIZE:
                self.peer_max_header_list_size = value
            # HEADER_TABLE_SIZE: our encoder uses no table; MAX_CONCURRENT_STREAMS: we never
            # push; unknown settings are ignored (6.5.2)
        return flush

    def upgrade_request(self, settings: bytes, fields: list[tuple[bytes, bytes]]) -> list[Event]:
        """An HTTP/1.1 request with ``Upgrade: h2c`` (RFC 7540 3.2), before its ``101``: the
        client's ``HTTP2-Settings`` (taken without acknowledgement: the 101 is one) and the
        request, which becomes stream 1, half closed (an upgraded request has no body here).
        Raises ``H2ConnectionError`` (settings), ``MalformedRequest`` or ``RejectedRequest``
        (the request): then the upgrade is not taken."""
        if len(settings) % 6:
            raise H2ConnectionError(FRAME_SIZE_ERROR, "HTTP2-Settings not a multiple of 6 bytes")
        head = read_request_head(fields, self.limits.request)
        self._apply_settings(settings)
        stream = ServerStream(cast("Connection", self), 1, head, True)
        stream.announced = True
        self.streams[1] = stream
        self.highest_stream_id = 1
        self._events.append(RequestReceived(stream, head, True))
        return self.take_events()

    def _settings_acknowledged(self) -> None:
        if self._settings_sent is None:
            return  # an acknowledgement of nothing: ignored
        self._settings_sent = None
        # our INITIAL_WINDOW_SIZE applies from now on, to open streams too (6.9.2)
        delta = self.limits.initial_window_size - self.local_initial_window
        if delta:
            self.local_initial_window += delta
            for stream in self.streams.values():
                stream.recv_window += delta

    def _on_ping(self, flags: int, stream_id: int, payload: bytes) -> None:
        if len(payload) != 8:
            raise H2ConnectionError(FRAME_SIZE_ERROR, "PING of the wrong length")
        if stream_id:
            raise H2ConnectionError(PROTOCOL_ERROR, "PING on a stream")
        if flags & ACK:
            if payload == DRAIN_PING and self.state is _GOING_AWAY:
                self._last_goaway()
            elif payload == KEEPALIVE_PING:
                self._ping_sent = None
            return
        self._count(Abuse.PING_FLOOD)
        self.outbox.pieces.append(ping_frame(payload, ack=True))

    def _on_goaway(self, flags: int, stream_id: int, payload: bytes) -> None:
        if stream_id:
            raise H2ConnectionError(PROTOCOL_ERROR, "GOAWAY on a stream")
        if len(payload) < 8:
            raise H2ConnectionError(FRAME_SIZE_ERROR, "GOAWAY too short")
        code = unpack_u32(payload, 4)
        # the client opens no more streams; ours (we push none) are not concerned
        self.state = connection_transition(self.state, ConnectionEvent.PEER_GOAWAY)
        self._last_taken = self.highest_stream_id
        if code != NO_ERROR or not self.streams:
            self._end(code, f"client sent GOAWAY {error_name(code)}", by_peer=True)

    def _on_rst_stream(self, flags: int, stream_id: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise H2ConnectionError(FRAME_SIZE_ERROR, "RST_STREAM of the wrong length")
        if not stream_id:
            raise H2ConnectionError(PROTOCOL_ERROR, "RST_STREAM on stream 0")
        stream = self.streams.get(stream_id)
        if stream is None:
            if stream_id > self.highest_stream_id or not stream_id & 1:
                raise H2ConnectionError(PROTOCOL_ERROR, f"RST_STREAM on idle stream {stream_id}")
            self._count(Abuse.EMPTY_FRAMES)
            return
        code = unpack_u32(payload)
        counts = stream.response is not _RESPONSE_DONE
        announced = stream.announced
        stream.close(False)
        if announced:
            self._events.append(StreamReset(stream_id, code, True))
        if counts:
            self._count(Abuse.RAPID_RESET)

    def _on_priority(self, flags: int, stream_id: int, payload: bytes) -> None:
        if not stream_id:
            raise H2ConnectionError(PROTOCOL_ERROR, "PRIORITY on stream 0")
        if len(payload) != 5:
            raise H2StreamError(stream_id, FRAME_SIZE_ERROR, "PRIORITY of the wrong length")
        if unpack_u32(payload) & 0x7FFFFFFF == stream_id:
            raise H2StreamError(stream_id, PROTOCOL_ERROR, "stream depends on itself")
        # RFC 9113 5.3.2: priority signals are deprecated; we keep no tree to reshape
        self._count(Abuse.EMPTY_FRAMES)

    def _on_push_promise(self, flags: int, stream_id: int, payload: bytes) -> None:
        raise H2ConnectionError(PROTOCOL_ERROR, "PUSH_PROMISE from a client")

    def _on_window_update(self, flags: int, stream_id: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise H2ConnectionError(FRAME_SIZE_ERROR, "WINDOW_UPDATE of the wrong length")
        increment = unpack_u32(payload) & 0x7FFFFFFF
        outbox = self.outbox
        if not stream_id:
            if not increment:
                raise H2ConnectionError(PROTOCOL_ERROR, "WINDOW_UPDATE of 0")
            outbox.window += increment
            if outbox.window > MAX_WINDOW:
                raise H2ConnectionError(FLOW_CONTROL_ERROR, "connection window above 2^31-1")
        else:
            stream = self.streams.get(stream_id)
            if stream is None:
                if stream_id > self.highest_stream_id or not stream_id & 1:
                    raise H2ConnectionError(
                        PROTOCOL_ERROR, f"WINDOW_UPDATE on idle stream {stream_id}"
                    )
                return  # a closed stream: usual after our END_STREAM
            if not increment:
                raise H2StreamError(stream_id, PROTOCOL_ERROR, "WINDOW_UPDATE of 0")
            stream.send_window += increment
            if stream.send_window > MAX_WINDOW:
                raise H2StreamError(stream_id, FLOW_CONTROL_ERROR, "stream window above 2^31-1")
        if outbox.blocked:
            self.flush()

    def flush(self) -> None:
        """Send what opened windows allow of the streams waiting for them."""
        for stream_id in self.outbox.flush():
            self._events.append(StreamWritable(stream_id))

    # -- shutdown and timers ---------------------------------------------------------------

    def start_drain(self, now: float) -> list[Event]:
        """Begin a graceful shutdown: no new streams once the client has seen it, those in
        flight finish, then the connection ends (``ConnectionTerminated``)."""
        self._now = now
        state = self.state
        if state in _PREFACE_STATES:
            # accepted as the drain began: its client may be sending requests right now, so
            # the drain starts once its SETTINGS are here (``_tick`` ends a silent one)
            if self._drain_pending is None:
                self._drain_pending = now
        elif state is _OPEN:
            self._begin_drain(now)
        return self.take_events()

    def _begin_drain(self, now: float) -> None:
        self.state = connection_transition(self.state, ConnectionEvent.DRAIN)
        self._drain_started = now
        self.outbox.pieces += (goaway_frame(MAX_STREAM_ID, NO_ERROR), ping_frame(DRAIN_PING))

    def _last_goaway(self) -> None:
        self.state = connection_transition(self.state, ConnectionEvent.DRAIN_PING)
        self._last_taken = self.highest_stream_id
        self.outbox.pieces.append(goaway_frame(self.highest_stream_id, NO_ERROR))
        if not self.streams:
            self._finish("drained", NO_ERROR)

    def tick(self, now: float) -> list[Event]:
        """Act on the time: keep-alive PINGs and their timeout, the idle and settings
        timeouts, the shutdown's PING wait. Call about once a second."""
        if self.state is _CLOSED:
            return []
        self._now = now
        limits = self.limits
        try:
            self._tick(now, limits)
        except H2ConnectionError as exc:
            self._fail(exc.code, exc.reason)
        return self.take_events()

    def _tick(self, now: float, limits: ConnectionLimits) -> None:
        state = self.state
        if state is _GOING_AWAY and now - self._drain_started >= limits.drain_ping_timeout:
            self._last_goaway()
            return
        pending = self._drain_pending
        if (
            pending is not None
            and state in _PREFACE_STATES
            and now - pending >= limits.drain_ping_timeout
        ):
            self.outbox.pieces.append(goaway_frame(0, NO_ERROR))
            self._end(NO_ERROR, "shut down before the client spoke", by_peer=False)
            return
        if self._settings_sent is not None and now - self._settings_sent >= limits.settings_timeout:
            what = (
                "no client preface and SETTINGS"
                if state in _PREFACE_STATES
                else "SETTINGS not acknowledged"
            )
            raise H2ConnectionError(
                SETTINGS_TIMEOUT, f"{what} within {limits.settings_timeout:g} s"
            )
        if (
            limits.idle_timeout
            and state is _OPEN
            and not self.streams
            and self._block_head is None
            and now - self._idle_since >= limits.idle_timeout
        ):
            self.outbox.pieces.append(goaway_frame(self.highest_stream_id, NO_ERROR))
            self._end(NO_ERROR, "idle", by_peer=False)
            return
        sent = self._ping_sent
        if sent is not None:
            if (
                limits.ping_timeout
                and self._last_received <= sent
                and now - sent >= limits.ping_timeout
            ):
                self.outbox.pieces.append(goaway_frame(self.highest_stream_id, NO_ERROR))
                self._end(NO_ERROR, "PING not answered", by_peer=False)
        elif limits.ping_interval and now - self._last_received >= limits.ping_interval:
            self._ping_sent = now
            self.outbox.pieces.append(ping_frame(KEEPALIVE_PING))

    def connection_lost(self) -> list[Event]:
        """The transport is gone: every stream ends under its app."""
        if self.state is not _CLOSED:
            self._end(CANCEL, "connection lost", by_peer=True)
        return self.take_events()

    def close(self, reason: str = "closed by the server") -> list[Event]:
        """End the connection now (a shutdown out of time): GOAWAY, and every stream ends
        under its app."""
        if self.state is not _CLOSED:
            self.outbox.pieces.append(goaway_frame(self.highest_stream_id, NO_ERROR))
            self._end(NO_ERROR, reason, by_peer=False)
        return self.take_events()

    def _fail(self, code: int, reason: str) -> None:
        """A connection error: GOAWAY ``code`` naming the last stream taken, then the end."""
        if self.state is _CLOSED:
            return
        debug = reason.encode("ascii", "replace")[:200]
        self.outbox.pieces.append(goaway_frame(self.highest_stream_id, code, debug))
        self._end(code, reason, by_peer=False)

    def _finish(self, reason: str, code: int) -> None:
        """A drained connection's last stream ended."""
        self.state = connection_transition(self.state, ConnectionEvent.STREAMS_DONE)
        self._events.append(ConnectionTerminated(code, reason, False))

    def _end(self, code: int, reason: str, *, by_peer: bool) -> None:
        streams = list(self.streams.values())
        self.state = connection_transition(self.state, ConnectionEvent.CLOSE)
        for stream in streams:
            announced = stream.announced
            stream.close(not by_peer)
            if announced:
                self._events.append(StreamReset(stream.stream_id, code or CANCEL, by_peer))
        self.streams.clear()
        self.outbox.blocked.clear()
        self._events.append(ConnectionTerminated(code, reason, by_peer))
