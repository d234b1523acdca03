"""HTTP/2 responses from the app's parts to frames: held heads, header rules, framing, trailers,
informational responses, the server's own 500 and aborts; an h2 client reads them."""

from __future__ import annotations

import h2.events
import pytest
from hyperframe import frame as hf

from asgi_master.worker.asgi import ResponseError
from asgi_master.worker.h2.errors import INTERNAL_ERROR

from .h2peer import DATE, Peer, raw_frames, request


def started(peer: Peer, headers=None, end_stream: bool = True):
    stream_id = peer.get(headers, end_stream=end_stream)
    return stream_id, peer.streams[stream_id]


def test_the_head_is_held_until_the_first_body_part():
    peer = Peer()
    _stream_id, stream = started(peer)
    stream.start(200, [(b"content-type", b"text/plain")], False)
    assert peer.wire() == b""
    stream.body(b"hello", False)
    frames = raw_frames(peer.wire())
    assert [type(f) for f in frames] == [hf.HeadersFrame, hf.DataFrame]
    assert "END_STREAM" in frames[1].flags


def test_a_one_part_response_gets_date_server_and_content_length():
    peer = Peer()
    stream_id, _ = started(peer)
    peer.respond(stream_id, b"hello", headers=[(b"Content-Type", b"text/plain")])
    peer.to_client()
    assert peer.response_headers(stream_id) == [
        (b":status", b"200"),
        (b"content-type", b"text/plain"),
        (b"date", DATE),
        (b"server", b"asgi-master"),
        (b"content-length", b"5"),
    ]
    assert peer.body_received(stream_id) == b"hello"


def test_apps_date_and_server_replace_ours():
    peer = Peer()
    stream_id, _ = started(peer)
    peer.respond(stream_id, b"", headers=[(b"date", b"x"), (b"server", b"y")])
    peer.to_client()
    fields = peer.response_headers(stream_id)
    assert (b"date", b"x") in fields and (b"server", b"y") in fields
    assert (b"server", b"asgi-master") not in fields


@pytest.mark.parametrize(
    "name", [b"connection", b"keep-alive", b"transfer-encoding", b"upgrade", b"proxy-connection"]
)
def test_connection_specific_fields_are_dropped(name):
    peer = Peer()
    stream_id, _ = started(peer)
    peer.respond(stream_id, b"x", headers=[(name, b"chunked"), (b"x-kept", b"1")])
    peer.to_client()
    names = [n for n, _ in peer.response_headers(stream_id)]
    assert name not in names and b"x-kept" in names


def test_values_lose_surrounding_whitespace():
    peer = Peer()
    stream_id, _ = started(peer)
    peer.respond(stream_id, b"", headers=[(b"x-a", b" padded\t")])
    peer.to_client()
    assert (b"x-a", b"padded") in peer.response_headers(stream_id)


@pytest.mark.parametrize(
    "headers",
    [
        [(b"x-a", b"a\r\nb")],
        [(b"bad name", b"1")],
        [("x-a", b"1")],
        [(b"x-a", "1")],
        [(b"content-length", b"x")],
        [b"x"],
    ],
)
def test_a_bad_header_raises_and_nothing_is_sent(headers):
    peer = Peer()
    _, stream = started(peer)
    with pytest.raises(ResponseError):
        stream.start(200, headers, False)
    assert peer.wire() == b""


def test_a_status_outside_200_599_raises():
    _, stream = started(Peer())
    with pytest.raises(ResponseError):
        stream.start(101, [], False)


def test_body_parts_are_streamed_and_the_last_ends_the_stream():
    peer = Peer()
    stream_id, stream = started(peer)
    stream.start(200, [], False)
    stream.body(b"a", True)
    stream.body(b"", True)
    stream.body(b"b", False)
    peer.to_client()
    assert peer.body_received(stream_id) == b"ab"
    assert b"content-length" not in dict(peer.response_headers(stream_id))
    assert peer.client_saw(h2.events.StreamEnded)


