"""The state machines of the HTTP/2 core, as tables.

Theory of operation. A connection (``ConnectionState``) waits for the client's preface and
first SETTINGS, then is OPEN. A graceful shutdown (RFC 9113 6.8) goes GOING_AWAY (a GOAWAY
naming the largest stream id has left, with a PING behind it) and, once the PING comes back
(or a short wait ends), DRAINING (a second GOAWAY names the last stream really taken; streams
in flight finish, new ones are refused). CLOSED is the end: after an error, an idle timeout,
a drained shutdown or the transport's loss. A client's own GOAWAY also leads to DRAINING.

A stream (``StreamState``, RFC 9113 5.1, server side) exists from the request's HEADERS: OPEN,
then half closed when one side's END_STREAM passes (the client's: HALF_CLOSED_REMOTE, ours:
HALF_CLOSED_LOCAL), CLOSED when both have, or at once on RST_STREAM either way. Idle and
reserved states are not objects: an id above the highest seen is idle, and we never push.

The response on a stream (``ResponseState``) follows the app: IDLE until ``start`` holds the
head (HELD), BODY once the first body part sent it, TRAILERS when the body ended with trailers
announced, DONE when complete; CANCELLED when the stream ended under the app (reset by the
client, a connection error, the server's own refusal), after which the app's remaining
messages are dropped.

Each table maps (state, event) to the next state; a pair not in it is a bug in the caller and
raises ``StateError`` naming both.
"""

from __future__ import annotations

import enum
from typing import Final


class StateError(Exception):
    """An event that the state machine does not allow in its state."""


class ConnectionState(enum.Enum):
    AWAITING_PREFACE = "awaiting the client preface"
    AWAITING_SETTINGS = "awaiting the client's first SETTINGS"
    OPEN = "open"
    GOING_AWAY = "first GOAWAY sent, awaiting its PING"
    DRAINING = "last GOAWAY sent, streams finishing"
    CLOSED = "closed"

    __hash__ = object.__hash__


class ConnectionEvent(enum.Enum):
    PREFACE = "preface received"
    SETTINGS = "first SETTINGS received"
    DRAIN = "graceful shutdown"
    DRAIN_PING = "shutdown PING answered or waited for"
    PEER_GOAWAY = "client sent GOAWAY"
    STREAMS_DONE = "last stream closed"
    CLOSE = "error, timeout or transport lost"

    __hash__ = object.__hash__


class StreamState(enum.Enum):
    OPEN = "open"
    HALF_CLOSED_REMOTE = "half closed (remote)"
    HALF_CLOSED_LOCAL = "half closed (local)"
    CLOSED = "closed"

    __hash__ = object.__hash__


class StreamEvent(enum.Enum):
    END_RECEIVED = "END_STREAM received"
    END_SENT = "END_STREAM sent"
    RESET = "RST_STREAM sent or received"

    __hash__ = object.__hash__


class Closure(enum.Enum):
    """How a stream ended, remembered for the frames that may still come for it (5.1)."""

    #: both END_STREAMs passed: more DATA or HEADERS is a connection error STREAM_CLOSED
    ENDED = "ended"
    #: the client reset it: more is a stream error STREAM_CLOSED
    RESET_BY_PEER = "reset by the client"
    #: we reset it: frames the client had in flight are ignored
    RESET_BY_US = "reset by the server"

    __hash__ = object.__hash__


class ResponseState(enum.Enum):
    IDLE = "no response yet"
    HELD = "head held"
    BODY = "body being sent"
    TRAILERS = "trailers being sent"
    DONE = "complete"
    CANCELLED = "stream ended under the app"

    __hash__ = object.__hash__


class ResponseEvent(enum.Enum):
    START = "http.response.start"
    BODY = "body part"
    LAST_BODY = "last body part"
    LAST_BODY_BEFORE_TRAILERS = "last body part, trailers announced"
    TRAILERS = "trailers"
    LAST_TRAILERS = "last trailers"
    REFUSE = "server's own response"
    CANCEL = "stream ended"

    __hash__ = object.__hash__


