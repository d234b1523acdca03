"""How a connection comes to speak HTTP/2 (entry.py says when this module is loaded): every
connection starts on ``HTTPProtocol``, which hands it over here (the way a WebSocket upgrade is
handed over) when TLS chose ``h2`` by ALPN, or when a plain connection opens with the HTTP/2
preface (h2c with prior knowledge, RFC 9113 3.3); and, with ``http2_upgrade``, from an HTTP/1.1
request with ``Upgrade: h2c`` (RFC 7540 3.2), answered ``101`` and then on stream 1 of the new
connection.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import TYPE_CHECKING, Final

from .errors import H2ConnectionError
from .protocol import H2Protocol
from .request import MalformedRequest, RejectedRequest

if TYPE_CHECKING:
    from ..http.head import RequestHead
    from ..http.protocol import HTTPProtocol

log = logging.getLogger("asgi_master.error")

_SWITCHING: Final = (
    b"HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: h2c\r\n\r\n"
)
#: the HTTP/1.1 fields that say how to upgrade, which stream 1's request does not carry
_UPGRADE_FIELDS: Final = frozenset(
    {b"connection", b"upgrade", b"http2-settings", b"keep-alive", b"proxy-connection", b"host"}
)


def speak_http2(http: HTTPProtocol) -> None:
    """Take over a connection that speaks HTTP/2 from its first byte (``HTTP2Handover``)."""
    transport = http.transport
    assert transport is not None
    info = http.info
    worker = http.worker
    proto = H2Protocol(worker, transport, info)
    proto.start(http.detach())
    if worker.draining:
        proto.shutdown()


def upgrade_h2c(http: HTTPProtocol, head: RequestHead) -> None:
    """``Upgrade: h2c`` (``UpgradeHandler``): a request without a body on a plain connection,
    with one valid ``HTTP2-Settings``, is answered ``101`` and becomes stream 1 of an HTTP/2
    connection; any other is served over HTTP/1.1 as if it had not asked (RFC 7540 3.2: the
    server may ignore an upgrade)."""
    transport = http.transport
    assert transport is not None
    settings = _upgrade_settings(http, head)
    if settings is None:
        return  # declined: served over HTTP/1.1
    proto = H2Protocol(http.worker, transport, http.info)
    fields = [
        (b":method", head.method.encode("ascii")),
        (b":scheme", b"http"),
        (b":path", head.target),
    ]
    fields += [(b":authority", value) for name, value in head.headers if name == b"host"]
    fields += [(name, value) for name, value in head.headers if name not in _UPGRADE_FIELDS]
    try:
        events = proto.conn.upgrade_request(settings, fields)
    except (H2ConnectionError, MalformedRequest, RejectedRequest) as exc:
        log.info("Upgrade to h2c from %s not taken: %s", proto.peer, exc)
        return
    http.write(_SWITCHING)
    proto.start(http.detach(), events)
    if http.worker.draining:
        proto.shutdown()


def _upgrade_settings(http: HTTPProtocol, head: RequestHead) -> bytes | None:
    """The SETTINGS payload an ``Upgrade: h2c`` request carries, or None if it cannot be
    taken (a body to come, TLS, no or several ``HTTP2-Settings``, not base64url)."""
    if head.content_length or head.chunked or http.info.scheme != "http":
        return None
    if head.upgrade is None or head.upgrade.strip().lower() != b"h2c":
        return None  # several protocols offered: only a lone h2c is taken
    values = [value for name, value in head.headers if name == b"http2-settings"]
    connection = b",".join(value for name, value in head.headers if name == b"connection")
    tokens = {token.strip().lower() for token in connection.split(b",")}
    if len(values) != 1 or b"http2-settings" not in tokens:
        return None
    value = values[0].strip()
    try:
        return base64.urlsafe_b64decode(value + b"=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None
