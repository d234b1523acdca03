"""Whether a worker speaks HTTP/2, and when it loads the HTTP/2 core (handover.py and all it
imports, hpack included: about 1.5 MiB of a worker's memory).

A worker whose listeners can be reached by HTTP/2 in the usual way loads it at start: a TLS
listener (browsers choose ``h2`` by ALPN) or an ``http2_only`` one. On plain listeners that also
speak HTTP/1.1, HTTP/2 comes only from a client that opens with the preface (h2c by prior
knowledge) or asks to upgrade: rare enough, behind the balancers such ports serve, that the
core is loaded by the first such connection (tens of milliseconds, once per worker) and not by
every worker that never sees one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ..http.protocol import UpgradeHandler

if TYPE_CHECKING:
    from ..context import WorkerSettings
    from ..http.head import RequestHead
    from ..http.protocol import HTTPProtocol


def speak_http2(http: HTTPProtocol) -> None:
    """Hand a connection that speaks HTTP/2 from its first byte over (``handover.py``)."""
    from .handover import speak_http2 as hand_over  # loaded by the first, then a look-up

    hand_over(http)


def upgrade_h2c(http: HTTPProtocol, head: RequestHead) -> None:
    """``Upgrade: h2c`` (``UpgradeHandler``, ``handover.py``)."""
    from .handover import upgrade_h2c as upgrade

    upgrade(http, head)


def entry_points(
    settings: WorkerSettings, upgrades: Mapping[bytes, UpgradeHandler]
) -> tuple[Mapping[bytes, UpgradeHandler], Callable[[HTTPProtocol], None] | None]:
    """The ``HTTPProtocol`` upgrade handlers (``upgrades`` and ``h2c`` with ``http2_upgrade``)
    and the HTTP/2 hand-over (None with ``http2 = false``) a worker serves with; the HTTP/2
    core is loaded now on TLS or ``http2_only`` (see above)."""
    if settings.http2 is None:
        return upgrades, None
    if settings.ssl is not None or settings.http2_only:
        from . import handover  # noqa: F401  (imported for its side effect: loaded now)
    if settings.http2_upgrade:
        upgrades = {**upgrades, b"h2c": upgrade_h2c}
    return upgrades, speak_http2
