"""WebSocket (RFC 6455, permessage-deflate) over wsproto, behind the HTTP/1.1 layer, and on
HTTP/2 streams (RFC 8441, see worker/h2/websocket.py).

``handshake`` validates the upgrade and writes the 101, ``deflate`` negotiates compression,
``session`` is the sans-IO core (ASGI messages and bytes in, bytes and actions out), and
``protocol`` the asyncio adapter that takes the connection over from ``HTTPProtocol`` (or runs
on an HTTP/2 stream made to look like a transport).

Nothing of that is loaded until a worker's first upgrade: wsproto (with h11) and these modules
are about 1.5 MiB of a worker's memory, which an app that takes no WebSocket does not need. The
first upgrade pays for the import (tens of milliseconds, once per worker).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from ..http.head import RequestHead
    from ..http.protocol import HTTPProtocol


def start_websocket(http: HTTPProtocol, head: RequestHead) -> None:
    """The HTTP/1.1 layer's upgrade handler for ``websocket`` (``upgrade.start_websocket``)."""
    from .upgrade import start_websocket as upgrade  # loaded by the first, then a look-up

    upgrade(http, head)


#: the HTTP/1.1 layer's upgrade handlers this package provides (``Upgrade`` token -> handler)
UPGRADES: Final = {b"websocket": start_websocket}
