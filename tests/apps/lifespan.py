"""The lifespan half of the test apps: startup and shutdown complete at once.

Apps the tests write into a temporary directory (to change or break them between reloads)
import this instead of pasting the same lifespan loop each time::

    from tests.apps.lifespan import with_lifespan

    @with_lifespan
    async def app(scope, receive, send): ...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


async def complete_lifespan(receive: Receive, send: Send) -> None:
    """Answer ``lifespan.startup`` and ``lifespan.shutdown`` with their ``.complete``."""
    while True:
        message = await receive()
        await send({"type": message["type"] + ".complete"})
        if message["type"] == "lifespan.shutdown":
            return


def with_lifespan(app: App) -> App:
    """``app`` for HTTP and WebSocket scopes, behind a lifespan that always starts."""

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await complete_lifespan(receive, send)
            return
        await app(scope, receive, send)

    return serve
