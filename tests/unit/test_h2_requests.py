"""HTTP/2 request heads to the scope's parts (RFC 9113 8.1-8.3), and the malformed ones
answered with a stream error, in memory against the sans-IO connection."""

from __future__ import annotations

import h2.events
import pytest
from hyperframe import frame as hf

from asgi_master.worker.h2.errors import PROTOCOL_ERROR
from asgi_master.worker.h2.events import RequestBody, RequestEnded, RequestReceived, StreamReset

from .h2peer import Peer, decode_response, headers_frame, limits, raw_frames, request


def head_of(peer: Peer, headers, end_stream: bool = True):
    [event] = [
        e
        for e in peer.feed(headers_frame(peer, 1, headers, end_stream))
        if isinstance(e, RequestReceived)
    ]
    return event.head


def refused_with(peer: Peer, headers) -> int:
    """Send ``headers`` on stream 1; the RST_STREAM code the server answered with."""
    peer.feed(headers_frame(peer, 1, headers))
    [frame] = [f for f in raw_frames(peer.wire()) if isinstance(f, hf.RstStreamFrame)]
    assert frame.stream_id == 1
    assert not peer.server.closed
    return frame.error_code


def answered_with(peer: Peer, headers) -> int:
    """Send ``headers``; the status of the server's own response."""
    events = peer.feed(headers_frame(peer, 1, headers))
    assert not [e for e in events if isinstance(e, RequestReceived)]
    fields, _ = decode_response(raw_frames(peer.wire()), 1)
    return int(dict(fields)[b":status"])


def test_request_head_maps_to_the_scope_parts():
    peer = Peer()
    head = head_of(peer, request(b"/a%20b/c?x=1&y=%20", b"GET", (b"accept", b"*/*")))
    assert head.method == "GET"
    assert head.scheme == "https"
    assert head.path == "/a b/c"
    assert head.raw_path == b"/a%20b/c"
    assert head.query_string == b"x=1&y=%20"
    assert head.headers == [(b"host", b"example.com"), (b"accept", b"*/*")]


def test_authority_is_presented_as_host_first():
    peer = Peer()
    head = head_of(peer, request(b"/", b"GET", (b"x-a", b"1")))
    assert head.headers[0] == (b"host", b"example.com")
    assert head.authority == b"example.com"


def test_a_host_field_equal_to_authority_is_kept_once():
    peer = Peer()
    head = head_of(peer, request(b"/", b"GET", (b"host", b"Example.com")))
    assert head.headers == [(b"host", b"Example.com")]


def test_a_host_differing_from_authority_is_malformed():
    assert (
        refused_with(Peer(), request(b"/", b"GET", (b"host", b"other.example"))) == PROTOCOL_ERROR
    )


