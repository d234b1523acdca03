"""HTTPConnection, sans-IO: an h11 client and our connection joined in memory, no event loop.

Every transition of the connection's state table is played by a scenario of real bytes
(``test_every_transition_of_the_table``), and the table may not grow a transition without one.
"""

from __future__ import annotations

from collections.abc import Callable

import h11
import pytest

from asgi_master.worker.http.connection import (
    _TRANSITIONS,
    CLOSE,
    CLOSED,
    END_OF_BODY,
    HTTP2_PREFACE,
    NEED_DATA,
    NEXT,
    PAUSED,
    PRIOR_KNOWLEDGE,
    READ,
    READ_HIGH_WATER,
    Body,
    ConnectionState,
    ConnectionStateError,
    HTTPConnection,
    PriorKnowledge,
    Rejected,
    Transition,
    Upgrade,
)
from asgi_master.worker.http.head import RequestHead
from tests.unit.defaults import limits

IDLE = ConnectionState.IDLE
HEAD = ConnectionState.HEAD
REQUEST = ConnectionState.REQUEST
UPGRADED = ConnectionState.UPGRADED
CLOSED_STATE = ConnectionState.CLOSED

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
UPGRADE = (
    b"GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def connection(**options: object) -> HTTPConnection:
    return HTTPConnection(limits(), 0.0, upgrades={b"websocket"}, **options)  # type: ignore[arg-type]


def events(conn: HTTPConnection) -> list[object]:
    """Every event until the connection waits (NEED_DATA, PAUSED) or ends."""
    out: list[object] = []
    while True:
        event = conn.next_event()
        out.append(event)
        if event in (NEED_DATA, PAUSED, CLOSED) or isinstance(
            event, Rejected | Upgrade | PriorKnowledge
        ):
            return out


def respond(conn: HTTPConnection, body: bytes = b"hi", *, more: bool = False, **head: object):
    """The wire bytes of a 200 response with ``body`` (the first part, if ``more``)."""
    conn.start_response(200, head.get("headers", []))
    data = conn.send_body(body, more)
    return data if isinstance(data, bytes) else b"".join(data)


class Client:
    """An h11 client reading what the connection wrote."""

    def __init__(self) -> None:
        self.h11 = h11.Connection(h11.CLIENT)

    def response(self, wire: bytes, method: bytes = b"GET") -> tuple[h11.Response, bytes]:
        self.h11.send(h11.Request(method=method, target=b"/", headers=[(b"host", b"x")]))
        self.h11.send(h11.EndOfMessage())
        self.h11.receive_data(wire)
        head = self.h11.next_event()
        assert isinstance(head, h11.Response), head
        body = b""
        while True:
            event = self.h11.next_event()
            if isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            else:
                raise AssertionError(f"incomplete response: {event!r}")
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
        return head, body


def header(response: h11.Response, name: bytes) -> bytes | None:
    return dict(response.headers).get(name)


# -- every transition of the table, by a scenario of real bytes ---------------------------


def _idle_head_started(conn: HTTPConnection) -> None:
    conn.receive_data(b"GET / HT", 1.0)
    assert events(conn) == [NEED_DATA]


def _idle_request_received(conn: HTTPConnection) -> None:
    conn.receive_data(GET, 1.0)
    assert isinstance(events(conn)[0], RequestHead)


def _idle_upgraded(conn: HTTPConnection) -> None:
    # the HTTP/2 preface as the first bytes (h2c with prior knowledge), in two pieces
    conn.receive_data(HTTP2_PREFACE[:10], 1.0)
    assert events(conn) == [NEED_DATA]
    conn.receive_data(HTTP2_PREFACE[10:] + b"\x00\x00", 1.0)
    assert events(conn) == [PRIOR_KNOWLEDGE]
    assert conn.upgrade() == HTTP2_PREFACE + b"\x00\x00"  # every byte goes to HTTP/2


def _idle_closed(conn: HTTPConnection) -> None:
    conn.receive_data(b"", 1.0)
    assert events(conn) == [CLOSED]


def _head_request_received(conn: HTTPConnection) -> None:
    _idle_head_started(conn)
    conn.receive_data(b"TP/1.1\r\nHost: x\r\n\r\n", 2.0)
    assert isinstance(events(conn)[0], RequestHead)


def _head_closed(conn: HTTPConnection) -> None:
    _idle_head_started(conn)
    conn.receive_data(b"TP/1.1\r\nBad Header: y\r\n\r\n", 2.0)
    [rejected] = events(conn)
    assert isinstance(rejected, Rejected) and rejected.status == 400


def _request_reused(conn: HTTPConnection) -> None:
    _idle_request_received(conn)
    respond(conn)
    assert conn.response_complete(2.0) is READ


def _request_upgraded(conn: HTTPConnection) -> None:
    conn.receive_data(UPGRADE + b"\x81\x80", 1.0)
    [upgrade] = events(conn)
    assert isinstance(upgrade, Upgrade)
    assert conn.upgrade() == b"\x81\x80"  # what came after the head goes to the next protocol


def _request_closed(conn: HTTPConnection) -> None:
    conn.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 1.0)
    events(conn)
    assert b"connection: close\r\n" in respond(conn)
    assert conn.response_complete(2.0) is CLOSE


