"""permessage-deflate: choosing among offers (RFC 7692), and compressed messages end to end
between the session and a wsproto client."""

from __future__ import annotations

import os

import pytest
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, Ping, Pong, TextMessage
from wsproto.extensions import PerMessageDeflate

from asgi_master.worker.ws.deflate import negotiate
from asgi_master.worker.ws.handshake import HandshakeRequest
from asgi_master.worker.ws.session import WebSocketSession
from tests.unit.defaults import websocket_settings

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


@pytest.mark.parametrize(
    ("offers", "response"),
    [
        ([b"permessage-deflate"], b"permessage-deflate; server_max_window_bits=12"),
        (
            [b"permessage-deflate; client_max_window_bits"],
            b"permessage-deflate; client_max_window_bits=12; server_max_window_bits=12",
        ),
        (
            [b"permessage-deflate; client_max_window_bits=10"],
            b"permessage-deflate; client_max_window_bits=10; server_max_window_bits=12",
        ),
        (
            [b"permessage-deflate; server_max_window_bits=9"],
            b"permessage-deflate; server_max_window_bits=9",
        ),
        (
            [b"permessage-deflate; server_no_context_takeover; client_no_context_takeover"],
            b"permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
            b"server_max_window_bits=12",
        ),
        # zlib cannot compress with a 256-byte window: that offer is declined, the next one taken
        (
            [b"permessage-deflate; server_max_window_bits=8, permessage-deflate"],
            b"permessage-deflate; server_max_window_bits=12",
        ),
        (
            [b"x-webkit-deflate-frame", b'permessage-deflate; client_max_window_bits="9"'],
            b"permessage-deflate; client_max_window_bits=9; server_max_window_bits=12",
        ),
    ],
)
def test_the_first_offer_the_server_can_honour_is_accepted(offers, response):
    negotiated = negotiate(offers)
    assert negotiated is not None
    assert negotiated[1] == response


@pytest.mark.parametrize(
    "offer",
    [
        b"permessage-deflate; unknown_param",
        b"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        b"permessage-deflate; server_max_window_bits=16",
        b"permessage-deflate; server_max_window_bits",
        b"permessage-deflate; server_no_context_takeover=1",
        b"x-webkit-deflate-frame",
    ],
)
def test_offers_the_server_cannot_honour_are_declined(offer):
    assert negotiate([offer]) is None


def pair(offer: str, **settings) -> tuple[WebSocketSession, Connection, bytes]:
    """A session accepted with ``offer``, and a wsproto client that agreed to its answer."""
    request = HandshakeRequest(KEY, (), (b"permessage-deflate; " + offer.encode(),))
    session = WebSocketSession(request, websocket_settings(**settings))
    session.next_message()
    session.app_message({"type": "websocket.accept"})
    head = session.data_to_send()
    answer = b""
    for line in head.split(b"\r\n"):
        if line.startswith(b"sec-websocket-extensions: "):
            answer = line.partition(b": ")[2]
    extensions = []
    if answer:
        client_side = PerMessageDeflate()
        client_side.finalize(answer.decode())
        extensions.append(client_side)
    return session, Connection(ConnectionType.CLIENT, extensions), answer


@pytest.mark.parametrize(
    "offer",
    [
        "client_max_window_bits",
        "server_max_window_bits=10",
        "server_no_context_takeover; client_no_context_takeover",
    ],
)
def test_compressed_messages_go_both_ways(offer):
    session, client, answer = pair(offer)
    assert answer.startswith(b"permessage-deflate")
    text = "compress me " * 500
    binary = os.urandom(3000)
    for _ in range(3):  # context takeover (or not) across messages
        session.receive_data(client.send(TextMessage(text)) + client.send(BytesMessage(binary)))
        assert session.next_message() == {"type": "websocket.receive", "text": text}
        assert session.next_message() == {"type": "websocket.receive", "bytes": binary}
        session.app_message({"type": "websocket.send", "text": text})
        wire = session.data_to_send()
        assert len(wire) < len(text) // 10
        client.receive_data(wire)
        assert list(client.events()) == [TextMessage(text)]


def test_a_ping_between_compressed_fragments_keeps_the_message_intact():
    session, client, _ = pair("client_max_window_bits")
    data = client.send(TextMessage("first half, ", message_finished=False))
    data += client.send(Ping(b"p"))
    data += client.send(TextMessage("second half", message_finished=True))
    session.receive_data(data)
    assert session.next_message() == {
        "type": "websocket.receive",
        "text": "first half, second half",
    }
    client.receive_data(session.data_to_send())
    assert list(client.events()) == [Pong(b"p")]


def test_a_compression_bomb_is_stopped_at_the_message_size_limit():
    session, client, _ = pair("client_max_window_bits", max_message_size=1024 * 1024)
    wire = client.send(BytesMessage(bytes(64 * 1024 * 1024)))
    assert len(wire) < 100 * 1024
    session.receive_data(wire)
    client.receive_data(session.data_to_send())
    assert [e.code for e in client.events()] == [1009]


def test_compression_is_not_negotiated_when_the_setting_is_off():
    session, _, answer = pair("client_max_window_bits", per_message_deflate=False)
    assert answer == b""
    session.app_message({"type": "websocket.send", "text": "plain " * 100})
    assert b"plain plain" in session.data_to_send()
