"""An in-memory HTTP/2 client for the sans-IO server connection: the `h2` library's client
side, wired to ``asgi_master.worker.h2.Connection`` by handing bytes across. Frames h2 will not
send (malformed ones, floods) are written with hyperframe and HPACK blocks with hpack, so the
server is never checked against its own serialiser.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import h2.config
import h2.connection
import h2.events
import hpack
from hyperframe import frame as hf

from asgi_master.config import Config
from asgi_master.worker.h2.connection import Connection
from asgi_master.worker.h2.events import Event, RequestReceived
from asgi_master.worker.h2.limits import ConnectionLimits
from asgi_master.worker.h2.streams import ServerStream

GET = [
    (b":method", b"GET"),
    (b":scheme", b"https"),
    (b":authority", b"example.com"),
    (b":path", b"/"),
]
DATE = b"Mon, 01 Dec 2026 10:00:00 GMT"


def limits(**changes: Any) -> ConnectionLimits:
    """The default limits (from the settings table), with ``changes``."""
    request_changes = {k: changes.pop(k) for k in list(changes) if k in _REQUEST_FIELDS}
    base = ConnectionLimits.from_config(
        Config(), connect_protocol=changes.pop("connect_protocol", False)
    )
    if request_changes:
        changes["request"] = dataclasses.replace(base.request, **request_changes)
    return dataclasses.replace(base, **changes)


_REQUEST_FIELDS = {"max_fields", "max_field_size", "max_target", "max_body"}


def request(
    path: bytes = b"/", method: bytes = b"GET", *extra: tuple[bytes, bytes]
) -> list[tuple[bytes, bytes]]:
    """A request header list."""
    return [
        (b":method", method),
        (b":scheme", b"https"),
        (b":authority", b"example.com"),
        (b":path", path),
        *extra,
    ]


class Peer:
    """A client (h2) and the server connection under test, joined in memory."""

    def __init__(
        self,
        server_limits: ConnectionLimits | None = None,
        *,
        handshake: bool = True,
        **config: Any,
    ) -> None:
        self.now = 0.0
        self.server = Connection(server_limits or limits(), self.now, peer="test-client")
        self.server.set_date(DATE)
        options = {"client_side": True, "header_encoding": None, **config}
        self.client = h2.connection.H2Connection(h2.config.H2Configuration(**options))
        #: events the server produced, all of them, in order
        self.server_events: list[Event] = []
        #: events the client saw, all of them, in order
        self.client_events: list[h2.events.Event] = []
        #: streams the server announced, by id
        self.streams: dict[int, ServerStream] = {}
        self.encoder = hpack.Encoder()
        self._acked = 0
        if handshake:
            self.client.initiate_connection()
            self.to_server()
            self.to_client()
            self.to_server()
            self.to_client()

    # -- moving bytes --------------------------------------------------------------------

    def feed(self, data: bytes) -> list[Event]:
        """Raw bytes to the server; the events they caused."""
        events = self.server.receive_data(data, self.now)
        self._note(events)
        return events

    def _note(self, events: list[Event]) -> None:
        self.server_events += events
        for event in events:
            if isinstance(event, RequestReceived):
                self.streams[event.stream.stream_id] = event.stream

    def to_server(self) -> list[Event]:
        """What the client has to send, to the server."""
        return self.feed(self.client.data_to_send())

    def to_client(self) -> list[h2.events.Event]:
        """What the server has to send, to the client (which acknowledges DATA only if told
        to: see ``read_body``)."""
        data = self.server.data_to_send()
        if not data:
            return []
        events = self.client.receive_data(data)
        self.client_events += events
        return events

    def wire(self) -> bytes:
        """What the server has to send, as bytes (not given to the client)."""
        return self.server.data_to_send()

    def tick(self, seconds: float) -> list[Event]:
        """Let time pass, and tell the server."""
        self.now += seconds
        events = self.server.tick(self.now)
        self._note(events)
        return events

    # -- requests and responses ----------------------------------------------------------

    def get(self, headers: list[tuple[bytes, bytes]] | None = None, end_stream: bool = True) -> int:
        """Send a request head; the stream id."""
        stream_id = self.client.get_next_available_stream_id()
        self.client.send_headers(stream_id, headers or GET, end_stream=end_stream)
        self.to_server()
        return stream_id

    def respond(
        self, stream_id: int, body: bytes = b"hi", status: int = 200, headers: Any = ()
    ) -> None:
        """The app's response on the server side, in one body part."""
        stream = self.streams[stream_id]
        stream.start(status, list(headers), False)
        stream.body(body, False)
        stream.complete()

    def client_saw(self, kind: type) -> list[Any]:
        """The client's events of one type."""
        return [e for e in self.client_events if isinstance(e, kind)]

    def server_saw(self, kind: type) -> list[Any]:
        """The server's events of one type."""
        return [e for e in self.server_events if isinstance(e, kind)]

    def response_headers(self, stream_id: int) -> list[tuple[bytes, bytes]]:
        """The final response head the client got on ``stream_id``."""
        for event in self.client_events:
            if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream_id:
                return list(event.headers)
        raise AssertionError(f"no response on stream {stream_id}: {self.client_events}")

    def body_received(self, stream_id: int) -> bytes:
        """The DATA the client got on ``stream_id``."""
        return b"".join(
            e.data
            for e in self.client_events
            if isinstance(e, h2.events.DataReceived) and e.stream_id == stream_id
        )

    def read_body(self) -> None:
        """The client acknowledges all DATA it has received (opens the windows again)."""
        for event in self.client_events[self._acked :]:
            if isinstance(event, h2.events.DataReceived) and event.flow_controlled_length:
                self.client.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        self._acked = len(self.client_events)
        self.to_server()

    # -- raw frames ----------------------------------------------------------------------

    def block(self, headers: list[tuple[bytes, bytes]]) -> bytes:
        """An HPACK block for ``headers`` that leaves the server's table as it was (literals
        "never indexed" and static references), so raw frames and the h2 client can share the
        connection."""
        return self.encoder.encode([hpack.NeverIndexedHeaderTuple(n, v) for n, v in headers])

    def send_frame(self, frame: hf.Frame) -> list[Event]:
        """One hyperframe frame straight to the server."""
        return self.feed(frame.serialize())