def test_request_without_authority_keeps_its_host_field():
    peer = Peer()
    head = head_of(
        peer, [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"), (b"host", b"h:8000")]
    )
    assert head.headers == [(b"host", b"h:8000")]
    assert head.authority is None


def test_several_cookie_fields_are_joined_with_semicolons():
    peer = Peer()
    head = head_of(
        peer,
        request(
            b"/",
            b"GET",
            (b"cookie", b"a=1"),
            (b"x-b", b"2"),
            (b"cookie", b"b=2"),
            (b"cookie", b"c=3"),
        ),
    )
    assert head.headers == [
        (b"host", b"example.com"),
        (b"cookie", b"a=1; b=2; c=3"),
        (b"x-b", b"2"),
    ]


def test_lowercase_method_is_uppercased_like_http1():
    assert head_of(Peer(), request(b"/", b"get")).method == "GET"


def test_content_length_and_expect_are_read():
    peer = Peer()
    head = head_of(
        peer,
        request(b"/", b"POST", (b"content-length", b"5"), (b"expect", b"100-Continue")),
        end_stream=False,
    )
    assert head.content_length == 5
    assert head.expect_continue


def test_options_asterisk_is_accepted():
    head = head_of(Peer(), request(b"*", b"OPTIONS"))
    assert head.path == "*"


def test_connect_names_only_its_authority():
    peer = Peer()
    head = head_of(
        peer, [(b":method", b"CONNECT"), (b":authority", b"db.example:5432")], end_stream=False
    )
    assert head.method == "CONNECT"
    assert head.path == "db.example:5432"


def test_body_and_end_come_as_events_in_order():
    peer = Peer()
    stream_id = peer.get(request(b"/", b"POST", (b"content-length", b"10")), end_stream=False)
    peer.client.send_data(stream_id, b"hello")
    peer.client.send_data(stream_id, b"world", end_stream=True)
    events = peer.to_server()
    assert events == [
        RequestBody(stream_id, b"hello"),
        RequestBody(stream_id, b"world"),
        RequestEnded(stream_id),
    ]


def test_trailers_end_the_request_and_are_dropped():
    peer = Peer()
    stream_id = peer.get(request(b"/", b"POST"), end_stream=False)
    peer.client.send_data(stream_id, b"x")
    peer.client.send_headers(stream_id, [(b"x-checksum", b"1")], end_stream=True)
    assert peer.to_server() == [RequestBody(stream_id, b"x"), RequestEnded(stream_id)]


def test_a_repeated_header_block_reuses_its_checked_head():
    peer = Peer()
    # the first block adds :authority to the table; the next two are the same bytes
    first, second, third = peer.get(), peer.get(), peer.get()
    heads = {e.stream.stream_id: e.head for e in peer.server_saw(RequestReceived)}
    assert heads[first] == heads[second] == heads[third]
    assert heads[second] is heads[third]  # shared: the adapter copies headers for the scope


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        (request(b"/", b"GET", (b"X-Upper", b"1")), "uppercase name"),
        (request(b"/", b"GET", (b"", b"1")), "empty name (CVE-2019-9516)"),
        (request(b"/", b"GET", (b"bad name", b"1")), "space in a name"),
        (request(b"/", b"GET", (b"x", b"a\x00b")), "NUL in a value"),
        (request(b"/", b"GET", (b"x", b"a\rb")), "CR in a value"),
        (request(b"/", b"GET", (b"x", b" a")), "leading whitespace"),
        (request(b"/", b"GET", (b"x", b"a\t")), "trailing whitespace"),
        (request(b"/", b"GET", (b"connection", b"keep-alive")), "connection"),
        (request(b"/", b"GET", (b"keep-alive", b"5")), "keep-alive"),
        (request(b"/", b"GET", (b"transfer-encoding", b"chunked")), "transfer-encoding"),
        (request(b"/", b"GET", (b"upgrade", b"h2c")), "upgrade"),
        (request(b"/", b"GET", (b"proxy-connection", b"x")), "proxy-connection"),
        (request(b"/", b"GET", (b"te", b"gzip")), "te other than trailers"),
        (request(b"/", b"GET", (b"content-length", b"x1")), "content-length not a number"),
        (
            request(b"/", b"GET", (b"content-length", b"1"), (b"content-length", b"2")),
            "two lengths",
        ),
        ([(b":scheme", b"https"), (b":path", b"/"), (b":authority", b"a")], "no :method"),
        ([(b":method", b"GET"), (b":path", b"/")], "no :scheme"),
        ([(b":method", b"GET"), (b":scheme", b"https")], "no :path"),
        (request(b""), "empty :path"),
        ([*request(b"/"), (b":method", b"GET")], "pseudo-header after a regular one"),
        ([(b":method", b"GET"), *request(b"/")], "repeated :method"),
        ([*request(b"/")[:2], (b":path", b"/"), (b":path", b"/x")], "repeated :path"),
        ([(b":status", b"200"), *request(b"/")], "response pseudo-header"),
        ([(b":foo", b"x"), *request(b"/")], "unknown pseudo-header"),
        ([*request(b"/"), (b":protocol", b"websocket")], ":protocol without extended CONNECT"),
        (
            [(b":method", b"CONNECT"), (b":authority", b"a:1"), (b":path", b"/")],
            "CONNECT with :path",
        ),
        ([(b":method", b"CONNECT")], "CONNECT without :authority"),
    ],
)
def test_malformed_request_gets_a_stream_error_protocol_error(headers, why):
    assert refused_with(Peer(), headers) == PROTOCOL_ERROR, why


def test_content_length_with_no_body_is_malformed():
    assert refused_with(Peer(), request(b"/", b"POST", (b"content-length", b"3"))) == PROTOCOL_ERROR


def test_body_longer_than_content_length_resets_the_stream_and_disconnects_the_app():
    peer = Peer()
    stream_id = peer.get(request(b"/", b"POST", (b"content-length", b"3")), end_stream=False)
    peer.client.send_data(stream_id, b"abcd", end_stream=True)
    events = peer.to_server()
    assert events == [StreamReset(stream_id, PROTOCOL_ERROR, False)]
    peer.to_client()
    assert [e.error_code for e in peer.client_saw(h2.events.StreamReset)] == [PROTOCOL_ERROR]


