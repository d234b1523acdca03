"""How an HTTP/2 connection lives and ends, as decisions on the time it is given: keep-alive
PINGs, the idle and settings timeouts, the graceful GOAWAY drain of RFC 9113 6.8, the client's
own GOAWAY, and the transport's loss."""

from __future__ import annotations

import h2.events
import pytest
from hyperframe import frame as hf

from asgi_master.worker.h2.connection import Connection
from asgi_master.worker.h2.errors import NO_ERROR, REFUSED_STREAM, SETTINGS_TIMEOUT
from asgi_master.worker.h2.events import ConnectionTerminated, StreamReset
from asgi_master.worker.h2.frames import MAX_STREAM_ID, PREFACE
from asgi_master.worker.h2.state import (
    CONNECTION_TRANSITIONS,
    ConnectionEvent,
    ConnectionState,
    StateError,
    connection_transition,
)

from .h2peer import Peer, headers_frame, limits, raw_frames, request


def frames_of(peer: Peer, kind: type) -> list:
    return [f for f in raw_frames(peer.wire()) if isinstance(f, kind)]


def terminated(events) -> ConnectionTerminated:
    [event] = [e for e in events if isinstance(e, ConnectionTerminated)]
    return event


# -- keep-alive and timeouts -----------------------------------------------------------------


def test_a_quiet_connection_gets_a_ping_after_the_interval():
    peer = Peer(limits(ping_interval=20.0, idle_timeout=0.0))
    peer.tick(19.0)
    assert frames_of(peer, hf.PingFrame) == []
    peer.tick(1.0)
    [ping] = frames_of(peer, hf.PingFrame)
    assert "ACK" not in ping.flags
    peer.tick(5.0)
    assert frames_of(peer, hf.PingFrame) == []  # one at a time


def test_received_frames_put_the_ping_off():
    peer = Peer(limits(ping_interval=20.0, idle_timeout=0.0))
    peer.tick(15.0)
    peer.feed(hf.PingFrame(0, b"12345678").serialize())
    peer.wire()
    peer.tick(15.0)
    assert frames_of(peer, hf.PingFrame) == []


def test_an_unanswered_ping_closes_the_connection_after_the_timeout():
    peer = Peer(limits(ping_interval=20.0, ping_timeout=10.0, idle_timeout=0.0))
    peer.feed(headers_frame(peer, 1, request()))
    peer.tick(20.0)
    peer.wire()
    assert not peer.tick(9.0)
    events = peer.tick(1.0)
    assert events[0] == StreamReset(1, 8, False)
    assert terminated(events).reason == "PING not answered"
    assert [f.error_code for f in frames_of(peer, hf.GoAwayFrame)] == [NO_ERROR]


def test_an_answered_ping_keeps_the_connection():
    peer = Peer(limits(ping_interval=20.0, ping_timeout=10.0, idle_timeout=0.0))
    peer.tick(20.0)
    peer.to_client()
    peer.to_server()  # h2 answers PINGs by itself
    peer.tick(15.0)
    assert not peer.server.closed


def test_no_pings_when_the_interval_is_zero():
    peer = Peer(limits(ping_interval=0.0, idle_timeout=0.0))
    peer.tick(3600.0)
    assert frames_of(peer, hf.PingFrame) == []


def test_an_idle_connection_gets_goaway_with_the_last_stream_and_ends():
    peer = Peer(limits(idle_timeout=60.0, ping_interval=0.0))
    stream_id = peer.get()
    peer.respond(stream_id)
    peer.to_client()
    peer.tick(59.0)
    assert not peer.server.closed
    events = peer.tick(1.0)
    assert terminated(events).reason == "idle"
    [goaway] = frames_of(peer, hf.GoAwayFrame)
    assert (goaway.last_stream_id, goaway.error_code) == (stream_id, NO_ERROR)


def test_an_open_stream_keeps_the_connection_from_idling():
    peer = Peer(limits(idle_timeout=5.0, ping_interval=0.0))
    peer.get(request(b"/", b"POST"), end_stream=False)
    peer.tick(600.0)
    assert not peer.server.closed


def test_a_client_that_never_sends_its_preface_is_closed():
    peer = Peer(handshake=False)
    events = peer.tick(10.0)
    assert terminated(events).error_code == SETTINGS_TIMEOUT


def test_settings_not_acknowledged_in_time_is_a_settings_timeout():
    peer = Peer(handshake=False)
    peer.feed(PREFACE + hf.SettingsFrame(0).serialize())
    peer.tick(9.0)
    assert not peer.server.closed
    assert terminated(peer.tick(1.0)).error_code == SETTINGS_TIMEOUT


# -- graceful drain (RFC 9113 6.8) -----------------------------------------------------------


def test_drain_sends_goaway_with_the_largest_id_then_a_ping():
    peer = Peer()
    assert peer.server.start_drain(peer.now) == []
    frames = raw_frames(peer.wire())
    assert [type(f) for f in frames] == [hf.GoAwayFrame, hf.PingFrame]
    assert (frames[0].last_stream_id, frames[0].error_code) == (MAX_STREAM_ID, NO_ERROR)


def answer_the_ping(peer: Peer, frames: list) -> None:
    """Answer the shutdown's PING as a client does (h2's client stops reading at the first
    GOAWAY, so the test answers for it)."""
    [ping] = [f for f in frames if isinstance(f, hf.PingFrame)]
    peer.feed(hf.PingFrame(0, ping.opaque_data, flags=["ACK"]).serialize())


