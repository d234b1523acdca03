"""Frame-level rules of RFC 9113 (sections 3.4, 4, 5.1, 5.4, 6): the connection preface, frame
sizes, stream states and identifiers, and what each malformed frame gets: a connection error
(GOAWAY, then the end) or a stream error (RST_STREAM, the connection lives on)."""

from __future__ import annotations

import struct

import pytest
from hyperframe import frame as hf

from asgi_master.worker.h2.connection import Connection
from asgi_master.worker.h2.errors import (
    COMPRESSION_ERROR,
    FLOW_CONTROL_ERROR,
    FRAME_SIZE_ERROR,
    PROTOCOL_ERROR,
    REFUSED_STREAM,
    STREAM_CLOSED,
)
from asgi_master.worker.h2.events import ConnectionTerminated, RequestReceived, StreamReset
from asgi_master.worker.h2.frames import PREFACE

from .h2peer import Peer, headers_frame, limits, raw_frames, request


def raw(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    length = len(payload)
    return struct.pack(">HBBBL", length >> 8, length & 0xFF, kind, flags, stream_id) + payload


def connection_error(peer: Peer, data: bytes) -> int:
    """Feed ``data``; the GOAWAY code the connection ended with."""
    events = peer.feed(data)
    assert peer.server.closed, events
    assert isinstance(events[-1], ConnectionTerminated)
    [goaway] = [f for f in raw_frames(peer.wire()) if isinstance(f, hf.GoAwayFrame)]
    assert goaway.error_code == events[-1].error_code
    return goaway.error_code


def stream_error(peer: Peer, data: bytes, stream_id: int) -> int:
    """Feed ``data``; the RST_STREAM code on ``stream_id`` (the connection stays open)."""
    peer.feed(data)
    assert not peer.server.closed
    [reset] = [f for f in raw_frames(peer.wire()) if isinstance(f, hf.RstStreamFrame)]
    assert reset.stream_id == stream_id
    return reset.error_code


def open_stream(peer: Peer, stream_id: int = 1, end_stream: bool = False) -> None:
    events = peer.feed(headers_frame(peer, stream_id, request(b"/", b"POST"), end_stream))
    assert isinstance(events[0], RequestReceived)
    peer.wire()


# -- preface and SETTINGS ------------------------------------------------------------------


def test_the_server_speaks_first_with_its_settings():
    conn = Connection(limits(), 0.0)
    frames = raw_frames(conn.data_to_send())
    settings = frames[0]
    assert isinstance(settings, hf.SettingsFrame)
    assert settings.settings[hf.SettingsFrame.MAX_CONCURRENT_STREAMS] == 100
    assert settings.settings[hf.SettingsFrame.MAX_HEADER_LIST_SIZE] == 100 * (8190 + 32)
    assert hf.SettingsFrame.ENABLE_CONNECT_PROTOCOL not in settings.settings
    assert isinstance(frames[1], hf.WindowUpdateFrame) and frames[1].stream_id == 0


def test_enable_connect_protocol_only_when_the_flag_says_so():
    settings = raw_frames(Connection(limits(connect_protocol=True), 0.0).data_to_send())[0]
    assert settings.settings[hf.SettingsFrame.ENABLE_CONNECT_PROTOCOL] == 1


def test_a_wrong_preface_is_a_connection_error():
    peer = Peer(handshake=False)
    peer.wire()
    assert connection_error(peer, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == PROTOCOL_ERROR


def test_the_preface_may_arrive_a_byte_at_a_time():
    peer = Peer(handshake=False)
    for byte in PREFACE:
        peer.feed(bytes((byte,)))
    peer.feed(hf.SettingsFrame(0).serialize())
    assert peer.server.state.name == "OPEN"


def test_a_first_frame_other_than_settings_is_a_connection_error():
    peer = Peer(handshake=False)
    peer.wire()
    assert (
        connection_error(peer, PREFACE + hf.PingFrame(0, b"12345678").serialize()) == PROTOCOL_ERROR
    )


def test_settings_are_acknowledged():
    peer = Peer()
    peer.feed(hf.SettingsFrame(0, settings={hf.SettingsFrame.HEADER_TABLE_SIZE: 100}).serialize())
    assert next(f for f in raw_frames(peer.wire()) if isinstance(f, hf.SettingsFrame)).flags == {
        "ACK"
    }


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (raw(4, 0, 1, b""), PROTOCOL_ERROR),  # on a stream
        (raw(4, 1, 0, b"\x00" * 6), FRAME_SIZE_ERROR),  # ACK with a payload
        (raw(4, 0, 0, b"\x00" * 5), FRAME_SIZE_ERROR),  # not a multiple of 6
        (raw(4, 0, 0, struct.pack(">HL", 2, 2)), PROTOCOL_ERROR),  # ENABLE_PUSH 2
        (raw(4, 0, 0, struct.pack(">HL", 4, 2**31)), FLOW_CONTROL_ERROR),  # window too large
        (raw(4, 0, 0, struct.pack(">HL", 5, 16_383)), PROTOCOL_ERROR),  # frame size too small
        (raw(4, 0, 0, struct.pack(">HL", 5, 2**24)), PROTOCOL_ERROR),  # frame size too large
    ],
)
def test_bad_settings_are_connection_errors(data, code):
    assert connection_error(Peer(), data) == code


