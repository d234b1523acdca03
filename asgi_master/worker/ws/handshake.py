"""The WebSocket opening handshake (RFC 6455 section 4; RFC 8441 over HTTP/2), sans-IO: a
request head in, the validated facts the session needs out; the app's accept in, the ``101``
response bytes out (on HTTP/2: a ``200`` head on the request's stream).

Validation happens before the HTTP layer lets go of the connection, so a request that is not a
proper upgrade is answered ``400`` by the HTTP layer like any other bad request.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from wsproto.utilities import generate_accept_token

from ...grammar import CONTROL, TOKEN
from ..http.head import RequestHead
from ..http.writer import PLAIN, ResponseDefaults, ResponseWriter, simple_response

if TYPE_CHECKING:
    from ..h2.streams import ServerStream

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
    values = _websocket_fields(head.headers)
    key = _one(values, b"sec-websocket-key")
    try:
        nonce = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        nonce = b""
    if len(nonce) != 16:
        raise HandshakeError("Sec-WebSocket-Key is not 16 bytes in base64")
    return _request(key, values)


def read_extended_connect(headers: Iterable[tuple[bytes, bytes]]) -> HandshakeRequest:
    """Validate the fields of an HTTP/2 extended CONNECT with ``:protocol websocket`` (RFC
    8441 4 and 5: no key, no accept token: the stream is the connection); raises
    ``HandshakeError``."""
    return _request(b"", _websocket_fields(headers))


def _websocket_fields(headers: Iterable[tuple[bytes, bytes]]) -> dict[bytes, list[bytes]]:
    """The ``sec-websocket-*`` fields of a handshake, by name; the version checked."""
    values: dict[bytes, list[bytes]] = {}
    for name, value in headers:
        if name.startswith(b"sec-websocket-"):
            values.setdefault(name, []).append(value)
    version = _one(values, b"sec-websocket-version")
    if version != b"13":
        raise HandshakeError(f"unsupported Sec-WebSocket-Version {version!r} (13 is)")
    return values


def _request(key: bytes, values: dict[bytes, list[bytes]]) -> HandshakeRequest:
    subprotocols = tuple(
        token.decode("ascii")
        for value in values.get(b"sec-websocket-protocol", ())
        for token in (part.strip() for part in value.split(b","))
        if TOKEN.fullmatch(token)
    )
    return HandshakeRequest(key, subprotocols, tuple(values.get(b"sec-websocket-extensions", ())))


def accept_fields(
    request: HandshakeRequest,
    subprotocol: object,
    headers: Iterable[Iterable[bytes]],
    extensions: bytes | None,
) -> list[tuple[bytes, bytes]]:
    """The response fields of the app's ``websocket.accept`` beyond the protocol's own: the
    subprotocol, the negotiated extensions, the app's headers (checked). Raises
    ``AcceptError``."""
    fields: list[tuple[bytes, bytes]] = []
    if subprotocol is not None:
        if not isinstance(subprotocol, str) or subprotocol not in request.subprotocols:
            offered = ", ".join(request.subprotocols) or "none"
            raise AcceptError(
                f"subprotocol {subprotocol!r} was not offered by the client (offered: {offered})"
            )
        fields.append((b"sec-websocket-protocol", subprotocol.encode("ascii")))
    if extensions:
        fields.append((b"sec-websocket-extensions", extensions))
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
        fields.append((name, value))
    return fields


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
    for name, value in accept_fields(request, subprotocol, headers, extensions):
        lines.append(b"%s: %s\r\n" % (name, value))
        names.add(name)
    lines += [line for name, line in defaults.headers if name not in names]
    lines.append(b"\r\n")
    return b"".join(lines)


class HandshakeReply(Protocol):
    """How the session answers the opening handshake on the protocol that carries it: over
    HTTP/1.1 a ``101`` or a whole response written on the connection (``HTTP11Reply``); over
    HTTP/2 a ``200`` or a response on the stream (``H2Reply``). Each method returns the bytes
    the session writes (nothing, where the reply writes on its stream itself)."""

    #: the status an accepted handshake is logged with (101, or 200 over HTTP/2)
    accept_status: int

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

    accept_status = 101

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


class H2Reply:
    """The answers to a handshake made by an extended CONNECT on an HTTP/2 stream (RFC 8441):
    the accept is a ``200`` head and the stream stays open for the WebSocket's frames; a denial
    is a response on the stream, which then ends (the connection lives on). The frames go to
    the stream; ``flush`` has the connection write them."""

    __slots__ = ("_flush", "_request", "_started", "_stream")

    accept_status = 200

    def __init__(
        self, request: HandshakeRequest, stream: ServerStream, flush: Callable[[], None]
    ) -> None:
        self._request = request
        self._stream = stream
        self._flush = flush
        self._started = False

    @property
    def response_started(self) -> bool:
        return self._started

    def accept(
        self, subprotocol: object, headers: Iterable[Iterable[bytes]], extensions: bytes | None
    ) -> bytes:
        fields = accept_fields(self._request, subprotocol, headers, extensions)
        stream = self._stream
        stream.start(200, fields, False)
        stream.body(b"", True)  # the head alone: the stream carries the WebSocket from here
        self._flush()
        return b""

    def deny(self, status: int, body: bytes) -> bytes:
        self._stream.refuse(status, body, b"text/plain; charset=utf-8")
        self._flush()
        return b""

    def start_response(self, status: int, headers: Iterable[Iterable[bytes]]) -> int:
        self._stream.start(status, headers, False)
        return self._stream.status

    def response_body(self, body: bytes, more: bool) -> bytes:
        self._stream.body(body, more)
        self._started = True
        self._flush()
        return b""
