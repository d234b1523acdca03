"""One ASGI HTTP request cycle, whatever protocol carries it: the app's ``receive`` and ``send``,
their order, and the error policy.

Message order is an explicit state machine (``_TRANSITIONS``): a message that is not allowed in
the current state raises ``ASGIMessageError`` naming both. The response head is held by the
stream until the first body part (seed 000; docs/http.md says why). Error policy: if the app
fails (or returns) before any of its response left, the client gets a clean 500; after that the
stream is aborted, since a half-sent response cannot be repaired; after a complete response
there is nothing to repair, and the failure is only logged.

The cycle holds the request body the app has not taken yet; the protocol pushes into it
(``add_body``, ``end_body``, ``disconnect``) and hears back through its ``Stream``
(stream.py) when the app consumed some (``body_consumed``), which is where flow control
lives. It also measures how long the app waits in ``receive`` for body that has not come, so
the slow-body rule (bodyrate.py) is applied the same way for every protocol: the adapter's
once-a-second sweep calls ``enforce_body_rate`` for each request it carries. Nothing here knows
about HTTP/1.1 or HTTP/2 bytes.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Final, Protocol

from .asgi import ASGIApp, ASGIMessageError, ClientDisconnected, Message, ResponseError, Scope
from .bodyrate import BodyRate
from .stream import Stream

log = logging.getLogger("asgi_master.error")

_DISCONNECT: Final = {"type": "http.disconnect"}


class CycleOwner(Protocol):
    """What a cycle needs of the worker that runs it."""

    loop: asyncio.AbstractEventLoop
    #: app tasks still running; a cycle removes its own when it ends
    tasks: set[asyncio.Task[None]]
    #: a failing app's 500 carries its traceback
    debug: bool
    #: the slow-body rule (``request_body_timeout``, ``request_body_min_rate``)
    body_rate: BodyRate
    #: requests cut off by it, for the metrics
    body_timeouts: int


class ResponseState(enum.Enum):
    """Where the response stands, as seen from the app's messages."""

    AWAIT_START = "awaiting http.response.start"
    #: start received, the head is held until the first body part
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
#: states in which part of the app's response has gone out
_PARTLY_SENT: Final = frozenset({_STREAMING, _AWAIT_TRAILERS})


