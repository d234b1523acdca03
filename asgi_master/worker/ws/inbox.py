"""What waits for a WebSocket app's ``receive``: the messages received from the peer (assembled
from their fragments, within ``websocket_max_message_size``), in order, then the disconnect,
which every later ``receive`` gets again. Sans-IO, like the session that owns it.
"""

from __future__ import annotations

from collections import deque
from typing import Final, cast

from ..asgi import Message

#: reading pauses while this many received messages, or bytes of them, wait for the app
MAX_QUEUE: Final = 32
QUEUE_HIGH_WATER: Final = 1024 * 1024


class MessageTooLarge(Exception):
    """A message being assembled is over the size limit (the session closes with 1009)."""


class Inbox:
    """The app's side of a WebSocket session's input."""

    __slots__ = ("_disconnect", "_messages", "_part_size", "_parts", "_queued_bytes", "max_size")

    def __init__(self, max_size: int) -> None:
        #: the largest message taken (0: no limit)
        self.max_size = max_size
        self._messages: deque[tuple[Message, int]] = deque([({"type": "websocket.connect"}, 0)])
        self._queued_bytes = 0
        #: the fragments of the message being received (all str or all bytes)
        self._parts: list[str | bytes | bytearray] = []
        self._part_size = 0
        self._disconnect: Message | None = None

    @property
    def full(self) -> bool:
        """Enough waits for the app: stop reading from the peer until it catches up."""
        return len(self._messages) >= MAX_QUEUE or self._queued_bytes >= QUEUE_HIGH_WATER

    def next_message(self) -> Message | None:
        """The next message for the app's ``receive``, or None if it must wait; after the
        disconnect, every call returns it again."""
        if self._messages:
            message, size = self._messages.popleft()
            self._queued_bytes -= size
            return message
        if self._disconnect is not None:
            return dict(self._disconnect)
        return None

    def put(self, message: Message, size: int) -> None:
        """A whole message of ``size`` payload bytes."""
        self._messages.append((message, size))
        self._queued_bytes += size

    def fragment(self, data: str | bytes | bytearray, finished: bool) -> None:
        """A fragment of a message (text if ``data`` is str); the message is put once
        ``finished``. Raises ``MessageTooLarge`` past the limit (the fragments are dropped)."""
        if isinstance(data, str):
            size = len(data) if data.isascii() else len(data.encode("utf-8"))
        else:
            size = len(data)
        total = self._part_size + size
        if self.max_size and total > self.max_size:
            self._parts = []
            self._part_size = 0
            raise MessageTooLarge(f"message larger than {self.max_size} bytes")
        parts = self._parts
        parts.append(data)
        self._part_size = total
        if not finished:
            return
        message: Message
        if isinstance(data, str):
            message = {"type": "websocket.receive", "text": "".join(cast(list[str], parts))}
        else:
            message = {"type": "websocket.receive", "bytes": b"".join(cast(list[bytes], parts))}
        self._parts = []
        self._part_size = 0
        self.put(message, total)

    def disconnect(self, code: int, reason: str) -> None:
        """The session ended: after what is queued, ``receive`` gets the disconnect (once
        set, later calls change nothing)."""
        if self._disconnect is None:
            disconnect = {"type": "websocket.disconnect", "code": int(code), "reason": reason}
            self._disconnect = disconnect
            self._messages.append((dict(disconnect), 0))
