"""RequestReader: bytes in, request events out, fast path or h11, never a wrong framing."""

from __future__ import annotations

import pytest

from asgi_master.worker.http.head import RequestHead
from asgi_master.worker.http.reader import (
    CLOSED,
    END_OF_BODY,
    NEED_DATA,
    PAUSED,
    Body,
    Limits,
    ProtocolError,
    RequestReader,
)
from tests.unit.defaults import limits


def events(reader: RequestReader) -> list:
    out = []
    while True:
        event = reader.next_event()
        out.append(event)
        if event in (NEED_DATA, PAUSED, CLOSED):
            return out


def test_simple_get_takes_the_fast_path():
    reader = RequestReader(limits())
    reader.feed(b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n")
    head, paused = events(reader)
    assert isinstance(head, RequestHead)
    assert (head.method, head.target, head.http_version) == ("GET", b"/a?b=1", "1.1")
    assert head.headers == [(b"host", b"x"), (b"user-agent", b"t")]
    assert head.keep_alive and head.content_length is None
    assert paused is PAUSED  # no body: no END_OF_BODY either
    assert reader.request_complete
    assert reader.used_h11 == 0


def test_content_length_body_arriving_in_pieces():
    reader = RequestReader(limits())
    reader.feed(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234")
    head, body, need = events(reader)
    assert head.content_length == 10 and body == Body(b"01234") and need is NEED_DATA
    reader.feed(b"56789GET")
    assert events(reader) == [Body(b"56789"), END_OF_BODY, PAUSED]
    assert reader.buffered == 3  # the start of a pipelined request waits


def test_chunked_body_takes_the_fast_path_and_so_does_the_next_request():
    reader = RequestReader(limits())
    reader.feed(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    head, body, end, _ = events(reader)
    assert head.chunked and head.content_length is None
    assert body == Body(b"hello") and end is END_OF_BODY
    reader.next_cycle()
    head2, *_ = events(reader)
    assert head2.target == b"/next"
    assert reader.used_h11 == 0


def test_chunked_body_after_an_h11_head_is_decoded_by_the_same_strict_decoder():
    head = (
        b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    reader = RequestReader(limits())
    reader.feed(head + b"5\r\nhello\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n")
    first, body, end, _ = events(reader)
    assert first.expect_continue and body == Body(b"hello") and end is END_OF_BODY
    assert reader.used_h11 == 1
    reader.next_cycle()
    assert events(reader)[0].target == b"/next"
    assert reader.used_h11 == 1  # h11 read one head, and only that
    reader = RequestReader(limits())
    reader.feed(head + b"5;a=\x00\r\nhello\r\n0\r\n\r\n")  # h11 would take this
    with pytest.raises(ProtocolError) as err:
        events(reader)
    assert err.value.reason == "control character in a chunk extension"


def test_content_length_body_after_an_h11_head_is_read_like_a_fast_path_one():
    reader = RequestReader(limits())
    reader.feed(
        b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhel"
    )
    head, body, need = events(reader)
    assert head.expect_continue and reader.used_h11 == 1
    assert body == Body(b"hel") and need is NEED_DATA
    assert reader.take_body(b"loGET") == (b"lo", b"GET")
    assert reader.request_complete


def test_chunk_data_arriving_alone_is_handed_out_uncopied():
    reader = RequestReader(limits())
    reader.feed(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\na\r\n")
    assert events(reader)[-1] is NEED_DATA
    data = b"0123456"
    taken = reader.take_body(data)
    assert taken is not None and taken[0] is data and taken[1] == b""
    assert reader.take_body(b"789\r\n0\r\n\r\n") == (b"789", b"\r\n0\r\n\r\n")
    assert reader.take_body(b"\r\n") is None  # framing next: that is fed as usual
    reader.feed(b"\r\n0\r\n\r\n")
    assert events(reader) == [END_OF_BODY, PAUSED]


def test_pipelined_requests_wait_for_next_cycle():
    reader = RequestReader(limits())
    reader.feed(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
    first = events(reader)
    assert first[0].target == b"/1" and first[-1] is PAUSED
    assert events(reader) == [PAUSED]
    reader.next_cycle()
    assert events(reader)[0].target == b"/2"


def test_clean_close_between_requests():
    reader = RequestReader(limits())
    reader.feed(b"")
    assert events(reader) == [CLOSED]


def test_close_in_the_middle_of_a_body_is_an_error():
    reader = RequestReader(limits())
    reader.feed(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n012")
    events(reader)
    reader.feed(b"")
    with pytest.raises(ProtocolError) as err:
        reader.next_event()
    assert err.value.status == 400


def _status_of(raw: bytes, limits: Limits) -> int:
    reader = RequestReader(limits)
    reader.feed(raw)
    with pytest.raises(ProtocolError) as err:
        while reader.next_event() not in (NEED_DATA, PAUSED):
            pass
    return err.value.status


def test_header_line_over_limit_is_431():
    raw = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 300 + b"\r\n\r\n"
    assert _status_of(raw, limits(max_field_size=200)) == 431


def test_too_many_header_fields_is_431():
    raw = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: 1\r\n" * 5 + b"\r\n"
    assert _status_of(raw, limits(max_fields=4)) == 431


def test_long_request_line_is_414_even_before_the_head_is_complete():
    assert _status_of(b"GET /" + b"a" * 300 + b" HTTP/1.1\r\n\r\n", limits(max_line=200)) == 414
    assert _status_of(b"GET /" + b"a" * 300, limits(max_line=200)) == 414


def test_head_that_never_ends_is_431():
    raw = b"GET / HTTP/1.1\r\n" + b"X-A: 1\r\n" * 50
    assert _status_of(raw, limits(max_line=100, max_fields=4, max_field_size=64)) == 431


def test_declared_body_over_limit_is_413_before_reading_it():
    raw = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n"
    assert _status_of(raw, limits(max_body=1000)) == 413


def test_chunked_body_over_limit_is_413_while_streaming():
    raw = (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + (b"100\r\n" + b"a" * 256 + b"\r\n") * 5
    )
    assert _status_of(raw, limits(max_body=1000)) == 413


def test_obs_fold_is_refused():
    raw = b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\n\r\n"
    assert _status_of(raw, limits()) == 400


def test_content_length_with_transfer_encoding_is_refused():
    raw = (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    assert _status_of(raw, limits()) == 400


@pytest.mark.parametrize(
    "raw",
    [
        b"GET / HTTP/1.1\r\n\r\n",  # no Host
        b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",  # two Hosts
        b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",  # space before colon
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nBad\x00Header: y\r\n\r\n",
        b"GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / FOO/1.1\r\nHost: x\r\n\r\n",
    ],
)
def test_malformed_requests_are_rejected_by_h11(raw):
    reader = RequestReader(limits())
    reader.feed(raw)
    with pytest.raises(ProtocolError) as err:
        reader.next_event()
    assert 400 <= err.value.status < 600
    assert reader.used_h11 == 1


def test_transfer_encoding_other_than_chunked_is_refused_with_400():
    # RFC 9112 6.1: chunked must be the final coding, else 400 and close (h11 itself says 501)
    reader = RequestReader(limits())
    reader.feed(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n")
    with pytest.raises(ProtocolError) as err:
        reader.next_event()
    assert err.value.status == 400


def test_http10_without_keep_alive_closes_and_with_it_stays():
    reader = RequestReader(limits())
    reader.feed(b"GET / HTTP/1.0\r\n\r\n")
    assert events(reader)[0].keep_alive is False
    reader = RequestReader(limits())
    reader.feed(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert events(reader)[0].keep_alive is True


def test_connection_close_is_seen_on_either_path():
    for extra in (b"", b"Transfer-Encoding: chunked\r\n"):
        reader = RequestReader(limits())
        reader.feed(
            b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            + extra
            + b"Content-Length: 0\r\n\r\n"
            if not extra
            else b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra + b"\r\n0\r\n\r\n"
        )
        assert events(reader)[0].keep_alive is False


def test_expect_continue_and_upgrade_are_reported():
    reader = RequestReader(limits())
    reader.feed(b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    assert events(reader)[0].expect_continue is True
    reader = RequestReader(limits())
    reader.feed(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
    assert events(reader)[0].upgrade == b"websocket"


def test_bytes_after_an_upgrade_request_are_handed_back():
    reader = RequestReader(limits())
    reader.feed(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        b"\r\n\x81\x85frame"
    )
    head = reader.next_event()
    assert head.upgrade == b"websocket"
    assert reader.next_event() is PAUSED and reader.request_complete
    assert reader.take_trailing() == b"\x81\x85frame"


def test_long_header_line_is_refused_before_the_head_ends():
    reader = RequestReader(limits(max_field_size=100))
    reader.feed(b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 200)
    with pytest.raises(ProtocolError) as err:
        reader.next_event()
    assert err.value.status == 431


def test_head_arriving_byte_by_byte_is_parsed_once_complete():
    raw = b"GET /p HTTP/1.1\r\nHost: x\r\n" + b"X-A: 1\r\n" * 50 + b"\r\n"
    reader = RequestReader(limits())
    for byte in raw[:-1]:
        reader.feed(bytes([byte]))
        assert reader.next_event() is NEED_DATA
    reader.feed(raw[-1:])
    assert reader.next_event().target == b"/p"
