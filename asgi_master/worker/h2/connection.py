"""The server side of one HTTP/2 connection, sans-IO (RFC 9113): bytes in, events and bytes
out, time passed in. No asyncio, no socket, no clock of its own.

    conn = Connection(limits, now)          # our SETTINGS wait in conn.data_to_send()
    events = conn.receive_data(data, now)   # RequestReceived, RequestBody, ... (events.py)
    transport.write(conn.data_to_send())
    events = conn.tick(now)                 # about once a second: PINGs, timeouts, drain
    events = conn.start_drain(now)          # graceful shutdown, RFC 9113 6.8

Each request's response goes through its ``ServerStream`` (streams.py). Frames are read here,
at their offsets in the received bytes, and checked against section 4-6's rules: what breaks
the connection raises ``H2ConnectionError`` inside and ends in GOAWAY and
``ConnectionTerminated``; what breaks one stream resets it (RST_STREAM) and the connection
goes on. Abuse is counted per kind (abuse.py); past a budget the connection ends with GOAWAY
ENHANCE_YOUR_CALM. Header blocks are decoded by our HPACK decoder (compression.py); a block
seen before on this connection, while the decoder's table is unchanged, reuses its checked
request head instead of being decoded and checked again.
"""

from __future__ import annotations

from typing import Final

from .abuse import Abuse, AbuseGuard
from .compression import FieldDecoder
from .control import ControlFrames
from .errors import (
    COMPRESSION_ERROR,
    ENHANCE_YOUR_CALM,
    FLOW_CONTROL_ERROR,
    FRAME_SIZE_ERROR,
    NO_ERROR,
    PROTOCOL_ERROR,
    REFUSED_STREAM,
    STREAM_CLOSED,
    CompressionError,
    H2ConnectionError,
    H2StreamError,
)
from .events import (
    Event,
    RequestBody,
    RequestEnded,
    RequestReceived,
    RequestRefused,
    StreamReset,
)
from .frames import (
    DEFAULT_WINDOW,
    END_HEADERS,
    END_STREAM,
    HEAD,
    MAX_STREAM_ID,
    PADDED,
    PREFACE,
    PRIORITY_FLAG,
    rst_stream_frame,
    unpack_u32,
    window_update_frame,
)
from .limits import ConnectionLimits
from .outbox import SERVER_FIELDS, Fields, Outbox
from .request import (
    MalformedRequest,
    RejectedRequest,
    RequestHead,
    check_trailers,
    read_request_head,
)
from .state import (
    Closure,
    ConnectionEvent,
    ConnectionState,
    StreamEvent,
    StreamState,
    connection_transition,
    stream_transition,
)
from .streams import ServerStream

_AWAITING_SETTINGS: Final = ConnectionState.AWAITING_SETTINGS
_DRAINING: Final = ConnectionState.DRAINING
_CLOSED: Final = ConnectionState.CLOSED
_HALF_CLOSED_REMOTE: Final = StreamState.HALF_CLOSED_REMOTE
_ENDED: Final = Closure.ENDED
_RESET_BY_US: Final = Closure.RESET_BY_US
_END_RECEIVED: Final = StreamEvent.END_RECEIVED
_STREAM_CLOSED_STATE: Final = StreamState.CLOSED
#: closed stream ids remembered (a frame on one is told from one on an id skipped, or ignored)
_CLOSED_IDS_MIN: Final = 256
#: header blocks up to this size may be remembered with their request head
_HEAD_CACHE_BLOCK: Final = 1024
_HEAD_CACHE_MAX: Final = 64


