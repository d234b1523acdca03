"""One WebSocket session, sans-IO: network bytes and the app's ASGI messages in; bytes to write,
messages for the app's ``receive`` and what to do with the transport out. No sockets, no
clocks: the adapter (``protocol.py``) owns the transport, the timers and the app task, and
calls ``ping``, ``ping_timed_out`` or ``close_timed_out`` when a timer fires.

Theory of operation. The session starts CONNECTING, with ``websocket.connect`` waiting in the
inbox. The app answers with ``websocket.accept`` (-> OPEN: the 101 response is written and a
wsproto connection is created with the bytes that arrived meanwhile), ``websocket.close`` (a
403) or ``websocket.http.response.start`` (-> RESPONDING, until the last body part). Message
order is the transition table ``_TRANSITIONS``: anything else raises ``ASGIMessageError`` naming
the state and the message type, except once the connection is gone without the app closing it,
when ``send`` raises ``ClientDisconnected`` (an OSError, as ASGI asks).

A close the server starts (the app's ``websocket.close``, an oversized message, a drain) sends a
close frame and waits in CLOSING for the peer's; a close the peer starts is answered at once;
a connection the peer broke (a protocol error, invalid UTF-8) or that stopped answering pings is
failed: close frame, then the TCP connection is closed without waiting. Either way the session
ends CLOSED, and the app's next ``receive`` (after messages already queued) is
``websocket.disconnect`` with the code the session ended with: the peer's close code, the code of
the close frame the server sent, or 1006 when no close frame was exchanged.

While open, the common frame (a masked, unfragmented message of up to 64 KiB) is read, and an
outgoing message written, by ``frames`` instead of wsproto, whose general parser cost most of an
echo's time; every other frame reaches wsproto byte for byte (a differential test holds both).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage

from ..asgi import ASGIMessageError, ClientDisconnected, Message, ResponseError
from .deflate import ServerDeflate, negotiate
from .frames import FIN_BINARY, FIN_TEXT, FrameScanner, data_frame, valid_close_code
from .handshake import AcceptError, HandshakeReply, HandshakeRequest, HTTP11Reply
from .inbox import QUEUE_HIGH_WATER, Inbox, MessageTooLarge

if TYPE_CHECKING:
    from ..context import WebSocketSettings

#: with permessage-deflate, bytes are fed to the decompressor in slices this big, so that a
#: small compressed frame cannot inflate far past the message size limit before it is checked
DEFLATE_SLICE: Final = 8 * 1024
ABNORMAL_CLOSURE: Final = 1006


class SessionState(enum.Enum):
    """Where the session stands, as seen from the app's messages and the peer's frames."""

    CONNECTING = "connecting (awaiting websocket.accept, websocket.close or a denial response)"
    RESPONDING = "sending a denial response"
    OPEN = "open"
    CLOSING = "closing (a close frame was sent; awaiting the peer's)"
    CLOSED = "closed"

    # used as dict keys on hot paths: identity hash, in C (docs/design.md, "Enum states")
    __hash__ = object.__hash__


# hot paths compare with these, not with ``Enum.MEMBER`` (docs/design.md, "Enum states")
_CONNECTING: Final = SessionState.CONNECTING
_RESPONDING: Final = SessionState.RESPONDING
_OPEN: Final = SessionState.OPEN
_CLOSING: Final = SessionState.CLOSING
_CLOSED: Final = SessionState.CLOSED


class TransportAction(enum.Enum):
    """What the adapter should do with the TCP connection."""

    KEEP = "keep it open"
    CLOSE = "close it once what is queued is written"
    ABORT = "abort it"


# (the same, for TransportAction)
_ACTION_KEEP: Final = TransportAction.KEEP
_ACTION_CLOSE: Final = TransportAction.CLOSE
_ACTION_ABORT: Final = TransportAction.ABORT
# (and for wsproto's connection states)
_WS_OPEN: Final = ConnectionState.OPEN
_WS_LOCAL_CLOSING: Final = ConnectionState.LOCAL_CLOSING
_WS_REMOTE_CLOSING: Final = ConnectionState.REMOTE_CLOSING
_WS_CLOSED: Final = ConnectionState.CLOSED


class WebSocketSession:
    """The state of one WebSocket connection between the network and the app."""

    __slots__ = (
        "_app_closed",
        "_close_after_accept",
        "_close_code",
        "_close_reason",
        "_conn",
        "_deflate",
        "_extensions",
        "_failed",
        "_fast_frames",
        "_gone",
        "_inbox",
        "_out",
        "_pending",
        "_ping_payload",
        "_scanner",
        "bytes_sent",
        "reply",
        "request",
        "settings",
        "state",
        "status",
        "transport_action",
    )

    def __init__(
        self,
        request: HandshakeRequest,
        settings: WebSocketSettings,
        reply: HandshakeReply | None = None,
        *,
        fast_frames: bool = True,
    ) -> None:
        """``reply``: how the handshake is answered (HTTP/1.1 by default)."""
        self.request = request
        self.settings = settings
        self.reply = reply if reply is not None else HTTP11Reply(request)
        self.state = _CONNECTING
        self.transport_action = _ACTION_KEEP
        #: 101 (200 on HTTP/2) once accepted, or the denial response's status (access log)
        self.status = 0
        #: message payload (or denial body) bytes the app sent
        self.bytes_sent = 0
        negotiated = negotiate(request.extension_offers) if settings.per_message_deflate else None
        self._deflate: ServerDeflate | None = negotiated[0] if negotiated else None
        self._extensions: bytes | None = negotiated[1] if negotiated else None
        self._conn: Connection | None = None
        #: one-frame messages read and written without wsproto (see ``frames``), except with
        #: permessage-deflate; once the session is no longer open, wsproto reads everything
        self._fast_frames = fast_frames and self._deflate is None
        self._scanner: FrameScanner | None = None
        self._out: list[bytes] = []
        self._pending = bytearray()
        self._inbox = Inbox(settings.max_message_size)
        self._ping_payload: bytes | None = None
        self._close_code = ABNORMAL_CLOSURE
        self._close_reason = ""
        self._close_after_accept: tuple[int, str] | None = None
        self._app_closed = False
        self._gone = False
        self._failed = False

    # -- output ---------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """Bytes to write to the peer, in order; each call hands them over once."""
        out = self._out
        if not out:
            return b""
        data = b"".join(out)
        out.clear()
        return data

    @property
    def inbox_full(self) -> bool:
        """Enough waits for the app: stop reading from the peer until it catches up."""
        return self._inbox.full or len(self._pending) >= QUEUE_HIGH_WATER

    @property
    def awaiting_pong(self) -> bool:
        """A ping the server sent has not been answered yet."""
        return self._ping_payload is not None

    @property
    def deflate(self) -> bool:
        """permessage-deflate was negotiated."""
        return self._deflate is not None

    def next_message(self) -> Message | None:
        """The next message for the app's ``receive``, or None if it must wait; after the
        disconnect, every call returns it again."""
        return self._inbox.next_message()

    # -- input from the network -----------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Bytes received from the peer."""
        if self.state is _CONNECTING:
            # nothing is parsed before the app accepts: a denied connection never speaks
            # WebSocket, so its bytes are never interpreted as frames
            self._pending += data
            return
        conn = self._conn
        if conn is None or self._failed:
            return
        scanner = self._scanner
        if scanner is not None:
            if self.state is _OPEN and conn.state is _WS_OPEN:
                if scanner.feed(data, self._fast_message, self._wsproto_frames):
                    return
                data = b""
            # not open any more: wsproto reads the rest, from where the scanner stopped
            self._scanner = None
            data = scanner.take_buffered() + data
            if not data or self._failed:
                return
        step = DEFLATE_SLICE if self._deflate is not None else max(len(data), 1)
        for start in range(0, len(data), step):
            if conn.state not in (_WS_OPEN, _WS_LOCAL_CLOSING):
                return
            conn.receive_data(data[start : start + step] if step < len(data) else data)
            self._process_events(conn)
            if self._failed:
                return

    def _fast_message(self, first_byte: int, payload: bytes) -> bool:
        """A one-frame message the scanner read; False once the session is no longer open."""
        if first_byte == FIN_TEXT:
            try:
                text = payload.decode("utf-8")
            except UnicodeDecodeError:
                # wsproto fails the connection (1007) in its own words: hand it the frame, with
                # an all-zero mask so that the payload stays as it is
                return self._wsproto_frames(data_frame(FIN_TEXT, payload, zero_mask=True))
            message: Message = {"type": "websocket.receive", "text": text}
        else:
            message = {"type": "websocket.receive", "bytes": payload}
        self._inbox.put(message, len(payload))
        return True

    def _wsproto_frames(self, data: bytes) -> bool:
        """Bytes of frames the scanner leaves to wsproto; False once the session is no longer
        open."""
        conn = self._conn
        assert conn is not None
        conn.receive_data(data)
        self._process_events(conn)
        return not self._failed and self.state is _OPEN and conn.state is _WS_OPEN

    def connection_lost(self) -> None:
        """The TCP connection is gone (or the peer closed its side)."""
        self._gone = True
        if self.state is not _CLOSED:
            closing = self.state is _CLOSING
            self._finish(
                self._close_code if closing else ABNORMAL_CLOSURE,
                self._close_reason if closing else "",
            )

    def _process_events(self, conn: Connection) -> None:
        for event in conn.events():
            if isinstance(event, TextMessage | BytesMessage):
                if self.state is _OPEN:
                    self._message_part(event)
            elif isinstance(event, Ping):
                if conn.state is _WS_OPEN:
                    self._out.append(conn.send(event.response()))
            elif isinstance(event, Pong):
                if event.payload == self._ping_payload:
                    self._ping_payload = None
            elif isinstance(event, CloseConnection):
                self._peer_close(conn, event)

    def _peer_close(self, conn: Connection, event: CloseConnection) -> None:
        if conn.state is _WS_REMOTE_CLOSING:
            # the peer starts the closing handshake: answer with its code, then close first
            # (RFC 6455 7.1.1: the server closes the TCP connection)
            self._out.append(conn.send(CloseConnection(code=event.code)))
            self._gone = True
            self._finish(event.code, event.reason or "")
        elif conn.state is _WS_CLOSED:
            # the peer's answer to our close frame
            self._finish(self._close_code, self._close_reason)
        else:
            # wsproto could not parse what the peer sent (it reports that as a close event
            # without a state change): fail the connection with the code it chose
            self._failed = True
            self._gone = True
            if conn.state is _WS_OPEN:
                self._close(event.code, event.reason or "", wait=False)
            else:
                self._finish(self._close_code, self._close_reason)

    def _message_part(self, event: TextMessage | BytesMessage) -> None:
        try:
            self._inbox.fragment(event.data, event.message_finished)
        except MessageTooLarge as exc:
            self._gone = True
            self._close(1009, str(exc), wait=True)

    # -- timers (called by the adapter) ---------------------------------------------------

    def ping(self, payload: bytes) -> bool:
        """Send a keep-alive ping; False if the session is not open."""
        conn = self._conn
        if self.state is not _OPEN or conn is None:
            return False
        self._out.append(conn.send(Ping(payload)))
        self._ping_payload = payload
        return True

    def ping_timed_out(self) -> None:
        """The peer did not answer a ping in time: fail the connection with 1011."""
        if self.state is _OPEN and self.awaiting_pong:
            self._gone = True
            self._close(1011, "keepalive ping timeout", wait=False)

    def close_timed_out(self) -> None:
        """The peer did not answer our close frame in time: end the session anyway."""
        if self.state is _CLOSING:
            self._finish(self._close_code, self._close_reason)

    def server_close(self, code: int, reason: str) -> None:
        """The server ends the session (a drain): a close frame now if open, right after the
        accept if still connecting; the app's next sends raise ``ClientDisconnected``."""
        if self.state is _OPEN:
            self._gone = True
            self._close(code, reason, wait=True)
        elif self.state is _CONNECTING:
            self._close_after_accept = (code, reason)

    # -- the app's side -------------------------------------------------------------------

    def app_message(self, message: Message) -> None:
        """Validate one message from the app against the state and act on it."""
        try:
            kind = message["type"]
            handler = _TRANSITIONS.get((self.state, kind))
        except (KeyError, TypeError):
            raise ASGIMessageError(f"message {message!r} has no 'type'") from None
        if handler is None:
            if self._gone and not self._app_closed and kind in _APP_TYPES:
                raise ClientDisconnected("the WebSocket connection is closed")
            raise ASGIMessageError(
                f"unexpected {kind!r} message while the WebSocket is {self.state.value}"
            )
        handler(self, message)

    def app_ended(self, failed: bool) -> None:
        """The app returned (or raised, with ``failed``): finish what it left open. Before
        an answer to the handshake that is a 500; in the middle of a denial response the
        connection is aborted; an open WebSocket is closed with 1000 (1011 on failure)."""
        state = self.state
        if state is _CONNECTING:
            self._deny(500, b"Internal Server Error\n")
        elif state is _RESPONDING:
            if self.reply.response_started:
                self.state = _CLOSED
                self.transport_action = _ACTION_ABORT
                self._end(ABNORMAL_CLOSURE, "")
            else:
                self._deny(500, b"Internal Server Error\n")
        elif state is _OPEN:
            self._app_closed = True
            self._close(1011 if failed else 1000, "", wait=True)

    def _on_accept(self, message: Message) -> None:
        headers = message.get("headers") or ()
        try:
            response = self.reply.accept(message.get("subprotocol"), headers, self._extensions)
        except AcceptError as exc:
            raise ASGIMessageError(f"websocket.accept: {exc}") from None
        self._out.append(response)
        self.status = self.reply.accept_status
        self.state = _OPEN
        self._conn = Connection(
            ConnectionType.SERVER, [self._deflate] if self._deflate is not None else None
        )
        if self._fast_frames:
            self._scanner = FrameScanner(self.settings.max_message_size)
        pending = bytes(self._pending)
        self._pending.clear()
        if pending:
            self.receive_data(pending)
        if self._close_after_accept is not None and self.state is _OPEN:
            self._gone = True
            self._close(*self._close_after_accept, wait=True)

    def _on_deny(self, message: Message) -> None:
        # websocket.close before accept: ASGI says 403
        self._app_closed = True
        self._deny(403, b"")

    def _deny(self, status: int, body: bytes) -> None:
        self._out.append(self.reply.deny(status, body))
        self.status = status
        self.state = _CLOSED
        self.transport_action = _ACTION_CLOSE
        self._end(ABNORMAL_CLOSURE, "")

    def _on_response_start(self, message: Message) -> None:
        try:
            self.status = self.reply.start_response(
                message.get("status", 0), message.get("headers") or ()
            )
        except ResponseError as exc:
            raise ASGIMessageError(f"websocket.http.response.start: {exc}") from None
        self.state = _RESPONDING

    def _on_response_body(self, message: Message) -> None:
        body = message.get("body", b"")
        if not isinstance(body, bytes | bytearray | memoryview):
            raise ASGIMessageError(
                f"websocket.http.response.body 'body' must be bytes, not {type(body).__name__}"
            )
        more = bool(message.get("more_body", False))
        try:
            self._out.append(self.reply.response_body(bytes(body), more))
        except ResponseError as exc:
            raise ASGIMessageError(f"websocket.http.response.body: {exc}") from None
        self.bytes_sent += len(body)
        if not more:
            self._app_closed = True
            self.state = _CLOSED
            self.transport_action = _ACTION_CLOSE
            self._end(ABNORMAL_CLOSURE, "")

    def _on_send(self, message: Message) -> None:
        data = message.get("bytes")
        text = message.get("text")
        if (data is None) == (text is None):
            raise ASGIMessageError("websocket.send needs exactly one of 'bytes' and 'text'")
        if text is not None:
            if not isinstance(text, str):
                raise ASGIMessageError(
                    f"websocket.send 'text' must be str, not {type(text).__name__}"
                )
            first_byte, payload = FIN_TEXT, text.encode("utf-8")
            self.bytes_sent += len(text)
        else:
            if not isinstance(data, bytes | bytearray | memoryview):
                raise ASGIMessageError(
                    f"websocket.send 'bytes' must be bytes, not {type(data).__name__}"
                )
            first_byte, payload = FIN_BINARY, bytes(data)
            self.bytes_sent += len(data)
        conn = self._conn
        assert conn is not None
        if self._fast_frames and conn.state is _WS_OPEN:
            self._out.append(data_frame(first_byte, payload))
        elif first_byte == FIN_TEXT:
            self._out.append(conn.send(TextMessage(data=payload.decode("utf-8"))))
        else:
            self._out.append(conn.send(BytesMessage(data=payload)))

    def _on_close(self, message: Message) -> None:
        code = message.get("code")
        code = 1000 if code is None else code
        reason = message.get("reason") or ""
        if not valid_close_code(code):
            raise ASGIMessageError(
                f"websocket.close: {code!r} is not a close code an endpoint may send"
            )
        if not isinstance(reason, str):
            raise ASGIMessageError(
                f"websocket.close 'reason' must be str, not {type(reason).__name__}"
            )
        self._app_closed = True
        self._close(code, reason, wait=True)

    # -- ending ---------------------------------------------------------------------------

    def _close(self, code: int, reason: str, *, wait: bool) -> None:
        """Send a close frame; then wait for the peer's (CLOSING) or finish now."""
        conn = self._conn
        if conn is not None and conn.state is _WS_OPEN:
            self._out.append(conn.send(CloseConnection(code=code, reason=reason)))
        if self._deflate is not None:
            self._deflate.discard = True
        self._close_code = code
        self._close_reason = reason
        if wait and not self._failed:
            self.state = _CLOSING
        else:
            self._finish(code, reason)

    def _finish(self, code: int, reason: str) -> None:
        self.state = _CLOSED
        if self.transport_action is _ACTION_KEEP:
            self.transport_action = _ACTION_CLOSE
        self._end(code, reason)

    def _end(self, code: int, reason: str) -> None:
        self._inbox.disconnect(code, reason)


_Handler = Callable[[WebSocketSession, Message], None]
_TRANSITIONS: Final[dict[tuple[SessionState, str], _Handler]] = {
    (_CONNECTING, "websocket.accept"): WebSocketSession._on_accept,
    (_CONNECTING, "websocket.close"): WebSocketSession._on_deny,
    (_CONNECTING, "websocket.http.response.start"): WebSocketSession._on_response_start,
    (_RESPONDING, "websocket.http.response.body"): WebSocketSession._on_response_body,
    (_OPEN, "websocket.send"): WebSocketSession._on_send,
    (_OPEN, "websocket.close"): WebSocketSession._on_close,
}
#: the message types an app may send at all (a late one after the peer left is a disconnect)
_APP_TYPES: Final = frozenset(kind for _, kind in _TRANSITIONS)
