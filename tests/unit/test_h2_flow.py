"""HTTP/2 flow control both ways (RFC 9113 5.2, 6.9): responses cut to the windows and resumed
by WINDOW_UPDATE and SETTINGS; request bodies bounded by the stream's window, which reopens
only as the app reads, so one app that does not read stalls only its own stream."""

from __future__ import annotations

import struct

import h2.events
import h2.settings
from hyperframe import frame as hf

from asgi_master.worker.h2.errors import FLOW_CONTROL_ERROR
from asgi_master.worker.h2.events import RequestBody, StreamReset, StreamWritable

from .h2peer import Peer, headers_frame, limits, raw_frames, request


def raw(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    length = len(payload)
    return struct.pack(">HBBBL", length >> 8, length & 0xFF, kind, flags, stream_id) + payload


def data_sizes(data: bytes, stream_id: int | None = None) -> list[int]:
    return [
        len(f.data)
        for f in raw_frames(data)
        if isinstance(f, hf.DataFrame) and stream_id in (None, f.stream_id)
    ]


def send_body(peer: Peer, stream_id: int, size: int, byte: bytes = b"d") -> None:
    """The client sends ``size`` bytes of body on ``stream_id`` in frames it may send."""
    while size:
        piece = min(size, 16_384)
        peer.client.send_data(stream_id, byte * piece)
        size -= piece


def set_client_window(peer: Peer, size: int) -> None:
    peer.client.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: size})
    peer.to_server()
    peer.to_client()


# -- responses -------------------------------------------------------------------------------


def test_a_response_larger_than_the_stream_window_waits_for_window_update():
    peer = Peer()
    set_client_window(peer, 1000)
    stream_id = peer.get()
    stream = peer.streams[stream_id]
    stream.start(200, [], False)
    stream.body(b"x" * 2500, False)
    assert stream.write_paused
    peer.to_client()
    assert peer.body_received(stream_id) == b"x" * 1000
    peer.client.increment_flow_control_window(1000, stream_id)
    peer.client.increment_flow_control_window(1000)
    events = peer.to_server()
    assert stream.write_paused and StreamWritable(stream_id) not in events
    peer.client.increment_flow_control_window(1000, stream_id)
    events = peer.to_server()
    assert events == [StreamWritable(stream_id)] and not stream.write_paused
    peer.to_client()
    assert peer.body_received(stream_id) == b"x" * 2500
    assert peer.client_saw(h2.events.StreamEnded)


def test_data_frames_are_cut_to_the_smallest_of_window_and_frame_size():
    peer = Peer()
    set_client_window(peer, 20_000)
    stream_id = peer.get()
    peer.respond(stream_id, b"y" * 30_000)
    assert data_sizes(peer.wire()) == [16_384, 3_616]


def test_a_larger_peer_frame_size_gives_larger_frames():
    peer = Peer()
    peer.client.update_settings({h2.settings.SettingCodes.MAX_FRAME_SIZE: 32_768})
    peer.to_server()
    peer.to_client()
    stream_id = peer.get()
    peer.respond(stream_id, b"z" * 40_000)
    assert data_sizes(peer.wire()) == [32_768, 7_232]


def test_the_connection_window_is_shared_round_robin():
    peer = Peer()
    set_client_window(peer, 2**20)
    first, second = peer.get(), peer.get()
    for stream_id in (first, second):
        stream = peer.streams[stream_id]
        stream.start(200, [], False)
        stream.body(b"a" * 100_000, False)
    peer.wire()  # the first takes the connection's 65,535 bytes: it asked first
    peer.client.increment_flow_control_window(40_000)
    peer.to_server()
    frames = [f for f in raw_frames(peer.wire()) if isinstance(f, hf.DataFrame)]
    assert {f.stream_id for f in frames} == {first, second}
    assert sum(len(f.data) for f in frames) == 40_000


def test_settings_initial_window_change_applies_to_open_streams():
    peer = Peer()
    stream_id = peer.get()
    stream = peer.streams[stream_id]
    set_client_window(peer, 1)  # RFC 9113 6.9.2: open streams' windows move by the change
    stream.start(200, [], False)
    stream.body(b"abc", False)
    assert data_sizes(peer.wire()) == [1]
    peer.feed(hf.SettingsFrame(0, settings={hf.SettingsFrame.INITIAL_WINDOW_SIZE: 3}).serialize())
    assert data_sizes(peer.wire()) == [2]


def test_a_window_made_negative_by_settings_must_be_refilled_before_data_flows():
    peer = Peer()
    set_client_window(peer, 100)
    stream_id = peer.get()
    stream = peer.streams[stream_id]
    stream.start(200, [], False)
    stream.body(b"q" * 150, False)
    assert data_sizes(peer.wire()) == [100]
    set_client_window(peer, 50)  # the stream's window is now -50
    peer.client.increment_flow_control_window(60, stream_id)
    peer.to_server()
    assert data_sizes(peer.wire()) == [10]


