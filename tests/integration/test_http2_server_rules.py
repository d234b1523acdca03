"""The server's rules that are not HTTP/1.1's alone hold on HTTP/2 streams too, on a real
server with h2's client over h2c: the response-header settings (``headers``, ``server``,
``date_header``) on the app's responses and the server's own, the slow-body rule (a stream
whose body stalls gets its 408, the connection goes on), and request isolation (concurrent
streams of one connection never see each other's context variables)."""

from __future__ import annotations

import json
import re
import socket
import ssl
import time

import h2.events
import httpx
import pytest

from tests.conftest import free_port, run_cli
from tests.integration.h2socket import H2Socket, client_tls, tls_files

pytestmark = pytest.mark.timeout(60)


def test_the_response_header_settings_reach_http2_responses(start_server):
    server = start_server(
        "tests.apps.h2:app",
        "--workers",
        "1",
        "--no-date-header",
        "--headers",
        "x-edge: a",
        "--headers",
        "server: edge",
        "--health-ready-path",
        "/readyz",
    )
    server.wait_ready()
    client = H2Socket(server.port)
    try:
        app_stream = client.request("/")
        own_stream = client.request("/readyz")
        client.read_until(lambda c: c.ended(app_stream) and c.ended(own_stream))
        for stream in (app_stream, own_stream):
            headers = client.headers(stream)
            assert headers[b":status"] == b"200"
            assert headers[b"x-edge"] == b"a" and headers[b"server"] == b"edge"
            assert b"date" not in headers
        assert client.body(own_stream) == b"ok\n"
    finally:
        client.close()


def test_the_app_s_header_replaces_the_setting_s_on_http2(start_server):
    server = start_server(
        "tests.apps.h2:app",
        "--workers",
        "1",
        "--headers",
        "content-type: application/x-default",
        "--health-live-path",
        "/livez",
    )
    server.wait_ready()
    client = H2Socket(server.port)
    try:
        app_stream = client.request("/")
        own_stream = client.request("/livez")
        client.read_until(lambda c: c.ended(app_stream) and c.ended(own_stream))
        for stream in (app_stream, own_stream):
            [fields] = [
                e.headers for e in client.saw(h2.events.ResponseReceived) if e.stream_id == stream
            ]
            # the app's (and the health answer's) content-type, once; server and date as ever
            assert [v for n, v in fields if n == b"content-type"] == [b"text/plain"] or [
                v for n, v in fields if n == b"content-type"
            ] == [b"text/plain; charset=utf-8"], fields
            names = [n for n, _ in fields]
            assert names.count(b"server") == 1 and names.count(b"date") == 1, fields
    finally:
        client.close()


def test_a_stream_whose_body_stalls_gets_408_and_the_connection_goes_on(start_server):
    metrics = free_port()
    server = start_server(
        "tests.apps.uploads:app",
        "--workers",
        "1",
        "--request-body-timeout",
        "3",
        "--request-body-min-rate",
        "500",
        "--metrics-bind",
        f"127.0.0.1:{metrics}",
    )
    server.wait_ready()
    client = H2Socket(server.port, timeout=30)
    try:
        began = time.monotonic()
        stalled = client.request(
            "/upload", "POST", b"x", headers=[(b"content-length", b"100000")], end_stream=False
        )
        client.read_until(lambda c: c.status(stalled) is not None, timeout=30)
        waited = time.monotonic() - began
        assert client.status(stalled) == 408
        # the rule: 3 s, plus 1 s per 500 bytes received; the sweep runs once a second
        assert 2.0 <= waited <= 20.0, waited
        after = client.request("/upload", "POST", b"y" * 1000)
        client.read_until(lambda c: c.ended(after), timeout=20)
        assert client.status(after) == 200 and client.body(after) == b"1000"
        assert client.goaways() == []
    finally:
        client.close()
    text = httpx.get(f"http://127.0.0.1:{metrics}/metrics", timeout=5).text
    match = re.search(r"^asgi_master_request_body_timeouts_total (\S+)$", text, re.MULTILINE)
    assert match and float(match.group(1)) == 1.0, text[-2000:]
    log = server.log_path.read_text(errors="replace")
    assert len(re.findall(r"request body too slow: 1 bytes in \d+s .*: 408", log)) == 1, log


def test_concurrent_streams_of_one_connection_each_run_in_their_own_context(start_server):
    server = start_server("tests.apps.isolation:app", "--workers", "1")
    server.wait_ready()
    client = H2Socket(server.port)
    try:
        streams = {client.request(f"/s{n}", "POST", b"z" * n * 100): n for n in range(1, 21)}
        client.read_until(lambda c: all(c.ended(s) for s in streams), timeout=30)
        for stream, n in streams.items():
            assert client.status(stream) == 200
            report = json.loads(client.body(stream))
            assert report["path"] == f"/s{n}" and report["body"] == n * 100
            assert report["found"] is None, report
            assert report["deployment"] == "boot" and report["still_ours"], report
    finally:
        client.close()


def assert_ended_with_protocol_error(data: bytes) -> None:
    """``data`` (all the server sent before it closed) is HTTP/2 frames, not an HTTP/1.1
    answer, and the last is GOAWAY (type 7) PROTOCOL_ERROR (1)."""
    assert b"HTTP/1.1" not in data
    frames = []
    while len(data) >= 9:
        length = int.from_bytes(data[:3], "big")
        frames.append((data[3], data[9 : 9 + length]))
        data = data[9 + length :]
    assert frames[-1][0] == 7 and int.from_bytes(frames[-1][1][4:8], "big") == 1, frames


def test_an_http2_only_port_answers_http2_and_ends_anything_else_with_goaway(start_server):
    server = start_server("tests.apps.h2:app", "--workers", "1", "--http2-only")
    server.wait_ready()
    client = H2Socket(server.port)
    try:
        stream = client.request("/")
        client.read_until(lambda c: c.ended(stream))
        assert client.status(stream) == 200 and client.body(stream) == b"hello 2"
    finally:
        client.close()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert_ended_with_protocol_error(data)


def test_an_http2_only_tls_port_offers_h2_alone_and_ends_http11_with_goaway(start_server, tmp_path):
    certfile, cafile = tls_files(tmp_path)
    server = start_server(
        "tests.apps.h2:app", "--workers", "1", "--http2-only", "--certfile", certfile
    )
    server.wait_ready()
    with tls_socket(server.port, cafile, ["http/1.1", "h2"]) as sock:
        assert sock.selected_alpn_protocol() == "h2"  # whatever the client's order
    with tls_socket(server.port, cafile, ["http/1.1"]) as sock:
        assert sock.selected_alpn_protocol() is None
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert_ended_with_protocol_error(data)


def tls_socket(port: int, cafile: str, alpn: list[str]) -> ssl.SSLSocket:
    context = client_tls(cafile)
    context.set_alpn_protocols(alpn)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def test_http2_only_without_http2_is_a_one_line_error():
    result = run_cli("tests.apps.h2:app", "--no-http2", "--http2-only", "--check-config")
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "http2_only" in line and "needs http2 = true" in line
