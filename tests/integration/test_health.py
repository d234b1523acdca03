"""Health paths answered by the worker, and the shutdown delay before a drain."""

from __future__ import annotations

import signal
import socket
import time

import httpx
import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.timeout(60)


def test_health_paths_answer_without_the_app_and_are_not_counted(start_server):
    server = start_server(
        "tests.apps.basic:app",
        "--workers",
        "1",
        "--health-live-path",
        "/livez",
        "--health-ready-path",
        "/readyz",
        "--max-requests",
        "3",
    )
    server.wait_ready()
    worker = server.workers()[0].pid
    for _ in range(10):
        assert httpx.get(server.url("/livez")).text == "ok\n"
        assert httpx.get(server.url("/readyz")).status_code == 200
    assert [p.pid for p in server.workers()] == [worker]  # 20 health checks, no recycling
    assert "/livez" not in server.out_path.read_text()
    assert httpx.get(server.url("/")).text.startswith("pid=")


def test_pipelined_health_checks_are_all_answered(start_server):
    server = start_server("tests.apps.basic:app", "--workers", "1", "--health-live-path", "/livez")
    server.wait_ready()
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        sock.sendall(
            b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n" * 2000
            + b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.count(b"HTTP/1.1 200 OK") == 2001


def test_shutdown_delay_keeps_serving_while_ready_says_503(start_server):
    server = start_server(
        "tests.apps.basic:app",
        "--workers",
        "1",
        "--health-ready-path",
        "/readyz",
        "--shutdown-delay",
        "4",
    )
    server.wait_ready()
    client = httpx.Client()
    assert client.get(server.url("/readyz")).status_code == 200
    started = time.monotonic()
    server.signal(signal.SIGTERM)
    wait_for(
        lambda: httpx.get(server.url("/readyz")).status_code == 503,
        timeout=10,
        what="ready to turn 503",
    )
    assert httpx.get(server.url("/")).status_code == 200  # still serving the app
    assert server.wait_exit(timeout=30) == 0
    assert time.monotonic() - started >= 3.5
