"""The request side of a connection, sans-IO: bytes in, request events out.

This is the one seam between the two parsers. Each request head is first offered to the strict
fast parser (``head.parse_fast``); if it declines, a fresh ``h11.Connection`` reads that head,
and the bytes it has not consumed come straight back here. Bodies are always ours, whichever
parser read the head: a Content-Length body is counted out of the buffer, a chunked one goes
through the strict ``chunked.ChunkedDecoder``, and the next request gets the fast path again.
The response side never goes through h11: one writer (``writer.ResponseWriter``) serves
requests read either way.

States: HEAD (waiting for a request head; H11 while h11 reads one) -> BODY (Content-Length
body) or CHUNKED (chunked body) -> DONE (request complete; the next head waits for
``next_cycle``). A request with a body reads as RequestHead, Body*, END_OF_BODY, then PAUSED
until next_cycle. A request without one (no Content-Length or 0, not chunked: the head says so)
reads as RequestHead, then PAUSED: two fewer events on the most common request.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from .chunked import ChunkedDecoder
from .head import FALLBACK, ProtocolError, RequestHead, head_from_parts, parse_fast
from .limits import Limits

if TYPE_CHECKING:
    import h11  # imported by the first head that needs it: most workers never do

__all__ = ["Limits", "ProtocolError", "RequestReader"]

# a header line that starts with whitespace continues the previous one (obs-fold, RFC 9112
# 5.2): h11 unfolds it; we refuse it, as the RFC lets a server do, since proxies disagree on it
_OBS_FOLD: Final = re.compile(rb"\n[ \t]")
# a CR not followed by LF can never end a line: no point waiting for more of such a head
_BARE_CR: Final = re.compile(rb"\r[^\n]")


class Signal(enum.Enum):
    """Events that carry no data."""

    NEED_DATA = "need data"
    #: the current request is complete; the next one waits for ``next_cycle``
    PAUSED = "paused"
    END_OF_BODY = "end of body"
    #: the client closed its side cleanly between requests
    CLOSED = "closed"


NEED_DATA: Final = Signal.NEED_DATA
PAUSED: Final = Signal.PAUSED
END_OF_BODY: Final = Signal.END_OF_BODY
CLOSED: Final = Signal.CLOSED


# (not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__, a
# slow path mypyc leaves interpreted; nothing assigns to it: docs/design.md, compiled build)
@dataclass(slots=True)
class Body:
    """A piece of request body."""

    data: bytes


Event = RequestHead | Body | Signal


class _State(enum.Enum):
    HEAD = "HEAD"
    BODY = "BODY"
    CHUNKED = "CHUNKED"
    H11 = "H11"
    DONE = "DONE"


# hot paths compare with these, not with ``Enum.MEMBER`` (docs/design.md, "Enum states")
_HEAD: Final = _State.HEAD
_BODY: Final = _State.BODY
_CHUNKED: Final = _State.CHUNKED
_H11: Final = _State.H11
_DONE: Final = _State.DONE


class RequestReader:
    """Parses the requests of one connection from the bytes it is fed."""

    __slots__ = (
        "_buffer",
        "_chunked",
        "_fast",
        "_h11",
        "_limits",
        "_remaining",
        "_scanned",
        "_short_head",
        "_state",
        "eof",
        "used_h11",
    )

    def __init__(self, limits: Limits, *, fast_path: bool = True) -> None:
        self._limits = limits
        self._short_head = min(limits.max_line, limits.max_field_size)
        #: how much of an incomplete head has been searched for its end already
        self._scanned = 0
        #: False sends every request through h11 (the reference the fast path is tested against)
        self._fast = fast_path
        self._buffer = bytearray()
        #: the client has closed its sending side
        self.eof = False
        self._state = _HEAD
        #: bytes of a Content-Length body still to come
        self._remaining = 0
        self._chunked: ChunkedDecoder | None = None
        self._h11: h11.Connection | None = None
        #: how many request heads of this connection h11 read (visible to tests and stats)
        self.used_h11 = 0

    @property
    def buffered(self) -> int:
        """Bytes received and not yet turned into events."""
        if self._h11 is not None:
            return len(self._h11.trailing_data[0])
        return len(self._buffer)

    @property
    def request_complete(self) -> bool:
        """The current request has been read to its end."""
        return self._state is _DONE

    def feed(self, data: bytes) -> None:
        """Add bytes received from the client; ``b""`` means the client closed its side."""
        if not data:
            self.eof = True
        if self._h11 is not None:
            self._h11.receive_data(data)
        else:
            self._buffer += data

    def take_body(self, data: bytes) -> tuple[bytes, bytes] | None:
        """While body data is due (of a Content-Length body, or inside a chunk) and nothing is
        buffered: the part of ``data`` that is body data (uncopied when it all is) and what
        follows it; None otherwise (then ``feed`` as usual)."""
        if self._buffer or not data:
            return None
        state = self._state
        # None for a Content-Length body
        decoder = self._chunked if state is _CHUNKED else None
        if state is _BODY:
            remaining = self._remaining
        elif decoder is not None:
            remaining = decoder.data_due
        else:
            return None
        if not remaining:
            return None
        if len(data) <= remaining:
            chunk, rest = data, b""
        else:
            chunk, rest = data[:remaining], data[remaining:]
        if decoder is None:
            self._remaining = remaining - len(chunk)
            if not self._remaining:
                self._state = _DONE
        else:
            decoder.handed_out(len(chunk))
        return chunk, rest

    def next_cycle(self) -> None:
        """Allow the next request to be read (the previous response is complete)."""
        if self._state is not _DONE:
            raise RuntimeError(f"next_cycle in state {self._state.name}")
        self._state = _HEAD

    def take_trailing(self) -> bytes:
        """Bytes after the current request, for a protocol switch; the reader is done with them."""
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def next_event(self) -> Event:
        """The next event, or a Signal saying why there is none yet; raises ProtocolError."""
        state = self._state
        if state is _HEAD:
            return self._read_head()
        if state is _BODY:
            return self._read_body()
        if state is _CHUNKED:
            return self._read_chunked()
        if state is _H11:
            return self._read_h11()
        return PAUSED

    @property
    def head_started(self) -> bool:
        """Bytes of a request head have arrived and the head is not complete yet."""
        return self._state is _HEAD and bool(self._buffer)

    def _read_head(self) -> Event:
        buffer = self._buffer
        limits = self._limits
        while buffer[:2] == b"\r\n":
            # RFC 9112 2.2: empty lines before a request line are ignored
            del buffer[:2]
        # resume the search where the last one stopped: a head arriving in many small pieces
        # must not be rescanned from its start each time
        end = buffer.find(b"\r\n\r\n", max(0, self._scanned - 3))
        if end < 0:
            size = len(buffer)
            if b"\r" in buffer and _BARE_CR.search(buffer, max(0, self._scanned - 1)):
                raise ProtocolError(400, "bare CR in the request head")
            line_end = buffer.find(b"\n")
            # a line may be max_line bytes, then its CR (whose LF may not be here yet)
            if line_end > limits.max_line + 1 or (
                line_end < 0 and size > limits.max_line + buffer.endswith(b"\r")
            ):
                raise ProtocolError(414, "request line too long")
            if line_end >= 0 and size - buffer.rfind(b"\n") > limits.max_field_size + 2:
                raise ProtocolError(431, "header field too long")
            if size > limits.max_head_size:
                raise ProtocolError(431, "request head too large")
            self._scanned = size
            if not self.eof:
                # bare-LF heads never contain CRLFCRLF: let h11 judge them once it is clear
                if b"\n\n" not in buffer:
                    return NEED_DATA
            elif not buffer:
                return CLOSED
            return self._switch_to_h11()
        self._scanned = 0
        lines = bytes(buffer[:end]).split(b"\r\n")
        # a head shorter than every per-line limit cannot break one: skip the line scan
        if end > self._short_head or len(lines) > limits.max_fields:
            limits.check_head(lines)
        head = parse_fast(lines) if self._fast else FALLBACK
        if head is FALLBACK:
            return self._switch_to_h11()
        assert isinstance(head, RequestHead)
        del buffer[: end + 4]
        return self._start_body(head)

    def _start_body(self, head: RequestHead) -> RequestHead:
        """Set up reading the body ``head`` announces, whichever parser read it."""
        if head.content_length:
            self._limits.check_body_size(head.content_length)
            self._remaining = head.content_length
            self._state = _BODY
        elif head.chunked:
            self._chunked = ChunkedDecoder(self._limits)
            self._state = _CHUNKED
        else:
            self._state = _DONE
        return head

    def _read_body(self) -> Event:
        remaining = self._remaining
        if remaining == 0:
            self._state = _DONE
            return END_OF_BODY
        buffer = self._buffer
        if not buffer:
            if self.eof:
                raise ProtocolError(400, "client closed the connection in the middle of a body")
            return NEED_DATA
        if len(buffer) <= remaining:
            data = bytes(buffer)
            buffer.clear()
        else:
            data = bytes(buffer[:remaining])
            del buffer[:remaining]
        self._remaining = remaining - len(data)
        return Body(data)

    def _read_chunked(self) -> Event:
        decoder = self._chunked
        assert decoder is not None
        data = decoder.next_data(self._buffer, self.eof)
        if data is not None:
            return Body(data)
        if decoder.complete:
            self._chunked = None
            self._state = _DONE
            return END_OF_BODY
        return NEED_DATA

    def _switch_to_h11(self) -> Event:
        import h11

        buffer = self._buffer
        self._scanned = 0
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            end = buffer.find(b"\n\n")
        if _OBS_FOLD.search(buffer, 0, end if end >= 0 else len(buffer)):
            raise ProtocolError(400, "obsolete line folding (obs-fold) in a header")
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self._limits.max_head_size)
        conn.receive_data(bytes(self._buffer))
        if self.eof:
            conn.receive_data(b"")
        self._buffer.clear()
        self._h11 = conn
        self._state = _H11
        self.used_h11 += 1
        return self._read_h11()

    def _read_h11(self) -> Event:
        import h11

        conn = self._h11
        assert conn is not None
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            # h11 says 501 for a Transfer-Encoding it does not implement; RFC 9112 6.1 wants a
            # 400 when chunked is not the final coding, which covers every case h11 refuses
            status = 400 if exc.error_status_hint == 501 else exc.error_status_hint
            raise ProtocolError(status, str(exc)) from None
        if event is h11.NEED_DATA:
            return NEED_DATA
        if isinstance(event, h11.Request):
            head = head_from_parts(
                event.method, event.target, event.http_version, list(event.headers)
            )
            # h11 has read the head and nothing after it: the body and what follows are ours
            data, closed = conn.trailing_data
            self._buffer = bytearray(data)
            self.eof = self.eof or closed
            self._h11 = None
            return self._start_body(head)
        if isinstance(event, h11.ConnectionClosed) and conn.their_state is h11.CLOSED:
            return CLOSED
        raise ProtocolError(400, f"unexpected {type(event).__name__} from client")