def goaways(peer: Peer) -> list[h2.events.ConnectionTerminated]:
    """The GOAWAYs the client saw."""
    return peer.client_saw(h2.events.ConnectionTerminated)


def resets(peer: Peer) -> list[h2.events.StreamReset]:
    """The RST_STREAMs the client saw."""
    return peer.client_saw(h2.events.StreamReset)


def raw_frames(data: bytes) -> list[hf.Frame]:
    """Server bytes parsed into frames (for checks h2's client events cannot show)."""
    frames = []
    view = memoryview(data)
    while view:
        frame, length = hf.Frame.parse_frame_header(view[:9])
        frame.parse_body(view[9 : 9 + length])
        frames.append(frame)
        view = view[9 + length :]
    return frames


def headers_frame(
    peer: Peer, stream_id: int, headers: list[tuple[bytes, bytes]], end_stream: bool = True
) -> bytes:
    """A HEADERS frame with a whole header block, written with hyperframe."""
    flags = ["END_HEADERS", "END_STREAM"] if end_stream else ["END_HEADERS"]
    return hf.HeadersFrame(stream_id, peer.block(headers), flags=flags).serialize()


def decode_response(
    frames: list[hf.Frame], stream_id: int
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The header fields (of every HEADERS block, in order) and the DATA of ``stream_id``
    among raw server frames. Our encoder uses no dynamic table, so a fresh decoder reads any
    block."""
    fields: list[tuple[bytes, bytes]] = []
    body = b""
    for frame in frames:
        if frame.stream_id != stream_id:
            continue
        if isinstance(frame, hf.HeadersFrame):
            fields += [
                (bytes(n), bytes(v)) for n, v in hpack.Decoder().decode(frame.data, raw=True)
            ]
        elif isinstance(frame, hf.DataFrame):
            body += frame.data
    return fields, body