class RequestCycle:
    """The state of one request between its stream and the app."""

    __slots__ = (
        "_allowed",
        "_body",
        "_body_complete",
        "_body_delivered",
        "_body_size",
        "_body_taken",
        "_disconnected",
        "_owner",
        "_receiving",
        "_trailers",
        "_wait_since",
        "_waited",
        "_waiter",
        "scope",
        "start_time",
        "state",
        "stream",
        "task",
    )

    def __init__(self, scope: Scope, stream: Stream, owner: CycleOwner, body: bool) -> None:
        """``body``: the request has a body to come (else the app's first ``receive`` gets an
        empty, final ``http.request``)."""
        self.scope = scope
        self.stream = stream
        self._owner = owner
        self.state = _AWAIT_START
        self._allowed = _TRANSITIONS[_AWAIT_START]
        self.task: asyncio.Task[None] | None = None
        #: request body received and not yet handed to the app, as the pieces that came in
        #: (kept apart, not copied together: one piece goes to the app as it is)
        self._body: list[bytes] = []
        self._body_size = 0
        self._body_complete = not body
        self._body_delivered = False
        self._disconnected = False
        #: the app has called ``receive`` once already
        self._receiving = False
        #: ``trailers: True`` in the response start
        self._trailers = False
        self._waiter: asyncio.Future[None] | None = None
        #: the slow-body accounting: body bytes handed to the app, seconds it waited in
        #: ``receive`` for body in all (before the wait in progress), when that wait began
        self._body_taken = 0
        self._waited = 0.0
        self._wait_since: float | None = None
        self.start_time = time.monotonic()

    def _to(self, state: ResponseState) -> None:
        self.state = state
        self._allowed = _TRANSITIONS[state]

    # -- the protocol's side --------------------------------------------------------------

    @property
    def body_buffered(self) -> int:
        """Bytes of request body received that the app has not taken."""
        return self._body_size

    def add_body(self, data: bytes) -> None:
        """A piece of request body arrived (kept only while the response is not complete)."""
        if self.state is not _COMPLETE:
            self._body.append(data)
            self._body_size += len(data)
        self._wake()

    def end_body(self) -> None:
        """The request body is complete."""
        self._body_complete = True
        self._wake()

    def disconnect(self) -> None:
        """The client is gone (or broke the protocol): ``receive`` says so and ``send``
        raises ``ClientDisconnected``."""
        self._disconnected = True
        self._wake()

    def enforce_body_rate(self, now: float) -> bool:
        """The sweep's check (``now`` is the loop's time): if the app has waited in ``receive``
        for request body longer than the slow-body rule allows, end the request (``408`` if
        none of the response has gone out, else cut it off), log one line, count it, and
        return True. The app's ``receive`` then says ``http.disconnect``."""
        since = self._wait_since
        if since is None:
            return False
        rule = self._owner.body_rate
        waited = self._waited + (now - since)
        received = self._body_taken + self._body_size
        if not rule.overdue(waited, received):
            return False
        state = self.state
        scope = self.scope
        client = scope.get("client")
        detail = (
            f"request body too slow: {received} bytes in {waited:.0f}s of the app waiting "
            f"({rule.describe()})"
        )
        self._owner.body_timeouts += 1
        self._disconnected = True
        self._to(_COMPLETE)
        if state in _PARTLY_SENT:
            self.stream.abort(detail)  # the stream logs why it closes
        else:
            log.info(
                "%s %s from %s: %s: 408",
                scope.get("method", "-"),
                scope.get("path", "-"),
                f"{client[0]}:{client[1]}" if client else "-",
                detail,
            )
            self.stream.refuse(408, b"Request Timeout\n", b"text/plain; charset=utf-8")
        self._wake()
        return True

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
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
                self._owner.tasks.discard(self.task)

    def _app_failed(self, exc: BaseException | None) -> None:
        state = self.state
        scope = self.scope
        if exc is None:
            log.error(
                "ASGI app returned with the response %s: %s %s",
                state.value,
                scope["method"],
                scope["path"],
            )
        elif not isinstance(exc, asyncio.CancelledError):
            log.error(
                "Exception in ASGI app (response %s): %s %s",
                state.value,
                scope["method"],
                scope["path"],
                exc_info=exc,
            )
        if state is _COMPLETE:
            return  # the response went out whole: nothing to repair
        self._to(_COMPLETE)
        if state in _PARTLY_SENT or self._disconnected:
            self.stream.abort("application error after the response started")
        elif exc is not None and self._owner.debug:
            body, content_type = _debug_page(exc, scope)
            self.stream.refuse(500, body, content_type)
        else:
            self.stream.refuse(500, b"Internal Server Error\n", b"text/plain; charset=utf-8")

    # -- the app's receive ----------------------------------------------------------------

    async def receive(self) -> Message:
        """The next request message: body parts, then ``http.disconnect`` when it is over."""
        if not self._receiving:
            self._receiving = True
            if self.state is _AWAIT_START:
                self.stream.send_continue()
        while True:
            if self._disconnected or self.state is _COMPLETE:
                return dict(_DISCONNECT)
            if not self._body_delivered and (self._body or self._body_complete):
                break
            loop = self._owner.loop
            waiter = self._waiter = loop.create_future()
            if self._body_complete:
                await waiter  # for the disconnect: not a wait for the client's body
                continue
            since = self._wait_since = loop.time()
            try:
                await waiter
            finally:
                self._wait_since = None
                self._waited += loop.time() - since
        body = self._body
        data = body[0] if len(body) == 1 else b"".join(body)
        body.clear()
        size = self._body_size
        self._body_size = 0
        more = not self._body_complete
        # once the last part is handed over, later calls wait for the disconnect
        self._body_delivered = not more
        if size:
            self._body_taken += size
            self.stream.body_consumed(size)
        return {"type": "http.request", "body": data, "more_body": more}

    # -- the app's send -------------------------------------------------------------------

    async def send(self, message: Message) -> None:
        """Validate one response message against the state and hand it to the stream."""
        if self._disconnected:
            # (also after the server ended the request itself: a slow body's 408)
            raise ClientDisconnected("the client has disconnected")
        try:
            handler = self._allowed.get(message["type"])
        except (KeyError, TypeError):
            raise ASGIMessageError(f"message {message!r} has no 'type'") from None
        if handler is None:
            raise ASGIMessageError(
                f"unexpected {message['type']!r} message while the response is {self.state.value}"
            )
        pending = handler(self, message)
        if pending is not None:
            await pending
        stream = self.stream
        if stream.write_paused:
            await stream.drain()

    def _on_early_hint(self, message: Message) -> None:
        try:
            self.stream.early_hint(message.get("links", ()))
        except ResponseError as exc:
            raise ASGIMessageError(f"http.response.early_hint: {exc}") from None

    def _on_start(self, message: Message) -> None:
        trailers = bool(message.get("trailers", False))
        try:
            self.stream.start(message["status"], message.get("headers", ()), trailers)
        except KeyError:
            raise ASGIMessageError("http.response.start without a 'status'") from None
        except ResponseError as exc:
            raise ASGIMessageError(f"http.response.start: {exc}") from None
        self._trailers = trailers
        # self._to(_AWAIT_BODY), written out on this path of every request
        self.state = _AWAIT_BODY
        self._allowed = _ALLOWED_AWAITING_BODY

    def _on_body(self, message: Message) -> None:
        body = message.get("body", b"")
        more = bool(message.get("more_body", False))
        if type(body) is not bytes:
            if not isinstance(body, bytes | bytearray | memoryview):
                raise ASGIMessageError(
                    f"http.response.body 'body' must be bytes, not {type(body).__name__}"
                )
            body = bytes(body)
        try:
            self.stream.body(body, more)
        except ResponseError as exc:
            raise ASGIMessageError(f"http.response.body: {exc}") from None
        if more:
            self._to(_STREAMING)
        elif self._trailers:
            self._to(_AWAIT_TRAILERS)
        else:
            self._complete()

    def _on_trailers(self, message: Message) -> None:
        more = bool(message.get("more_trailers", False))
        try:
            self.stream.trailers(message.get("headers", ()), more)
        except ResponseError as exc:
            raise ASGIMessageError(f"http.response.trailers: {exc}") from None
        if not more:
            self._complete()

    async def _on_pathsend(self, message: Message) -> None:
        path = message.get("path")
        if not isinstance(path, str) or not os.path.isabs(path):
            raise ASGIMessageError(
                f"http.response.pathsend 'path' must be an absolute path, not {path!r}"
            )
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as error:
            raise ASGIMessageError(
                f"http.response.pathsend: cannot open {path}: {error.strerror}"
            ) from None
        try:
            try:
                await self.stream.file(fd, os.fstat(fd).st_size)
            except ResponseError as exc:
                raise ASGIMessageError(f"http.response.pathsend: {exc}") from None
        finally:
            os.close(fd)
        self._complete()

    def _complete(self) -> None:
        # self._to(_COMPLETE), written out on this path of every request
        self.state = _COMPLETE
        self._allowed = _ALLOWED_COMPLETE
        self.stream.complete()


def _debug_page(exc: BaseException, scope: Scope) -> tuple[bytes, bytes]:
    """The traceback as HTML or plain text, by the request's Accept header (debug only)."""
    text = "".join(traceback.format_exception(exc))
    accept = b""
    for name, value in scope["headers"]:
        if name == b"accept":
            accept = value
    if b"text/html" in accept:
        import html  # (debug pages only)

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
_ALLOWED_AWAITING_BODY: Final = _TRANSITIONS[_AWAIT_BODY]
_ALLOWED_COMPLETE: Final = _TRANSITIONS[_COMPLETE]
