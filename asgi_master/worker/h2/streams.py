"""One HTTP/2 stream on the server: the request's flow-control window, and the response from
the app's parts to frames.

``ServerStream``'s public methods are the synchronous half of ``worker.stream.Stream``
(``early_hint``, ``start``, ``body``, ``trailers``, ``send_continue``, ``body_consumed``,
``complete``, ``refuse``, ``abort``, ``write_paused``), so the adapter's stream for the request
cycle only adds the waiting (``drain``, ``file``). Bytes go to the connection's outbox; the
adapter writes them after each call.

The head is held from ``start`` to the first body part and leaves with it (seed 000). DATA is
cut to min(stream window, connection window, peer frame size); what the windows do not allow
waits in the stream's queue (``write_paused``) until WINDOW_UPDATE or SETTINGS open them.
HEAD, 204 and 304 responses carry no DATA. An app's ``content-length`` is enforced: a part
past it, or an end short of it, raises ``ResponseError`` before anything of that part is sent.
Once the stream has ended under the app (``cancelled``), its calls are dropped.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Final

from ..asgi import ResponseError
from .compression import encode_field, status_field
from .errors import CANCEL, INTERNAL_ERROR, NO_ERROR
from .frames import (
    DATA,
    END_STREAM,
    frame_head,
    headers_frames,
    rst_stream_frame,
    window_update_frame,
)
from .response import CONTENT_LENGTH, DATE, check_status, encode_fields, informational_block
from .state import (
    RESPONSE_TRANSITIONS,
    STREAM_TRANSITIONS,
    Closure,
    ResponseEvent,
    ResponseState,
    StreamEvent,
    StreamState,
    response_transition,
    stream_transition,
)

if TYPE_CHECKING:
    from .connection import Connection
    from .request import RequestHead

# hot paths compare with these, not with ``Enum.MEMBER`` (docs/design.md, "Enum states")
_OPEN: Final = StreamState.OPEN
_HALF_CLOSED_REMOTE: Final = StreamState.HALF_CLOSED_REMOTE
_HALF_CLOSED_LOCAL: Final = StreamState.HALF_CLOSED_LOCAL
_CLOSED: Final = StreamState.CLOSED
_IDLE: Final = ResponseState.IDLE
_HELD: Final = ResponseState.HELD
_BODY: Final = ResponseState.BODY
_TRAILERS: Final = ResponseState.TRAILERS
_DONE: Final = ResponseState.DONE
_CANCELLED: Final = ResponseState.CANCELLED
_START: Final = ResponseEvent.START
_BODY_PART: Final = ResponseEvent.BODY
_LAST_BODY: Final = ResponseEvent.LAST_BODY
_LAST_BODY_BEFORE_TRAILERS: Final = ResponseEvent.LAST_BODY_BEFORE_TRAILERS
_TRAILERS_PART: Final = ResponseEvent.TRAILERS
_LAST_TRAILERS: Final = ResponseEvent.LAST_TRAILERS
_REFUSE: Final = ResponseEvent.REFUSE
_END_SENT: Final = StreamEvent.END_SENT
_RESPONSE_TABLE: Final = RESPONSE_TRANSITIONS
_STREAM_TABLE: Final = STREAM_TRANSITIONS
_NO_BODY_STATUS: Final = frozenset({204, 304})
#: DATA frames below this, cut by the window with more waiting, count as dribble
_DRIBBLE_SIZE: Final = 1024
#: small frames are joined to their head instead of written as a second piece
_JOIN_LIMIT: Final = 8192
_CONTINUE: Final = informational_block(100)


class ServerStream:
    """The server's side of one stream: request body in (through the connection), response
    out."""

    __slots__ = (
        "_conn",
        "_continue_sent",
        "_end_queued",
        "_fields",
        "_head_only",
        "_no_body",
        "_noted",
        "_outbox",
        "_queue",
        "_queued",
        "_recv_credit",
        "_remaining",
        "_trailer_block",
        "_trailer_parts",
        "_trailers",
        "announced",
        "body_bytes",
        "body_received",
        "expect_continue",
        "expected_length",
        "own_status",
        "recv_window",
        "response",
        "send_window",
        "state",
        "status",
        "stream_id",
    )

    def __init__(
        self, conn: Connection, stream_id: int, head: RequestHead | None, end_stream: bool
    ) -> None:
        self._conn = conn
        self._outbox = conn.outbox
        self.stream_id = stream_id
        self.state = _HALF_CLOSED_REMOTE if end_stream else _OPEN
        self.response = _IDLE
        #: the app was told of this stream (RequestReceived); false for the server's own refusals
        self.announced = False
        #: how much more request body the client may send (our window for this stream)
        self.recv_window = conn.local_initial_window
        self._recv_credit = 0
        self.body_received = 0
        self.expected_length = head.content_length if head is not None else None
        self.expect_continue = head is not None and head.expect_continue and not end_stream
        self._continue_sent = False
        self._head_only = head is not None and head.method == "HEAD"
        #: how much DATA we may send (the client's window for this stream)
        self.send_window = conn.peer_initial_window
        self._queue: deque[bytes | memoryview] = deque()
        self._queued = 0
        self._end_queued = False
        self._trailer_block: bytes | None = None
        self.status = 0
        self.body_bytes = 0
        #: the status of the server's own answer to the request (``refuse_request``), if any
        self.own_status = 0
        self._fields: list[bytes] = []
        self._noted: dict[bytes, bytes] = {}
        self._remaining: int | None = None
        self._no_body = self._head_only
        self._trailers = False
        self._trailer_parts: list[bytes] = []

    # -- the app's side --------------------------------------------------------------------

    @property
    def write_paused(self) -> bool:
        """DATA of this stream waits for flow-control window: the app should wait."""
        return self._queued > 0

    @property
    def cancelled(self) -> bool:
        """The stream ended under the app; its messages are dropped."""
        return self.response is _CANCELLED

    @property
    def body_wanted(self) -> bool:
        """The response carries a body at all (not for HEAD, 204 or 304)."""
        return not self._no_body

    @property
    def response_bytes(self) -> int:
        """Body bytes of the response sent or waiting for window (for the access log)."""
        return self.body_bytes + self._queued

    @property
    def waiting(self) -> bool:
        """Something of the response waits in the queue for window (or behind queued DATA)."""
        return bool(self._queued or self._end_queued or self._trailer_block is not None)

    def _advance(self, event: ResponseEvent) -> None:
        state = _RESPONSE_TABLE.get((self.response, event))
        if state is None:
            raise ResponseError(f"response: {event.value} when {self.response.value}")
        self.response = state

    def early_hint(self, links: Sequence[bytes]) -> None:
        """``103 Early Hints`` with these ``link`` values, before the response starts."""
        if self.response is not _IDLE:
            if self.response is _CANCELLED:
                return
            raise ResponseError("early hint after the response started")
        block = self._outbox.header_block(informational_block(103, links))
        self._outbox.pieces.append(
            headers_frames(self.stream_id, block, False, self._outbox.max_frame)
        )

    def send_continue(self) -> None:
        """``100 Continue`` if the client asked for it and nothing was answered yet."""
        if self.expect_continue and not self._continue_sent and self.response is _IDLE:
            self._continue_sent = True
            if self.state is _OPEN:
                block = self._outbox.header_block(_CONTINUE)
                self._outbox.pieces.append(
                    headers_frames(self.stream_id, block, False, self._outbox.max_frame)
                )

    def start(self, status: int, headers: Iterable[Iterable[bytes]], trailers: bool) -> None:
        """Validate and hold the head; it leaves with the first body part."""
        if self.response is _CANCELLED:
            return
        status = check_status(status)
        fields, noted = encode_fields(headers, self._outbox.noting)
        self._advance(_START)
        self.status = status
        self._fields = fields
        self._noted = noted
        self._trailers = bool(trailers)
        if status in _NO_BODY_STATUS:
            self._no_body = True
        length = noted.get(CONTENT_LENGTH)
        if length is not None and not self._no_body:
            self._remaining = int(length)

    def file_head(self, size: int) -> None:
        """Before a body that is a file of ``size`` bytes (``http.response.pathsend``, sent as
        body parts): the held head must fit it (else ``ResponseError`` while nothing is sent),
        and carries its length."""
        if self.response is _CANCELLED:
            return
        if self.response is not _HELD:
            raise ResponseError(f"file body when the response is {self.response.value}")
        length = self._noted.get(CONTENT_LENGTH)
        if length is not None and int(length) != size:
            raise ResponseError(f"content-length {length!r} does not match the file's {size} bytes")
        if length is None and self.status not in _NO_BODY_STATUS:
            # (a HEAD response carries the length the GET would have)
            self._noted[CONTENT_LENGTH] = b"%d" % size
            self._fields.append(encode_field(CONTENT_LENGTH, b"%d" % size))
            if not self._no_body:
                self._remaining = size

    def _head_block(self, length_field: bytes) -> bytes:
        outbox = self._outbox
        noted = self._noted
        parts = [status_field(self.status)]
        parts += self._fields
        if DATE not in noted and outbox.date_field:
            parts.append(outbox.date_field)
        for name, field in outbox.server_fields:
            if name not in noted:
                parts.append(field)
        if length_field:
            parts.append(length_field)
        return outbox.header_block(parts)

    def body(self, data: bytes, more: bool) -> None:
        """Send one body part; the first sends the held head with it."""
        response = self.response
        if response is not _BODY:
            if response is _CANCELLED:
                return
            if response is not _HELD:
                raise ResponseError(f"body part when the response is {response.value}")
        size = len(data)
        remaining = self._remaining
        if remaining is not None:
            remaining -= size
            if remaining < 0:
                raise ResponseError(
                    f"body longer than its content-length ({-remaining} bytes too many)"
                )
            if not more and remaining:
                raise ResponseError(f"response ended {remaining} bytes short of its content-length")
            self._remaining = remaining
        trailers = self._trailers
        if not more:
            self._advance(_LAST_BODY_BEFORE_TRAILERS if trailers else _LAST_BODY)
        else:
            self._advance(_BODY_PART)
        end = not more and not trailers
        if response is _HELD:
            length_field = b""
            if end and self.status not in _NO_BODY_STATUS and CONTENT_LENGTH not in self._noted:
                length_field = encode_field(CONTENT_LENGTH, b"%d" % size)
            block = self._head_block(length_field)
            if self._no_body or not size:
                # the head alone, ending the stream when nothing else will follow
                self._outbox.pieces.append(
                    headers_frames(self.stream_id, block, end, self._outbox.max_frame)
                )
                if end:
                    self._end_sent()
                return
            head = headers_frames(self.stream_id, block, False, self._outbox.max_frame)
            self._send_data(data, end, head)
        elif self._no_body or (not size and not end):
            if end:
                self._send_data(b"", True, b"")
        else:
            self._send_data(data, end, b"")

    def trailers(self, headers: Iterable[Iterable[bytes]], more: bool) -> None:
        """Trailer fields; the last call sends them as a HEADERS frame ending the stream."""
        if self.response is _CANCELLED:
            return
        fields, _ = encode_fields(headers)
        self._advance(_TRAILERS_PART if more else _LAST_TRAILERS)
        self._trailer_parts += fields
        if more:
            return
        if self._no_body or not self._trailer_parts:
            # no trailers on a body-less response: end the stream plainly
            self._send_data(b"", True, b"")
            return
        self._trailer_block = self._outbox.header_block(self._trailer_parts)
        if not self._queued:
            self.pump(-1)
        else:
            self._outbox.blocked[self.stream_id] = self

    def complete(self) -> None:
        """The cycle's word that the response is complete; the last part already ended it."""

    def body_consumed(self, size: int) -> None:
        """The app took ``size`` bytes of request body: reopen this stream's window by as much
        (batched until half the initial window is owed)."""
        if self.state is _OPEN or self.state is _HALF_CLOSED_LOCAL:
            credit = self._recv_credit + size
            if credit >= self._conn.stream_update_threshold:
                self._outbox.pieces.append(window_update_frame(self.stream_id, credit))
                self.recv_window += credit
                credit = 0
            self._recv_credit = credit

    def refuse(self, status: int, body: bytes, content_type: bytes) -> None:
        """The server's own complete response in place of the app's (nothing was sent)."""
        if self.response is _CANCELLED:
            return
        self._advance(_REFUSE)
        self._send_own(status, body, content_type)

    def _send_own(
        self, status: int, body: bytes, content_type: bytes, extra: Sequence[bytes] = ()
    ) -> None:
        self.status = status
        self._noted = {}
        self._fields = [encode_field(b"content-type", content_type), *extra]
        if self._head_only:
            body = b""
        block = self._head_block(encode_field(CONTENT_LENGTH, b"%d" % len(body)))
        if not body:
            self._outbox.pieces.append(
                headers_frames(self.stream_id, block, True, self._outbox.max_frame)
            )
            self._end_sent()
            return
        self._send_data(
            body, True, headers_frames(self.stream_id, block, False, self._outbox.max_frame)
        )

    def abort(self, reason: str) -> None:
        """Cut the response off: RST_STREAM INTERNAL_ERROR (the connection lives on)."""
        del reason  # the cycle logs it
        if self.state is not _CLOSED:
            self._outbox.pieces.append(rst_stream_frame(self.stream_id, INTERNAL_ERROR))
            self.close(True)

    # -- the wire side ---------------------------------------------------------------------

    def _send_data(self, data: bytes, end: bool, head: bytes) -> None:
        """``head`` (the response's HEADERS, if first) and DATA ``data``, now or queued."""
        size = len(data)
        outbox = self._outbox
        if not self._queued:
            window = self.send_window
            if outbox.window < window:
                window = outbox.window
            if size <= window and size <= outbox.max_frame:
                self.send_window -= size
                outbox.window -= size
                self.body_bytes += size
                frame = frame_head(size, DATA, END_STREAM if end else 0, self.stream_id)
                if size <= _JOIN_LIMIT:
                    outbox.pieces.append(head + frame + data if head else frame + data)
                else:
                    outbox.pieces += (head + frame, data)
                if end:
                    self._end_sent()
                return
        if head:
            outbox.pieces.append(head)
        if size:
            self._queue.append(data)
            self._queued += size
        if end:
            self._end_queued = True
        self.pump(-1)
        if self.waiting:
            outbox.blocked[self.stream_id] = self

    def pump(self, max_frames: int) -> bool:
        """Send queued DATA while the windows allow, at most ``max_frames`` frames (-1: no
        bound), then the END_STREAM or trailers behind it; True if anything was sent."""
        outbox = self._outbox
        queue = self._queue
        sent = False
        while queue and max_frames:
            window = self.send_window
            if outbox.window < window:
                window = outbox.window
            if window <= 0:
                return sent
            piece = queue[0]
            size = len(piece)
            count = min(size, window, outbox.max_frame)
            if count == size:
                queue.popleft()
                chunk = piece
            else:
                view = piece if type(piece) is memoryview else memoryview(piece)
                chunk = view[:count]
                queue[0] = view[count:]
            self._queued -= count
            if count == window and count < _DRIBBLE_SIZE and self._queued:
                outbox.dribbles += 1
            end = not queue and self._end_queued and self._trailer_block is None
            outbox.pieces += (
                frame_head(count, DATA, END_STREAM if end else 0, self.stream_id),
                chunk,
            )
            self.send_window -= count
            outbox.window -= count
            self.body_bytes += count
            max_frames -= 1
            sent = True
            if end:
                self._end_queued = False
                self._end_sent()
                return sent
        if queue:
            return sent
        if self._end_queued:
            self._end_queued = False
            outbox.pieces.append(frame_head(0, DATA, END_STREAM, self.stream_id))
            self._end_sent()
            return True
        if self._trailer_block is not None:
            block, self._trailer_block = self._trailer_block, None
            outbox.pieces.append(headers_frames(self.stream_id, block, True, outbox.max_frame))
            self._end_sent()
            return True
        return sent

    def _end_sent(self) -> None:
        """Our END_STREAM left. If the client is still sending, RST_STREAM NO_ERROR tells it
        to stop (RFC 9113 8.1: the response did not need the rest)."""
        self.state = state = _STREAM_TABLE[self.state, _END_SENT]
        if state is _CLOSED:
            self._conn.stream_closed(self, Closure.ENDED)
        else:
            self._outbox.pieces.append(rst_stream_frame(self.stream_id, NO_ERROR))
            self.close(True)

    def close(self, reset_by_us: bool) -> None:
        """The stream is over (reset either way, or both ends done): drop what waits."""
        if self.response is not _DONE:
            self.response = response_transition(self.response, ResponseEvent.CANCEL)
        if self.state is not _CLOSED:
            self.state = stream_transition(self.state, StreamEvent.RESET)
            self._queue.clear()
            self._queued = 0
            self._end_queued = False
            self._trailer_block = None
            self._conn.stream_closed(
                self, Closure.RESET_BY_US if reset_by_us else Closure.RESET_BY_PEER
            )

    def refuse_request(self, status: int, reason: str, extra: Sequence[bytes] = ()) -> None:
        """The server answers the request itself with ``status`` (the app is not or no longer
        in it): the response, then the stream ends under the app. ``extra``: more encoded
        fields (``retry-after``)."""
        if self.response is _IDLE or self.response is _HELD:
            self.response = _DONE
            self.own_status = status
            # its END_STREAM resets the rest of the request, once it has left (_end_sent)
            self._send_own(
                status,
                reason.encode("utf-8", "replace") + b"\n",
                b"text/plain; charset=utf-8",
                extra,
            )
        elif self.state is not _CLOSED:
            # the app's response is partly out: it cannot be finished
            self._outbox.pieces.append(rst_stream_frame(self.stream_id, CANCEL))
            self.close(True)
        self.response = _CANCELLED
