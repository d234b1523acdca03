"""ResponseWriter: headers held until the first body part, framing chosen and enforced."""

from __future__ import annotations

import h11
import pytest

from asgi_master.config import Config
from asgi_master.worker.http.writer import (
    ResponseDefaults,
    ResponseError,
    ResponseWriter,
    http_date,
    simple_response,
)


def parse(wire: bytes, method: bytes = b"GET") -> tuple[h11.Response, bytes, list]:
    """Read a response back with an h11 client: the proof that what we wrote is valid."""
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method=method, target=b"/", headers=[(b"host", b"x")]))
    client.send(h11.EndOfMessage())
    client.receive_data(wire)
    response = client.next_event()
    assert isinstance(response, h11.Response)
    body = b""
    events = []
    while True:
        event = client.next_event()
        events.append(event)
        if isinstance(event, h11.Data):
            body += event.data
        if isinstance(event, h11.EndOfMessage) or event is h11.NEED_DATA:
            return response, body, events


def headers(response: h11.Response) -> dict[bytes, bytes]:
    return dict(response.headers)


def test_start_writes_nothing_and_the_first_body_carries_the_head():
    writer = ResponseWriter("GET", "1.1")
    writer.start(200, [(b"X-Custom", b"1")])
    assert writer.head_pending
    wire = writer.body(b"hello", more=False)
    response, body, _ = parse(wire)
    assert wire.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"x-custom: 1\r\n" in wire  # names lowercased on the wire
    assert body == b"hello"
    assert headers(response)[b"content-length"] == b"5"  # single part: a length, not chunked
    assert b"date" in headers(response) and headers(response)[b"server"] == b"asgi-master"


def test_streamed_body_without_length_is_chunked():
    writer = ResponseWriter("GET", "1.1")
    writer.start(200, [])
    wire = writer.body(b"a", more=True) + writer.body(b"", more=True) + writer.body(b"bc", False)
    response, body, _ = parse(wire)
    assert headers(response)[b"transfer-encoding"] == b"chunked"
    assert body == b"abc"


def test_empty_part_with_more_body_flushes_the_headers():
    writer = ResponseWriter("GET", "1.1")
    writer.start(200, [])
    wire = writer.body(b"", more=True)
    assert wire.endswith(b"\r\n\r\n") and wire.startswith(b"HTTP/1.1 200 OK")
    assert not writer.head_pending


def test_app_content_length_is_enforced_too_long():
    writer = ResponseWriter("GET", "1.1")
    writer.start(200, [(b"content-length", b"3")])
    with pytest.raises(ResponseError, match="longer than its content-length"):
        writer.body(b"toolong", more=False)
    assert writer.head_pending  # nothing left: a 500 is still possible


def test_app_content_length_is_enforced_too_short():
    writer = ResponseWriter("GET", "1.1")
    writer.start(200, [(b"content-length", b"10")])
    writer.body(b"abc", more=True)
    with pytest.raises(ResponseError, match="7 bytes short"):
        writer.body(b"", more=False)


def test_transfer_encoding_from_app_wins_over_content_length():
    writer = ResponseWriter("GET", "1.1")
    writer.start(200, [(b"content-length", b"99"), (b"transfer-encoding", b"chunked")])
    wire = writer.body(b"abc", more=True) + writer.body(b"", more=False)
    response, body, _ = parse(wire)
    assert b"content-length" not in headers(response)
    assert body == b"abc"


def test_head_response_has_the_get_headers_and_no_body():
    get = ResponseWriter("GET", "1.1")
    head = ResponseWriter("HEAD", "1.1")
    for writer in (get, head):
        writer.start(200, [(b"content-length", b"5"), (b"content-type", b"text/plain")])
    get_wire = get.body(b"hello", more=False)
    head_wire = head.body(b"hello", more=False)
    assert get_wire == head_wire + b"hello"


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses_get_no_framing_and_no_body(status):
    writer = ResponseWriter("GET", "1.1")
    writer.start(status, [])
    wire = writer.body(b"", more=False)
    assert b"content-length" not in wire and b"transfer-encoding" not in wire
    assert wire.endswith(b"\r\n\r\n")


def test_http10_streaming_without_length_is_close_delimited():
    writer = ResponseWriter("GET", "1.0")
    writer.start(200, [])
    wire = writer.body(b"abc", more=True)
    assert b"transfer-encoding" not in wire and b"connection: close\r\n" in wire
    assert writer.keep_alive is False


def test_http10_keep_alive_is_announced():
    writer = ResponseWriter("GET", "1.0")
    writer.start(200, [])
    assert b"connection: keep-alive\r\n" in writer.body(b"x", more=False)


def test_connection_close_from_the_app_closes_and_is_not_duplicated():
    writer = ResponseWriter("GET", "1.1")
    writer.start(200, [(b"Connection", b"close")])
    wire = writer.body(b"x", more=False)
    assert wire.count(b"connection:") == 1 and b"connection: close\r\n" in wire
    assert writer.keep_alive is False


