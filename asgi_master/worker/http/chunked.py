"""Strict decoding of a chunked request body (RFC 9112 7.1), sans-IO.

Theory of operation: the decoder works on a buffer it shares with the request reader, so what
follows the body (a pipelined request) simply stays there. It walks the framing one line or one
CRLF at a time:

    SIZE -> DATA -> DATA_END -> SIZE ... -> (last-chunk "0") TRAILERS -> DONE

SIZE reads a chunk-size line with its extensions; DATA hands out exactly that many bytes in the
pieces they arrive in, never accumulating them; DATA_END wants the CRLF after the data; TRAILERS
reads field lines, checked like header fields and then dropped, up to the blank line. Each step
either advances or says it needs more bytes. Anything off the grammar is a ProtocolError with
the reason: chunk framing that two parsers could read differently is how requests get smuggled,
so nothing is repaired or skipped. Limits: the body size is counted from the chunk sizes (413 as
soon as a chunk would cross ``max_body``, before its data is read); a chunk-size line and a
trailer line may each be ``max_field_size`` bytes, and there may be ``max_fields`` trailer lines.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from typing import Final

from ...grammar import CONTROL, FIELD_LINE, QUOTED_STRING_PATTERN, TOKEN_PATTERN
from .head import ProtocolError
from .limits import Limits

__all__ = ["ChunkedDecoder"]

#: the largest chunk size we take: 16 hex digits (leading zeros aside), within a signed 64-bit
#: integer
MAX_CHUNK_SIZE: Final = 2**63 - 1
_MAX_SIZE_DIGITS: Final = 16

# leading zeros are unbounded in the grammar (only the line length bounds them)
_HEX: Final = re.compile(rb"0*([0-9A-Fa-f]*)")
# RFC 9112 7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
_EXTENSIONS: Final = re.compile(
    rb"(?:[ \t]*;[ \t]*"
    + TOKEN_PATTERN
    + rb"(?:[ \t]*=[ \t]*(?:"
    + TOKEN_PATTERN
    + rb"|"
    + QUOTED_STRING_PATTERN
    + rb"))?)*"
)
_WHITESPACE_BEFORE_COLON: Final = re.compile(TOKEN_PATTERN + rb"[ \t]+:")
_CONTENT_LENGTH: Final = re.compile(rb"[0-9]{1,20}")
_CR: Final = 13
_LF: Final = 10


class _State(enum.Enum):
    SIZE = "SIZE"
    DATA = "DATA"
    DATA_END = "DATA_END"
    TRAILERS = "TRAILERS"
    DONE = "DONE"

    # used as dict keys on hot paths: identity hash, in C (docs/design.md, "Enum states")
    __hash__ = object.__hash__


# hot paths compare with these, not with ``Enum.MEMBER`` (docs/design.md, "Enum states")
_SIZE: Final = _State.SIZE
_DATA: Final = _State.DATA
_DATA_END: Final = _State.DATA_END
_TRAILERS: Final = _State.TRAILERS
_DONE: Final = _State.DONE


_TRUNCATED: Final = "the client closed the connection in the middle of a chunked body"
_TRUNCATED_TRAILERS: Final = (
    "the client closed the connection before the end of the trailer section"
)


class ChunkedDecoder:
    """Reads one chunked body from the front of a buffer the reader owns."""

    __slots__ = (
        "_fields",
        "_framing",
        "_max_body",
        "_max_fields",
        "_max_line",
        "_remaining",
        "_scanned",
        "_seen",
        "_state",
    )

    def __init__(self, limits: Limits) -> None:
        #: 0 means no limit
        self._max_body = limits.max_body
        self._max_fields = limits.max_fields
        self._max_line = limits.max_field_size
        self._state = _SIZE
        #: bytes of the current chunk's data still to come
        self._remaining = 0
        #: body bytes announced so far by chunk sizes (what ``max_body`` is checked against)
        self._seen = 0
        #: how much of an incomplete line has been searched for its end already
        self._scanned = 0
        #: trailer lines so far
        self._fields = 0
        #: framing fields seen in the trailers: name -> value (see _check_framing_trailer)
        self._framing: dict[bytes, bytes] = {}

    @property
    def complete(self) -> bool:
        """The body has been read to the end of its trailer section."""
        return self._state is _DONE

    @property
    def data_due(self) -> int:
        """Bytes of chunk data that come next in the stream before any framing (0: framing
        comes next); the reader may hand that many received bytes out directly."""
        return self._remaining if self._state is _DATA else 0

    def handed_out(self, size: int) -> None:
        """``size`` bytes of chunk data (at most ``data_due``) were taken directly from the
        received bytes, without passing through the buffer."""
        if not 0 < size <= self.data_due:
            raise RuntimeError(f"handed_out({size}) with {self.data_due} bytes of data due")
        self._remaining -= size
        if not self._remaining:
            self._state = _DATA_END

    def next_data(self, buffer: bytearray, eof: bool) -> bytes | None:
        """Consume framing from the front of ``buffer`` up to the next chunk data and return
        that data (never empty); None when ``buffer`` holds none: more bytes are needed, or
        the body is ``complete``. ``eof``: no more bytes will come (then none missing is a
        ProtocolError). Raises ProtocolError for anything off the grammar or the limits."""
        while True:
            state = self._state
            if state is _DATA:
                if buffer:
                    return self._take_data(buffer)
                break
            if state is _DONE:
                return None
            if not _STEPS[state](self, buffer):
                break
        if eof:
            raise ProtocolError(400, _TRUNCATED_TRAILERS if state is _TRAILERS else _TRUNCATED)
        return None

    # -- steps: each consumes what it can and says whether it advanced -------------------

    def _take_data(self, buffer: bytearray) -> bytes:
        remaining = self._remaining
        if len(buffer) <= remaining:
            data = bytes(buffer)
            buffer.clear()
        else:
            # through a memoryview: one copy, not two (slicing a bytearray copies)
            with memoryview(buffer) as view:
                data = bytes(view[:remaining])
            del buffer[:remaining]
        self._remaining = remaining - len(data)
        if not self._remaining:
            self._state = _DATA_END
        return data

    def _read_size(self, buffer: bytearray) -> bool:
        line = self._line(buffer, "chunk-size line", 400)
        if line is None:
            return False
        size = _chunk_size(line)
        if size == 0:
            self._state = _TRAILERS
            return True
        self._seen += size
        if self._max_body and self._seen > self._max_body:
            raise ProtocolError(413, "request body too large")
        self._remaining = size
        self._state = _DATA
        return True

    def _read_data_end(self, buffer: bytearray) -> bool:
        if not buffer:
            return False
        if buffer[0] != _CR or (len(buffer) > 1 and buffer[1] != _LF):
            raise ProtocolError(
                400, "chunk data not followed by CRLF (more data than the chunk size said?)"
            )
        if len(buffer) < 2:
            return False
        del buffer[:2]
        self._state = _SIZE
        return True

    def _read_trailer(self, buffer: bytearray) -> bool:
        line = self._line(buffer, "trailer line", 431)
        if line is None:
            return False
        if not line:
            self._state = _DONE
            return True
        self._fields += 1
        if self._fields > self._max_fields:
            raise ProtocolError(431, "too many trailer fields")
        name, value = _trailer_field(line)
        if name in (b"content-length", b"transfer-encoding"):
            self._check_framing_trailer(name, value)
        return True

    def _check_framing_trailer(self, name: bytes, value: bytes) -> None:
        """A framing field in the trailers frames nothing (RFC 9110 6.5.1) and is dropped like
        any trailer, but one that would make a head invalid makes the trailers invalid too."""
        if name == b"content-length":
            lengths = {length.strip(b" \t") for length in value.split(b",")}
            length = lengths.pop()
            if lengths or _CONTENT_LENGTH.fullmatch(length) is None:
                raise ProtocolError(400, "invalid Content-Length in the trailers")
            value = length
        elif name in self._framing or value.lower() != b"chunked":
            raise ProtocolError(400, "invalid Transfer-Encoding in the trailers")
        if self._framing.setdefault(name, value) != value:
            raise ProtocolError(400, "conflicting Content-Length in the trailers")

    def _line(self, buffer: bytearray, what: str, too_long: int) -> bytes | None:
        """The next line without its CRLF, consumed from ``buffer``; None if it is not all
        there yet. Bare CR and bare LF are refused as soon as they are seen, a line over
        ``max_field_size`` with the status ``too_long``."""
        limit = self._max_line
        end = buffer.find(b"\n", self._scanned)
        if end < 0:
            size = len(buffer)
            # with no LF after it a CR ends no line; only the last byte may still be one
            if buffer.find(b"\r", self._scanned, size - 1) >= 0:
                raise ProtocolError(400, f"bare CR in a {what}")
            if size > limit + 1:
                raise ProtocolError(too_long, f"{what} too long")
            self._scanned = max(0, size - 1)
            return None
        self._scanned = 0
        if end == 0 or buffer[end - 1] != _CR:
            raise ProtocolError(400, f"bare LF in a {what}")
        line = bytes(buffer[: end - 1])
        del buffer[: end + 1]
        if b"\r" in line:
            raise ProtocolError(400, f"bare CR in a {what}")
        if len(line) > limit:
            raise ProtocolError(too_long, f"{what} too long")
        return line


_STEPS: Final[dict[_State, Callable[[ChunkedDecoder, bytearray], bool]]] = {
    _SIZE: ChunkedDecoder._read_size,
    _DATA_END: ChunkedDecoder._read_data_end,
    _TRAILERS: ChunkedDecoder._read_trailer,
}


def _chunk_size(line: bytes) -> int:
    """The size of a chunk-size line (extensions checked, then ignored as RFC 9112 7.1.1 asks)."""
    match = _HEX.match(line)
    assert match is not None  # it matches the empty string
    end = match.end()
    if end == 0:
        raise ProtocolError(400, f"chunk size {line[:20]!r} is not hexadecimal")
    significant = match.group(1)
    if len(significant) > _MAX_SIZE_DIGITS:
        raise ProtocolError(400, "chunk size too large")
    size = int(significant, 16) if significant else 0
    if size > MAX_CHUNK_SIZE:
        raise ProtocolError(400, "chunk size too large")
    extensions = line[end:]
    if extensions and _EXTENSIONS.fullmatch(extensions) is None:
        if extensions[:1] not in (b";", b" ", b"\t"):
            raise ProtocolError(400, f"chunk size {line[:20]!r} is not hexadecimal")
        if CONTROL.search(extensions) is not None:
            raise ProtocolError(400, "control character in a chunk extension")
        raise ProtocolError(400, f"malformed chunk extension {extensions[:100]!r}")
    return size


def _trailer_field(line: bytes) -> tuple[bytes, bytes]:
    """The lowercased name and the value of a trailer line, refused as a header line would be."""
    match = FIELD_LINE.fullmatch(line)
    if match is None:
        if line[:1] in (b" ", b"\t"):
            raise ProtocolError(400, "obsolete line folding (obs-fold) in a trailer")
        if b":" not in line:
            raise ProtocolError(400, f"trailer line {line[:100]!r} is not a field")
        if _WHITESPACE_BEFORE_COLON.match(line) is not None:
            raise ProtocolError(400, "whitespace before the colon in a trailer")
        if CONTROL.search(line) is not None:
            raise ProtocolError(400, "control character in a trailer")
        raise ProtocolError(400, f"invalid trailer field {line[:100]!r}")
    return match.group(1).lower(), match.group(2)
