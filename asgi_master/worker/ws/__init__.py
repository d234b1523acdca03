"""WebSocket (RFC 6455, permessage-deflate) over wsproto, behind the HTTP/1.1 layer.

``handshake`` validates the upgrade and writes the 101, ``deflate`` negotiates compression,
``session`` is the sans-IO core (ASGI messages and bytes in, bytes and actions out), and
``protocol`` the asyncio adapter that takes the connection over from ``HTTPProtocol``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .handshake import HandshakeError, read_handshake
from .protocol import WebSocketProtocol
from .session import SessionState, WebSocketSession

if TYPE_CHECKING:
    from ..http.head import RequestHead
    from ..http.protocol import HTTPProtocol

__all__ = ["SessionState", "WebSocketProtocol", "WebSocketSession", "start_websocket"]

log = logging.getLogger("asgi_master.error")
_SCHEMES = {"http": "ws", "https": "wss"}


def start_websocket(http: HTTPProtocol, head: RequestHead) -> None:
    """Take over an HTTP connection whose request asks to upgrade to WebSocket: a bad
    handshake is answered 400 by the HTTP layer; otherwise the app gets a websocket scope."""
    try:
        request = read_handshake(head)
    except HandshakeError as exc:
        http.send_error(400, str(exc).encode("utf-8", "replace"))
        return
    ctx = http.ctx
    limit = ctx.limit_concurrency
    if limit and (len(ctx.tasks) >= limit or len(ctx.connections) > limit):
        log.warning("limit_concurrency (%d) reached: 503 to a WebSocket upgrade", limit)
        http.send_error(503, b"Service Unavailable", extra=b"retry-after: 1\r\n")
        return
    transport = http.transport
    assert transport is not None
    scope = http.base_scope(head)
    scope["type"] = "websocket"
    scope["scheme"] = _SCHEMES.get(scope["scheme"], scope["scheme"])
    scope["subprotocols"] = list(request.subprotocols)
    extensions = dict(scope.get("extensions") or {})
    extensions["websocket.http.response"] = {}
    scope["extensions"] = extensions
    trailing = http.detach()
    session = WebSocketSession(request, ctx.websocket, ctx.server_line)
    protocol = WebSocketProtocol(ctx, transport, session, scope)
    transport.set_protocol(protocol)
    ctx.connections.add(protocol)
    protocol.start(trailing)
    if ctx.draining:
        # an upgrade on a kept-alive connection of a draining worker: it closes right after
        # the accept, with the drain's code, like the WebSockets that were open before
        protocol.shutdown()