def test_the_connections_decision_to_close_reaches_the_head():
    writer = ResponseWriter("GET", "1.1")
    writer.start(200, [])
    # e.g. a drain began while the app was working
    assert b"connection: close\r\n" in writer.body(b"x", more=False, keep_alive=False)
    assert writer.keep_alive is False


@pytest.mark.parametrize(
    ("headers_", "message"),
    [
        ([(b"bad name", b"x")], "not a valid token"),
        ([(b"x-a", b"evil\r\nset-cookie: 1")], "control character"),
        ([("x-str", b"v")], "must be bytes"),
        ([(b"only-one",)], "must be [name, value] pairs"),
        ([(b"content-length", b"abc")], "not a number"),
    ],
)
def test_invalid_headers_are_refused_before_anything_is_sent(headers_, message):
    writer = ResponseWriter("GET", "1.1")
    with pytest.raises(ResponseError) as err:
        writer.start(200, headers_)
    assert message in str(err.value)


@pytest.mark.parametrize("status", [99, 100, 101, 600, "200", None])
def test_status_must_be_a_final_code(status):
    with pytest.raises(ResponseError):
        ResponseWriter("GET", "1.1").start(status, [])


@pytest.mark.parametrize("length", [True, False])
def test_large_parts_come_as_pieces_that_join_to_the_same_wire(length):
    big = bytes(range(256)) * 256  # 64 KiB: above the join limit
    writer = ResponseWriter("GET", "1.1")
    writer.start(200, [(b"content-length", b"%d" % (2 * len(big)))] if length else [])
    first, second = writer.body(big, more=True), writer.body(big, more=False)
    assert isinstance(first, tuple)  # the head is not joined to 64 KiB of body
    if length:
        assert second is big  # later parts of a sized body go out as they are
    wire = b"".join(first) + (second if isinstance(second, bytes) else b"".join(second))
    _, body, _ = parse(wire)
    assert body == big + big


def defaults(**config) -> ResponseDefaults:
    return ResponseDefaults.from_config(Config(**config))


def test_the_headers_setting_reaches_every_response_and_the_apps_own_header_wins():
    writer = ResponseWriter("GET", "1.1", defaults(headers=["x-frame-options: DENY", "x-a: 1"]))
    writer.start(200, [(b"X-Frame-Options", b"SAMEORIGIN")])
    response, _, _ = parse(writer.body(b"x", more=False))
    assert headers(response)[b"x-frame-options"] == b"SAMEORIGIN"
    assert headers(response)[b"x-a"] == b"1"
    assert [n for n, _ in response.headers].count(b"x-frame-options") == 1


def test_date_and_server_can_be_turned_off_and_server_replaced():
    writer = ResponseWriter("GET", "1.1", defaults(date_header=False, server_header=False))
    writer.start(200, [])
    response, _, _ = parse(writer.body(b"x", more=False))
    assert b"date" not in headers(response) and b"server" not in headers(response)
    writer = ResponseWriter("GET", "1.1", defaults(headers=["Server: edge"]))
    writer.start(200, [])
    response, _, _ = parse(writer.body(b"x", more=False))
    assert headers(response)[b"server"] == b"edge"


def test_the_servers_own_responses_carry_the_defaults_too():
    wire = simple_response(503, b"busy\n", defaults=defaults(headers=["x-a: 1"], date_header=False))
    response, body, _ = parse(wire)
    assert (response.status_code, body) == (503, b"busy\n")
    assert headers(response)[b"x-a"] == b"1" and b"date" not in headers(response)


def test_a_content_type_in_the_headers_setting_leaves_the_servers_own_responses_one():
    settings = defaults(headers=["content-type: text/x-site", "x-a: 1"])
    response, _, _ = parse(simple_response(400, b"bad\n", defaults=settings))
    types = [value for name, value in response.headers if name == b"content-type"]
    assert types == [b"text/plain; charset=utf-8"] and headers(response)[b"x-a"] == b"1"
    # an app's response without one gets the setting's
    writer = ResponseWriter("GET", "1.1", settings)
    writer.start(200, [])
    response, _, _ = parse(writer.body(b"x", more=False))
    assert [v for n, v in response.headers if n == b"content-type"] == [b"text/x-site"]


@pytest.mark.parametrize(
    "seconds",
    [0, 951782400, 951868799, 1709208000, 1735689599, 1735689600, 2147483647, 4102444800],
)
def test_the_date_is_the_imf_fixdate_email_utils_writes(seconds):
    # the epoch, the leap days of 2000 and 2024, the turn of 2025, 2^31 - 1, the year 2100
    import email.utils

    assert http_date(seconds) == email.utils.formatdate(seconds, usegmt=True).encode("ascii")
