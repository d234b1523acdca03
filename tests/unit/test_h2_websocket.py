"""The WebSocket handshake over HTTP/2 (RFC 8441), in memory: an extended CONNECT from h2's
client against the core, answered by the WebSocket session through ``H2Reply``."""

from __future__ import annotations

import h2.events
import pytest

from asgi_master.worker.asgi import ASGIMessageError
from asgi_master.worker.h2.events import RequestReceived
from asgi_master.worker.ws.handshake import H2Reply, HandshakeError, read_extended_connect
from asgi_master.worker.ws.session import WebSocketSession
from tests.unit.defaults import websocket_settings

from .h2peer import Peer, limits

CONNECT = [
    (b":method", b"CONNECT"),
    (b":protocol", b"websocket"),
    (b":scheme", b"https"),
    (b":authority", b"example.com"),
    (b":path", b"/chat"),
    (b"sec-websocket-version", b"13"),
    (b"sec-websocket-protocol", b"chat, superchat"),
]


def handshake(fields=CONNECT) -> tuple[Peer, WebSocketSession, int]:
    """A client's extended CONNECT taken by the core and given to a session."""
    peer = Peer(limits(connect_protocol=True))
    stream_id = peer.get(fields, end_stream=False)
    [received] = [e for e in peer.server_events if isinstance(e, RequestReceived)]
    assert received.head.protocol == "websocket"
    request = read_extended_connect(received.head.headers)
    session = WebSocketSession(
        request, websocket_settings(), H2Reply(request, received.stream, lambda: None)
    )
    return peer, session, stream_id


def test_the_setting_is_advertised_so_clients_may_send_protocol():
    peer = Peer(limits(connect_protocol=True))
    assert peer.client.remote_settings.get(0x8) == 1


def test_the_fields_of_an_extended_connect_give_the_subprotocols_and_no_key():
    request = read_extended_connect(CONNECT[5:])
    assert request.key == b""
    assert request.subprotocols == ("chat", "superchat")


def test_an_extended_connect_without_the_websocket_version_is_refused():
    with pytest.raises(HandshakeError, match="Sec-WebSocket-Version"):
        read_extended_connect([(b"sec-websocket-protocol", b"chat")])


def test_accept_is_a_200_head_that_leaves_the_stream_open():
    peer, session, stream_id = handshake()
    session.next_message()  # websocket.connect
    session.app_message({"type": "websocket.accept", "subprotocol": "chat"})
    assert session.data_to_send() == b""  # the head went to the stream, not to the session
    assert session.status == 200
    peer.to_client()
    headers = dict(peer.response_headers(stream_id))
    assert headers[b":status"] == b"200"
    assert headers[b"sec-websocket-protocol"] == b"chat"
    assert b"sec-websocket-accept" not in headers  # no accept token over HTTP/2
    assert not peer.client_saw(h2.events.StreamEnded)


def test_a_denial_is_a_response_that_ends_the_stream_and_not_the_connection():
    peer, session, stream_id = handshake()
    session.next_message()
    session.app_message({"type": "websocket.close"})
    peer.to_client()
    assert dict(peer.response_headers(stream_id))[b":status"] == b"403"
    assert [e.stream_id for e in peer.client_saw(h2.events.StreamEnded)] == [stream_id]
    assert not peer.server.closed


def test_an_accept_with_a_handshake_header_is_an_app_error():
    _, session, _ = handshake()
    session.next_message()
    with pytest.raises(ASGIMessageError, match="belongs to the handshake"):
        session.app_message(
            {"type": "websocket.accept", "headers": [(b"sec-websocket-accept", b"x")]}
        )
