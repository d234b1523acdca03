"""One ASGI HTTP request cycle: the app's ``receive`` and ``send``, and its error policy.

Message order is an explicit state machine (``_TRANSITIONS``): a message that is not allowed in
the current state raises ``ASGIMessageError`` naming both. Error policy: if the app fails (or
returns) before any response byte left, the client gets a clean 500; after that, the connection
is closed, since a half-sent response cannot be repaired.
"""

from __future__ import annotations

import asyncio
import enum
import html
import logging
import os
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final

from ..asgi import ASGIApp, ASGIMessageError, ClientDisconnected, Message, ResponseError
from .writer import ResponseWriter

if TYPE_CHECKING:
    from .protocol import HTTPProtocol


log = logging.getLogger("asgi_master.error")

_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
_DISCONNECT: Final = {"type": "http.disconnect"}


class ResponseState(enum.Enum):
    """Where the response stands, as seen from the app's messages."""

    AWAIT_START = "awaiting http.response.start"
    #: start received, headers held until the first body part
    AWAIT_BODY = "awaiting the first http.response.body"
    STREAMING = "streaming the body"
    #: body done, ``trailers: True`` was announced
    AWAIT_TRAILERS = "awaiting http.response.trailers"
    COMPLETE = "complete"

    # used as dict keys on hot paths: identity hash, in C (docs/design.md, "Enum states")
    __hash__ = object.__hash__


# hot paths compare with these, not with ``Enum.MEMBER`` (docs/design.md, "Enum states")
_AWAIT_START: Final = ResponseState.AWAIT_START
_AWAIT_BODY: Final = ResponseState.AWAIT_BODY
_STREAMING: Final = ResponseState.STREAMING
_AWAIT_TRAILERS: Final = ResponseState.AWAIT_TRAILERS
_COMPLETE: Final = ResponseState.COMPLETE


