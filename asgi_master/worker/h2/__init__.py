"""HTTP/2 (RFC 9113) on the server, sans-IO: ``Connection`` reads frames and writes them,
``ServerStream`` carries one request's response, the adapter owns the transport and the app
tasks. See connection.py for the theory of operation and state.py for the state tables."""

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
