"""The ASGI scope of a request, from what every protocol knows of it: the connection's
addresses and scheme (``ConnectionInfo``, once per connection) and the request's target and
headers. HTTP/1.1 requests, WebSocket handshakes and HTTP/2 streams build their scopes here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from .asgi import ASGI_VERSION
from .tls import tls_scope_extension

if TYPE_CHECKING:
    import asyncio

    from .context import WorkerSettings
    from .proxyproto import ProxyHeader


def _inet_address(addr: object) -> tuple[str, int] | None:
    """Host and port of an AF_INET or AF_INET6 address (which has four elements), or None."""
    if isinstance(addr, tuple) and len(addr) >= 2:
        return (str(addr[0]), int(addr[1]))
    return None


# (not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__, a
# slow path mypyc leaves interpreted; nothing assigns to it: docs/design.md, compiled build)
@dataclass(slots=True)
class ConnectionInfo:
    """What the scopes of one connection's requests share."""

    client: tuple[str, int] | None
    server: tuple[str, int | None] | None
    #: "http" or "https" (a WebSocket scope makes it "ws" or "wss")
    scheme: str
    #: ``scope["extensions"]``: the worker's, plus ``tls`` on a TLS connection
    extensions: dict[str, Any]
    #: the protocol TLS chose by ALPN (``h2``, ``http/1.1``; None: plain, or none chosen)
    alpn: str | None = None

    @classmethod
    def of(
        cls,
        transport: asyncio.BaseTransport,
        extensions: dict[str, Any],
        proxy: ProxyHeader | None = None,
    ) -> ConnectionInfo:
        """The facts of a freshly accepted connection; with the PROXY header it began with, the
        header's (``behind_proxy``)."""
        # the transport's addresses, not its socket's: uvloop read both when it accepted and
        # converts them without a syscall (the pseudo-socket's getpeername/getsockname make
        # two more); asyncio's own transports keep them too (bench/README.md)
        client: tuple[str, int] | None = None
        server: tuple[str, int | None] | None = None
        try:
            sockname = transport.get_extra_info("sockname")
        except OSError:
            sockname = None
        if isinstance(sockname, tuple):
            client = _inet_address(transport.get_extra_info("peername"))
            server = _inet_address(sockname)
        elif isinstance(sockname, str | bytes):
            # AF_UNIX: the path the server is bound to; the client has none
            server = (str(sockname), None)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None:
            info = cls(client, server, "http", extensions)
        else:
            extensions = {**extensions, "tls": tls_scope_extension(ssl_object)}
            alpn = ssl_object.selected_alpn_protocol()
            info = cls(client, server, "https", extensions, alpn)
        return info if proxy is None else info.behind_proxy(proxy)

    def behind_proxy(self, header: ProxyHeader) -> ConnectionInfo:
        """The facts as the PROXY header tells them: its addresses (unless LOCAL), ``https``
        when the client spoke TLS to the proxy, and the ``proxy_protocol`` extension with what
        else it said and who the proxy is."""
        told = {
            "version": header.version,
            "command": header.command.value,
            "proxy": self.client,
            "tls": header.tls,
            "tls_version": header.tls_version,
            "tls_cipher": header.tls_cipher,
            "alpn": header.alpn,
            "authority": header.authority,
            "unique_id": header.unique_id,
        }
        extensions = {**self.extensions, "proxy_protocol": told}
        if header.command.value == "LOCAL":
            return ConnectionInfo(self.client, self.server, self.scheme, extensions, self.alpn)
        scheme = "https" if header.tls else self.scheme
        return ConnectionInfo(header.client, header.server, scheme, extensions, self.alpn)


def request_scope(
    settings: WorkerSettings,
    info: ConnectionInfo,
    state: dict[str, Any],
    target: bytes,
    http_version: str,
    headers: list[tuple[bytes, bytes]],
) -> dict[str, Any]:
    """The scope keys HTTP and WebSocket share, for a request of ``target`` (origin-form, or
    absolute-form, whose path and query are taken); proxy headers applied if trusted."""
    if target[:1] != b"/":
        target = origin_form(target)
    raw_path, _, query = target.partition(b"?")
    path = raw_path.decode("ascii")
    if "%" in path:
        path = unquote(path)
    root_path = settings.root_path
    scope = {
        "type": "http",
        "asgi": ASGI_VERSION,
        "http_version": http_version,
        "server": info.server,
        "client": info.client,
        "scheme": info.scheme,
        "root_path": root_path,
        "path": root_path + path if root_path else path,
        "raw_path": root_path.encode("ascii") + raw_path if root_path else raw_path,
        "query_string": query,
        "headers": headers,
        "state": state.copy(),
    }
    if settings.proxy is not None:
        settings.proxy.apply(scope)
    return scope


def origin_form(target: bytes) -> bytes:
    """The path and query of an absolute-form target (``http://host/p?q`` -> ``/p?q``)."""
    scheme_end = target.find(b"://")
    if scheme_end < 0:
        return target
    slash = target.find(b"/", scheme_end + 3)
    return target[slash:] if slash >= 0 else b"/"