class Connection(ControlFrames):
    """The server side of one HTTP/2 connection; ``fields``: what every response carries
    (``outbox.Fields``), ``peer``: the client, for the log."""

    def __init__(
        self,
        limits: ConnectionLimits,
        now: float,
        *,
        fields: Fields = SERVER_FIELDS,
        peer: str = "",
    ) -> None:
        self.limits = limits
        self.state = ConnectionState.AWAITING_PREFACE
        self.outbox = Outbox(fields)
        #: open and half-closed streams, by id
        self.streams: dict[int, ServerStream] = {}
        #: recently closed stream ids, and how they closed
        self._closed_ids: dict[int, Closure] = {}
        self._closed_ids_max = max(_CLOSED_IDS_MIN, 2 * limits.max_concurrent_streams)
        #: the highest stream id the client has used, and the last one a final GOAWAY took
        self.highest_stream_id = 0
        self._last_taken = MAX_STREAM_ID
        self._decoder = FieldDecoder()
        self._heads: dict[bytes, tuple[int, RequestHead]] = {}
        self.guard = AbuseGuard(limits.budgets, peer)
        self._events: list[Event] = []
        self._preface_left = PREFACE
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._need = 0
        # a header block spread over CONTINUATION frames: (stream id, flags, dependency) and
        # its pieces
        self._block_head: tuple[int, int, int] | None = None
        self._block_parts: list[bytes] = []
        self._block_size = 0
        #: the connection window we give the client; reopened as DATA arrives
        self._recv_window = limits.connection_window
        self._recv_credit = 0
        self._recv_update_at = limits.connection_window // 2
        #: a new stream's receive window: 65,535 until the client acknowledges our SETTINGS
        self.local_initial_window = DEFAULT_WINDOW
        self.stream_update_threshold = max(1, limits.initial_window_size // 2)
        #: a new stream's send window (the client's SETTINGS_INITIAL_WINDOW_SIZE)
        self.peer_initial_window = DEFAULT_WINDOW
        self.peer_max_header_list_size: int | None = None
        self._max_frame = limits.max_frame_size
        self._max_list = limits.max_header_list_size
        self._now = now
        self._created = now
        self._idle_since = now
        self._last_received = now
        self._ping_sent: float | None = None
        self._drain_started = 0.0
        self._settings_sent: float | None = now
        self._handlers = (
            self._on_data,
            self._on_headers,
            self._on_priority,
            self._on_rst_stream,
            self._on_settings,
            self._on_push_promise,
            self._on_ping,
            self._on_goaway,
            self._on_window_update,
            self._on_continuation,
        )
        self._send_settings()

    # -- the adapter's API -----------------------------------------------------------------

    def take_events(self) -> list[Event]:
        """Events raised by a stream's call rather than by received bytes (a drained
        connection whose last stream just ended)."""
        events, self._events = self._events, []
        return events

    @property
    def closed(self) -> bool:
        """Nothing more will be read or sent but what ``data_to_send`` holds."""
        return self.state is _CLOSED

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Feed bytes from the transport; the events they caused."""
        if self.state is _CLOSED:
            return []
        self._now = now
        self._last_received = now
        try:
            if self._preface_left:
                data = self._read_preface(data)
            if self._pending:
                self._pending.append(data)
                self._pending_size += len(data)
                if self._pending_size < self._need:
                    return self.take_events()
                data = b"".join(self._pending)
                self._pending = []
            self._read_frames(data)
            if self.outbox.dribbles:
                self._count_dribbles()
        except H2ConnectionError as exc:
            self._fail(exc.code, exc.reason)
        return self.take_events()

    def _read_preface(self, data: bytes) -> bytes:
        expected = self._preface_left
        size = min(len(expected), len(data))
        if data[:size] != expected[:size]:
            raise H2ConnectionError(PROTOCOL_ERROR, "invalid connection preface")
        self._preface_left = expected[size:]
        if not self._preface_left:
            self.state = connection_transition(self.state, ConnectionEvent.PREFACE)
        return data[size:]

    def _read_frames(self, data: bytes) -> None:
        pos = 0
        end = len(data)
        unpack = HEAD.unpack_from
        handlers = self._handlers
        max_frame = self._max_frame
        while end - pos >= 9:
            high, low, kind, flags, stream_id = unpack(data, pos)
            length = high << 8 | low
            if length > max_frame:
                raise H2ConnectionError(FRAME_SIZE_ERROR, f"frame of {length} bytes")
            stop = pos + 9 + length
            if stop > end:
                break
            payload = data[pos + 9 : stop]
            pos = stop
            stream_id &= 0x7FFFFFFF
            if self._block_head is not None and kind != 9:
                raise H2ConnectionError(PROTOCOL_ERROR, "frame inside a header block")
            if self.state is _AWAITING_SETTINGS and (kind != 4 or flags & 1):
                raise H2ConnectionError(PROTOCOL_ERROR, "first frame is not SETTINGS")
            try:
                if kind < 10:
                    handlers[kind](flags, stream_id, payload)
                else:
                    self._count(Abuse.EMPTY_FRAMES)  # unknown types are ignored (5.5)
            except H2StreamError as exc:
                self.reset_stream(exc.stream_id, exc.code)
            if self.state is _CLOSED:
                return
        if pos < end:
            rest = data[pos:]
            self._pending = [rest]
            self._pending_size = len(rest)
            self._need = 9 if len(rest) < 9 else 9 + ((rest[0] << 16) | (rest[1] << 8) | rest[2])

    def _count(self, kind: Abuse) -> None:
        if self.guard.count(kind, self._now):
            raise H2ConnectionError(ENHANCE_YOUR_CALM, kind.value)

    def _count_dribbles(self) -> None:
        count, self.outbox.dribbles = self.outbox.dribbles, 0
        for _ in range(count):
            self._count(Abuse.DATA_DRIBBLE)

    # -- streams ---------------------------------------------------------------------------

    def reset_stream(self, stream_id: int, code: int) -> None:
        """RST_STREAM ``code`` on a stream, for a rule the client broke (counted against the
        reset-flood budget)."""
        self.outbox.pieces.append(rst_stream_frame(stream_id, code))
        stream = self.streams.get(stream_id)
        if stream is not None:
            announced = stream.announced
            stream.close(True)
            if announced:
                self._events.append(StreamReset(stream_id, code, False))
        else:
            self._remember_closed(stream_id, _RESET_BY_US)
        self._count(Abuse.RESET_FLOOD)

    def stream_closed(self, stream: ServerStream, how: Closure) -> None:
        """A stream is over (called by the stream)."""
        stream_id = stream.stream_id
        if self.streams.pop(stream_id, None) is None:
            return
        self.outbox.blocked.pop(stream_id, None)
        self._remember_closed(stream_id, how)
        if not self.streams:
            self._idle_since = self._now
            if self.state is _DRAINING:
                self._finish("drained", NO_ERROR)

    def _remember_closed(self, stream_id: int, how: Closure) -> None:
        closed = self._closed_ids
        closed[stream_id] = how
        if len(closed) > 2 * self._closed_ids_max:
            # forget the older half at once rather than one id per stream
            self._closed_ids = dict(list(closed.items())[-self._closed_ids_max :])

    # -- frames ----------------------------------------------------------------------------

    def _on_data(self, flags: int, stream_id: int, payload: bytes) -> None:
        if not stream_id:
            raise H2ConnectionError(PROTOCOL_ERROR, "DATA on stream 0")
        length = len(payload)
        data = payload
        padding = 0
        if flags & PADDED:
            if not length:
                raise H2ConnectionError(FRAME_SIZE_ERROR, "DATA too short for its padding")
            if payload[0] >= length:
                raise H2ConnectionError(PROTOCOL_ERROR, "DATA padding as long as the frame")
            padding = payload[0] + 1
            data = payload[1 : length - payload[0]]
        # the connection window is reopened on receipt: only stream windows hold the client
        self._recv_window -= length
        if self._recv_window < 0:
            raise H2ConnectionError(FLOW_CONTROL_ERROR, "DATA beyond the connection window")
        credit = self._recv_credit + length
        if credit >= self._recv_update_at:
            self.outbox.pieces.append(window_update_frame(0, credit))
            self._recv_window += credit
            credit = 0
        self._recv_credit = credit
        stream = self.streams.get(stream_id)
        if stream is None or stream.state is _HALF_CLOSED_REMOTE:
            self._frame_on_closed(stream_id, stream, "DATA")
            return
        window = stream.recv_window - length
        if window < 0:
            raise H2StreamError(stream_id, FLOW_CONTROL_ERROR, "DATA beyond the stream window")
        stream.recv_window = window
        size = len(data)
        if stream.cancelled:
            stream.body_consumed(length)  # nobody reads it: reopen the window at once
        else:
            if size:
                received = stream.body_received + size
                stream.body_received = received
                expected = stream.expected_length
                if expected is not None and received > expected:
                    raise H2StreamError(
                        stream_id, PROTOCOL_ERROR, "body longer than content-length"
                    )
                max_body = self.limits.request.max_body
                if max_body and received > max_body:
                    # our 413 if the app has not answered yet; the app sees a disconnect
                    stream.refuse_request(413, "request body too large")
                    self._events.append(StreamReset(stream_id, NO_ERROR, False))
                    return
                self._events.append(RequestBody(stream_id, data))
            elif not flags & END_STREAM:
                self._count(Abuse.EMPTY_FRAMES)
            if padding:
                stream.body_consumed(padding)  # padding is nobody's to read
        if flags & END_STREAM:
            self._end_request(stream)

    def _end_request(self, stream: ServerStream) -> None:
        expected = stream.expected_length
        if expected is not None and stream.body_received != expected and not stream.cancelled:
            raise H2StreamError(
                stream.stream_id, PROTOCOL_ERROR, "body shorter than content-length"
            )
        stream.state = state = stream_transition(stream.state, _END_RECEIVED)
        if not stream.cancelled:
            self._events.append(RequestEnded(stream.stream_id))
        if state is _STREAM_CLOSED_STATE:
            self.stream_closed(stream, _ENDED)

    def _frame_on_closed(self, stream_id: int, stream: ServerStream | None, kind: str) -> None:
        """DATA or HEADERS for a stream that is not open for them (RFC 9113 5.1)."""
        if stream is not None:
            raise H2StreamError(stream_id, STREAM_CLOSED, f"{kind} after the client's END_STREAM")
        if stream_id > self.highest_stream_id or not stream_id & 1:
            raise H2ConnectionError(PROTOCOL_ERROR, f"{kind} on idle stream {stream_id}")
        how = self._closed_ids.get(stream_id)
        if how is _RESET_BY_US:
            return  # frames in flight when we reset it: ignored (5.1, "closed")
        if how is _ENDED:
            raise H2ConnectionError(STREAM_CLOSED, f"{kind} on stream {stream_id}, closed")
        if how is None and kind == "HEADERS":
            raise H2ConnectionError(
                PROTOCOL_ERROR, f"HEADERS on stream {stream_id}, below ids in use"
            )
        raise H2StreamError(stream_id, STREAM_CLOSED, f"{kind} on closed stream {stream_id}")

    def _on_headers(self, flags: int, stream_id: int, payload: bytes) -> None:
        if not stream_id or not stream_id & 1:
            raise H2ConnectionError(PROTOCOL_ERROR, f"HEADERS on stream {stream_id}")
        start = 0
        end = len(payload)
        if flags & PADDED:
            if not end:
                raise H2ConnectionError(FRAME_SIZE_ERROR, "HEADERS too short for its padding")
            if payload[0] >= end:
                raise H2ConnectionError(PROTOCOL_ERROR, "HEADERS padding as long as the frame")
            start = 1
            end -= payload[0]
        dependency = 0
        if flags & PRIORITY_FLAG:
            if end - start < 5:
                raise H2ConnectionError(FRAME_SIZE_ERROR, "HEADERS too short for its priority")
            dependency = unpack_u32(payload, start) & 0x7FFFFFFF
            start += 5
        if end < start:
            raise H2ConnectionError(PROTOCOL_ERROR, "HEADERS padding longer than the frame")
        block = payload[start:end] if start or end != len(payload) else payload
        if flags & END_HEADERS:
            self._header_block(stream_id, flags, dependency, block)
            return
        self._block_head = (stream_id, flags, dependency)
        self._block_parts = [block]
        self._block_size = len(block)
        if self._block_size > self._max_list:
            self._count(Abuse.CONTINUATION_FLOOD)

    def _on_continuation(self, flags: int, stream_id: int, payload: bytes) -> None:
        head = self._block_head
        if head is None or head[0] != stream_id:
            raise H2ConnectionError(PROTOCOL_ERROR, "CONTINUATION without its HEADERS")
        parts = self._block_parts
        parts.append(payload)
        self._block_size += len(payload)
        if self._block_size > self._max_list or len(parts) > self.limits.max_header_frames:
            self._count(Abuse.CONTINUATION_FLOOD)
        if not payload and not flags & END_HEADERS:
            self._count(Abuse.EMPTY_FRAMES)
        if flags & END_HEADERS:
            self._block_head = None
            self._block_parts = []
            self._header_block(stream_id, head[1], head[2], b"".join(parts))

    def _decode(self, block: bytes) -> list[tuple[bytes, bytes]]:
        try:
            return self._decoder.decode(block, self._max_list)
        except CompressionError as exc:
            raise H2ConnectionError(COMPRESSION_ERROR, str(exc)) from None

    def _header_block(self, stream_id: int, flags: int, dependency: int, block: bytes) -> None:
        stream = self.streams.get(stream_id)
        if stream is not None or stream_id <= self.highest_stream_id:
            fields = self._decode(block)  # always decoded: the table must stay in step
            if stream is None or stream.state is _HALF_CLOSED_REMOTE:
                self._frame_on_closed(stream_id, stream, "HEADERS")
                return
            self._trailers(stream, flags, dependency, fields)
            return
        self.highest_stream_id = stream_id
        decoder = self._decoder
        cached = self._heads.get(block)
        head: RequestHead | None = None
        fields = []
        if cached is not None and cached[0] == decoder.generation:
            head = cached[1]
        else:
            generation = decoder.generation
            fields = self._decode(block)
            unchanged = decoder.generation == generation
        end_stream = bool(flags & END_STREAM)
        if stream_id > self._last_taken:
            # after our last GOAWAY: not taken, and the client knows it may retry
            self.outbox.pieces.append(rst_stream_frame(stream_id, REFUSED_STREAM))
            self._remember_closed(stream_id, _RESET_BY_US)
            return
        if len(self.streams) >= self.limits.max_concurrent_streams:
            raise H2StreamError(stream_id, REFUSED_STREAM, "MAX_CONCURRENT_STREAMS reached")
        if dependency == stream_id:
            raise H2StreamError(stream_id, PROTOCOL_ERROR, "stream depends on itself")
        if head is None:
            try:
                if decoder.list_size > self._max_list:
                    self._count(Abuse.HPACK_BOMB)
                    raise RejectedRequest(431, "header list too large")
                head = read_request_head(fields, self.limits.request)
            except MalformedRequest as malformed:
                raise H2StreamError(stream_id, PROTOCOL_ERROR, str(malformed)) from None
            except RejectedRequest as rejected:
                stream = self.streams[stream_id] = ServerStream(self, stream_id, None, end_stream)
                stream.refuse_request(rejected.status, rejected.reason)
                self._events.append(RequestRefused(stream_id, rejected.status, rejected.reason))
                return
            if unchanged and len(block) <= _HEAD_CACHE_BLOCK:
                if len(self._heads) >= _HEAD_CACHE_MAX:
                    self._heads.clear()
                self._heads[block] = (decoder.generation, head)
        if end_stream and head.content_length:
            raise H2StreamError(stream_id, PROTOCOL_ERROR, "no body but a content-length")
        stream = ServerStream(self, stream_id, head, end_stream)
        stream.announced = True
        self.streams[stream_id] = stream
        self._events.append(RequestReceived(stream, head, end_stream))

    def _trailers(
        self, stream: ServerStream, flags: int, dependency: int, fields: list[tuple[bytes, bytes]]
    ) -> None:
        stream_id = stream.stream_id
        if dependency == stream_id:
            raise H2StreamError(stream_id, PROTOCOL_ERROR, "stream depends on itself")
        if not flags & END_STREAM:
            raise H2StreamError(stream_id, PROTOCOL_ERROR, "trailers without END_STREAM")
        if self._decoder.list_size > self._max_list:
            self._count(Abuse.HPACK_BOMB)
            raise H2StreamError(stream_id, PROTOCOL_ERROR, "trailer list too large")
        try:
            check_trailers(fields)
        except MalformedRequest as exc:
            raise H2StreamError(stream_id, PROTOCOL_ERROR, str(exc)) from None
        self._end_request(stream)