C, CE = ConnectionState, ConnectionEvent
CONNECTION_TRANSITIONS: Final[dict[tuple[ConnectionState, ConnectionEvent], ConnectionState]] = {
    (C.AWAITING_PREFACE, CE.PREFACE): C.AWAITING_SETTINGS,
    (C.AWAITING_SETTINGS, CE.SETTINGS): C.OPEN,
    (C.OPEN, CE.DRAIN): C.GOING_AWAY,
    (C.OPEN, CE.PEER_GOAWAY): C.DRAINING,
    (C.GOING_AWAY, CE.DRAIN): C.GOING_AWAY,
    (C.GOING_AWAY, CE.DRAIN_PING): C.DRAINING,
    (C.GOING_AWAY, CE.PEER_GOAWAY): C.DRAINING,
    (C.DRAINING, CE.DRAIN): C.DRAINING,
    (C.DRAINING, CE.PEER_GOAWAY): C.DRAINING,
    (C.DRAINING, CE.STREAMS_DONE): C.CLOSED,
    (C.AWAITING_PREFACE, CE.CLOSE): C.CLOSED,
    (C.AWAITING_SETTINGS, CE.CLOSE): C.CLOSED,
    (C.OPEN, CE.CLOSE): C.CLOSED,
    (C.GOING_AWAY, CE.CLOSE): C.CLOSED,
    (C.DRAINING, CE.CLOSE): C.CLOSED,
    (C.CLOSED, CE.CLOSE): C.CLOSED,
    (C.CLOSED, CE.DRAIN): C.CLOSED,
}

S, SE = StreamState, StreamEvent
STREAM_TRANSITIONS: Final[dict[tuple[StreamState, StreamEvent], StreamState]] = {
    (S.OPEN, SE.END_RECEIVED): S.HALF_CLOSED_REMOTE,
    (S.OPEN, SE.END_SENT): S.HALF_CLOSED_LOCAL,
    (S.HALF_CLOSED_REMOTE, SE.END_SENT): S.CLOSED,
    (S.HALF_CLOSED_LOCAL, SE.END_RECEIVED): S.CLOSED,
    (S.OPEN, SE.RESET): S.CLOSED,
    (S.HALF_CLOSED_REMOTE, SE.RESET): S.CLOSED,
    (S.HALF_CLOSED_LOCAL, SE.RESET): S.CLOSED,
    (S.CLOSED, SE.RESET): S.CLOSED,
}

R, RE = ResponseState, ResponseEvent
RESPONSE_TRANSITIONS: Final[dict[tuple[ResponseState, ResponseEvent], ResponseState]] = {
    (R.IDLE, RE.START): R.HELD,
    (R.HELD, RE.BODY): R.BODY,
    (R.HELD, RE.LAST_BODY): R.DONE,
    (R.HELD, RE.LAST_BODY_BEFORE_TRAILERS): R.TRAILERS,
    (R.BODY, RE.BODY): R.BODY,
    (R.BODY, RE.LAST_BODY): R.DONE,
    (R.BODY, RE.LAST_BODY_BEFORE_TRAILERS): R.TRAILERS,
    (R.TRAILERS, RE.TRAILERS): R.TRAILERS,
    (R.TRAILERS, RE.LAST_TRAILERS): R.DONE,
    (R.IDLE, RE.REFUSE): R.DONE,
    (R.HELD, RE.REFUSE): R.DONE,
    (R.IDLE, RE.CANCEL): R.CANCELLED,
    (R.HELD, RE.CANCEL): R.CANCELLED,
    (R.BODY, RE.CANCEL): R.CANCELLED,
    (R.TRAILERS, RE.CANCEL): R.CANCELLED,
    (R.DONE, RE.CANCEL): R.DONE,
    (R.CANCELLED, RE.CANCEL): R.CANCELLED,
}
del C, CE, S, SE, R, RE


def connection_transition(state: ConnectionState, event: ConnectionEvent) -> ConnectionState:
    """The connection's next state."""
    try:
        return CONNECTION_TRANSITIONS[state, event]
    except KeyError:
        raise StateError(f"connection: {event.value} when {state.value}") from None


def stream_transition(state: StreamState, event: StreamEvent) -> StreamState:
    """A stream's next state."""
    try:
        return STREAM_TRANSITIONS[state, event]
    except KeyError:
        raise StateError(f"stream: {event.value} when {state.value}") from None


def response_transition(state: ResponseState, event: ResponseEvent) -> ResponseState:
    """A response's next state."""
    try:
        return RESPONSE_TRANSITIONS[state, event]
    except KeyError:
        raise StateError(f"response: {event.value} when {state.value}") from None
