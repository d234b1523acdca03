"""The send side shared by a connection's streams: the bytes waiting for the transport, the
connection's send window and the peer's frame size, and the streams whose DATA waits for
window. ``flush`` shares the window among waiting streams a frame at a time, round robin, so
one large response does not hold back the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from .compression import TABLE_SIZE_ZERO, encode_field
from .frames import DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW
from .response import NOTED

if TYPE_CHECKING:
    from .streams import ServerStream

#: (lowercase name, value) fields every response carries unless the app sends one of the
#: same name: ``server`` and the ``headers`` setting's
Fields = Iterable[tuple[bytes, bytes]]
#: the default: ``server: asgi-master``
SERVER_FIELDS: Final = ((b"server", b"asgi-master"),)


class Outbox:
    """Bytes out and the connection-level send flow control."""

    __slots__ = (
        "_first_block",
        "blocked",
        "date_field",
        "dribbles",
        "max_frame",
        "noting",
        "pieces",
        "server_fields",
        "window",
    )

    def __init__(self, fields: Fields) -> None:
        #: wire bytes in order, not yet handed to the transport
        self.pieces: list[bytes | memoryview] = []
        #: the connection's send window (WINDOW_UPDATE on stream 0 opens it)
        self.window = DEFAULT_WINDOW
        #: the peer's SETTINGS_MAX_FRAME_SIZE
        self.max_frame = DEFAULT_MAX_FRAME_SIZE
        #: streams with DATA, an END_STREAM or trailers waiting for window, by id, in the
        #: order they began to wait
        self.blocked: dict[int, ServerStream] = {}
        #: the encoded ``date`` field (set by the adapter once a second; empty: not sent) and
        #: the other fields every response gets unless the app sends one of the same name
        #: (``server``, the ``headers`` setting's), as (name, encoded field)
        self.date_field = b""
        self.server_fields = tuple((name, encode_field(name, value)) for name, value in fields)
        #: the names of response fields the stream notes the values of (those it acts on and
        #: those an app's field replaces)
        self.noting = NOTED | {name for name, _ in self.server_fields}
        #: DATA frames the window cut to under 1 KiB with more waiting (counted by the
        #: connection against the data-dribble budget)
        self.dribbles = 0
        self._first_block = True

    def header_block(self, parts: list[bytes]) -> bytes:
        """A header block of encoded fields; the connection's first one opens with a table size
        update to 0 (see compression)."""
        if self._first_block:
            self._first_block = False
            return TABLE_SIZE_ZERO + b"".join(parts)
        return b"".join(parts)

    def take(self) -> bytes:
        """Everything waiting, as one bytes object."""
        pieces = self.pieces
        if not pieces:
            return b""
        data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        self.pieces = []
        return bytes(data) if type(data) is not bytes else data

    def take_pieces(self) -> list[bytes | memoryview]:
        """Everything waiting, as pieces for a vectored write (large DATA is not copied)."""
        pieces = self.pieces
        self.pieces = []
        return pieces

    def flush(self) -> list[int]:
        """Send what the windows allow from the waiting streams, one frame per stream per
        round; the ids of the streams that have nothing left waiting."""
        emptied: list[int] = []
        blocked = self.blocked
        while blocked:
            progress = False
            for stream_id, stream in list(blocked.items()):
                if stream.pump(1):
                    progress = True
                if not stream.waiting:
                    blocked.pop(stream_id, None)
                    emptied.append(stream_id)
            if not progress or self.window <= 0:
                break
        return emptied
