"""The ASGI lifespan protocol: startup before the worker serves, shutdown after it drains."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any

from .asgi import LIFESPAN_VERSION, ASGIApp, Message

log = logging.getLogger("asgi_master.error")


class LifespanFailure(Exception):
    """Startup (or shutdown) failed. The message is one line, the app's error as
    ``RuntimeError: database unreachable``; ``details`` is the app's full text when it sent
    more (frameworks such as Starlette send the whole traceback in ``message``)."""

    def __init__(self, summary: str, details: str = "") -> None:
        super().__init__(summary)
        self.details = details

    @classmethod
    def from_message(cls, message: str) -> LifespanFailure:
        """From the ``message`` of ``lifespan.startup.failed``: its last line (where a
        traceback names the exception) is the summary, the whole text the details."""
        lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
        if len(lines) <= 1:
            return cls(lines[0] if lines else "the app sent lifespan.startup.failed")
        return cls(lines[-1], message.rstrip())

    @property
    def traceback_logged(self) -> bool:
        """Whether logging it shows more than the summary (a traceback)."""
        return bool(self.details) or self.__cause__ is not None


class Lifespan:
    """Runs one app's lifespan task. ``mode`` is the ``lifespan`` setting: auto, on or off."""

    def __init__(self, app: ASGIApp, mode: str) -> None:
        self.app = app
        self.mode = mode
        #: shared into every request scope (ASGI ``state`` extension)
        self.state: dict[str, Any] = {}
        self.running = False
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._reply: asyncio.Future[Message] | None = None
        self._task: asyncio.Task[None] | None = None
        self._received = False

    async def startup(self, context: contextvars.Context | None = None) -> None:
        """Send ``lifespan.startup`` and wait for the answer; raise LifespanFailure if it fails.
        The app's lifespan task runs in a copy of ``context`` (the worker's base context) when
        given, so what it sets is seen by no request (they share ``state`` instead)."""
        if self.mode == "off":
            return
        scope = {
            "type": "lifespan",
            "asgi": LIFESPAN_VERSION,
            "state": self.state,
        }
        fresh = context.copy() if context is not None else None
        self._task = asyncio.get_running_loop().create_task(self._run(scope), context=fresh)
        reply = await self._exchange("lifespan.startup")
        if reply is None:
            return
        if reply["type"] == "lifespan.startup.failed":
            raise LifespanFailure.from_message(str(reply.get("message") or ""))
        self.running = True

    async def shutdown(self, timeout: float) -> None:
        """Send ``lifespan.shutdown`` and wait up to ``timeout`` for the answer."""
        if not self.running:
            return
        self.running = False
        try:
            reply = await asyncio.wait_for(self._exchange("lifespan.shutdown"), timeout)
        except TimeoutError:
            log.error("Application shutdown did not finish within %.1fs", timeout)
            return
        if reply is not None and reply["type"] == "lifespan.shutdown.failed":
            log.error("Application shutdown failed: %s", reply.get("message", ""))

    async def _exchange(self, message_type: str) -> Message | None:
        """Send one event and wait for its reply or for the app's lifespan task to end."""
        task = self._task
        assert task is not None
        reply: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._reply = reply
        self._inbox.put_nowait({"type": message_type})
        waiting: set[asyncio.Future[Any]] = {task, reply}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if reply.done():
            return reply.result()
        # the app's lifespan returned or raised without answering
        exc = task.exception() if not task.cancelled() else None
        # an app that never asked for the startup event does not speak lifespan; one that took
        # it and then raised does, and its startup failed (uvicorn's auto mode hides that)
        if message_type == "lifespan.startup" and self.mode == "auto" and not self._received:
            log.info(
                "ASGI lifespan not supported by the app (%s); continuing without it",
                f"{type(exc).__name__}: {exc}" if exc else "it returned",
            )
            return None
        if exc is not None:
            raise LifespanFailure(f"{type(exc).__name__}: {exc}") from exc
        raise LifespanFailure(f"the app's lifespan returned without answering {message_type}")

    async def _run(self, scope: Message) -> None:
        await self.app(scope, self._receive, self._send)

    async def _receive(self) -> Message:
        self._received = True
        return await self._inbox.get()

    async def _send(self, message: Message) -> None:
        expected = {
            "lifespan.startup.complete",
            "lifespan.startup.failed",
            "lifespan.shutdown.complete",
            "lifespan.shutdown.failed",
        }
        if message.get("type") not in expected:
            raise RuntimeError(f"unexpected lifespan message {message.get('type')!r}")
        if self._reply is not None and not self._reply.done():
            self._reply.set_result(message)
