"""The WebSocket opening handshake (RFC 6455 section 4), sans-IO: a request head in, the
validated facts the session needs out; the app's accept in, the ``101`` response bytes out.

Validation happens before the HTTP layer lets go of the connection, so a request that is not a
proper upgrade is answered ``400`` by the HTTP layer like any other bad request.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Protocol

from wsproto.utilities import generate_accept_token

from ...grammar import CONTROL, TOKEN
from ..http.head import RequestHead
from ..http.writer import PLAIN, ResponseDefaults, ResponseWriter, simple_response

#: headers the handshake itself owns; an app must not set them through ``headers``
_RESERVED: Final = frozenset({b"upgrade", b"connection", b"content-length", b"transfer-encoding"})


class HandshakeError(Exception):
    """The upgrade request is not a valid WebSocket opening handshake (answered ``400``)."""


class AcceptError(Exception):
    """The app's ``websocket.accept`` cannot be put on the wire as given."""


@dataclass(frozen=True, slots=True)
class HandshakeRequest:
    """What the server needs from a client's opening handshake."""

    key: bytes
    #: from Sec-WebSocket-Protocol, in the client's order of preference
    subprotocols: tuple[str, ...]
    #: the raw Sec-WebSocket-Extensions values (offers), in order
    extension_offers: tuple[bytes, ...]


def _one(values: dict[bytes, list[bytes]], name: bytes) -> bytes:
    found = values.get(name, [])
    if len(found) != 1:
        header = name.decode("ascii").title().replace("Websocket", "WebSocket")
        raise HandshakeError(f"{'missing' if not found else 'repeated'} {header} header")
    return found[0].strip()


def read_handshake(head: RequestHead) -> HandshakeRequest:
    """Validate an upgrade request head; raises ``HandshakeError`` saying what is wrong."""
    if head.method != "GET":
        raise HandshakeError(f"a WebSocket upgrade must be a GET request, not {head.method}")
    if head.http_version != "1.1":
        raise HandshakeError("a WebSocket upgrade needs HTTP/1.1")
    if head.content_length or head.chunked:
        # its bytes would be taken for frames after the switch
        raise HandshakeError("a WebSocket upgrade request must not have a body")
    values: dict[bytes, list[bytes]] = {}
    for name, value in head.headers:
        if name.startswith(b"sec-websocket-"):
            values.setdefault(name, []).append(value)
    version = _one(values, b"sec-websocket-version")
    if version != b"13":
        raise HandshakeError(f"unsupported Sec-WebSocket-Version {version!r} (13 is)")
    key = _one(values, b"sec-websocket-key")
    try:
        nonce = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        nonce = b""
    if len(nonce) != 16:
        raise HandshakeError("Sec-WebSocket-Key is not 16 bytes in base64")
    subprotocols = tuple(
        token.decode("ascii")
        for value in values.get(b"sec-websocket-protocol", ())
        for token in (part.strip() for part in value.split(b","))
        if TOKEN.fullmatch(token)
    )
    return HandshakeRequest(key, subprotocols, tuple(values.get(b"sec-websocket-extensions", ())))


def accept_response(
    request: HandshakeRequest,
    subprotocol: object,
    headers: Iterable[Iterable[bytes]],
    extensions: bytes | None,
    defaults: ResponseDefaults = PLAIN,
) -> bytes:
    """The ``101 Switching Protocols`` response for the app's ``websocket.accept``."""
    lines = [
        b"HTTP/1.1 101 Switching Protocols\r\n",
        b"upgrade: websocket\r\nconnection: Upgrade\r\n",
        b"sec-websocket-accept: %s\r\n" % generate_accept_token(request.key),
        defaults.date_line(),
        defaults.server_line,
    ]
    names = set()
    if subprotocol is not None:
        if not isinstance(subprotocol, str) or subprotocol not in request.subprotocols:
            offered = ", ".join(request.subprotocols) or "none"
            raise AcceptError(
                f"subprotocol {subprotocol!r} was not offered by the client (offered: {offered})"
            )
        lines.append(b"sec-websocket-protocol: %s\r\n" % subprotocol.encode("ascii"))
    if extensions:
        lines.append(b"sec-websocket-extensions: %s\r\n" % extensions)
    for pair in headers:
        try:
            name, value = pair
        except (TypeError, ValueError):
            raise AcceptError(f"header {pair!r} is not a [name, value] pair") from None
        if type(name) is not bytes or type(value) is not bytes:
            raise AcceptError(f"header {pair!r}: name and value must be bytes")
        if TOKEN.fullmatch(name) is None or CONTROL.search(value) is not None:
            raise AcceptError(f"header {pair!r} is not a valid header field")
        name = name.lower()
        if name in _RESERVED or name.startswith(b"sec-websocket-"):
            raise AcceptError(
                f"header {name.decode()!r} belongs to the handshake (a "
                f"subprotocol goes in 'subprotocol')"
            )
        lines.append(b"%s: %s\r\n" % (name, value))
        names.add(name)
    lines += [line for name, line in defaults.headers if name not in names]
    lines.append(b"\r\n")
    return b"".join(lines)


class HandshakeReply(Protocol):
    """How the session answers the opening handshake on the protocol that carries it: over
    HTTP/1.1 a ``101`` or a whole response written on the connection (``HTTP11Reply``). Each
    method returns the bytes to write."""

    @property
    def response_started(self) -> bool:
        """Part of a denial response has been written."""

    def accept(
        self, subprotocol: object, headers: Iterable[Iterable[bytes]], extensions: bytes | None
    ) -> bytes:
        """The app's ``websocket.accept``; raises ``AcceptError``."""

    def deny(self, status: int, body: bytes) -> bytes:
        """A response of the server's (403 for ``websocket.close``, 500 for a failed app)."""

    def start_response(self, status: int, headers: Iterable[Iterable[bytes]]) -> int:
        """The app's ``websocket.http.response.start``: its status; raises ``ResponseError``."""

    def response_body(self, body: bytes, more: bool) -> bytes:
        """A part of the app's denial response; raises ``ResponseError``."""


class HTTP11Reply:
    """The answers to a handshake made on an HTTP/1.1 connection (which closes after a denial)."""

    __slots__ = ("_defaults", "_request", "_writer")

    def __init__(self, request: HandshakeRequest, defaults: ResponseDefaults = PLAIN) -> None:
        self._request = request
        self._defaults = defaults
        self._writer: ResponseWriter | None = None

    @property
    def response_started(self) -> bool:
        return self._writer is not None and not self._writer.head_pending

    def accept(
        self, subprotocol: object, headers: Iterable[Iterable[bytes]], extensions: bytes | None
    ) -> bytes:
        return accept_response(self._request, subprotocol, headers, extensions, self._defaults)

    def deny(self, status: int, body: bytes) -> bytes:
        return simple_response(status, body, defaults=self._defaults)

    def start_response(self, status: int, headers: Iterable[Iterable[bytes]]) -> int:
        writer = ResponseWriter("GET", "1.1", self._defaults)
        writer.start(status, headers)
        self._writer = writer
        return writer.status

    def response_body(self, body: bytes, more: bool) -> bytes:
        assert self._writer is not None
        data = self._writer.body(body, more, keep_alive=False)
        return data if isinstance(data, bytes) else b"".join(data)
