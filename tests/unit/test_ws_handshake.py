"""The opening handshake: what makes an upgrade request valid, and the 101 response."""

from __future__ import annotations

import pytest

from asgi_master.worker.http.head import head_from_parts
from asgi_master.worker.http.writer import ResponseDefaults
from asgi_master.worker.ws.handshake import (
    AcceptError,
    HandshakeError,
    HandshakeRequest,
    accept_response,
    read_handshake,
)

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
GOOD = [
    (b"host", b"example.com"),
    (b"upgrade", b"websocket"),
    (b"connection", b"Upgrade"),
    (b"sec-websocket-key", KEY),
    (b"sec-websocket-version", b"13"),
]


def head(headers=GOOD, method=b"GET", version=b"1.1"):
    return head_from_parts(method, b"/chat", version, list(headers))


def without(name: bytes):
    return [h for h in GOOD if h[0] != name]


def test_a_valid_request_gives_its_key_subprotocols_and_extension_offers():
    request = read_handshake(
        head(
            [
                *GOOD,
                (b"sec-websocket-protocol", b"chat, superchat"),
                (b"sec-websocket-protocol", b"v2"),
                (b"sec-websocket-extensions", b"permessage-deflate; client_max_window_bits"),
            ]
        )
    )
    assert request.key == KEY
    assert request.subprotocols == ("chat", "superchat", "v2")
    assert request.extension_offers == (b"permessage-deflate; client_max_window_bits",)


@pytest.mark.parametrize(
    ("request_head", "reason"),
    [
        (head(method=b"POST"), "must be a GET request"),
        (head(version=b"1.0"), "needs HTTP/1.1"),
        (head([*GOOD, (b"content-length", b"5")]), "must not have a body"),
        (head(without(b"sec-websocket-version")), "missing Sec-WebSocket-Version"),
        (
            head([*without(b"sec-websocket-version"), (b"sec-websocket-version", b"8")]),
            "unsupported Sec-WebSocket-Version",
        ),
        (head(without(b"sec-websocket-key")), "missing Sec-WebSocket-Key"),
        (head([*GOOD, (b"sec-websocket-key", KEY)]), "repeated Sec-WebSocket-Key"),
        (
            head([*without(b"sec-websocket-key"), (b"sec-websocket-key", b"not base64!")]),
            "not 16 bytes",
        ),
        (
            head([*without(b"sec-websocket-key"), (b"sec-websocket-key", b"c2hvcnQ=")]),
            "not 16 bytes",
        ),
    ],
)
def test_an_invalid_upgrade_request_says_what_is_wrong(request_head, reason):
    with pytest.raises(HandshakeError, match=reason):
        read_handshake(request_head)


def test_the_101_response_carries_the_accept_token_from_rfc_6455():
    request = HandshakeRequest(KEY, (), ())
    response = accept_response(request, None, [], None)
    # the example of RFC 6455 section 1.3
    assert b"sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in response
    assert b"sec-websocket-protocol" not in response


def test_the_101_response_can_leave_out_the_server_header():
    response = accept_response(
        HandshakeRequest(KEY, (), ()), None, [], None, ResponseDefaults(b"", date=True)
    )
    assert b"server:" not in response


@pytest.mark.parametrize(
    "headers",
    [
        [(b"bad name", b"x")],
        [(b"x-ok", b"line\r\nbreak")],
        [("str", b"x")],
        [(b"only-a-name",)],
        [(b"Upgrade", b"h2c")],
    ],
)
def test_the_apps_accept_headers_are_validated(headers):
    with pytest.raises(AcceptError):
        accept_response(HandshakeRequest(KEY, (), ()), None, headers, None)
