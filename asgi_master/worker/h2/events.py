"""What the HTTP/2 core tells its adapter, as frozen values. ``Connection.receive_data`` (and
``tick``, ``start_drain``, ``connection_lost``) return them in the order they happened."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .request import RequestHead
    from .streams import ServerStream


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A request head arrived on a new stream: start the app for it. ``end_stream``: the
    request has no body (no ``RequestBody``/``RequestEnded`` follow)."""

    stream: ServerStream
    head: RequestHead
    end_stream: bool


@dataclass(frozen=True, slots=True)
class RequestBody:
    """Request body bytes for ``stream_id`` (hand them to its request cycle)."""

    stream_id: int
    data: bytes


@dataclass(frozen=True, slots=True)
class RequestEnded:
    """The request body on ``stream_id`` is complete."""

    stream_id: int


@dataclass(frozen=True, slots=True)
class RequestRefused:
    """A request head the server answered itself with ``status`` (431, 414, 413, 400: a
    well-formed request it will not take, as HTTP/1.1 would); the app never hears of the
    stream. For the access log."""

    stream_id: int
    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class StreamReset:
    """The stream ended before its request and response did: the client reset it
    (``by_peer``), or the server did (the client broke a rule of the stream, or the
    connection is ending). Its app sees ``http.disconnect``; its later messages are dropped."""

    stream_id: int
    error_code: int
    by_peer: bool


@dataclass(frozen=True, slots=True)
class StreamWritable:
    """The send queue of ``stream_id`` emptied: its app may send again."""

    stream_id: int


@dataclass(frozen=True, slots=True)
class ConnectionTerminated:
    """The connection is over (the last event): write what ``data_to_send`` holds, then close
    the transport. ``error_code`` is the GOAWAY's (ours, or the client's if ``by_peer``)."""

    error_code: int
    reason: str
    by_peer: bool


Event = (
    RequestReceived
    | RequestBody
    | RequestEnded
    | RequestRefused
    | StreamReset
    | StreamWritable
    | ConnectionTerminated
)
