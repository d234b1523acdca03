"""The WebSocket upgrade of an HTTP/1.1 connection (``start_websocket``, loaded by the first
one: see ``__init__``), and the websocket scope that HTTP/2's extended CONNECT shares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .handshake import HandshakeError, HandshakeRequest, HTTP11Reply, read_handshake
from .protocol import WebSocketProtocol
from .session import WebSocketSession

if TYPE_CHECKING:
    from ..http.head import RequestHead
    from ..http.protocol import HTTPProtocol

__all__ = ["start_websocket", "websocket_scope"]

_SCHEMES = {"http": "ws", "https": "wss"}


def start_websocket(http: HTTPProtocol, head: RequestHead) -> None:
    """Take over an HTTP connection whose request asks to upgrade to WebSocket (the HTTP
    layer's upgrade handler for ``websocket``): a bad handshake is answered 400 by the HTTP
    layer; otherwise the app gets a websocket scope."""
    try:
        request = read_handshake(head)
    except HandshakeError as exc:
        http.refuse_request(400, str(exc).encode("utf-8", "replace"), head)
        return
    worker = http.worker
    settings = worker.settings
    transport = http.transport
    assert transport is not None
    scope = http.scope_for(head)
    websocket_scope(scope, request, http.info.extensions)
    trailing = http.detach()
    session = WebSocketSession(
        request, settings.websocket, HTTP11Reply(request, settings.response_defaults)
    )
    protocol = WebSocketProtocol(worker, transport, session, scope)
    transport.set_protocol(protocol)
    worker.connections.add(protocol)
    protocol.start(trailing)
    if worker.draining:
        # an upgrade on a kept-alive connection of a draining worker: it closes right after
        # the accept, with the drain's code, like the WebSockets that were open before
        protocol.shutdown()


def websocket_scope(
    scope: dict[str, Any], request: HandshakeRequest, extensions: dict[str, Any]
) -> None:
    """Make the HTTP scope of a handshake request a websocket scope (in place);
    ``extensions`` are the connection's (its ``tls`` is kept)."""
    scope["type"] = "websocket"
    scope["scheme"] = _SCHEMES.get(scope["scheme"], scope["scheme"])
    scope["subprotocols"] = list(request.subprotocols)
    websocket_extensions: dict[str, object] = {"websocket.http.response": {}}
    tls = extensions.get("tls")
    if tls is not None:
        websocket_extensions["tls"] = tls
    scope["extensions"] = websocket_extensions