def _closed_closed(conn: HTTPConnection) -> None:
    _idle_closed(conn)
    conn.close()  # the transport's connection_lost, after the close


SCENARIOS: dict[tuple[ConnectionState, Transition], Callable[[HTTPConnection], None]] = {
    (IDLE, Transition.HEAD_STARTED): _idle_head_started,
    (IDLE, Transition.REQUEST_RECEIVED): _idle_request_received,
    (IDLE, Transition.UPGRADED): _idle_upgraded,
    (IDLE, Transition.CLOSED): _idle_closed,
    (HEAD, Transition.REQUEST_RECEIVED): _head_request_received,
    (HEAD, Transition.CLOSED): _head_closed,
    (REQUEST, Transition.RESPONSE_REUSED): _request_reused,
    (REQUEST, Transition.UPGRADED): _request_upgraded,
    (REQUEST, Transition.CLOSED): _request_closed,
    (CLOSED_STATE, Transition.CLOSED): _closed_closed,
}


def test_every_transition_of_the_table_has_a_scenario():
    table = {(state, transition) for state, row in _TRANSITIONS.items() for transition in row}
    assert table == set(SCENARIOS)


@pytest.mark.parametrize(("start", "transition"), list(SCENARIOS), ids=lambda x: x.name)
def test_every_transition_of_the_table(start, transition):
    conn = connection(http2_preface=True)  # as a worker serving HTTP/2 has it
    SCENARIOS[(start, transition)](conn)
    assert conn.state is _TRANSITIONS[start][transition]


@pytest.mark.parametrize(
    ("prepare", "act"),
    [
        (lambda conn: None, lambda conn: conn.response_complete(1.0)),
        (lambda conn: None, lambda conn: conn.upgrade()),
        (_request_upgraded, lambda conn: conn.close()),
        (_idle_closed, lambda conn: conn.upgrade()),
    ],
    ids=["response_complete in IDLE", "upgrade in IDLE", "close when UPGRADED", "upgrade CLOSED"],
)
def test_a_transition_the_table_does_not_allow_is_an_error_naming_state_and_event(prepare, act):
    conn = connection()
    prepare(conn)
    state = conn.state
    with pytest.raises(ConnectionStateError, match=f"in state {state.name}"):
        act(conn)
    assert conn.state is state


# -- keep-alive and pipelining ------------------------------------------------------------


def test_keep_alive_serves_requests_one_after_another():
    conn, client = connection(), Client()
    for path in (b"/one", b"/two"):
        conn.receive_data(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path, 1.0)
        [head] = events(conn)[:1]
        assert head.target == path
        response, body = client.response(respond(conn, path))
        assert (response.status_code, body, header(response, b"connection")) == (200, path, None)
        assert conn.response_complete(2.0) is READ
        assert conn.state is IDLE and conn.reading


def test_a_pipelined_request_waits_until_the_response_before_it_is_complete():
    conn = connection()
    conn.receive_data(GET.replace(b"/", b"/a", 1) + GET.replace(b"/", b"/b", 1), 1.0)
    first = conn.next_event()
    assert isinstance(first, RequestHead) and first.target == b"/a"
    assert not conn.head_alone  # the next request's bytes are here already
    assert conn.next_event() is PAUSED and conn.next_event() is PAUSED
    respond(conn)
    assert conn.response_complete(2.0) is NEXT
    second = conn.next_event()
    assert isinstance(second, RequestHead) and second.target == b"/b"
    assert conn.head_alone


