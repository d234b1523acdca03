"""HTTP/2 (RFC 9113) on the server. The core is sans-IO: ``Connection`` reads frames and
writes them, ``ServerStream`` carries one request's response (see connection.py for the theory
of operation and state.py for the state tables). Around it: protocol.py (``H2Protocol``, the
asyncio adapter: transport, app tasks, timers, drain), request_stream.py (``H2Stream``, a
request's ``worker.stream.Stream``), websocket.py (RFC 8441) and entry.py (how a connection
comes to HTTP/2). Only the core is exported here; the worker imports the rest by module."""

from .abuse import Abuse, Budget
from .connection import Connection
from .events import (
    ConnectionTerminated,
    Event,
    RequestBody,
    RequestEnded,
    RequestReceived,
    RequestRefused,
    StreamReset,
    StreamWritable,
)
from .limits import ConnectionLimits
from .request import RequestHead, RequestLimits
from .streams import ServerStream

__all__ = [
    "Abuse",
    "Budget",
    "Connection",
    "ConnectionLimits",
    "ConnectionTerminated",
    "Event",
    "RequestBody",
    "RequestEnded",
    "RequestHead",
    "RequestLimits",
    "RequestReceived",
    "RequestRefused",
    "ServerStream",
    "StreamReset",
    "StreamWritable",
]
