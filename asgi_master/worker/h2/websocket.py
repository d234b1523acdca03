"""WebSocket over HTTP/2 (RFC 8441): an extended CONNECT with ``:protocol websocket`` opens a
stream that carries one WebSocket, and the WebSocket layer (worker/ws) runs on it unchanged.

The stream is made to look like a transport (``StreamTransport``): ``write`` sends DATA on the
stream, ``close`` ends it (END_STREAM), ``abort`` resets it, and the stream's flow control
stands in for the socket's: reading paused means the stream's window is not reopened (the
client stops sending), and writes wait while DATA waits for window or the connection's
transport is full. The handshake is answered through ``ws.handshake.H2Reply``: ``200`` to
accept, a response on the stream to deny. Limits, close codes (1012 on reload, 1001 on stop)
and the access-log line are the WebSocket layer's, as on HTTP/1.1.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Final

from ..ws.handshake import H2Reply, HandshakeError, read_extended_connect
from ..ws.protocol import WebSocketProtocol
from ..ws.session import WebSocketSession
from ..ws.upgrade import websocket_scope
from .state import ResponseState

if TYPE_CHECKING:
    from .protocol import H2Protocol
    from .request import RequestHead
    from .streams import ServerStream

_BODY: Final = ResponseState.BODY


def start_websocket(proto: H2Protocol, core: ServerStream, head: RequestHead) -> None:
    """Run the WebSocket an extended CONNECT asks for on its stream; a handshake that is not
    one is answered ``400`` on the stream (``501`` for a ``:protocol`` other than websocket)."""
    if head.protocol != "websocket":
        core.refuse_request(501, f"protocol {head.protocol!r} is not supported")
        proto.log_own(head, core)
        return
    try:
        request = read_extended_connect(head.headers)
    except HandshakeError as exc:
        core.refuse_request(400, str(exc))
        proto.log_own(head, core)
        return
    worker = proto.worker
    scope = proto.scope_for(head)
    websocket_scope(scope, request, proto.info.extensions)
    transport = StreamTransport(proto, core)
    reply = H2Reply(request, core, proto.schedule_flush)
    session = WebSocketSession(request, worker.settings.websocket, reply)
    protocol = transport.protocol = WebSocketProtocol(worker, transport, session, scope)
    proto.websockets[core.stream_id] = transport
    protocol.start(b"")
    if worker.draining or proto.draining:
        # on a connection of a draining worker: closed right after the accept, with the
        # drain's code, like the WebSockets that were open before
        protocol.shutdown()


class StreamTransport(asyncio.Transport):
    """One HTTP/2 stream as the transport of a ``WebSocketProtocol``."""

    def __init__(self, proto: H2Protocol, core: ServerStream) -> None:
        super().__init__()
        self.proto = proto
        self.core = core
        self.stream_id = core.stream_id
        self.protocol: WebSocketProtocol | None = None
        self._closing = False
        self._reading = True
        self._write_paused = False
        #: bytes received while reading was paused: their window is reopened on resume
        self._withheld = 0

    # -- asyncio.Transport, as the WebSocket adapter uses it -------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or self.core.cancelled:
            return
        core = self.core
        core.body(bytes(data), True)
        self.proto.unflushed += len(data)
        self.proto.schedule_flush()
        if (core.write_paused or self.proto.write_paused) and not self._write_paused:
            self.pause_writing()

    def is_closing(self) -> bool:
        return self._closing

    def is_reading(self) -> bool:
        return self._reading

    def pause_reading(self) -> None:
        self._reading = False

    def resume_reading(self) -> None:
        if self._reading:
            return
        self._reading = True
        if self._withheld:
            self.core.body_consumed(self._withheld)
            self._withheld = 0
            self.proto.schedule_flush()

    def close(self) -> None:
        """End the stream (END_STREAM) once what is queued has gone."""
        if self._closing:
            return
        self._closing = True
        if self.core.response is _BODY:
            self.core.body(b"", False)
        self.proto.schedule_flush()
        self.proto.loop.call_soon(self._lost)

    def abort(self) -> None:
        """Reset the stream now."""
        if self.stream_id not in self.proto.websockets:
            return
        self._closing = True
        self.core.abort("WebSocket aborted")
        self.proto.schedule_flush()
        self.proto.loop.call_soon(self._lost)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.proto.transport.get_extra_info(name, default)

    # -- the HTTP/2 connection's side ------------------------------------------------------

    def received(self, data: bytes) -> None:
        """DATA from the client: WebSocket frames."""
        assert self.protocol is not None
        self.protocol.data_received(data)
        if self._reading:
            self.core.body_consumed(len(data))
        else:
            self._withheld += len(data)

    def ended(self) -> None:
        """The client's END_STREAM: its side of the WebSocket is closed (as a TCP FIN)."""
        assert self.protocol is not None
        self.protocol.eof_received()

    def pause_writing(self) -> None:
        """The stream's window or the connection's transport is full."""
        if not self._write_paused and self.protocol is not None:
            self._write_paused = True
            self.protocol.pause_writing()

    def writable(self) -> None:
        """The stream's DATA left, or the transport drained: writes may go on."""
        if self._write_paused and not self.core.write_paused and not self.proto.write_paused:
            self._write_paused = False
            assert self.protocol is not None
            self.protocol.resume_writing()

    def shutdown(self) -> None:
        """The worker drains: the WebSocket closes with the drain's code."""
        if self.protocol is not None:
            self.protocol.shutdown()

    def reset(self) -> None:
        """The stream ended under the WebSocket (reset by the client, or the connection
        ended): it is lost at once."""
        self._closing = True
        self._lost()

    def _lost(self) -> None:
        if self.proto.websockets.pop(self.stream_id, None) is not None:
            assert self.protocol is not None
            self.protocol.connection_lost(None)