def test_unknown_settings_are_ignored():
    peer = Peer()
    peer.feed(raw(4, 0, 0, struct.pack(">HL", 0x99, 7)))
    assert not peer.server.closed


# -- frame format and sizes ----------------------------------------------------------------


def test_a_frame_above_our_max_frame_size_is_a_connection_error():
    peer = Peer()
    open_stream(peer)
    assert connection_error(peer, raw(0, 0, 1, b"x" * 16_385)) == FRAME_SIZE_ERROR


def test_the_size_is_checked_from_the_head_before_the_payload_arrives():
    peer = Peer()
    head = struct.pack(">HBBBL", 0x100, 0, 0, 0, 1)  # 16 MiB announced
    assert connection_error(peer, head) == FRAME_SIZE_ERROR


def test_unknown_frame_types_and_flags_and_the_reserved_bit_are_ignored():
    peer = Peer()
    peer.feed(raw(0xFA, 0xFF, 0, b"whatever"))
    events = peer.feed(
        headers_frame(peer, 1, request()).replace(b"\x00\x00\x00\x01", b"\x80\x00\x00\x01", 1)
    )
    assert isinstance(events[0], RequestReceived) and events[0].stream.stream_id == 1


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (raw(6, 0, 0, b"1234567"), FRAME_SIZE_ERROR),  # PING not 8 bytes
        (raw(6, 0, 1, b"12345678"), PROTOCOL_ERROR),  # PING on a stream
        (raw(7, 0, 1, b"\x00" * 8), PROTOCOL_ERROR),  # GOAWAY on a stream
        (raw(8, 0, 0, b"\x00\x00\x00"), FRAME_SIZE_ERROR),  # WINDOW_UPDATE not 4 bytes
        (raw(8, 0, 0, b"\x00\x00\x00\x00"), PROTOCOL_ERROR),  # connection WINDOW_UPDATE of 0
        (raw(3, 0, 0, b"\x00\x00\x00\x00"), PROTOCOL_ERROR),  # RST_STREAM on stream 0
        (raw(3, 0, 1, b"\x00\x00\x00"), FRAME_SIZE_ERROR),  # RST_STREAM not 4 bytes
        (raw(0, 0, 0, b"x"), PROTOCOL_ERROR),  # DATA on stream 0
        (raw(1, 4, 0, b"\x82"), PROTOCOL_ERROR),  # HEADERS on stream 0
        (raw(2, 0, 0, b"\x00" * 5), PROTOCOL_ERROR),  # PRIORITY on stream 0
        (raw(5, 4, 1, b"\x00\x00\x00\x02"), PROTOCOL_ERROR),  # PUSH_PROMISE from a client
        (raw(9, 4, 1, b"\x82"), PROTOCOL_ERROR),  # CONTINUATION without HEADERS
        (raw(8, 0, 0, struct.pack(">L", 2**31 - 1)), FLOW_CONTROL_ERROR),  # window overflow
    ],
)
def test_malformed_control_frames_are_connection_errors(data, code):
    assert connection_error(Peer(), data) == code


def test_padding_as_long_as_the_frame_is_a_connection_error():
    peer = Peer()
    open_stream(peer)
    assert connection_error(peer, raw(0, 0x8, 1, b"\x04abc")) == PROTOCOL_ERROR


