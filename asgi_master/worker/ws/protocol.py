"""The asyncio adapter of one WebSocket connection: transport, flow control, timers, the app task.

Everything the protocol decides is in ``session.WebSocketSession``; after each input (bytes, an
app message, a timer) ``_sync`` carries out what the session now wants: write its bytes, wake a
waiting ``receive``, pause or resume reading, start or stop timers, close the transport.

Flow control: ``send`` waits while the transport's write buffer is above its high water mark (a
slow reader slows the app down instead of filling memory); reading pauses while received
messages wait for the app beyond the session's queue bound, and resumes when it takes them.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from typing import TYPE_CHECKING, Any, Final

from ..asgi import ClientDisconnected, Message
from ..flow import WriteGate
from .session import SessionState, TransportAction, WebSocketSession

if TYPE_CHECKING:
    from ..context import WorkerState

log = logging.getLogger("asgi_master.error")

#: how long the peer has to answer a close frame the server sent (other than at a drain, where
#: ``websocket_drain_timeout`` applies), and to read what is queued once the server closes
CLOSE_TIMEOUT: Final = 10.0
#: close codes at a drain: the worker is being replaced (SIGHUP) or the server stops (SIGTERM)
SERVICE_RESTART: Final = 1012
GOING_AWAY: Final = 1001


class WebSocketProtocol(asyncio.Protocol):
    """One upgraded connection; it takes over the transport from ``HTTPProtocol``."""

    def __init__(
        self,
        worker: WorkerState,
        transport: asyncio.Transport,
        session: WebSocketSession,
        scope: dict[str, Any],
    ) -> None:
        self.worker = worker
        self.settings = worker.settings.websocket
        self.loop = worker.loop
        self.transport = transport
        self.session = session
        self.scope = scope
        self.start_time = time.monotonic()
        self._receive_waiter: asyncio.Future[None] | None = None
        self._gate = WriteGate(self.loop)
        self._reading_paused = False
        self._lost = False
        self._closing_transport = False
        self._draining = False
        self._pings = 0
        self._ping_timer: asyncio.TimerHandle | None = None
        self._pong_timer: asyncio.TimerHandle | None = None
        self._close_timer: asyncio.TimerHandle | None = None

    def start(self, trailing: bytes) -> None:
        """Run the app, and process the bytes that came after the request head."""
        # a context of its own, like every HTTP request's (an upgrade may come in a pipeline)
        task = self.worker.start_task(self._run_app())
        task.add_done_callback(self.worker.tasks.discard)
        if not self.transport.is_reading():
            self.transport.resume_reading()
        if trailing:
            self.data_received(trailing)

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Not called: the transport is handed over by ``set_protocol``."""

    def data_received(self, data: bytes) -> None:
        self.session.receive_data(data)
        self._sync()

    def eof_received(self) -> bool:
        self.session.connection_lost()
        self._sync()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._lost:
            return
        self._lost = True
        self.session.connection_lost()
        self._cancel_timers()
        self.worker.connections.discard(self)
        self._wake_receiver()
        self._gate.close()
        self._session_ended()

    def pause_writing(self) -> None:
        self._gate.pause()

    def resume_writing(self) -> None:
        self._gate.resume()

    # -- the app --------------------------------------------------------------------------

    async def _run_app(self) -> None:
        failed = False
        try:
            await self.worker.app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException as exc:
            failed = True
            if not isinstance(exc, asyncio.CancelledError):
                log.error(
                    "Exception in ASGI app (WebSocket %s): %s",
                    self.session.state.value,
                    self.scope["path"],
                    exc_info=exc,
                )
            if not isinstance(exc, Exception):
                self._app_ended(failed)
                raise
        else:
            if self.session.state in (SessionState.CONNECTING, SessionState.RESPONDING):
                log.error(
                    "ASGI app returned with the WebSocket %s: %s",
                    self.session.state.value,
                    self.scope["path"],
                )
        self._app_ended(failed)

    def _app_ended(self, failed: bool) -> None:
        self.session.app_ended(failed)
        self._sync()

    async def receive(self) -> Message:
        """The app's ``receive``: connect, then messages, then the disconnect."""
        session = self.session
        while True:
            message = session.next_message()
            if message is not None:
                if self._reading_paused and not session.inbox_full:
                    self._set_reading(True)
                return message
            waiter = self._receive_waiter = self.loop.create_future()
            try:
                await waiter
            finally:
                self._receive_waiter = None

    async def send(self, message: Message) -> None:
        """The app's ``send``: validated by the session; waits while the peer reads slowly."""
        self.session.app_message(message)
        self._sync()
        if (
            self._gate.paused
            and not await self._gate.wait()
            and message.get("type") == "websocket.send"
        ):
            raise ClientDisconnected("the WebSocket connection is closed")

    # -- carrying out what the session wants ----------------------------------------------

    def _sync(self) -> None:
        session = self.session
        data = session.data_to_send()
        if data and not self._lost and not self.transport.is_closing():
            self.transport.write(data)
        self._wake_receiver()
        state = session.state
        if state is SessionState.OPEN:
            if self._ping_timer is None and self.settings.ping_interval > 0:
                self._ping_timer = self.loop.call_later(self.settings.ping_interval, self._ping)
        elif state is SessionState.CLOSING and self._close_timer is None:
            timeout = self.settings.drain_timeout if self._draining else CLOSE_TIMEOUT
            self._close_timer = self.loop.call_later(timeout, self._close_timed_out)
        if session.transport_action is not TransportAction.KEEP:
            self._close_transport(session.transport_action)
        elif session.inbox_full != self._reading_paused and not self._lost:
            self._set_reading(not session.inbox_full)

    def _set_reading(self, on: bool) -> None:
        self._reading_paused = not on
        if self.transport.is_closing():
            return
        if on:
            self.transport.resume_reading()
        else:
            self.transport.pause_reading()

    def _close_transport(self, action: TransportAction) -> None:
        if self._lost or self._closing_transport:
            return
        self._closing_transport = True
        self._cancel_timers()
        if action is TransportAction.ABORT:
            self.transport.abort()
            return
        self.transport.close()
        # close() waits for the write buffer to drain; a peer that never reads is cut off
        self._close_timer = self.loop.call_later(CLOSE_TIMEOUT, self.transport.abort)

    def _wake_receiver(self) -> None:
        waiter = self._receive_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- timers ---------------------------------------------------------------------------

    def _ping(self) -> None:
        settings = self.settings
        self._ping_timer = self.loop.call_later(settings.ping_interval, self._ping)
        if self.session.awaiting_pong:
            return  # the ping timeout of the one outstanding is running
        self._pings += 1
        if self.session.ping(struct.pack("!I", self._pings)) and settings.ping_timeout > 0:
            self._pong_timer = self.loop.call_later(settings.ping_timeout, self._pong_due)
        self._sync()

    def _pong_due(self) -> None:
        self._pong_timer = None
        if self.session.awaiting_pong:
            log.info(
                "WebSocket %s from %s: no pong within %gs, closing",
                self.scope["path"],
                _client(self.scope),
                self.settings.ping_timeout,
            )
            self.session.ping_timed_out()
            self._sync()

    def _close_timed_out(self) -> None:
        self._close_timer = None
        self.session.close_timed_out()
        self._sync()

    def _cancel_timers(self) -> None:
        for timer in (self._ping_timer, self._pong_timer, self._close_timer):
            if timer is not None:
                timer.cancel()
        self._ping_timer = self._pong_timer = self._close_timer = None

    # -- worker control -------------------------------------------------------------------

    def shutdown(self) -> None:
        """Graceful drain: close with 1012 (this worker is being replaced) or 1001 (the server
        stops); the peer has ``websocket_drain_timeout`` to answer before the TCP close."""
        if self._draining:
            return
        self._draining = True
        restart = self.worker.drain_reason == "restart"
        self.session.server_close(
            SERVICE_RESTART if restart else GOING_AWAY,
            "service restart" if restart else "server shutting down",
        )
        self._sync()

    def close_if_idle(self, now: float, idle_for: float) -> None:
        """Never: a quiet WebSocket is not idle (pings keep it honest)."""

    def abort(self, reason: str) -> None:
        """Close at once."""
        log.info("Closing WebSocket from %s: %s", _client(self.scope), reason)
        if not self._lost:
            self.transport.abort()

    # -- the end --------------------------------------------------------------------------

    def _session_ended(self) -> None:
        """The connection is closed: count the session as one request and log it."""
        worker = self.worker
        # a session's length says nothing of request latency: not in the duration histogram
        worker.response_done(None)
        access = worker.settings.access_log
        if access is not None:
            session = self.session
            duration = time.monotonic() - self.start_time
            access.response(self.scope, session.status, session.bytes_sent, duration)


def _client(scope: dict[str, Any]) -> str:
    client = scope["client"]
    return f"{client[0]}:{client[1]}" if client else "-"
