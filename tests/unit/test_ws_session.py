"""The sans-IO WebSocket session, driven in memory by a wsproto client: ASGI order, close
codes, limits, pings. No sockets, no event loop."""

from __future__ import annotations

import pytest
from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from wsproto.utilities import generate_accept_token

from asgi_master.worker.asgi import ASGIMessageError, ClientDisconnected
from asgi_master.worker.ws.handshake import HandshakeRequest
from asgi_master.worker.ws.inbox import MAX_QUEUE
from asgi_master.worker.ws.session import (
    SessionState,
    TransportAction,
    WebSocketSession,
)
from tests.unit.defaults import websocket_settings

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


def new_session(subprotocols=(), offers=(), **settings) -> WebSocketSession:
    request = HandshakeRequest(KEY, tuple(subprotocols), tuple(offers))
    return WebSocketSession(request, websocket_settings(**settings))


class Peer:
    """The client end: a wsproto client connection fed with what the session writes."""

    def __init__(self, session: WebSocketSession) -> None:
        self.session = session
        self.conn = Connection(ConnectionType.CLIENT)
        self.head = b""
        self.events: list = []

    def send(self, *events) -> None:
        self.session.receive_data(b"".join(self.conn.send(e) for e in events))

    def read(self) -> list:
        """Events the session sent since the last read (the 101 head is kept apart)."""
        data = self.session.data_to_send()
        if not self.head and data.startswith(b"HTTP/1.1 101"):
            head, _, data = data.partition(b"\r\n\r\n")
            self.head = head + b"\r\n\r\n"
        if self.conn.state is not ConnectionState.CLOSED:
            self.conn.receive_data(data)
        events = list(self.conn.events())
        self.events += events
        return events


def accepted(**kwargs) -> tuple[WebSocketSession, Peer]:
    session = new_session(**kwargs)
    assert session.next_message() == {"type": "websocket.connect"}
    session.app_message({"type": "websocket.accept"})
    peer = Peer(session)
    peer.read()
    return session, peer


def messages(session: WebSocketSession) -> list[dict]:
    out = []
    while (message := session.next_message()) is not None:
        out.append(message)
        if message["type"] == "websocket.disconnect":
            break
    return out


def test_the_app_first_receives_websocket_connect():
    session = new_session()
    assert session.next_message() == {"type": "websocket.connect"}
    assert session.next_message() is None
    assert session.state is SessionState.CONNECTING


def test_accept_writes_101_with_the_accept_token_subprotocol_and_extra_headers():
    session = new_session(subprotocols=["chat", "superchat"])
    session.app_message(
        {"type": "websocket.accept", "subprotocol": "superchat", "headers": [(b"X-Session", b"42")]}
    )
    head = session.data_to_send()
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"sec-websocket-accept: " + generate_accept_token(KEY) + b"\r\n" in head
    assert b"sec-websocket-protocol: superchat\r\n" in head
    assert b"x-session: 42\r\n" in head
    assert head.endswith(b"\r\n\r\n")
    assert session.state is SessionState.OPEN and session.status == 101


def test_accepting_a_subprotocol_the_client_did_not_offer_is_an_error():
    session = new_session(subprotocols=["chat"])
    with pytest.raises(ASGIMessageError, match="'graphql' was not offered"):
        session.app_message({"type": "websocket.accept", "subprotocol": "graphql"})


def test_accept_refuses_headers_that_belong_to_the_handshake():
    session = new_session(subprotocols=["chat"])
    with pytest.raises(ASGIMessageError, match="sec-websocket-protocol"):
        session.app_message(
            {"type": "websocket.accept", "headers": [(b"sec-websocket-protocol", b"chat")]}
        )


