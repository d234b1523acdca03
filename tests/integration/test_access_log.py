"""Every response that leaves a real server gets exactly one access-log line in the configured
format, and is counted, whoever made it: the app, a health path, or the server itself refusing
a request (400, 408, 413, 414, 431, 503, 500) or cutting one off at the end of a drain."""

from __future__ import annotations

import json
import signal
import socket

import httpx
import pytest

from tests.conftest import Server, free_port, wait_for

pytestmark = pytest.mark.timeout(90)
APP = "tests.apps.basic:app"


def access_lines(server: Server) -> list[dict]:
    """The JSON access-log lines written so far (``--log-format json``)."""
    records = []
    for line in server.out_path.read_text().splitlines():
        if "{" in line:
            record = json.loads(line[line.index("{") :])
            if "status" in record:
                records.append(record)
    return records


def exchange(server: Server, raw: bytes) -> bytes:
    """Send ``raw``, read until the server closes (the refusals all close)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(raw)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def requests_counted(server: Server, port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    line = next(x for x in text.splitlines() if x.startswith("asgi_master_requests_total "))
    return float(line.split()[1])


REFUSALS = [
    (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400, "-"),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "-"),
    (b"GET /h HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", 431, "-"),
    (b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n", 413, "-"),
    (b"GET /raise HTTP/1.1\r\nHost: x\r\n\r\n", 500, "/raise"),
]


def test_every_refusal_of_the_server_is_one_access_line_and_counted(start_server):
    metrics_port = free_port()
    server = start_server(
        APP,
        "--workers",
        "1",
        "--log-format",
        "json",
        "--limit-request-body",
        "10",
        "--metrics-bind",
        f"127.0.0.1:{metrics_port}",
    )
    server.wait_ready()
    for raw, status, _ in REFUSALS:
        response = exchange(server, raw)
        assert response.startswith(b"HTTP/1.1 %d " % status), response[:100]
    lines = wait_for(
        lambda: (found := access_lines(server)) and len(found) >= len(REFUSALS) and found,
        timeout=20,
        what="an access line for each refusal",
    )
    assert [(r["status"], r["path"]) for r in lines] == [(s, p) for _, s, p in REFUSALS]
    assert all(r["bytes"] > 0 for r in lines)  # each carried its reason as the body
    wait_for(
        lambda: requests_counted(server, metrics_port) == len(REFUSALS),
        timeout=20,
        what="the refusals counted in asgi_master_requests_total",
    )


def test_a_request_head_too_slow_gets_408_and_its_line(start_server):
    server = start_server(
        APP, "--workers", "1", "--log-format", "json", "--request-header-timeout", "1"
    )
    server.wait_ready()
    response = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\n")  # the head never ends
    assert response.startswith(b"HTTP/1.1 408 ")
    record = wait_for(
        lambda: next(iter(access_lines(server)), None), timeout=20, what="the 408's access line"
    )
    assert (record["status"], record["method"], record["path"]) == (408, "-", "-")


def test_a_503_under_limit_concurrency_is_logged_with_its_request(start_server):
    server = start_server(APP, "--workers", "1", "--log-format", "json", "--limit-concurrency", "1")
    server.wait_ready()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as held:
        # a kept-alive connection the worker has certainly accepted: a second one is too many
        held.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert held.recv(65536).startswith(b"HTTP/1.1 200 ")
        response = exchange(server, b"GET /refused?q=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 503 ")
    record = wait_for(
        lambda: next((r for r in access_lines(server) if r["status"] == 503), None),
        timeout=20,
        what="the 503's access line",
    )
    assert (record["method"], record["path"], record["query"]) == ("GET", "/refused", "q=1")


def test_a_health_path_line_follows_the_access_log_format(start_server):
    server = start_server(
        APP,
        "--workers",
        "1",
        "--log-format",
        "json",
        "--health-live-path",
        "/livez",
        "--health-access-log",
    )
    server.wait_ready()
    assert httpx.get(server.url("/livez"), timeout=10).text == "ok\n"
    record = wait_for(
        lambda: next((r for r in access_lines(server) if r["path"] == "/livez"), None),
        timeout=20,
        what="the health path's access line",
    )
    assert (record["status"], record["method"], record["bytes"]) == (200, "GET", 3)


def test_a_response_cut_off_by_the_graceful_timeout_is_logged(start_server):
    server = start_server(
        "tests.apps.http_features:app",
        "--workers",
        "1",
        "--log-format",
        "json",
        "--graceful-timeout",
        "2",
    )
    server.wait_ready()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(b"GET /firehose HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 200 ")
        server.signal(signal.SIGTERM)  # the client reads no more: the drain cuts it off
        assert server.wait_exit(timeout=30) == 0
    record = next(r for r in access_lines(server) if r["path"] == "/firehose")
    assert record["status"] == 200 and 0 < record["bytes"] < 3200 * 65536