def test_an_empty_first_part_flushes_the_head():
    peer = Peer()
    stream_id, stream = started(peer)
    stream.start(200, [], False)
    stream.body(b"", True)
    peer.to_client()
    assert peer.response_headers(stream_id)[0] == (b":status", b"200")
    assert not peer.client_saw(h2.events.StreamEnded)


def test_a_part_larger_than_the_frame_size_is_cut_into_frames():
    peer = Peer()
    _stream_id, stream = started(peer)
    stream.start(200, [], False)
    stream.body(b"x" * 40_000, False)
    frames = [f for f in raw_frames(peer.wire()) if isinstance(f, hf.DataFrame)]
    assert [len(f.data) for f in frames] == [16_384, 16_384, 7_232]
    assert ["END_STREAM" in f.flags for f in frames] == [False, False, True]


def test_content_length_is_enforced_before_a_longer_part_is_sent():
    peer = Peer()
    _, stream = started(peer)
    stream.start(200, [(b"content-length", b"3")], False)
    with pytest.raises(ResponseError, match="longer"):
        stream.body(b"abcd", False)
    assert peer.wire() == b""


def test_a_response_ending_short_of_its_content_length_raises():
    _, stream = started(Peer())
    stream.start(200, [(b"content-length", b"3")], False)
    stream.body(b"a", True)
    with pytest.raises(ResponseError, match="short"):
        stream.body(b"b", False)


def test_head_response_keeps_the_headers_and_drops_the_body():
    peer = Peer()
    _stream_id, stream = started(peer, request(b"/", b"HEAD"))
    stream.start(200, [(b"content-length", b"100")], False)
    stream.body(b"ignored", False)
    frames = raw_frames(peer.wire())
    assert [type(f) for f in frames] == [hf.HeadersFrame]
    assert "END_STREAM" in frames[0].flags
    peer.feed(b"")


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses_send_no_data(status):
    peer = Peer()
    _, stream = started(peer)
    stream.start(status, [], False)
    stream.body(b"ignored", True)
    stream.body(b"", False)
    frames = raw_frames(peer.wire())
    assert not [f for f in frames if isinstance(f, hf.DataFrame) and f.data]
    assert "END_STREAM" in frames[-1].flags


def test_trailers_follow_the_body_as_a_headers_frame_ending_the_stream():
    peer = Peer()
    stream_id, stream = started(peer)
    stream.start(200, [], True)
    stream.body(b"data", False)
    stream.trailers([(b"x-checksum", b"1")], True)
    stream.trailers([(b"x-more", b"2")], False)
    peer.to_client()
    [trailers] = peer.client_saw(h2.events.TrailersReceived)
    assert list(trailers.headers) == [(b"x-checksum", b"1"), (b"x-more", b"2")]
    assert peer.body_received(stream_id) == b"data"


def test_early_hints_go_out_as_informational_headers_before_the_response():
    peer = Peer()
    _stream_id, stream = started(peer)
    stream.early_hint([b"</a.css>; rel=preload"])
    stream.start(200, [], False)
    stream.body(b"x", False)
    peer.to_client()
    [hint] = peer.client_saw(h2.events.InformationalResponseReceived)
    assert list(hint.headers) == [(b":status", b"103"), (b"link", b"</a.css>; rel=preload")]


def test_100_continue_is_sent_once_when_the_app_asks_for_the_body():
    peer = Peer()
    _stream_id, stream = started(
        peer, request(b"/", b"POST", (b"expect", b"100-continue")), end_stream=False
    )
    assert peer.wire() == b""
    stream.send_continue()
    stream.send_continue()
    peer.to_client()
    [info] = peer.client_saw(h2.events.InformationalResponseReceived)
    assert list(info.headers) == [(b":status", b"100")]


def test_no_100_continue_without_expect():
    peer = Peer()
    _, stream = started(peer, request(b"/", b"POST"), end_stream=False)
    stream.send_continue()
    assert peer.wire() == b""


