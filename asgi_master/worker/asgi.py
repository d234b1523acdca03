"""What every protocol of the worker shares with the app: the ASGI 3 types, the errors an app
can meet in ``send``, and the extensions the server offers. A leaf module: it imports nothing
of the package, so the app loader, lifespan, HTTP/1.1, HTTP/2 and WebSocket can all use it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: ``scope["asgi"]`` of HTTP and WebSocket scopes
ASGI_VERSION: Final = {"version": "3.0", "spec_version": "2.4"}
#: ``scope["asgi"]`` of the lifespan scope
LIFESPAN_VERSION: Final = {"version": "3.0", "spec_version": "2.0"}

#: ``scope["extensions"]`` of HTTP requests (``tls`` is added per connection over TLS)
HTTP_EXTENSIONS: Final[dict[str, dict[str, Any]]] = {
    "http.response.trailers": {},
    "http.response.pathsend": {},
    "http.response.early_hint": {},
}


class ClientDisconnected(OSError):
    """``send`` was called after the client went away (ASGI spec 2.4: an OSError subclass)."""


class ASGIMessageError(RuntimeError):
    """The app sent a message that is malformed or not allowed in the cycle's state."""


class ResponseError(Exception):
    """The app's response cannot be put on the wire as given (a bad header, a body that breaks
    its content-length...): the protocol layer's reason, which the cycle turns into an
    ``ASGIMessageError`` for the app."""