def test_pipelined_requests_beyond_the_high_water_mark_pause_reading_until_their_turn():
    conn = connection()
    many = GET * (READ_HIGH_WATER // len(GET) + 2)
    conn.receive_data(many, 1.0)
    assert isinstance(conn.next_event(), RequestHead)
    assert conn.next_event() is PAUSED and not conn.reading
    respond(conn)
    assert conn.response_complete(2.0) is NEXT and conn.reading


def test_a_request_without_a_body_and_alone_needs_no_further_event():
    conn = connection()
    conn.receive_data(GET, 1.0)
    assert isinstance(conn.next_event(), RequestHead) and conn.head_alone
    assert conn.next_event() is PAUSED  # what the adapter saves itself from asking


@pytest.mark.parametrize(
    ("request_", "close"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", False),
        (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", True),
        (b"GET / HTTP/1.0\r\n\r\n", True),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", False),
    ],
)
def test_the_request_decides_keep_alive_and_the_head_says_so(request_, close):
    conn = connection()
    conn.receive_data(request_, 1.0)
    events(conn)
    wire = respond(conn)
    assert (b"connection: close\r\n" in wire) is close
    assert conn.response_complete(2.0) is (CLOSE if close else READ)


def test_no_keep_alive_at_all_when_connections_are_not_reused():
    conn = connection(keep_alive=False)  # keepalive_timeout = 0
    conn.receive_data(GET, 1.0)
    events(conn)
    assert b"connection: close\r\n" in respond(conn)
    assert conn.response_complete(2.0) is CLOSE


def test_an_apps_connection_close_header_ends_the_connection():
    conn = connection()
    conn.receive_data(GET, 1.0)
    events(conn)
    wire = respond(conn, headers=[(b"connection", b"close")])
    assert wire.count(b"connection:") == 1
    assert conn.response_complete(2.0) is CLOSE


def test_a_response_before_the_request_body_was_read_closes_and_says_so():
    conn = connection()
    conn.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npart", 1.0)
    assert isinstance(conn.next_event(), RequestHead)
    assert conn.next_event() == Body(b"part")
    assert b"connection: close\r\n" in respond(conn)
    assert conn.response_complete(2.0) is CLOSE


def test_a_streamed_response_keeps_alive_only_if_the_body_was_read_by_its_end():
    conn = connection()
    conn.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n", 1.0)
    events(conn)
    assert b"connection:" not in respond(conn, more=True)  # keep-alive promised...
    conn.send_body(b"", False)
    assert conn.response_complete(2.0) is CLOSE  # ...but the body never came


def test_the_client_closing_between_requests_ends_the_connection():
    conn = connection()
    conn.receive_data(GET + b"", 1.0)
    events(conn)
    conn.receive_data(b"", 1.5)
    respond(conn)
    assert conn.response_complete(2.0) is NEXT  # the close is here to be seen
    assert conn.next_event() is CLOSED and conn.state is CLOSED_STATE


# -- request bodies and flow control ------------------------------------------------------


def test_body_events_then_the_end_of_body():
    conn = connection()
    conn.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc", 1.0)
    assert isinstance(conn.next_event(), RequestHead)
    assert conn.next_event() == Body(b"abc")
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"def", 1.1)
    assert events(conn) == [Body(b"def"), END_OF_BODY, PAUSED]


def test_body_taken_whole_arrives_as_the_very_bytes_received():
    conn = connection()
    conn.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n", 1.0)
    events(conn)
    piece = b"0123456789" + GET
    chunk, rest, complete = conn.take_body(piece)
    assert (chunk, rest, complete) == (b"0123456789", GET, True)
    whole = b"x" * 5
    conn2 = connection()
    conn2.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n", 1.0)
    events(conn2)
    assert conn2.take_body(whole)[0] is whole


def test_unread_body_above_the_high_water_mark_pauses_reading_until_consumed():
    conn = connection()
    size = READ_HIGH_WATER * 2
    conn.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size, 1.0)
    events(conn)
    conn.take_body(b"x" * (READ_HIGH_WATER + 1))
    assert not conn.reading
    conn.body_consumed(READ_HIGH_WATER + 1)
    assert conn.reading


def test_the_client_closing_in_the_middle_of_a_body_is_a_400():
    conn = connection()
    conn.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc", 1.0)
    events(conn)
    conn.receive_data(b"", 2.0)
    [rejected] = events(conn)
    assert isinstance(rejected, Rejected) and rejected.status == 400
    assert rejected.response.startswith(b"HTTP/1.1 400 Bad Request\r\n")


def test_an_error_in_the_body_after_the_response_head_went_out_sends_nothing_more():
    conn = connection()
    conn.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 1.0)
    events(conn)
    respond(conn, more=True)
    conn.receive_data(b"zz\r\n", 1.1)
    [rejected] = events(conn)
    assert isinstance(rejected, Rejected) and rejected.response == b""
    assert conn.state is CLOSED_STATE