def test_text_and_binary_messages_go_both_ways():
    session, peer = accepted()
    peer.send(TextMessage("héllo"), BytesMessage(b"\x00\x01"))
    assert messages(session) == [
        {"type": "websocket.receive", "text": "héllo"},
        {"type": "websocket.receive", "bytes": b"\x00\x01"},
    ]
    session.app_message({"type": "websocket.send", "text": "back"})
    session.app_message({"type": "websocket.send", "bytes": b"\xff"})
    assert peer.read() == [TextMessage("back"), BytesMessage(b"\xff")]
    assert session.bytes_sent == 5


def test_a_fragmented_message_reaches_the_app_whole():
    session, peer = accepted()
    peer.send(TextMessage("frag", message_finished=False))
    assert session.next_message() is None
    peer.send(
        TextMessage("ment", message_finished=False),
        Ping(b"p"),
        TextMessage("ed", message_finished=True),
    )
    assert messages(session) == [{"type": "websocket.receive", "text": "fragmented"}]
    assert peer.read() == [Pong(b"p")]


def test_bytes_that_arrive_before_accept_are_parsed_only_after_it():
    session = new_session()
    session.receive_data(Connection(ConnectionType.CLIENT).send(TextMessage("early")))
    assert session.next_message() == {"type": "websocket.connect"}
    assert session.next_message() is None
    session.app_message({"type": "websocket.accept"})
    assert session.next_message() == {"type": "websocket.receive", "text": "early"}


def test_close_before_accept_answers_403_and_closes():
    session = new_session()
    session.app_message({"type": "websocket.close"})
    assert session.data_to_send().startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert session.transport_action is TransportAction.CLOSE
    assert session.status == 403


def test_a_denial_response_has_the_apps_status_headers_and_streamed_body():
    session = new_session()
    session.app_message(
        {"type": "websocket.http.response.start", "status": 401, "headers": [(b"x-why", b"token")]}
    )
    assert session.state is SessionState.RESPONDING
    session.app_message({"type": "websocket.http.response.body", "body": b"no ", "more_body": True})
    session.app_message({"type": "websocket.http.response.body", "body": b"entry"})
    data = session.data_to_send()
    assert data.startswith(b"HTTP/1.1 401 Unauthorized\r\n")
    assert b"x-why: token\r\n" in data and b"connection: close\r\n" in data
    assert data.endswith(b"3\r\nno \r\n5\r\nentry\r\n0\r\n\r\n")
    assert session.transport_action is TransportAction.CLOSE
    assert session.status == 401 and session.bytes_sent == 8


@pytest.mark.parametrize(
    ("before", "message", "error"),
    [
        (
            [],
            {"type": "websocket.send", "text": "x"},
            "unexpected 'websocket.send' message while the WebSocket is connecting",
        ),
        (
            [{"type": "websocket.accept"}],
            {"type": "websocket.accept"},
            "unexpected 'websocket.accept' message while the WebSocket is open",
        ),
        (
            [],
            {"type": "websocket.http.response.body", "body": b""},
            "unexpected 'websocket.http.response.body' message while the WebSocket is connecting",
        ),
        (
            [{"type": "websocket.http.response.start", "status": 403}],
            {"type": "websocket.accept"},
            "unexpected 'websocket.accept' message while the WebSocket is sending a denial",
        ),
        (
            [{"type": "websocket.accept"}],
            {"type": "http.response.start", "status": 200},
            "unexpected 'http.response.start' message while the WebSocket is open",
        ),
        (
            [{"type": "websocket.accept"}, {"type": "websocket.close"}],
            {"type": "websocket.send", "text": "x"},
            "unexpected 'websocket.send' message while the WebSocket is closing",
        ),
        ([], {"no": "type"}, "has no 'type'"),
    ],
)
def test_a_message_in_the_wrong_state_is_an_error_naming_state_and_type(before, message, error):
    session = new_session()
    for earlier in before:
        session.app_message(earlier)
    with pytest.raises(ASGIMessageError, match=error):
        session.app_message(message)


