"""The common WebSocket frame, read and written without wsproto.

Most traffic on an open connection is one-frame text or binary messages: FIN set, no reserved
bits, masked (client to server), small. ``FrameScanner`` reads frame heads and hands back such
frames whole and unmasked; every other byte (control frames, fragments, reserved bits, anything
malformed or large) it passes on for wsproto to parse, at frame granularity, so that wsproto sees
exactly the byte stream it would have seen alone and keeps its own state for what it handles.
``data_frame`` writes the one-frame message a server sends. The session decides when the fast
frames apply (an open connection without permessage-deflate); a differential test checks that
the session answers any byte stream the same with and without them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

#: first byte of a one-frame message: FIN, no reserved bits, opcode text (1) or binary (2)
FIN_TEXT: Final = 0x81
FIN_BINARY: Final = 0x82
#: frames with longer payloads go to wsproto, which streams them (the scanner never buffers
#: more than one such frame plus its head)
MAX_FAST_PAYLOAD: Final = 64 * 1024
#: below this size unmasking through one big integer beats byte-table translation
_INT_MASK_LIMIT: Final = 1024
_XOR_TABLES: Final = [bytes(a ^ b for a in range(256)) for b in range(256)]


def unmask(payload: bytes, key: bytes) -> bytes:
    """XOR ``payload`` with the 4-byte masking ``key`` repeated (RFC 6455 5.3)."""
    size = len(payload)
    if size <= _INT_MASK_LIMIT:
        keys = (key * (size // 4 + 1))[:size]
        value = int.from_bytes(payload, "little") ^ int.from_bytes(keys, "little")
        return value.to_bytes(size, "little")
    data = bytearray(payload)
    for offset in range(4):
        data[offset::4] = data[offset::4].translate(_XOR_TABLES[key[offset]])
    return bytes(data)


def data_frame(first_byte: int, payload: bytes, *, zero_mask: bool = False) -> bytes:
    """A one-frame message: ``first_byte`` is ``FIN_TEXT`` or ``FIN_BINARY``. Unmasked, as a
    server sends it; with ``zero_mask``, masked with the key 0 (the payload unchanged), as a
    client's frame is handed on to wsproto."""
    size = len(payload)
    masked = 0x80 if zero_mask else 0
    if size < 126:
        head = bytes((first_byte, masked | size))
    elif size < 0x10000:
        head = bytes((first_byte, masked | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((first_byte, masked | 127)) + size.to_bytes(8, "big")
    return head + b"\0\0\0\0" + payload if zero_mask else head + payload


def _payload_length(head: bytes) -> int:
    """The payload length a complete frame head declares."""
    length = head[1] & 0x7F
    if length == 126:
        return int.from_bytes(head[2:4], "big")
    if length == 127:
        return int.from_bytes(head[2:10], "big")
    return length


class FrameScanner:
    """Splits received bytes into fast one-frame messages and bytes for wsproto.

    ``feed`` calls ``on_message(first_byte, payload)`` for each fast frame and ``on_other(data)``
    for the rest, in stream order; either returns False to stop (the session is no longer
    open), after which ``feed`` keeps whatever it had not passed on. A frame is fast when its
    first two bytes say so (FIN, text or binary, masked, no fragmented message open in
    wsproto), its length is in the shortest form and within ``max_payload``, and, for text, it
    arrived whole. Any other frame goes to wsproto as its bytes arrive, head first, so that
    wsproto fails a bad one as early as it would alone; the scanner follows the head only to
    learn where the frame ends.
    """

    __slots__ = ("_buffer", "_head", "_head_size", "_in_message", "_owed", "max_payload")

    def __init__(self, max_payload: int) -> None:
        #: a fast frame longer than this is wsproto's to refuse (message size limit); 0 = none
        self.max_payload = min(max_payload, MAX_FAST_PAYLOAD) if max_payload else MAX_FAST_PAYLOAD
        #: the start of a fast frame, held until it is whole
        self._buffer = b""
        #: the head of wsproto's current frame, as far as it has arrived, and its full size
        self._head = b""
        self._head_size = 0
        #: payload bytes of wsproto's current frame still to pass on
        self._owed = 0
        #: wsproto holds the first frames of a fragmented message: the rest must follow it
        self._in_message = False

    @property
    def buffered(self) -> int:
        """Bytes held back: the start of a fast frame not complete yet."""
        return len(self._buffer)

    def take_buffered(self) -> bytes:
        """Give up what is held back (the session falls back to wsproto for good)."""
        data, self._buffer = self._buffer, b""
        self._head, self._head_size, self._owed = b"", 0, 0
        return data

    def feed(
        self,
        data: bytes,
        on_message: Callable[[int, bytes], bool],
        on_other: Callable[[bytes], bool],
    ) -> bool:
        """Scan ``data``; False if a callback stopped the scan."""
        if self._buffer:
            data = self._buffer + data
            self._buffer = b""
        end = len(data)
        pos = 0
        while pos < end:
            if self._head_size or self._owed:
                if self._head_size:
                    chunk = data[pos : pos + self._head_size - len(self._head)]
                    self._head += chunk
                    if len(self._head) == self._head_size:
                        self._owed = _payload_length(self._head)
                        self._head, self._head_size = b"", 0
                else:
                    chunk = data[pos : pos + self._owed]
                    self._owed -= len(chunk)
                pos += len(chunk)
                if not on_other(chunk):
                    self._buffer = data[pos:]
                    return False
                continue
            if end - pos < 2:
                break
            first = data[pos]
            second = data[pos + 1]
            length = second & 0x7F
            unmasked = 2 if length < 126 else 4 if length == 126 else 10
            head = unmasked + 4 if second & 0x80 else unmasked
            if first in (FIN_TEXT, FIN_BINARY) and second & 0x80 and not self._in_message:
                if end - pos < unmasked:
                    break
                # a length in a longer form than it needs is a protocol error: wsproto's to tell
                shortest = True
                if length == 126:
                    length = int.from_bytes(data[pos + 2 : pos + 4], "big")
                    shortest = length >= 126
                elif length == 127:
                    length = int.from_bytes(data[pos + 2 : pos + 10], "big")
                    shortest = length >= 0x10000
                stop = pos + head + length
                # an incomplete text frame goes to wsproto, whose UTF-8 check fails the
                # connection on the first bad byte instead of once the frame is whole
                if (
                    shortest
                    and length <= self.max_payload
                    and (stop <= end or first == FIN_BINARY or end - pos < head)
                ):
                    if stop > end:
                        break
                    payload = unmask(data[pos + head : stop], data[pos + head - 4 : pos + head])
                    pos = stop
                    if not on_message(first, payload):
                        self._buffer = data[pos:]
                        return False
                    continue
            if first & 0x0F < 8:  # a data frame: its FIN says whether a message stays open
                self._in_message = not first & 0x80
            self._head_size = head
        self._buffer = data[pos:]
        return True


def valid_close_code(code: object) -> bool:
    """A code an endpoint may put in a close frame (RFC 6455 7.4, with the IANA registry's
    1012-1014)."""
    return type(code) is int and (
        1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999
    )
