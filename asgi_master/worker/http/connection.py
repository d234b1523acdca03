"""One HTTP/1.1 connection, sans-IO: the client's bytes in, request events out; the app's
response in, bytes out; and the connection's own state, which says when the next request may be
read, whether the connection is kept alive, and when it must close. No sockets, no clocks: the
adapter (protocol.py) passes the time in and carries out what the connection decides.

Theory of operation. A connection is in one of five states (``ConnectionState``):

- IDLE: between requests, nothing of the next request received. The keep-alive timeout runs.
- HEAD: part of a request head arrived. The request-header timeout runs (408 when it fires).
- REQUEST: a request was handed to the app and its response is not complete. Its body is read
  as it arrives, while the app keeps up (``reading`` goes false above ``READ_HIGH_WATER`` bytes
  not taken); pipelined requests wait in the reader's buffer, reading paused once that too is
  above the mark.
- UPGRADED: handed over to another protocol (WebSocket; HTTP/2, from a request asking for
  it or from IDLE when the connection opens with the HTTP/2 preface); this object is done
  with it.
- CLOSED: over, or closing once what was written has been sent.

What moves it is one of five events (``Transition``), and the table ``_TRANSITIONS`` says
where each leads from where; any other pair is a bug in the caller and raises
``ConnectionStateError`` naming both. A complete response moves REQUEST to IDLE only if the
head promised keep-alive, the request was read to its end and the connection is not draining;
otherwise it closes. Errors of the client's (``ProtocolError``) become a ``Rejected`` event
carrying the error response (none once a response head has gone out) and close the connection:
after a framing error nothing that follows can be trusted.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, NoReturn

from .head import ProtocolError, RequestHead
from .limits import Limits
from .reader import CLOSED, END_OF_BODY, NEED_DATA, PAUSED, Body, RequestReader, Signal
from .writer import PLAIN, ResponseDefaults, ResponseWriter, simple_response

#: reading pauses while this many bytes of request body wait for the app, or this many bytes
#: of pipelined requests wait for their turn
READ_HIGH_WATER: Final = 64 * 1024
#: RFC 9113 3.4: what a client speaking HTTP/2 with prior knowledge sends first
HTTP2_PREFACE: Final = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
_PLAIN: Final = b"text/plain; charset=utf-8"


class ConnectionState(enum.Enum):
    """Where an HTTP/1.1 connection stands (module docstring)."""

    IDLE = "idle"
    HEAD = "reading a request head"
    REQUEST = "in a request"
    UPGRADED = "upgraded"
    CLOSED = "closed"

    # used as dict keys on hot paths: identity hash, in C (docs/design.md, "Enum states")
    __hash__ = object.__hash__


class Transition(enum.Enum):
    """What moves a connection from one state to another."""

    HEAD_STARTED = "the first bytes of a request head arrived"
    REQUEST_RECEIVED = "a request head is complete"
    RESPONSE_REUSED = "the response is complete and the connection is kept for the next"
    UPGRADED = "the connection is handed to another protocol"
    CLOSED = "the connection closes"

    __hash__ = object.__hash__


# hot paths compare with these, not with ``Enum.MEMBER`` (docs/design.md, "Enum states")
_IDLE: Final = ConnectionState.IDLE
_HEAD: Final = ConnectionState.HEAD
_REQUEST: Final = ConnectionState.REQUEST
_UPGRADED: Final = ConnectionState.UPGRADED
_CLOSED: Final = ConnectionState.CLOSED
_HEAD_STARTED: Final = Transition.HEAD_STARTED
_REQUEST_RECEIVED: Final = Transition.REQUEST_RECEIVED
_RESPONSE_REUSED: Final = Transition.RESPONSE_REUSED
_TO_UPGRADED: Final = Transition.UPGRADED
_TO_CLOSED: Final = Transition.CLOSED

#: state -> {transition allowed in it: the state it leads to}; nothing else is allowed
_TRANSITIONS: Final[dict[ConnectionState, dict[Transition, ConnectionState]]] = {
    _IDLE: {
        _HEAD_STARTED: _HEAD,
        _REQUEST_RECEIVED: _REQUEST,
        # the connection opened with the HTTP/2 preface (``PRIOR_KNOWLEDGE``)
        _TO_UPGRADED: _UPGRADED,
        _TO_CLOSED: _CLOSED,
    },
    _HEAD: {_REQUEST_RECEIVED: _REQUEST, _TO_CLOSED: _CLOSED},
    _REQUEST: {_RESPONSE_REUSED: _IDLE, _TO_UPGRADED: _UPGRADED, _TO_CLOSED: _CLOSED},
    _UPGRADED: {},
    _CLOSED: {_TO_CLOSED: _CLOSED},
}


class AfterResponse(enum.Enum):
    """What follows a complete response."""

    CLOSE = "close the connection"
    READ = "kept alive: read on"
    NEXT = "kept alive, and the next request's bytes (or the client's close) are here"


CLOSE: Final = AfterResponse.CLOSE
READ: Final = AfterResponse.READ
NEXT: Final = AfterResponse.NEXT


class ConnectionStateError(Exception):
    """A transition the state table does not allow: a bug of the caller's, not the client's."""


@dataclass(frozen=True, slots=True)
class Upgrade:
    """The request asks to switch to a protocol the connection may hand over to; the adapter
    either calls ``upgrade`` (and gives the connection away) or ``refuse``."""

    head: RequestHead


@dataclass(frozen=True, slots=True)
class PriorKnowledge:
    """The connection opens with the HTTP/2 preface: the adapter calls ``upgrade`` and hands
    every byte received to HTTP/2."""


PRIOR_KNOWLEDGE: Final = PriorKnowledge()


@dataclass(frozen=True, slots=True)
class Rejected:
    """The client broke HTTP/1.1: write ``response`` (empty once a response head went out),
    then close."""

    status: int
    reason: str
    response: bytes


Event = RequestHead | Upgrade | PriorKnowledge | Body | Signal | Rejected


class HTTPConnection:
    """The state of one HTTP/1.1 connection between its transport and its requests."""

    __slots__ = (
        "_defaults",
        "_draining",
        "_expect_continue",
        "_keep_alive",
        "_now",
        "_preface",
        "_reader",
        "_reuse",
        "_unread",
        "_upgrades",
        "_writer",
        "head_alone",
        "head_since",
        "idle_since",
        "reading",
        "state",
    )

    def __init__(
        self,
        limits: Limits,
        now: float,
        *,
        keep_alive: bool = True,
        upgrades: Iterable[bytes] = (),
        defaults: ResponseDefaults = PLAIN,
        http2_preface: bool = False,
    ) -> None:
        """``keep_alive``: connections may be reused at all (``keepalive_timeout`` > 0);
        ``upgrades``: the protocols (lowercase ``Upgrade`` tokens) it may hand over to;
        ``defaults``: the header lines every response gets (``server``, ``date``...);
        ``http2_preface``: a connection opening with the HTTP/2 preface is handed over."""
        self._reader = RequestReader(limits)
        self._reuse = keep_alive
        self._upgrades = frozenset(upgrades)
        self.state = _IDLE
        #: the transport should deliver bytes (false: pause reading)
        self.reading = True
        #: when bytes last arrived or the last response completed
        self.idle_since = now
        #: when the first byte of the request head being read arrived
        self.head_since = 0.0
        #: the request just read has no body and nothing came after it: there is nothing to
        #: read until its response is complete (the next event would be PAUSED)
        self.head_alone = False
        self._now = now
        #: the connection's wish for the current request: keep it alive after the response
        self._keep_alive = False
        self._draining = False
        self._expect_continue = False
        #: bytes of request body handed out as events and not yet consumed by the app
        self._unread = 0
        self._defaults = defaults
        self._writer = ResponseWriter("GET", "1.1", defaults)
        #: the connection's first bytes while they may still be the HTTP/2 preface (None:
        #: they are not, or it is not looked for)
        self._preface: bytes | None = b"" if http2_preface else None

    def _to(self, transition: Transition) -> None:
        # (hot paths write this line out instead of calling: one call less per request)
        self.state = _TRANSITIONS[self.state].get(transition) or self._not_allowed(transition)

    def _not_allowed(self, transition: Transition) -> NoReturn:
        raise ConnectionStateError(
            f"{transition.name} ({transition.value}) in state {self.state.name}"
        )

    # -- the client's side ----------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes from the client; ``b""`` means it closed its sending side."""
        self.idle_since = self._now = now
        if self._preface is not None:
            self._look_for_preface(data)
        self._reader.feed(data)

    def _look_for_preface(self, data: bytes) -> None:
        """Follow the first bytes while they match the HTTP/2 preface (``PRIOR_KNOWLEDGE``
        once all of it is here); stop looking at the first that does not."""
        seen = self._preface
        assert seen is not None
        seen += data[: len(HTTP2_PREFACE) - len(seen)]
        self._preface = seen if data and HTTP2_PREFACE.startswith(seen) else None

    def take_body(self, data: bytes) -> tuple[bytes, bytes, bool] | None:
        """While request body is due and nothing is buffered: the part of ``data`` that is
        body (the very object when all of it is), what follows it, and whether the body is now
        complete; None otherwise (then ``receive_data`` as usual)."""
        if self.state is not _REQUEST:
            return None
        taken = self._reader.take_body(data)
        if taken is None:
            return None
        chunk, rest = taken
        self._unread += len(chunk)
        if self._unread > READ_HIGH_WATER:
            self.reading = False
        return chunk, rest, self._reader.request_complete

    def next_event(self) -> Event:
        """The next thing the adapter must act on, or a Signal saying why there is none:
        NEED_DATA (read on), PAUSED (the current request must finish first), CLOSED (the
        client closed between requests: close)."""
        state = self.state
        if state is _CLOSED or state is _UPGRADED:
            return CLOSED
        if self._preface is not None:
            # nothing is read as HTTP/1.1 while the bytes may still be the HTTP/2 preface
            return PRIOR_KNOWLEDGE if self._preface == HTTP2_PREFACE else NEED_DATA
        reader = self._reader
        try:
            event = reader.next_event()
        except ProtocolError as exc:
            return self._reject(exc)
        if event is NEED_DATA:
            if state is _IDLE and reader.head_started:
                self._to(_HEAD_STARTED)
                self.head_since = self._now
            return NEED_DATA
        if event is PAUSED:
            # pipelined requests wait their turn; stop reading once enough are queued
            if reader.buffered > READ_HIGH_WATER:
                self.reading = False
            return PAUSED
        if event is END_OF_BODY:
            return END_OF_BODY
        if event is CLOSED:
            self._to(_TO_CLOSED)
            return CLOSED
        if isinstance(event, Body):
            self._unread += len(event.data)
            if self._unread > READ_HIGH_WATER:
                self.reading = False
            return event
        # a request head: REQUEST_RECEIVED (written out, as on every request)
        self._preface = None
        self.state = _TRANSITIONS[state].get(_REQUEST_RECEIVED) or self._not_allowed(
            _REQUEST_RECEIVED
        )
        self.head_since = 0.0
        self.head_alone = not (
            event.content_length or event.chunked or reader.buffered or reader.eof
        )
        self._keep_alive = event.keep_alive and self._reuse and not self._draining
        self._expect_continue = event.expect_continue
        self._writer.reset(event.method, event.http_version)
        upgrade = event.upgrade
        if upgrade is not None and upgrade.lower() in self._upgrades:
            return Upgrade(event)
        return event

    def _reject(self, exc: ProtocolError) -> Rejected:
        if self.state is not _REQUEST or self._writer.head_pending:
            body = exc.reason.encode("utf-8", "replace") + b"\n"
            response = simple_response(exc.status, body, defaults=self._defaults)
            self._writer.status = exc.status
            self._writer.body_bytes = len(body)
        else:
            response = b""
        self._to(_TO_CLOSED)
        return Rejected(exc.status, exc.reason, response)

    def body_consumed(self, size: int) -> None:
        """The app took ``size`` bytes of request body: reading may go on."""
        self._unread = max(0, self._unread - size)
        if self._unread <= READ_HIGH_WATER and self.state is _REQUEST:
            self.reading = True

    @property
    def used_h11(self) -> int:
        """How many request heads of this connection went through h11 (tests and stats)."""
        return self._reader.used_h11

    # -- the response ---------------------------------------------------------------------

    @property
    def response_status(self) -> int:
        """The status of the current (or last) response, for the access log."""
        return self._writer.status

    @property
    def response_bytes(self) -> int:
        """Body bytes of the current (or last) response put on the wire."""
        return self._writer.body_bytes

    @property
    def response_started(self) -> bool:
        """Part of the current response has been written."""
        return not self._writer.head_pending

    def send_continue(self) -> bytes:
        """``100 Continue`` if the request asked for it and has not had it (else nothing)."""
        if not self._expect_continue:
            return b""
        self._expect_continue = False
        return _CONTINUE

    def early_hint(self, links: Iterable[bytes]) -> bytes:
        """A ``103 Early Hints`` response (nothing to an HTTP/1.0 client)."""
        return self._writer.early_hint(links)

    def start_response(
        self, status: int, headers: Iterable[Iterable[bytes]], trailers: bool = False
    ) -> None:
        """Hold the response head until the first body part (raises ``ResponseError``)."""
        self._writer.start(status, headers, trailers)

    def send_body(self, data: bytes, more: bool) -> bytes | tuple[bytes, ...]:
        """The bytes of one body part (with the head, the first time). A response that is
        over before its request body was read ends the connection, and says so in its head."""
        keep = self._keep_alive and (more or self._reader.request_complete)
        return self._writer.body(data, more, keep)

    def send_trailers(self, headers: Iterable[Iterable[bytes]], more: bool) -> bytes:
        """Trailer fields after the last body part."""
        return self._writer.trailer_fields(headers, more)

    def file_head(self, size: int) -> bytes:
        """The head of a response whose body is a file of ``size`` bytes; ``file_body_wanted``
        then says whether the file's bytes follow it."""
        return self._writer.file_head(size, self._keep_alive and self._reader.request_complete)

    @property
    def file_body_wanted(self) -> bool:
        """After ``file_head``: the file's bytes go on the wire (not a HEAD, 204 or 304)."""
        return self._writer.file_body_wanted

    def response_complete(self, now: float) -> AfterResponse:
        """The response is complete: the connection is kept for the next request (IDLE,
        reading on) or must close (CLOSED); the answer says which, and whether bytes of the
        next request (or the client's close) are already here to be processed."""
        if self.state is not _REQUEST:
            # (both outcomes are transitions from REQUEST only)
            raise ConnectionStateError(f"a complete response in state {self.state.name}")
        reader = self._reader
        if self._keep_alive and self._writer.keep_alive and reader.request_complete:
            reader.next_cycle()
            self.state = _TRANSITIONS[self.state].get(_RESPONSE_REUSED) or self._not_allowed(
                _RESPONSE_REUSED
            )
            self.idle_since = now
            self._unread = 0
            self.reading = True
            return NEXT if reader.buffered or reader.eof else READ
        self._to(_TO_CLOSED)
        return CLOSE

    def refuse(
        self, status: int, body: bytes, content_type: bytes = _PLAIN, extra: bytes = b""
    ) -> bytes:
        """The server's own response instead of the app's (an error: 500, 503, 408...), after
        which the connection closes; ``extra`` is more header lines."""
        self._to(_TO_CLOSED)
        if not body.endswith(b"\n"):
            body += b"\n"
        self._writer.status = status
        self._writer.body_bytes = len(body)
        return simple_response(
            status, body, content_type=content_type, extra=extra, defaults=self._defaults
        )

    def upgrade(self) -> bytes:
        """Hand the connection over: the bytes received after the upgrade request's head (or,
        in IDLE, every byte received: HTTP/2 from the start)."""
        if self.state is _IDLE:
            # HTTP/2 from the start: after PRIOR_KNOWLEDGE, or before any byte (ALPN h2)
            if self._preface is None:
                raise ConnectionStateError("UPGRADED without the HTTP/2 preface in state IDLE")
            self._to(_TO_UPGRADED)
            self._preface = None
            return self._reader.take_trailing()
        self._to(_TO_UPGRADED)
        reader = self._reader
        # an upgrade request has no body; reading to its end hands back the bytes after it
        while not reader.request_complete:
            if reader.next_event() is NEED_DATA:
                break
        return reader.take_trailing()

    def close(self) -> None:
        """The connection ends (aborted, lost, or closed by the adapter)."""
        self._to(_TO_CLOSED)

    # -- timers and the drain -------------------------------------------------------------

    def shutdown(self) -> None:
        """The worker drains: the response in flight (or the next request, if one is already
        on its way) says ``connection: close`` if its head has not gone out, and the
        connection closes after it."""
        self._draining = True
        self._keep_alive = False

    def idle_verdict(self, now: float, idle_for: float, header_timeout: float) -> Event | None:
        """What a timer sweep at ``now`` must do: ``Rejected`` (408) for a head slower than
        ``header_timeout``, CLOSED for a connection idle for ``idle_for``, else None."""
        state = self.state
        if state is _HEAD and now - self.head_since > header_timeout:
            return self._reject(ProtocolError(408, "Request Timeout"))
        if state is _IDLE and now - self.idle_since >= idle_for:
            self._to(_TO_CLOSED)
            return CLOSED
        return None


__all__ = [
    "CLOSE",
    "CLOSED",
    "END_OF_BODY",
    "HTTP2_PREFACE",
    "NEED_DATA",
    "NEXT",
    "PAUSED",
    "PRIOR_KNOWLEDGE",
    "READ",
    "READ_HIGH_WATER",
    "AfterResponse",
    "Body",
    "ConnectionState",
    "ConnectionStateError",
    "HTTPConnection",
    "PriorKnowledge",
    "Rejected",
    "Upgrade",
]
