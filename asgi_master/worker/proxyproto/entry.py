"""The entry stage of a connection on a PROXY-protocol listener: the peer must be a trusted
proxy (``forwarded_allow_ips``), its first bytes a PROXY header; then the connection goes on to
HTTP with the header's addresses, through a TLS handshake first on a TLS listener.

The header is read exactly: each read asks the transport for no more bytes than the header
can still need (``NeedData.at_least``), so not a byte after it is taken. That is what lets TLS
start after it: the client's ClientHello follows the header on the wire, and ``loop.start_tls``
must find it still unread in the socket. (The listener itself is created without TLS.) After
the hand-over the next protocol sees the connection as if it had just been accepted, so what
it detects from the first bytes (the HTTP/2 preface) works as on any other connection.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, cast

from .header import V1_MIN_LENGTH, NeedData, ProxyHeader, ProxyHeaderError, parse_proxy_header

if TYPE_CHECKING:
    from ..context import WorkerState
    from ..http.proxy import ProxyTrust

log = logging.getLogger("asgi_master.error")

#: an untrusted peer is logged at most this often (seconds) per address: one line, not one
#: per connection of a flood
_REFUSAL_LOG_INTERVAL: Final = 60.0
_REFUSALS_REMEMBERED: Final = 1024

HandOver = Callable[[ProxyHeader], asyncio.Protocol]


class ProxyProtocolEntry(asyncio.BufferedProtocol):
    """Reads one connection's PROXY header, then gives the transport to ``hand_over(header)``'s
    protocol (HTTP), after a TLS handshake when ``tls`` is set."""

    def __init__(
        self,
        worker: WorkerState,
        hand_over: HandOver,
        trust: ProxyTrust,
        tls: ssl.SSLContext | None,
        refusals: dict[str, float],
    ) -> None:
        self.worker = worker
        self._hand_over = hand_over
        self._trust = trust
        self._tls = tls
        self._refusals = refusals
        self.transport: asyncio.Transport | None = None
        self._peer: tuple[str, int] | None = None
        self._data = bytearray()
        #: bytes the next read may take: the least the header still needs
        self._want = V1_MIN_LENGTH
        self._chunk = bytearray(self._want)
        self._since = 0.0
        self._done = False

    # -- asyncio.BufferedProtocol ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        # a UNIX-socket peer has no address: like for proxy headers, it is always trusted
        self._peer = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else None
        if not self._trust.trusts(self._peer):
            self._done = True
            self._log_untrusted()
            transport.abort()
            return
        self._since = self.worker.loop.time()
        self.worker.connections.add(self)

    def get_buffer(self, sizehint: int) -> bytearray:
        if len(self._chunk) != self._want:
            self._chunk = bytearray(self._want)
        return self._chunk

    def buffer_updated(self, nbytes: int) -> None:
        if self._done:
            return
        self._data += memoryview(self._chunk)[:nbytes]
        try:
            found = parse_proxy_header(self._data)
        except ProxyHeaderError as exc:
            self._refuse(str(exc))
            return
        if isinstance(found, NeedData):
            self._want = found.at_least
            return
        self._done = True
        self.worker.connections.discard(self)
        transport = self.transport
        assert transport is not None
        # nothing is read until the next protocol is in place (and TLS, if any, started)
        transport.pause_reading()
        protocol = self._hand_over(found)
        if self._tls is None:
            transport.set_protocol(protocol)
            protocol.connection_made(transport)
            transport.resume_reading()
        else:
            self.worker.loop.create_task(self._start_tls(transport, protocol))

    def eof_received(self) -> bool:
        if not self._done:
            self._refuse("closed before its PROXY header was complete", level=logging.DEBUG)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._done = True
        self.worker.connections.discard(self)

    # -- TLS after the header ---------------------------------------------------------------

    async def _start_tls(self, transport: asyncio.Transport, protocol: asyncio.Protocol) -> None:
        """The TLS handshake on the bytes after the header, then the hand-over."""
        assert self._tls is not None
        early = _EarlyData()
        transport.resume_reading()  # start_tls pauses it again before anything is read
        try:
            secure = await self.worker.loop.start_tls(transport, early, self._tls, server_side=True)
        except OSError as exc:  # ssl.SSLError, ConnectionError and TimeoutError are OSErrors
            log.debug("TLS handshake after the PROXY header from %s failed: %s", self._peer, exc)
            transport.abort()
            return
        if secure is None or early.lost:
            return
        secure.set_protocol(protocol)
        protocol.connection_made(secure)
        # what arrived between the handshake and this hand-over, in order
        if early.data:
            protocol.data_received(bytes(early.data))
        if early.eof and not protocol.eof_received():
            secure.close()

    # -- refusing ---------------------------------------------------------------------------

    def _refuse(self, reason: str, level: int = logging.INFO) -> None:
        """Close the connection without the app ever seeing it."""
        self._done = True
        log.log(
            level, "PROXY protocol: closing the connection from %s: %s", _at(self._peer), reason
        )
        self.worker.connections.discard(self)
        if self.transport is not None:
            self.transport.abort()

    def _log_untrusted(self) -> None:
        host = self._peer[0] if self._peer else "-"
        now = self.worker.loop.time()
        last = self._refusals.get(host)
        if last is not None and now - last < _REFUSAL_LOG_INTERVAL:
            return
        if len(self._refusals) >= _REFUSALS_REMEMBERED:
            self._refusals.clear()
        self._refusals[host] = now
        log.warning(
            "PROXY protocol: closing the connection from %s: not in forwarded_allow_ips (its "
            "connections are closed without a further line for %.0fs)",
            _at(self._peer),
            _REFUSAL_LOG_INTERVAL,
        )

    # -- the worker's sweep and drain (context.Connection) ----------------------------------

    def close_if_idle(self, now: float, idle_for: float) -> None:
        """A header not complete ``request_header_timeout`` after the connection came closes
        it (HAProxy sends the header at once; a peer that does not is not one)."""
        timeout = self.worker.settings.request_header_timeout
        if not self._done and now - self._since > timeout:
            self._refuse(f"no complete PROXY header within {timeout:g}s")

    def shutdown(self) -> None:
        """Graceful drain: nothing is in flight yet, so close."""
        if not self._done and self.transport is not None:
            self._done = True
            self.worker.connections.discard(self)
            self.transport.close()

    def abort(self, reason: str) -> None:
        """Close at once."""
        self._done = True
        if self.transport is not None:
            self.transport.abort()


class _EarlyData(asyncio.Protocol):
    """The app side of ``start_tls`` until the real protocol takes over: keeps what arrives."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.eof = False
        self.lost = False

    def data_received(self, data: bytes) -> None:
        self.data += data

    def eof_received(self) -> bool:
        self.eof = True
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True


def _at(peer: tuple[str, int] | None) -> str:
    return f"{peer[0]}:{peer[1]}" if peer else "a UNIX socket"


def entry_factory(
    worker: WorkerState, hand_over: HandOver, trust: ProxyTrust, tls: ssl.SSLContext | None
) -> Callable[[], ProxyProtocolEntry]:
    """The protocol factory of a PROXY-protocol listener (``loop.create_server`` without TLS:
    ``tls`` is started after the header)."""
    refusals: dict[str, float] = {}
    return lambda: ProxyProtocolEntry(worker, hand_over, trust, tls, refusals)
