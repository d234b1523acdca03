"""The abuse limits, each attack played in memory: rapid reset (CVE-2023-44487), the 2019
family (CVE-2019-9511 data dribble, 9512 ping flood, 9513 resource loop, 9514 reset flood,
9515 settings flood, 9516 0-length headers, 9517 internal buffering, 9518 empty frames), the
CONTINUATION flood and the HPACK bomb. Each is counted, ends the connection with GOAWAY
ENHANCE_YOUR_CALM past its budget, and is logged once; the same frames within budget are
served."""

from __future__ import annotations

import logging
import struct

import pytest
from hyperframe import frame as hf

from asgi_master.worker.h2.abuse import DEFAULT_BUDGETS, Abuse
from asgi_master.worker.h2.errors import ENHANCE_YOUR_CALM
from asgi_master.worker.h2.events import ConnectionTerminated, RequestReceived, StreamReset

from .h2peer import Peer, decode_response, headers_frame, limits, raw_frames, request


def raw(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    length = len(payload)
    return struct.pack(">HBBBL", length >> 8, length & 0xFF, kind, flags, stream_id) + payload


def ping(n: int) -> bytes:
    return raw(6, 0, 0, n.to_bytes(8, "big"))


def calmed(peer: Peer, kind: Abuse, caplog: pytest.LogCaptureFixture) -> None:
    """The connection ended with GOAWAY ENHANCE_YOUR_CALM for ``kind``, logged once."""
    assert peer.server.closed
    assert peer.server.guard.tripped is kind
    terminated = [e for e in peer.server_events if isinstance(e, ConnectionTerminated)]
    assert [(e.error_code, e.reason) for e in terminated] == [(ENHANCE_YOUR_CALM, kind.value)]
    goaway = [f for f in raw_frames(peer.wire()) if isinstance(f, hf.GoAwayFrame)]
    assert [f.error_code for f in goaway] == [ENHANCE_YOUR_CALM]
    lines = [r for r in caplog.records if kind.value in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    assert "test-client" in lines[0].getMessage()


def test_rapid_reset_ends_the_connection_and_disconnects_each_reset_stream(caplog):
    peer = Peer()
    limit = DEFAULT_BUDGETS[Abuse.RAPID_RESET].limit
    resets = 0
    for stream_id in range(1, 2 * (limit + 10), 2):
        peer.feed(
            headers_frame(peer, stream_id, request()) + raw(3, 0, stream_id, b"\x00\x00\x00\x08")
        )
        if peer.server.closed:
            break
        resets += 1
        peer.wire()
    assert resets == limit
    calmed(peer, Abuse.RAPID_RESET, caplog)
    # every app that was started was told its stream is gone
    started = {e.stream.stream_id for e in peer.server_saw(RequestReceived)}
    reset = {e.stream_id for e in peer.server_saw(StreamReset)}
    assert started == reset


def test_resets_spread_over_time_are_within_budget():
    peer = Peer()
    budget = DEFAULT_BUDGETS[Abuse.RAPID_RESET]
    stream_id = 1
    for _ in range(3):
        for _ in range(budget.limit):
            peer.feed(
                headers_frame(peer, stream_id, request())
                + raw(3, 0, stream_id, b"\x00\x00\x00\x08")
            )
            stream_id += 2
        peer.now += budget.interval
    assert not peer.server.closed
    assert peer.server.guard.totals[Abuse.RAPID_RESET] == 3 * budget.limit


def test_a_reset_after_the_response_completed_is_not_counted():
    peer = Peer()
    for stream_id in range(1, 2 * 300, 2):
        peer.feed(headers_frame(peer, stream_id, request(b"/", b"POST"), end_stream=False))
        peer.respond(stream_id, b"x")  # complete; the server resets the rest of the request
        peer.feed(raw(3, 0, stream_id, b"\x00\x00\x00\x08"))
    assert not peer.server.closed
    assert Abuse.RAPID_RESET not in peer.server.guard.totals


def test_ping_flood(caplog):
    peer = Peer()
    limit = DEFAULT_BUDGETS[Abuse.PING_FLOOD].limit
    peer.feed(b"".join(ping(n) for n in range(limit)))
    acks = [f for f in raw_frames(peer.wire()) if isinstance(f, hf.PingFrame)]
    assert len(acks) == limit and all("ACK" in f.flags for f in acks)
    peer.feed(b"".join(ping(n) for n in range(1000)))
    calmed(peer, Abuse.PING_FLOOD, caplog)


def test_settings_flood(caplog):
    peer = Peer()
    settings = hf.SettingsFrame(0, settings={hf.SettingsFrame.HEADER_TABLE_SIZE: 4096}).serialize()
    peer.feed(settings * 1000)
    calmed(peer, Abuse.SETTINGS_FLOOD, caplog)


def test_frames_on_a_stream_the_client_reset_get_one_rst_stream_then_are_ignored():
    peer = Peer()
    peer.feed(headers_frame(peer, 1, request(b"/", b"POST"), end_stream=False))
    peer.feed(raw(3, 0, 1, b"\x00\x00\x00\x00"))
    peer.wire()
    peer.feed(raw(0, 0, 1, b"x") * 1000)
    resets = [f for f in raw_frames(peer.wire()) if isinstance(f, hf.RstStreamFrame)]
    assert [(f.stream_id, f.error_code) for f in resets] == [(1, 5)]  # STREAM_CLOSED, once
    assert peer.server.guard.totals[Abuse.RESET_FLOOD] == 1


def test_zero_length_header_names_are_refused_and_count_as_resets(caplog):
    peer = Peer()
    bad = request(b"/", b"GET", (b"", b""))
    for stream_id in range(1, 1000, 2):
        peer.feed(headers_frame(peer, stream_id, bad))
        if peer.server.closed:
            break
    assert not peer.server_saw(RequestReceived)
    calmed(peer, Abuse.RESET_FLOOD, caplog)


def test_streams_beyond_the_concurrency_limit_count_as_resets(caplog):
    peer = Peer(limits(max_concurrent_streams=1))
    peer.feed(headers_frame(peer, 1, request(b"/", b"POST"), end_stream=False))
    for stream_id in range(3, 2000, 2):
        peer.feed(headers_frame(peer, stream_id, request()))
        if peer.server.closed:
            break
    calmed(peer, Abuse.RESET_FLOOD, caplog)
    assert len(peer.server_saw(RequestReceived)) == 1


def test_empty_data_frames_flood(caplog):
    peer = Peer()
    peer.feed(headers_frame(peer, 1, request(b"/", b"POST"), end_stream=False))
    peer.feed(raw(0, 0, 1, b"") * 1000)
    calmed(peer, Abuse.EMPTY_FRAMES, caplog)


def test_priority_frames_flood_the_resource_loop_way(caplog):
    peer = Peer()
    frames = b"".join(
        raw(2, 0, 1 + 2 * (n % 50), struct.pack(">LB", 1 + 2 * ((n + 1) % 50), n % 256))
        for n in range(1000)
    )
    peer.feed(frames)
    calmed(peer, Abuse.EMPTY_FRAMES, caplog)


def test_unknown_frame_types_flood(caplog):
    peer = Peer()
    peer.feed(raw(0xAB, 0, 0, b"") * 1000)
    calmed(peer, Abuse.EMPTY_FRAMES, caplog)


def test_data_dribble_by_window_opened_a_byte_at_a_time(caplog):
    peer = Peer()
    peer.feed(hf.SettingsFrame(0, settings={hf.SettingsFrame.INITIAL_WINDOW_SIZE: 0}).serialize())
    peer.feed(headers_frame(peer, 1, request()))
    peer.respond(1, b"x" * 100_000)  # the app's part waits in the queue: nothing copied per frame
    assert peer.streams[1].write_paused
    peer.wire()
    peer.feed(raw(8, 0, 1, b"\x00\x00\x00\x01") * 2000)
    calmed(peer, Abuse.DATA_DRIBBLE, caplog)


def test_a_small_window_that_is_not_reopened_in_steps_is_not_dribble():
    peer = Peer()
    peer.feed(hf.SettingsFrame(0, settings={hf.SettingsFrame.INITIAL_WINDOW_SIZE: 100}).serialize())
    for stream_id in range(1, 1200, 2):
        peer.feed(headers_frame(peer, stream_id, request()))
        peer.respond(stream_id, b"x" * 50)
    assert not peer.server.closed


def test_continuation_flood_of_bytes_is_bounded_by_the_header_list_size(caplog):
    peer = Peer(limits(max_fields=10, max_field_size=100))
    bound = peer.server.limits.max_header_list_size
    data = raw(1, 0, 1, b"") + raw(9, 0, 1, b"\x00" * 1000) * (bound // 1000 + 2)
    peer.feed(data)
    calmed(peer, Abuse.CONTINUATION_FLOOD, caplog)


def test_continuation_flood_of_empty_frames(caplog):
    peer = Peer()
    peer.feed(raw(1, 0, 1, peer.block(request())[:2]) + raw(9, 0, 1, b"") * 5000)
    calmed(peer, Abuse.CONTINUATION_FLOOD, caplog)  # more frames than a header block may span


def test_a_header_block_in_few_continuations_is_served():
    peer = Peer()
    block = peer.block(request(b"/", b"GET", *[(b"x-%d" % i, b"v" * 500) for i in range(40)]))
    pieces = [block[at : at + 16_000] for at in range(0, len(block), 16_000)]
    data = raw(1, 1, 1, pieces[0]) + b"".join(
        raw(9, 4 if p is pieces[-1] else 0, 1, p) for p in pieces[1:]
    )
    assert isinstance(peer.feed(data)[0], RequestReceived)


def hpack_bomb(peer: Peer, stream_id: int, references: int) -> bytes:
    """A block that puts one 4,000-byte field in the table (once), then references it
    ``references`` times at one byte each."""
    insert = _literal_with_indexing(b"x-bomb", b"B" * 4000) if stream_id == 1 else b""
    return headers_frame_from_block(
        stream_id, peer.block(request()) + insert + b"\xbe" * references
    )


def _literal_with_indexing(name: bytes, value: bytes) -> bytes:
    def integer(value: int, prefix: int, flags: int) -> bytes:
        limit = (1 << prefix) - 1
        if value < limit:
            return bytes((flags | value,))
        out = [flags | limit]
        value -= limit
        while value >= 128:
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        return bytes([*out, value])

    return b"\x40" + integer(len(name), 7, 0) + name + integer(len(value), 7, 0) + value


def headers_frame_from_block(stream_id: int, block: bytes) -> bytes:
    return hf.HeadersFrame(stream_id, block, flags=["END_HEADERS", "END_STREAM"]).serialize()


def test_an_hpack_bomb_gets_431_and_bounded_memory(caplog):
    peer = Peer()
    references = 2000  # 2,000 bytes that would decode to 8 MB
    peer.feed(hpack_bomb(peer, 1, references))
    assert not peer.server_saw(RequestReceived)
    fields, _ = decode_response(raw_frames(peer.wire()), 1)
    assert dict(fields)[b":status"] == b"431"
    assert peer.server._decoder.list_size > 8_000_000  # counted to the end: the table stays in step
    assert not peer.server.closed


def test_repeated_hpack_bombs_end_the_connection(caplog):
    peer = Peer()
    for stream_id in range(1, 100, 2):
        peer.feed(hpack_bomb(peer, stream_id, 300))
        if peer.server.closed:
            break
    calmed(peer, Abuse.HPACK_BOMB, caplog)


def test_unread_request_body_per_connection_is_bounded_by_streams_times_window():
    peer = Peer(limits(max_concurrent_streams=100))
    held = 0
    for stream_id in range(1, 200, 2):
        peer.feed(headers_frame(peer, stream_id, request(b"/", b"POST"), end_stream=False))
        for _ in range(4):  # 64 KiB per stream: the whole window, nobody reads
            for event in peer.feed(raw(0, 0, stream_id, b"u" * 16_383)):
                held += len(event.data)
    assert held == 100 * 4 * 16_383 <= 100 * 65_535
    events = peer.feed(raw(0, 0, 1, b"u" * 10))  # one byte more than the window: refused
    assert events[-1].error_code == 3 and not peer.server.closed
    assert not peer.server.closed
