"""The seam between the ASGI request cycle and the protocol that carries one request.

The cycle (``cycle.RequestCycle``) owns what ASGI says: the order of the app's messages, the
error policy (a clean 500 while nothing of the response has been sent, an abort after), and the
request body the app has not taken yet. Everything about the wire is the stream's: an HTTP/1.1
connection is one implementation, an HTTP/2 stream another. The stream pushes into the cycle
with ``add_body``, ``end_body`` and ``disconnect``; the cycle calls the stream as below.

Order, as the cycle guarantees it: ``early_hint``* (only before ``start``), ``start`` once,
``body``+ (``more`` true but on the last), then ``trailers``+ if ``start`` announced them (the
last with ``more`` false); or ``start`` then ``file`` once. Then ``complete`` once. ``refuse``
or ``abort`` can come instead of any rest of that, after which the stream hears nothing more.
``send_continue`` may come once, before ``start``; ``body_consumed`` and ``drain`` at any time
before the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol


class Stream(Protocol):
    """The transport side of one request, as the ASGI request cycle sees it."""

    #: the peer cannot take more now (the transport's buffer is above its high water mark, or
    #: an HTTP/2 stream's send window is used up): the app's ``send`` awaits ``drain`` first
    write_paused: bool

    def early_hint(self, links: Sequence[bytes]) -> None:
        """Send a ``103 Early Hints`` carrying these ``link`` values (or nothing, where the
        peer may not understand one). Raises ``ResponseError`` for a bad value."""

    def start(self, status: int, headers: Iterable[Iterable[bytes]], trailers: bool) -> None:
        """Validate and hold the response head; nothing is sent until the first ``body``.
        Raises ``ResponseError`` (the cycle can still answer 500)."""

    def body(self, data: bytes, more: bool) -> None:
        """Send one body part; the first also sends the held head. Raises ``ResponseError`` if
        the part breaks the response's framing (if it is the first, nothing was sent)."""

    def trailers(self, headers: Iterable[Iterable[bytes]], more: bool) -> None:
        """Send trailer fields after the last body part. Raises ``ResponseError``."""

    async def file(self, fd: int, size: int) -> None:
        """Send the held head and ``size`` bytes of the open file ``fd`` as the whole body,
        under flow control. Raises ``ResponseError`` before anything is sent if the head does
        not fit a file body, ``ClientDisconnected`` if the peer leaves on the way."""

    def send_continue(self) -> None:
        """The app asks for the request body before it responds: send ``100 Continue`` if the
        client waits for one."""

    def body_consumed(self, size: int) -> None:
        """The app took ``size`` bytes of request body: let more come (resume reading, reopen
        a flow-control window)."""

    def complete(self) -> None:
        """The response is complete: its last part, last trailers or file went out."""

    def refuse(self, status: int, body: bytes, content_type: bytes) -> None:
        """Answer with the server's own response instead of the app's (nothing of the app's
        response has been sent): the 500 for an app that failed. Ends the request."""

    def abort(self, reason: str) -> None:
        """Cut off a response that cannot be finished (part of it was sent): HTTP/1.1 closes
        the connection, HTTP/2 resets the stream."""

    async def drain(self) -> None:
        """Return once ``write_paused`` is false; raise ``ClientDisconnected`` if the peer is
        gone."""