def test_an_end_of_stream_waits_behind_queued_data():
    peer = Peer()
    set_client_window(peer, 10)
    stream_id = peer.get()
    stream = peer.streams[stream_id]
    stream.start(200, [], False)
    stream.body(b"0123456789abc", True)
    stream.body(b"", False)
    frames = [f for f in raw_frames(peer.wire()) if isinstance(f, hf.DataFrame)]
    assert [len(f.data) for f in frames] == [10] and "END_STREAM" not in frames[0].flags
    peer.client.increment_flow_control_window(10, stream_id)
    peer.to_server()
    frames = [f for f in raw_frames(peer.wire()) if isinstance(f, hf.DataFrame)]
    assert [len(f.data) for f in frames] == [3] and "END_STREAM" in frames[-1].flags


def test_trailers_wait_behind_queued_data():
    peer = Peer()
    set_client_window(peer, 4)
    stream_id = peer.get()
    stream = peer.streams[stream_id]
    stream.start(200, [], True)
    stream.body(b"12345678", False)
    stream.trailers([(b"x-t", b"1")], False)
    assert [type(f) for f in raw_frames(peer.wire())] == [hf.HeadersFrame, hf.DataFrame]
    peer.client.increment_flow_control_window(4, stream_id)
    peer.to_server()
    assert [type(f) for f in raw_frames(peer.wire())] == [hf.DataFrame, hf.HeadersFrame]


def test_a_client_that_never_reads_gets_no_more_than_its_windows():
    peer = Peer()
    ids = [peer.get() for _ in range(100)]
    for stream_id in ids:
        stream = peer.streams[stream_id]
        stream.start(200, [], False)
        stream.body(b"b" * 65_536, True)
    sent = sum(data_sizes(peer.wire()))
    assert sent == 65_535  # the client's connection window, and no more
    assert all(peer.streams[i].write_paused for i in ids[1:])


# -- request bodies --------------------------------------------------------------------------


def test_an_app_that_does_not_read_stalls_only_its_own_stream():
    peer = Peer()
    slow = peer.get(request(b"/slow", b"POST"), end_stream=False)
    fast = peer.get(request(b"/fast", b"POST"), end_stream=False)
    send_body(peer, slow, 65_535)
    peer.to_server()
    peer.to_client()
    assert peer.client.local_flow_control_window(slow) == 0  # the slow stream is full
    send_body(peer, fast, 60_000)
    events = peer.to_server()  # the connection window was reopened on receipt
    assert {e.stream_id for e in events if isinstance(e, RequestBody)} == {fast}
    peer.to_client()
    assert peer.client.local_flow_control_window(fast) == 5_535


def test_the_stream_window_reopens_as_the_app_reads():
    peer = Peer()
    stream_id = peer.get(request(b"/", b"POST"), end_stream=False)
    send_body(peer, stream_id, 65_535)
    peer.to_server()
    stream = peer.streams[stream_id]
    stream.body_consumed(10_000)
    assert peer.wire() == b""  # batched: less than half the window is owed
    stream.body_consumed(30_000)
    peer.to_client()
    assert peer.client.local_flow_control_window(stream_id) == 40_000


def test_data_beyond_the_stream_window_is_a_stream_error():
    peer = Peer()
    peer.get(request(b"/", b"POST"), end_stream=False)
    peer.wire()
    chunk = raw(0, 0, 1, b"x" * 16_384)
    events = peer.feed(chunk * 4 + raw(0, 0, 1, b"x" * 2000))
    assert events[-1] == StreamReset(1, FLOW_CONTROL_ERROR, False)
    assert not peer.server.closed


def test_the_connection_window_is_reopened_on_receipt_even_if_no_app_reads():
    peer = Peer(limits(connection_window=65_535))
    for stream_id in (1, 3):
        peer.feed(headers_frame(peer, stream_id, request(b"/", b"POST"), end_stream=False))
    peer.wire()
    peer.feed(raw(0, 0, 1, b"x" * 16_384) + raw(0, 0, 3, b"x" * 16_384))
    updates = [f for f in raw_frames(peer.wire()) if isinstance(f, hf.WindowUpdateFrame)]
    assert [(f.stream_id, f.window_increment) for f in updates] == [(0, 32_768)]


def test_padding_is_credited_back_at_once():
    peer = Peer()
    peer.get(request(b"/", b"POST"), end_stream=False)
    peer.wire()
    peer.feed(raw(0, 0x8, 1, b"\xff" + b"p" * 10 + b"\x00" * 255) * 130)
    [update] = [
        f
        for f in raw_frames(peer.wire())
        if isinstance(f, hf.WindowUpdateFrame) and f.stream_id == 1
    ]
    assert update.window_increment == 128 * 256  # batched: sent once half the window is owed


def test_our_initial_window_applies_once_the_client_acknowledges_it():
    peer = Peer(limits(initial_window_size=16_384), handshake=False)
    settings = raw_frames(peer.wire())[0]
    assert settings.settings[hf.SettingsFrame.INITIAL_WINDOW_SIZE] == 16_384
    peer.client.initiate_connection()
    peer.to_server()
    peer.feed(headers_frame(peer, 1, request(b"/", b"POST"), end_stream=False))
    assert peer.streams[1].recv_window == 65_535  # not acknowledged yet
    peer.feed(hf.SettingsFrame(0, flags=["ACK"]).serialize())
    assert peer.streams[1].recv_window == 16_384
