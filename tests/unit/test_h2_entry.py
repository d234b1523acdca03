"""How a connection comes to HTTP/2, in memory: the sans-IO HTTP/1.1 connection recognises the
HTTP/2 preface as a connection's first bytes (and nothing else as it), and the HTTP/2 core
takes an ``Upgrade: h2c`` request as its stream 1."""

from __future__ import annotations

import h2.events
import pytest

from asgi_master.worker.h2.errors import H2ConnectionError
from asgi_master.worker.h2.events import RequestReceived
from asgi_master.worker.h2.frames import INITIAL_WINDOW_SIZE, settings_frame
from asgi_master.worker.h2.request import MalformedRequest
from asgi_master.worker.http.connection import (
    CLOSED,
    HTTP2_PREFACE,
    NEED_DATA,
    PRIOR_KNOWLEDGE,
    ConnectionStateError,
    HTTPConnection,
    Rejected,
)
from asgi_master.worker.http.head import RequestHead
from tests.unit.defaults import limits

from .h2peer import Peer, request


def connection(http2: bool = True) -> HTTPConnection:
    return HTTPConnection(limits(), 0.0, http2_preface=http2)


def test_the_preface_in_pieces_is_recognised_once_whole_and_handed_over_with_what_follows():
    conn = connection()
    for at in range(0, len(HTTP2_PREFACE), 5):
        assert conn.next_event() is NEED_DATA
        conn.receive_data(HTTP2_PREFACE[at : at + 5], 1.0)
    conn.receive_data(b"frames", 1.0)
    assert conn.next_event() is PRIOR_KNOWLEDGE
    assert conn.upgrade() == HTTP2_PREFACE + b"frames"


def test_a_request_starting_like_the_preface_is_still_http11():
    conn = connection()
    conn.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 1.0)
    event = conn.next_event()
    assert isinstance(event, RequestHead) and event.method == "POST"


def test_a_preface_that_goes_wrong_part_way_is_read_as_http11_and_refused():
    conn = connection()
    conn.receive_data(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", 1.0)
    event = conn.next_event()
    assert isinstance(event, Rejected) and event.status in (400, 505)


def test_the_preface_after_a_first_request_is_not_http2():
    conn = connection()
    conn.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1.0)
    assert isinstance(conn.next_event(), RequestHead)
    conn.start_response(200, [])
    conn.send_body(b"ok", False)
    conn.response_complete(2.0)
    conn.receive_data(HTTP2_PREFACE, 3.0)
    assert isinstance(conn.next_event(), Rejected)


def test_without_http2_the_preface_is_a_bad_http11_request():
    conn = connection(http2=False)
    conn.receive_data(HTTP2_PREFACE, 1.0)
    assert isinstance(conn.next_event(), Rejected)


def test_a_client_that_closes_inside_the_preface_gets_http11s_answer_to_a_cut_head():
    conn = connection()
    conn.receive_data(HTTP2_PREFACE[:8], 1.0)
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"", 2.0)
    event = conn.next_event()
    assert isinstance(event, Rejected) and event.status == 400


def test_a_connection_closed_before_its_first_byte_is_closed():
    conn = connection()
    conn.receive_data(b"", 1.0)
    assert conn.next_event() is CLOSED


def test_a_connection_that_read_http11_cannot_be_handed_to_http2_from_idle():
    conn = connection()
    conn.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1.0)
    conn.next_event()
    conn.start_response(200, [])
    conn.send_body(b"ok", False)
    conn.response_complete(2.0)
    with pytest.raises(ConnectionStateError, match="in state IDLE"):
        conn.upgrade()


# -- Upgrade: h2c, in the core ---------------------------------------------------------------


def upgraded_peer(settings: bytes) -> tuple[Peer, list]:
    """A core that took an upgraded request as stream 1, and an h2 client that made it."""
    peer = Peer(handshake=False)
    peer.client.initiate_upgrade_connection(settings_header=None)
    events = peer.server.upgrade_request(settings, request(b"/up"))
    return peer, events


def test_an_upgraded_request_becomes_stream_1_half_closed_with_the_clients_settings():
    payload = settings_frame([(INITIAL_WINDOW_SIZE, 100)])[9:]
    peer, events = upgraded_peer(payload)
    [received] = events
    assert isinstance(received, RequestReceived) and received.stream.stream_id == 1
    assert received.head.path == "/up" and received.end_stream
    assert received.stream.send_window == 100  # the HTTP2-Settings window applied
    # the client's preface and SETTINGS follow the 101; the response goes out on stream 1
    peer.to_server()
    stream = received.stream
    stream.start(200, [], False)
    stream.body(b"upgraded", False)
    peer.to_client()
    assert peer.body_received(1) == b"upgraded"
    assert [e.stream_id for e in peer.client_saw(h2.events.StreamEnded)] == [1]


def test_settings_of_a_broken_length_refuse_the_upgrade():
    peer = Peer(handshake=False)
    with pytest.raises(H2ConnectionError):
        peer.server.upgrade_request(b"\x00\x04\x00", request())


def test_a_malformed_upgraded_request_refuses_the_upgrade():
    peer = Peer(handshake=False)
    with pytest.raises(MalformedRequest):
        peer.server.upgrade_request(b"", [(b":method", b"GET"), (b":path", b"/")])
