"""HTTP/2 frame layout (RFC 9113 section 4 and 6): types, flags, settings identifiers, and the
frames the server writes. Reading is the connection's: it parses the 9-byte head with ``HEAD``
where the bytes lie, to avoid building an object per frame.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Final

#: the client connection preface (section 3.4)
PREFACE: Final = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# frame types (section 6)
DATA: Final = 0x0
HEADERS: Final = 0x1
PRIORITY: Final = 0x2
RST_STREAM: Final = 0x3
SETTINGS: Final = 0x4
PUSH_PROMISE: Final = 0x5
PING: Final = 0x6
GOAWAY: Final = 0x7
WINDOW_UPDATE: Final = 0x8
CONTINUATION: Final = 0x9

FRAME_NAMES: Final = {
    DATA: "DATA",
    HEADERS: "HEADERS",
    PRIORITY: "PRIORITY",
    RST_STREAM: "RST_STREAM",
    SETTINGS: "SETTINGS",
    PUSH_PROMISE: "PUSH_PROMISE",
    PING: "PING",
    GOAWAY: "GOAWAY",
    WINDOW_UPDATE: "WINDOW_UPDATE",
    CONTINUATION: "CONTINUATION",
}

# flags
END_STREAM: Final = 0x1
ACK: Final = 0x1
END_HEADERS: Final = 0x4
PADDED: Final = 0x8
PRIORITY_FLAG: Final = 0x20

# settings identifiers (section 6.5.2; RFC 8441 for ENABLE_CONNECT_PROTOCOL)
HEADER_TABLE_SIZE: Final = 0x1
ENABLE_PUSH: Final = 0x2
MAX_CONCURRENT_STREAMS: Final = 0x3
INITIAL_WINDOW_SIZE: Final = 0x4
MAX_FRAME_SIZE: Final = 0x5
MAX_HEADER_LIST_SIZE: Final = 0x6
ENABLE_CONNECT_PROTOCOL: Final = 0x8

#: the largest flow-control window (section 6.9.1)
MAX_WINDOW: Final = 2**31 - 1
#: the initial window of every connection and of streams until SETTINGS change it
DEFAULT_WINDOW: Final = 65_535
#: the frame size every endpoint must accept, and the upper bound of MAX_FRAME_SIZE
DEFAULT_MAX_FRAME_SIZE: Final = 16_384
LARGEST_MAX_FRAME_SIZE: Final = 2**24 - 1
#: the stream id a first GOAWAY of a graceful shutdown names (section 6.8)
MAX_STREAM_ID: Final = 2**31 - 1

#: the frame head: length (24 bits, as 16 + 8), type, flags, stream id (with the reserved bit)
HEAD: Final = struct.Struct(">HBBBL")
_U32: Final = struct.Struct(">L")
_TWO_U32: Final = struct.Struct(">LL")
_SETTING: Final = struct.Struct(">HL")


def frame_head(length: int, kind: int, flags: int, stream_id: int) -> bytes:
    """The 9-byte head of a frame."""
    return HEAD.pack(length >> 8, length & 0xFF, kind, flags, stream_id)


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """A whole frame."""
    length = len(payload)
    return HEAD.pack(length >> 8, length & 0xFF, kind, flags, stream_id) + payload


def settings_frame(values: Iterable[tuple[int, int]]) -> bytes:
    """A SETTINGS frame carrying ``(identifier, value)`` pairs."""
    return frame(SETTINGS, 0, 0, b"".join(_SETTING.pack(key, value) for key, value in values))


SETTINGS_ACK: Final = frame(SETTINGS, ACK, 0)


def parse_settings(payload: bytes) -> list[tuple[int, int]]:
    """The ``(identifier, value)`` pairs of a SETTINGS payload (its length is a multiple of 6)."""
    return [_SETTING.unpack_from(payload, at) for at in range(0, len(payload), 6)]


def ping_frame(opaque: bytes, ack: bool = False) -> bytes:
    """A PING frame with 8 bytes of opaque data."""
    return frame(PING, ACK if ack else 0, 0, opaque)


def goaway_frame(last_stream_id: int, code: int, debug: bytes = b"") -> bytes:
    """A GOAWAY frame: streams above ``last_stream_id`` were not and will not be processed."""
    return frame(GOAWAY, 0, 0, _TWO_U32.pack(last_stream_id, code) + debug)


def rst_stream_frame(stream_id: int, code: int) -> bytes:
    """A RST_STREAM frame."""
    return frame(RST_STREAM, 0, stream_id, _U32.pack(code))


def window_update_frame(stream_id: int, increment: int) -> bytes:
    """A WINDOW_UPDATE frame (stream 0: the connection's window)."""
    return frame(WINDOW_UPDATE, 0, stream_id, _U32.pack(increment))


def headers_frames(stream_id: int, block: bytes, end_stream: bool, max_frame_size: int) -> bytes:
    """A header block as HEADERS, then CONTINUATION frames if it is larger than the peer's
    frame size; the frames must leave back to back (section 6.10)."""
    flags = END_STREAM if end_stream else 0
    size = len(block)
    if size <= max_frame_size:
        return HEAD.pack(size >> 8, size & 0xFF, HEADERS, flags | END_HEADERS, stream_id) + block
    parts = [frame(HEADERS, flags, stream_id, block[:max_frame_size])]
    for at in range(max_frame_size, size, max_frame_size):
        piece = block[at : at + max_frame_size]
        last = at + max_frame_size >= size
        parts.append(frame(CONTINUATION, END_HEADERS if last else 0, stream_id, piece))
    return b"".join(parts)


def unpack_u32(payload: bytes, at: int = 0) -> int:
    """A 32-bit big-endian number from ``payload`` at ``at``."""
    value: int = _U32.unpack_from(payload, at)[0]
    return value