def test_headers_padding_longer_than_the_frame_is_a_connection_error():
    assert connection_error(Peer(), raw(1, 0x8 | 0x4, 1, b"\x09\x82")) == PROTOCOL_ERROR


def test_headers_padding_is_checked_before_the_priority_fields():
    assert (
        connection_error(Peer(), raw(1, 0x8 | 0x20 | 0x4, 1, b"\x06" + b"\x00" * 5))
        == PROTOCOL_ERROR
    )


def test_a_padded_frame_without_room_for_the_pad_length_is_a_frame_size_error():
    peer = Peer()
    open_stream(peer)
    assert connection_error(peer, raw(0, 0x8, 1, b"")) == FRAME_SIZE_ERROR


def test_padded_data_delivers_the_data_without_the_padding():
    peer = Peer()
    open_stream(peer)
    events = peer.feed(raw(0, 0x8, 1, b"\x03abc\x00\x00\x00"))
    assert [e.data for e in events] == [b"abc"]


def test_a_header_block_is_read_across_continuation_frames():
    peer = Peer()
    block = peer.block(request())
    data = raw(1, 0x1, 1, block[:3]) + raw(9, 0, 1, block[3:5]) + raw(9, 0x4, 1, block[5:])
    [event] = peer.feed(data)
    assert isinstance(event, RequestReceived) and event.end_stream


def test_a_frame_inside_a_header_block_is_a_connection_error():
    peer = Peer()
    block = peer.block(request())
    assert (
        connection_error(peer, raw(1, 0x1, 1, block[:3]) + raw(6, 0, 0, b"12345678"))
        == PROTOCOL_ERROR
    )


def test_continuation_of_another_stream_is_a_connection_error():
    peer = Peer()
    block = peer.block(request())
    assert (
        connection_error(peer, raw(1, 0, 1, block[:3]) + raw(9, 4, 3, block[3:])) == PROTOCOL_ERROR
    )


def test_a_header_block_that_does_not_decode_is_a_compression_error():
    assert (
        connection_error(Peer(), raw(1, 0x5, 1, b"\xff\xff\xff\xff\xff\xff")) == COMPRESSION_ERROR
    )


# -- stream states and identifiers (5.1, 5.1.1, 5.1.2) ---------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        raw(0, 0, 1, b"x"),  # DATA on an idle stream
        raw(3, 0, 1, b"\x00\x00\x00\x08"),  # RST_STREAM on an idle stream
        raw(8, 0, 1, b"\x00\x00\x00\x01"),  # WINDOW_UPDATE on an idle stream
    ],
)
def test_frames_on_idle_streams_are_connection_errors(data):
    assert connection_error(Peer(), data) == PROTOCOL_ERROR


def test_priority_on_an_idle_stream_is_allowed():
    peer = Peer()
    peer.feed(raw(2, 0, 5, b"\x00\x00\x00\x03\x10"))
    assert not peer.server.closed and peer.wire() == b""


def test_a_stream_depending_on_itself_is_a_stream_error():
    assert stream_error(Peer(), raw(2, 0, 3, b"\x00\x00\x00\x03\x10"), 3) == PROTOCOL_ERROR


def test_priority_of_the_wrong_length_is_a_stream_error():
    assert stream_error(Peer(), raw(2, 0, 3, b"\x00\x00\x00\x01"), 3) == FRAME_SIZE_ERROR


def test_headers_on_an_even_stream_is_a_connection_error():
    peer = Peer()
    assert connection_error(peer, headers_frame(peer, 2, request())) == PROTOCOL_ERROR


def test_a_stream_id_below_one_used_is_a_connection_error():
    peer = Peer()
    open_stream(peer, 5)
    assert connection_error(peer, headers_frame(peer, 3, request())) == PROTOCOL_ERROR


def test_data_after_the_clients_end_stream_is_a_stream_error_stream_closed():
    peer = Peer()
    open_stream(peer, 1, end_stream=True)
    assert stream_error(peer, raw(0, 0, 1, b"x"), 1) == STREAM_CLOSED


def test_headers_after_the_clients_end_stream_is_a_stream_error_stream_closed():
    peer = Peer()
    open_stream(peer, 1, end_stream=True)
    assert stream_error(peer, headers_frame(peer, 1, [(b"x-t", b"1")]), 1) == STREAM_CLOSED