def test_a_too_large_declared_body_is_refused_before_the_app_sees_the_request():
    conn = HTTPConnection(limits(max_body=10), 0.0)
    conn.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n", 1.0)
    [rejected] = events(conn)
    assert isinstance(rejected, Rejected) and rejected.status == 413
    assert conn.response_status == 413 and conn.response_bytes == len(b"request body too large\n")


# -- interim responses --------------------------------------------------------------------


def test_100_continue_is_given_once_when_asked_for():
    conn = connection()
    conn.receive_data(
        b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n", 1.0
    )
    events(conn)
    assert conn.send_continue() == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert conn.send_continue() == b""


def test_no_100_continue_for_a_request_that_did_not_ask_or_for_http10():
    for request_ in (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n",
        b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
    ):
        conn = connection()
        conn.receive_data(request_, 1.0)
        events(conn)
        assert conn.send_continue() == b""


def test_early_hints_go_to_http11_clients_only():
    for version, expected in ((b"1.1", True), (b"1.0", False)):
        conn = connection()
        conn.receive_data(b"GET / HTTP/%s\r\nHost: x\r\n\r\n" % version, 1.0)
        events(conn)
        assert conn.early_hint([b"</a.css>; rel=preload"]).startswith(b"HTTP/1.1 103") is expected


# -- the drain and the timers -------------------------------------------------------------


def test_a_drain_before_the_head_went_out_makes_the_response_the_last():
    conn = connection()
    conn.receive_data(GET, 1.0)
    events(conn)
    conn.shutdown()
    assert b"connection: close\r\n" in respond(conn)
    assert conn.response_complete(2.0) is CLOSE


def test_a_drain_after_the_head_went_out_still_closes_after_the_response():
    conn = connection()
    conn.receive_data(GET, 1.0)
    events(conn)
    assert b"connection:" not in respond(conn, more=True)
    conn.shutdown()
    conn.send_body(b"", False)
    assert conn.response_complete(2.0) is CLOSE


def test_a_request_arriving_during_a_drain_is_served_as_the_last():
    conn = connection()
    conn.shutdown()
    conn.receive_data(GET, 1.0)
    events(conn)
    assert b"connection: close\r\n" in respond(conn)


def test_an_idle_connection_closes_after_the_idle_time_and_not_before():
    conn = connection()
    assert conn.idle_verdict(4.9, 5.0, 10.0) is None
    assert conn.idle_verdict(5.0, 5.0, 10.0) is CLOSED and conn.state is CLOSED_STATE


def test_bytes_arriving_restart_the_idle_time():
    conn = connection()
    _request_reused(conn)  # last activity at 2.0
    assert conn.idle_verdict(6.9, 5.0, 10.0) is None
    assert conn.idle_verdict(7.0, 5.0, 10.0) is CLOSED


def test_a_head_slower_than_the_header_timeout_gets_408():
    conn = connection()
    conn.receive_data(b"GET / HTTP/1.1\r\n", 1.0)
    events(conn)
    assert conn.state is HEAD and conn.head_since == 1.0
    assert conn.idle_verdict(11.0, 5.0, 10.0) is None  # idleness does not close a head
    verdict = conn.idle_verdict(11.5, 5.0, 10.0)
    assert isinstance(verdict, Rejected) and verdict.status == 408
    assert verdict.response.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert conn.state is CLOSED_STATE


def test_a_request_in_progress_is_never_idle():
    conn = connection()
    conn.receive_data(GET, 1.0)
    events(conn)
    assert conn.idle_verdict(1000.0, 5.0, 10.0) is None


# -- the server's own responses -----------------------------------------------------------


def test_a_refusal_is_a_complete_response_and_closes():
    conn, client = connection(), Client()
    conn.receive_data(GET, 1.0)
    events(conn)
    wire = conn.refuse(503, b"Service Unavailable", extra=b"retry-after: 1\r\n")
    response, body = client.response(wire)
    assert (response.status_code, body) == (503, b"Service Unavailable\n")
    assert header(response, b"retry-after") == b"1" and header(response, b"connection") == b"close"
    assert conn.state is CLOSED_STATE
    assert (conn.response_status, conn.response_bytes) == (503, len(body))


def test_nothing_is_read_after_the_connection_closed():
    conn = connection()
    _request_closed(conn)
    conn.receive_data(GET, 3.0)
    assert conn.next_event() is CLOSED