@pytest.mark.parametrize(
    "message",
    [
        {"type": "websocket.send"},
        {"type": "websocket.send", "text": "a", "bytes": b"b"},
        {"type": "websocket.send", "text": b"not str"},
        {"type": "websocket.close", "code": 1006},
        {"type": "websocket.close", "code": 999},
        {"type": "websocket.close", "code": 1000, "reason": b"not str"},
    ],
)
def test_malformed_messages_are_errors(message):
    session, _ = accepted()
    with pytest.raises(ASGIMessageError):
        session.app_message(message)


def test_the_peers_close_is_answered_and_the_app_gets_its_code_and_reason():
    session, peer = accepted()
    peer.send(CloseConnection(4000, "done"))
    assert peer.read() == [CloseConnection(4000, "")]
    assert session.transport_action is TransportAction.CLOSE
    assert messages(session) == [{"type": "websocket.disconnect", "code": 4000, "reason": "done"}]


def test_send_after_the_peer_left_raises_an_oserror():
    session, peer = accepted()
    peer.send(CloseConnection(1001))
    with pytest.raises(ClientDisconnected) as info:
        session.app_message({"type": "websocket.send", "text": "late"})
    assert isinstance(info.value, OSError)


def test_the_apps_close_waits_for_the_peers_answer():
    session, peer = accepted()
    session.app_message({"type": "websocket.close", "code": 4001, "reason": "bye"})
    assert peer.read() == [CloseConnection(4001, "bye")]
    assert session.state is SessionState.CLOSING
    assert session.transport_action is TransportAction.KEEP
    # a message the peer sent before it saw our close frame is dropped
    session.receive_data(Connection(ConnectionType.CLIENT).send(TextMessage("dropped")))
    peer.send(CloseConnection(4001))
    assert session.state is SessionState.CLOSED
    assert session.transport_action is TransportAction.CLOSE
    assert messages(session) == [{"type": "websocket.disconnect", "code": 4001, "reason": "bye"}]


def test_a_message_over_the_size_limit_closes_with_1009():
    session, peer = accepted(max_message_size=1024)
    peer.send(BytesMessage(b"x" * 1024))
    assert messages(session) == [{"type": "websocket.receive", "bytes": b"x" * 1024}]
    peer.send(
        TextMessage("y" * 600, message_finished=False),
        TextMessage("y" * 600, message_finished=True),
    )
    assert peer.read()[0].code == 1009
    assert session.next_message() is None  # the oversized message is dropped
    peer.send(CloseConnection(1009))
    assert messages(session)[0]["code"] == 1009


def test_the_size_limit_counts_utf8_bytes_not_characters():
    session, peer = accepted(max_message_size=10)
    peer.send(TextMessage("ééééé"))  # 10 bytes
    peer.send(TextMessage("éééééé"))  # 12 bytes
    assert messages(session)[0] == {"type": "websocket.receive", "text": "ééééé"}
    assert peer.read()[0].code == 1009


def test_invalid_utf8_in_a_text_message_fails_the_connection_with_1007():
    session, peer = accepted()
    frame = bytes([0x81, 0x80 | 2]) + b"\0\0\0\0" + b"\xff\xfe"  # masked with a zero key
    session.receive_data(frame)
    assert peer.read()[0].code == 1007
    assert session.state is SessionState.CLOSED
    # failed: the TCP connection is closed without waiting for the peer
    assert session.transport_action is TransportAction.CLOSE
    assert messages(session)[-1]["code"] == 1007


@pytest.mark.parametrize(
    "frame",
    [
        bytes([0x83, 0x80]) + b"\0\0\0\0",  # reserved opcode 3
        bytes([0x81, 0x02]) + b"hi",  # unmasked client frame
        bytes([0xC1, 0x80]) + b"\0\0\0\0",  # RSV1 without an extension
        bytes([0x09, 0x80]) + b"\0\0\0\0",  # fragmented ping
    ],
)
def test_protocol_errors_fail_the_connection_with_1002(frame):
    session, peer = accepted()
    session.receive_data(frame)
    assert peer.read()[0].code == 1002
    assert session.transport_action is TransportAction.CLOSE
    with pytest.raises(ClientDisconnected):
        session.app_message({"type": "websocket.send", "text": "x"})


