"""The response-header settings on a real server: the ``headers`` setting on the app's
responses, on the server's own refusals and on a WebSocket's 101; ``date`` turned off."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.timeout(60)


def head_of(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data and (chunk := sock.recv(65536)):
            data += chunk
    return data.partition(b"\r\n\r\n")[0].lower()


def test_the_headers_setting_and_no_date_reach_every_kind_of_response(start_server):
    server = start_server(
        "tests.apps.ws:app",
        "--workers",
        "1",
        "--no-date-header",
        "--headers",
        "Strict-Transport-Security: max-age=63072000",
        "--headers",
        "x-edge: a",
    )
    server.wait_ready()
    response = httpx.get(server.url("/"), timeout=10)
    assert response.headers["strict-transport-security"] == "max-age=63072000"
    assert response.headers["x-edge"] == "a" and "date" not in response.headers
    refused = head_of(server.port, b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n")
    assert refused.startswith(b"http/1.1 400 ")
    assert b"\r\nx-edge: a" in refused and b"\r\ndate:" not in refused
    upgraded = head_of(
        server.port,
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    assert upgraded.startswith(b"http/1.1 101 ") and b"\r\nx-edge: a" in upgraded


def test_a_framing_header_in_the_headers_setting_is_a_one_line_error():
    result = run_cli("tests.apps.ws:app", "--headers", "content-length: 0", "--check-config")
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "headers" in line and "content-length: 0" in line and "framing header" in line