def test_body_shorter_than_content_length_is_malformed():
    peer = Peer()
    stream_id = peer.get(request(b"/", b"POST", (b"content-length", b"5")), end_stream=False)
    peer.client.send_data(stream_id, b"ab", end_stream=True)
    events = peer.to_server()
    assert events == [RequestBody(stream_id, b"ab"), StreamReset(stream_id, PROTOCOL_ERROR, False)]


def test_the_connection_lives_on_after_a_malformed_request():
    peer = Peer()
    refused_with(peer, request(b"/", b"GET", (b"X-Upper", b"1")))
    peer.feed(headers_frame(peer, 3, request()))
    peer.respond(3, b"ok")
    frames = raw_frames(peer.wire())
    assert decode_response(frames, 3)[1] == b"ok"
    assert not [f for f in frames if isinstance(f, hf.GoAwayFrame)]


def test_too_many_header_fields_get_431_like_http1():
    peer = Peer(limits(max_fields=3))
    extra = [(b"x-%d" % i, b"v") for i in range(4)]
    assert answered_with(peer, request(b"/", b"GET", *extra)) == 431


def test_a_field_longer_than_the_line_limit_gets_431():
    peer = Peer(limits(max_field_size=100))
    assert answered_with(peer, request(b"/", b"GET", (b"x-long", b"v" * 100))) == 431


def test_a_path_longer_than_the_request_line_limit_gets_414():
    peer = Peer(limits(max_target=64))
    assert answered_with(peer, request(b"/" + b"a" * 64)) == 414


def test_a_declared_body_above_the_limit_gets_413_before_the_app():
    peer = Peer(limits(max_body=10))
    assert answered_with(peer, request(b"/", b"POST", (b"content-length", b"11"))) == 413


def test_a_path_with_a_non_ascii_byte_gets_400():
    assert answered_with(Peer(), request(b"/caf\xc3\xa9")) == 400


def test_a_bad_authority_gets_400():
    assert (
        answered_with(
            Peer(),
            [
                (b":method", b"GET"),
                (b":scheme", b"https"),
                (b":authority", b"u@h"),
                (b":path", b"/"),
            ],
        )
        == 400
    )


def test_a_streamed_body_above_the_limit_gets_413_and_the_app_a_disconnect():
    peer = Peer(limits(max_body=4))
    stream_id = peer.get(request(b"/", b"POST"), end_stream=False)
    peer.client.send_data(stream_id, b"abc")
    peer.client.send_data(stream_id, b"de")
    events = peer.to_server()
    assert events == [RequestBody(stream_id, b"abc"), StreamReset(stream_id, 0, False)]
    peer.to_client()
    assert dict(peer.response_headers(stream_id))[b":status"] == b"413"
    assert peer.client_saw(h2.events.StreamReset)[0].error_code == 0  # NO_ERROR: stop sending
    # the app's late response is dropped, not an error
    peer.streams[stream_id].start(200, [], False)
    peer.streams[stream_id].body(b"late", False)
    assert peer.wire() == b""


def test_extended_connect_is_read_when_enabled():
    peer = Peer(limits(connect_protocol=True))
    head = head_of(
        peer,
        [
            (b":method", b"CONNECT"),
            (b":protocol", b"websocket"),
            (b":scheme", b"https"),
            (b":path", b"/chat"),
            (b":authority", b"a"),
        ],
        end_stream=False,
    )
    assert head.protocol == "websocket"
    assert head.path == "/chat"


def test_a_413_held_back_by_flow_control_still_goes_out_whole():
    peer = Peer(limits(max_body=4))
    peer.feed(hf.SettingsFrame(0, settings={hf.SettingsFrame.INITIAL_WINDOW_SIZE: 5}).serialize())
    peer.feed(headers_frame(peer, 1, request(b"/", b"POST"), end_stream=False))
    peer.feed(hf.DataFrame(1, b"abcdef").serialize())
    frames = raw_frames(peer.wire())
    assert not [f for f in frames if isinstance(f, hf.RstStreamFrame)]  # not before the 413
    peer.feed(hf.WindowUpdateFrame(1, 100).serialize())
    frames = raw_frames(peer.wire())
    assert [type(f) for f in frames] == [hf.DataFrame, hf.RstStreamFrame]
    assert "END_STREAM" in frames[0].flags and frames[1].error_code == 0