def test_data_on_a_stream_the_client_reset_is_a_stream_error_stream_closed():
    peer = Peer()
    open_stream(peer)
    peer.feed(raw(3, 0, 1, b"\x00\x00\x00\x08"))
    assert stream_error(peer, raw(0, 0, 1, b"x"), 1) == STREAM_CLOSED


def test_data_on_a_stream_closed_both_ways_is_a_connection_error_stream_closed():
    peer = Peer()
    open_stream(peer, 1, end_stream=True)
    peer.respond(1, b"x")
    peer.wire()
    assert connection_error(peer, raw(0, 0, 1, b"x")) == STREAM_CLOSED


def test_headers_on_a_stream_closed_both_ways_is_a_connection_error_stream_closed():
    peer = Peer()
    open_stream(peer, 1, end_stream=True)
    peer.respond(1, b"x")
    peer.wire()
    assert connection_error(peer, headers_frame(peer, 1, request())) == STREAM_CLOSED


def test_window_update_and_rst_stream_on_a_closed_stream_are_ignored():
    peer = Peer()
    open_stream(peer, 1, end_stream=True)
    peer.respond(1, b"x")
    peer.wire()
    peer.feed(raw(8, 0, 1, b"\x00\x00\x00\x10") + raw(3, 0, 1, b"\x00\x00\x00\x00"))
    assert not peer.server.closed and peer.wire() == b""


def test_trailers_without_end_stream_are_a_stream_error():
    peer = Peer()
    open_stream(peer)
    assert (
        stream_error(peer, headers_frame(peer, 1, [(b"x-t", b"1")], end_stream=False), 1)
        == PROTOCOL_ERROR
    )


def test_trailers_with_pseudo_headers_are_a_stream_error():
    peer = Peer()
    open_stream(peer)
    assert stream_error(peer, headers_frame(peer, 1, [(b":path", b"/")]), 1) == PROTOCOL_ERROR


def test_a_stream_window_update_of_zero_is_a_stream_error():
    peer = Peer()
    open_stream(peer)
    assert stream_error(peer, raw(8, 0, 1, b"\x00\x00\x00\x00"), 1) == PROTOCOL_ERROR


def test_a_stream_window_beyond_2_31_is_a_stream_error():
    peer = Peer()
    open_stream(peer)
    assert stream_error(peer, raw(8, 0, 1, struct.pack(">L", 2**31 - 1)), 1) == FLOW_CONTROL_ERROR


def test_streams_beyond_max_concurrent_streams_are_refused_and_the_rest_served():
    peer = Peer(limits(max_concurrent_streams=2))
    open_stream(peer, 1)
    open_stream(peer, 3)
    assert stream_error(peer, headers_frame(peer, 5, request()), 5) == REFUSED_STREAM
    peer.respond(1, b"x")
    peer.wire()
    events = peer.feed(headers_frame(peer, 7, request()))
    assert isinstance(events[0], RequestReceived)


def test_rst_stream_from_the_client_is_the_apps_disconnect():
    peer = Peer()
    open_stream(peer)
    assert peer.feed(raw(3, 0, 1, b"\x00\x00\x00\x08")) == [StreamReset(1, 8, True)]
    # what the app sends after is dropped
    peer.streams[1].start(200, [], False)
    peer.streams[1].body(b"x", False)
    assert peer.wire() == b""


def test_a_connection_error_disconnects_every_stream_and_ends_with_goaway():
    peer = Peer()
    open_stream(peer, 1)
    open_stream(peer, 3)
    events = peer.feed(raw(6, 0, 1, b"12345678"))
    assert events[:2] == [
        StreamReset(1, PROTOCOL_ERROR, False),
        StreamReset(3, PROTOCOL_ERROR, False),
    ]
    assert isinstance(events[2], ConnectionTerminated)
    [goaway] = [f for f in raw_frames(peer.wire()) if isinstance(f, hf.GoAwayFrame)]
    assert goaway.last_stream_id == 3
    assert peer.feed(headers_frame(peer, 5, request())) == []  # nothing is read after the end


def test_events_before_a_connection_error_in_the_same_bytes_are_kept():
    peer = Peer()
    data = headers_frame(peer, 1, request()) + raw(6, 0, 1, b"12345678")
    events = peer.feed(data)
    assert isinstance(events[0], RequestReceived)
    assert isinstance(events[-1], ConnectionTerminated)