class RequestCycle:
    """The state of one request between the connection and the app."""

    __slots__ = (
        "_allowed",
        "body",
        "body_complete",
        "body_delivered",
        "body_size",
        "disconnected",
        "expect_continue",
        "protocol",
        "scope",
        "start_time",
        "state",
        "task",
        "waiter",
        "writer",
    )

    def __init__(
        self, protocol: HTTPProtocol, scope: Message, writer: ResponseWriter, expect_continue: bool
    ) -> None:
        self.protocol = protocol
        self.scope = scope
        self.writer = writer
        self.state = _AWAIT_START
        self._allowed = _TRANSITIONS[_AWAIT_START]
        self.task: asyncio.Task[None] | None = None
        #: request body received and not yet handed to the app, as the chunks that came in
        #: (kept apart, not copied together: one chunk goes to the app as it is)
        self.body: list[bytes] = []
        self.body_size = 0
        self.body_complete = False
        self.body_delivered = False
        self.disconnected = False
        self.expect_continue = expect_continue
        self.waiter: asyncio.Future[None] | None = None
        self.start_time = time.monotonic()

    def _to(self, state: ResponseState) -> None:
        self.state = state
        self._allowed = _TRANSITIONS[state]

    # -- called by the connection ---------------------------------------------------------

    def add_body(self, data: bytes) -> None:
        """A piece of request body arrived (kept only while the response is not complete)."""
        if self.state is not _COMPLETE:
            self.body.append(data)
            self.body_size += len(data)
        self.wake()

    def wake(self) -> None:
        """Body arrived, the body ended or the client left: let a waiting ``receive`` go on."""
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def run(self, app: ASGIApp) -> None:
        """Run the app for this request and clean up after it, whatever it does."""
        try:
            await app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException as exc:
            self._app_failed(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            if self.state is not _COMPLETE:
                self._app_failed(None)
        finally:
            if self.task is not None:
                self.protocol.ctx.tasks.discard(self.task)

    def _app_failed(self, exc: BaseException | None) -> None:
        state = self.state
        if exc is None:
            log.error(
                "ASGI app returned with the response %s: %s %s",
                state.value,
                self.scope["method"],
                self.scope["path"],
            )
        elif isinstance(exc, asyncio.CancelledError):
            pass
        else:
            log.error(
                "Exception in ASGI app (response %s): %s %s",
                state.value,
                self.scope["method"],
                self.scope["path"],
                exc_info=exc,
            )
        self._to(_COMPLETE)
        if self.writer.headers_sent or self.disconnected:
            self.protocol.abort("application error after the response started")
        elif exc is not None and self.protocol.ctx.debug:
            body, content_type = _debug_page(exc, self.scope)
            self.protocol.send_error(500, body, content_type=content_type)
        else:
            self.protocol.send_error(500, b"Internal Server Error")

    # -- the app's receive ----------------------------------------------------------------

    async def receive(self) -> Message:
        """The next request message: body parts, then ``http.disconnect`` when it is over."""
        if self.expect_continue:
            self.expect_continue = False
            if not self.writer.started:
                self.protocol.write(_CONTINUE)
        while True:
            if self.disconnected or self.state is _COMPLETE:
                return dict(_DISCONNECT)
            if not self.body_delivered and (self.body or self.body_complete):
                break
            await self._wait()
        body = self.body
        data = body[0] if len(body) == 1 else b"".join(body)
        body.clear()
        self.body_size = 0
        more = not self.body_complete
        # once the last part is handed over, later calls wait for the disconnect
        self.body_delivered = not more
        self.protocol.body_consumed()
        return {"type": "http.request", "body": data, "more_body": more}

    async def _wait(self) -> None:
        waiter = self.waiter = self.protocol.loop.create_future()
        await waiter

    # -- the app's send -------------------------------------------------------------------

    async def send(self, message: Message) -> None:
        """Validate one response message against the state and put it on the wire."""
        try:
            handler = self._allowed.get(message["type"])
        except (KeyError, TypeError):
            raise ASGIMessageError(f"message {message!r} has no 'type'") from None
        if handler is None:
            raise ASGIMessageError(
                f"unexpected {message['type']!r} message while the response is {self.state.value}"
            )
        if self.disconnected:
            raise ClientDisconnected("the client has disconnected")
        pending = handler(self, message)
        if pending is not None:
            await pending
        protocol = self.protocol
        if protocol.write_paused:
            await protocol.drain()

    def _on_early_hint(self, message: Message) -> None:
        try:
            data = self.writer.early_hint(message.get("links", ()))
        except ResponseError as exc:
            raise ASGIMessageError(f"http.response.early_hint: {exc}") from None
        if data:
            self.protocol.write(data)

    def _on_start(self, message: Message) -> None:
        try:
            self.writer.start(
                message["status"], message.get("headers", ()), message.get("trailers", False)
            )
        except KeyError:
            raise ASGIMessageError("http.response.start without a 'status'") from None
        except ResponseError as exc:
            raise ASGIMessageError(f"http.response.start: {exc}") from None
        self._to(_AWAIT_BODY)

    def _on_body(self, message: Message) -> None:
        body = message.get("body", b"")
        more = message.get("more_body", False)
        if type(body) is not bytes:
            if not isinstance(body, bytes | bytearray | memoryview):
                raise ASGIMessageError(
                    f"http.response.body 'body' must be bytes, not {type(body).__name__}"
                )
            body = bytes(body)
        writer = self.writer
        if not more and not writer.headers_sent and not self.protocol.reader.request_complete:
            # answered before the request body arrived: the connection cannot be reused, so
            # say so in this response's head
            writer.keep_alive = False
        try:
            data = writer.body(body, bool(more))
        except ResponseError as exc:
            raise ASGIMessageError(f"http.response.body: {exc}") from None
        if data:
            self.protocol.write(data)
        if more:
            self._to(_STREAMING)
        elif writer.awaiting_trailers:
            self._to(_AWAIT_TRAILERS)
        else:
            self._complete()

    def _on_trailers(self, message: Message) -> None:
        try:
            data = self.writer.trailer_fields(
                message.get("headers", ()), bool(message.get("more_trailers", False))
            )
        except ResponseError as exc:
            raise ASGIMessageError(f"http.response.trailers: {exc}") from None
        if data:
            self.protocol.write(data)
        if self.writer.complete:
            self._complete()

    async def _on_pathsend(self, message: Message) -> None:
        path = message.get("path")
        if not isinstance(path, str) or not os.path.isabs(path):
            raise ASGIMessageError(
                f"http.response.pathsend 'path' must be an absolute path, not {path!r}"
            )
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise ASGIMessageError(
                f"http.response.pathsend: cannot open {path}: {exc.strerror}"
            ) from None
        try:
            size = os.fstat(fd).st_size
            try:
                head = self.writer.file_head(size)
            except ResponseError as exc:
                raise ASGIMessageError(f"http.response.pathsend: {exc}") from None
            self.protocol.write(head)
            if self.writer.file_body_wanted:
                await self.protocol.send_file(fd, size)
        finally:
            os.close(fd)
        self._complete()

    def _complete(self) -> None:
        self._to(_COMPLETE)
        self.protocol.response_complete(self)


def _debug_page(exc: BaseException, scope: Message) -> tuple[bytes, bytes]:
    """The traceback as HTML or plain text, by the request's Accept header (debug only)."""
    text = "".join(traceback.format_exception(exc))
    accept = b""
    for name, value in scope["headers"]:
        if name == b"accept":
            accept = value
    if b"text/html" in accept:
        page = (
            "<!doctype html><title>500 Internal Server Error</title>"
            f"<h1>500 Internal Server Error</h1><pre>{html.escape(text)}</pre>"
        )
        return page.encode("utf-8"), b"text/html; charset=utf-8"
    return text.encode("utf-8"), b"text/plain; charset=utf-8"


_Handler = Callable[[RequestCycle, Message], Awaitable[None] | None]
#: state -> {message type allowed in it: its handler}; the handler moves to the next state
_TRANSITIONS: Final[dict[ResponseState, dict[str, _Handler]]] = {
    _AWAIT_START: {
        "http.response.early_hint": RequestCycle._on_early_hint,
        "http.response.start": RequestCycle._on_start,
    },
    _AWAIT_BODY: {
        "http.response.body": RequestCycle._on_body,
        "http.response.pathsend": RequestCycle._on_pathsend,
    },
    _STREAMING: {"http.response.body": RequestCycle._on_body},
    _AWAIT_TRAILERS: {"http.response.trailers": RequestCycle._on_trailers},
    _COMPLETE: {},
}