def test_refuse_sends_the_servers_own_response_instead_of_the_held_head():
    peer = Peer()
    stream_id, stream = started(peer)
    stream.start(200, [(b"x-app", b"1")], False)
    stream.refuse(500, b"Internal Server Error", b"text/plain")
    peer.to_client()
    fields = peer.response_headers(stream_id)
    assert fields[0] == (b":status", b"500") and (b"x-app", b"1") not in fields
    assert (b"content-length", b"21") in fields
    assert peer.body_received(stream_id) == b"Internal Server Error"


def test_abort_resets_only_that_stream():
    peer = Peer()
    stream_id, stream = started(peer)
    stream.start(200, [], False)
    stream.body(b"part", True)
    stream.abort("app failed")
    peer.to_client()
    [reset] = peer.client_saw(h2.events.StreamReset)
    assert (reset.stream_id, reset.error_code) == (stream_id, INTERNAL_ERROR)
    second = peer.get()
    peer.respond(second, b"ok")
    peer.to_client()
    assert peer.body_received(second) == b"ok"


def test_the_first_header_block_starts_with_a_table_size_update_to_zero():
    peer = Peer()
    stream_id, _ = started(peer)
    peer.respond(stream_id, b"x")
    headers = next(f for f in raw_frames(peer.wire()) if isinstance(f, hf.HeadersFrame))
    assert headers.data[:1] == b"\x20"


def test_a_head_larger_than_the_frame_size_goes_on_in_continuation_frames():
    peer = Peer()
    _stream_id, stream = started(peer)
    stream.start(200, [(b"x-%d" % i, b"v" * 200) for i in range(100)], False)
    stream.body(b"x", False)
    data = peer.wire()
    kinds = [type(f) for f in raw_frames(data)]
    assert kinds[0] is hf.HeadersFrame and hf.ContinuationFrame in kinds
    peer.client.receive_data(data)  # h2 reassembles it without complaint


def test_a_response_while_the_client_still_sends_ends_with_rst_stream_no_error():
    peer = Peer()
    stream_id, _ = started(peer, request(b"/", b"POST"), end_stream=False)
    peer.respond(stream_id, b"early")
    peer.to_client()
    assert peer.body_received(stream_id) == b"early"
    [reset] = peer.client_saw(h2.events.StreamReset)
    assert reset.error_code == 0
    # the client's DATA in flight is ignored, not an error
    peer.feed(hf.DataFrame(stream_id, b"late").serialize())
    assert not [
        f for f in raw_frames(peer.wire()) if isinstance(f, hf.RstStreamFrame | hf.GoAwayFrame)
    ]


def test_a_file_body_gets_its_length_and_goes_out_in_parts():
    peer = Peer()
    stream_id, stream = started(peer)
    stream.start(200, [], False)
    stream.file_head(6)
    stream.body(b"abc", True)
    stream.body(b"def", False)
    peer.to_client()
    assert (b"content-length", b"6") in peer.response_headers(stream_id)
    assert peer.body_received(stream_id) == b"abcdef"


def test_a_file_body_not_matching_the_apps_content_length_raises_before_sending():
    peer = Peer()
    _, stream = started(peer)
    stream.start(200, [(b"content-length", b"5")], False)
    with pytest.raises(ResponseError, match="does not match"):
        stream.file_head(6)
    assert peer.wire() == b""


@pytest.mark.parametrize(
    "name",
    [
        "early_hint",
        "start",
        "body",
        "trailers",
        "send_continue",
        "body_consumed",
        "complete",
        "refuse",
        "abort",
    ],
)
def test_server_stream_has_the_synchronous_half_of_the_cycles_stream(name):
    import inspect

    from asgi_master.worker.h2.streams import ServerStream
    from asgi_master.worker.stream import Stream

    ours = inspect.signature(getattr(ServerStream, name))
    theirs = inspect.signature(getattr(Stream, name))
    assert list(ours.parameters) == list(theirs.parameters)
    assert hasattr(ServerStream, "write_paused")