def test_client_pings_are_answered_with_the_same_payload():
    _, peer = accepted()
    peer.send(Ping(b"are you there"))
    assert peer.read() == [Pong(b"are you there")]


def test_a_matching_pong_answers_the_servers_ping():
    session, peer = accepted()
    assert session.ping(b"\0\0\0\1")
    assert peer.read() == [Ping(b"\0\0\0\1")]
    assert session.awaiting_pong
    peer.send(Pong(b"other"))
    assert session.awaiting_pong
    peer.send(Pong(b"\0\0\0\1"))
    assert not session.awaiting_pong
    session.ping_timed_out()  # a late timer does nothing
    assert session.state is SessionState.OPEN


def test_an_unanswered_ping_fails_the_connection_with_1011():
    session, peer = accepted()
    session.ping(b"1")
    peer.read()
    session.ping_timed_out()
    assert peer.read()[0].code == 1011
    assert session.transport_action is TransportAction.CLOSE
    assert messages(session)[-1]["code"] == 1011


def test_a_close_the_peer_never_answers_ends_with_the_servers_code():
    session, peer = accepted()
    session.server_close(1001, "going away")
    assert peer.read() == [CloseConnection(1001, "going away")]
    session.close_timed_out()
    assert session.transport_action is TransportAction.CLOSE
    assert messages(session) == [
        {"type": "websocket.disconnect", "code": 1001, "reason": "going away"}
    ]


def test_a_lost_connection_gives_1006_and_sends_then_raise():
    session, _ = accepted()
    session.connection_lost()
    assert messages(session) == [{"type": "websocket.disconnect", "code": 1006, "reason": ""}]
    with pytest.raises(ClientDisconnected):
        session.app_message({"type": "websocket.send", "bytes": b"x"})


def test_the_disconnect_is_repeated_to_an_app_that_asks_again():
    session, _ = accepted()
    session.connection_lost()
    assert session.next_message()["type"] == "websocket.disconnect"
    assert session.next_message()["type"] == "websocket.disconnect"


def test_a_drain_while_connecting_closes_right_after_the_accept():
    session = new_session()
    session.server_close(1012, "service restart")
    session.app_message({"type": "websocket.accept"})
    peer = Peer(session)
    assert peer.read() == [CloseConnection(1012, "service restart")]
    assert session.state is SessionState.CLOSING
    with pytest.raises(ClientDisconnected):
        session.app_message({"type": "websocket.send", "text": "x"})


def test_the_inbox_is_full_at_its_bound_and_drains_as_the_app_reads():
    session, peer = accepted()
    peer.send(*(TextMessage(str(i)) for i in range(MAX_QUEUE)))
    assert session.inbox_full
    session.next_message()
    assert not session.inbox_full


def test_the_app_returning_before_accept_gives_500():
    session = new_session()
    session.app_ended(failed=False)
    assert session.data_to_send().startswith(b"HTTP/1.1 500 ")
    assert session.status == 500


@pytest.mark.parametrize(("failed", "code"), [(False, 1000), (True, 1011)])
def test_the_app_ending_with_the_socket_open_closes_it(failed, code):
    session, peer = accepted()
    session.app_ended(failed=failed)
    assert peer.read() == [CloseConnection(code, "")]


def test_the_app_failing_in_the_middle_of_a_denial_aborts_the_connection():
    session = new_session()
    session.app_message({"type": "websocket.http.response.start", "status": 403})
    session.app_message({"type": "websocket.http.response.body", "body": b"x", "more_body": True})
    session.app_ended(failed=True)
    assert session.transport_action is TransportAction.ABORT