def test_streams_opened_before_the_ping_answer_are_still_taken():
    peer = Peer()
    peer.server.start_drain(peer.now)
    drain = raw_frames(peer.wire())
    late = peer.get()  # the client sent it before the GOAWAY reached it
    assert peer.server_events[-1].stream.stream_id == late
    answer_the_ping(peer, drain)
    [last] = frames_of(peer, hf.GoAwayFrame)
    assert last.last_stream_id == late
    assert not peer.server.closed  # the late stream is still in flight


def test_the_last_goaway_names_the_last_stream_taken_and_in_flight_streams_finish():
    peer = Peer()
    first = peer.get()
    peer.server.start_drain(peer.now)
    answer_the_ping(peer, raw_frames(peer.wire()))
    [last] = frames_of(peer, hf.GoAwayFrame)
    assert (last.last_stream_id, last.error_code) == (first, NO_ERROR)
    assert not peer.server.closed
    peer.respond(first, b"done")
    assert terminated(peer.server.take_events()).reason == "drained"
    data = [f for f in raw_frames(peer.wire()) if isinstance(f, hf.DataFrame)]
    assert data[0].data == b"done" and "END_STREAM" in data[0].flags


def test_a_stream_after_the_last_goaway_is_refused():
    peer = Peer()
    first = peer.get(request(b"/", b"POST"), end_stream=False)
    peer.server.start_drain(peer.now)
    answer_the_ping(peer, raw_frames(peer.wire()))
    peer.wire()
    events = peer.feed(headers_frame(peer, first + 2, request()))
    assert events == []
    [reset] = frames_of(peer, hf.RstStreamFrame)
    assert (reset.stream_id, reset.error_code) == (first + 2, REFUSED_STREAM)
    assert not peer.server.closed


def test_without_a_ping_answer_the_last_goaway_goes_after_the_wait():
    peer = Peer()
    peer.server.start_drain(peer.now)
    peer.wire()
    peer.tick(1.0)
    assert frames_of(peer, hf.GoAwayFrame) == []
    events = peer.tick(1.0)
    [goaway] = frames_of(peer, hf.GoAwayFrame)
    assert goaway.last_stream_id == 0
    assert terminated(events).reason == "drained"


def test_a_drain_before_the_client_spoke_starts_at_its_settings_and_takes_its_requests():
    # accepted as the worker began to drain: the client's requests are on their way
    peer = Peer(handshake=False)
    assert peer.server.start_drain(peer.now) == []
    assert frames_of(peer, hf.GoAwayFrame) == []  # (only our SETTINGS went out)
    peer.client.initiate_connection()
    stream_id = peer.client.get_next_available_stream_id()
    peer.client.send_headers(stream_id, request(), end_stream=True)
    events = peer.to_server()  # preface, SETTINGS and the request in one read
    assert [e.stream.stream_id for e in events] == [stream_id]
    goaway, ping = [f for f in raw_frames(peer.wire()) if type(f) in (hf.GoAwayFrame, hf.PingFrame)]
    assert goaway.last_stream_id == MAX_STREAM_ID and isinstance(ping, hf.PingFrame)


def test_a_client_that_never_speaks_after_a_drain_is_closed_after_the_wait():
    peer = Peer(handshake=False)
    peer.server.start_drain(peer.now)
    peer.wire()
    assert peer.tick(1.0) == []
    events = peer.tick(1.0)
    [goaway] = frames_of(peer, hf.GoAwayFrame)
    assert (goaway.last_stream_id, goaway.error_code) == (0, NO_ERROR)
    assert terminated(events).error_code == NO_ERROR


def test_the_clients_goaway_lets_its_streams_finish_then_ends():
    peer = Peer()
    stream_id = peer.get()
    peer.client.close_connection()
    peer.to_server()
    assert not peer.server.closed
    peer.respond(stream_id)
    assert terminated(peer.server.take_events()).by_peer is False


def test_the_clients_goaway_with_an_error_ends_at_once():
    peer = Peer()
    stream_id = peer.get()
    peer.client.close_connection(error_code=2)
    events = peer.to_server()
    assert events[0] == StreamReset(stream_id, 2, True)
    assert terminated(events).by_peer


def test_losing_the_transport_disconnects_every_stream():
    peer = Peer()
    first, second = peer.get(), peer.get()
    events = peer.server.connection_lost()
    assert events[:2] == [StreamReset(first, 8, True), StreamReset(second, 8, True)]
    assert terminated(events).reason == "connection lost"


def test_close_ends_now_with_goaway_and_disconnects_streams():
    peer = Peer()
    stream_id = peer.get()
    events = peer.server.close()
    assert events[0].stream_id == stream_id
    assert [f.error_code for f in frames_of(peer, hf.GoAwayFrame)] == [NO_ERROR]


# -- the state table -------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "event"), sorted(CONNECTION_TRANSITIONS, key=str))
def test_every_connection_transition_in_the_table_is_allowed(state, event):
    assert connection_transition(state, event) is CONNECTION_TRANSITIONS[state, event]


def test_a_transition_not_in_the_table_names_state_and_event():
    with pytest.raises(StateError, match="first SETTINGS received when open"):
        connection_transition(ConnectionState.OPEN, ConnectionEvent.SETTINGS)


def test_events_after_the_end_are_none():
    conn = Connection(limits(), 0.0)
    conn.close()
    assert conn.receive_data(PREFACE, 1.0) == [] and conn.tick(2.0) == []
    assert h2.events  # the client library is the one the other tests drive
