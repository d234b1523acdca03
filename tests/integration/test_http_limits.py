"""HTTP limits, timeouts, flow control and zero-copy files against a real server."""

from __future__ import annotations

import os
import socket
import threading
import time

import httpx
import pytest

from tests.conftest import wait_for, wait_until_stable

pytestmark = pytest.mark.timeout(90)
APP = "tests.apps.http_features:app"


def raw_exchange(port: int, data: bytes, timeout: float = 20.0) -> bytes:
    """Send ``data``, read until the server closes (bounded by ``timeout``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.fixture
def server(start_server):
    srv = start_server(
        APP,
        "--workers",
        "1",
        "--request-header-timeout",
        "2",
        "--keepalive-timeout",
        "2",
        "--limit-request-body",
        "1MiB",
        "--limit-request-line",
        "1024",
        "--limit-request-fields",
        "20",
        "--limit-request-field-size",
        "512",
    )
    srv.wait_ready()
    return srv


def test_slowloris_gets_408_and_is_disconnected(server):
    started = time.monotonic()
    reply = raw_exchange(server.port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    assert reply.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert time.monotonic() - started < 15


def test_slowloris_dripping_bytes_is_still_cut_off(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        started = time.monotonic()
        reply = b""
        while time.monotonic() - started < 15:
            try:
                sock.sendall(b"X-A: 1\r\n")
            except OSError:
                break
            sock.settimeout(0.5)
            try:
                reply += sock.recv(4096)
                if reply:
                    break
            except TimeoutError:
                continue
    assert reply.startswith(b"HTTP/1.1 408")


def test_connection_that_never_sends_a_byte_is_closed(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        assert sock.recv(1) == b""


def test_declared_body_over_the_limit_gets_413_without_100_continue(server):
    reply = raw_exchange(
        server.port,
        b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2000000\r\n\r\n",
    )
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert b"100 Continue" not in reply


def test_chunked_body_over_the_limit_gets_413(server):
    chunk = b"10000\r\n" + b"a" * 0x10000 + b"\r\n"
    reply = raw_exchange(
        server.port,
        b"POST /slow-reader HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 20,
    )
    assert reply.startswith(b"HTTP/1.1 413 ")


def test_long_request_line_gets_414(server):
    reply = raw_exchange(server.port, b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 414 ")


def test_too_many_or_too_long_headers_get_431(server):
    many = b"".join(b"X-%d: 1\r\n" % i for i in range(30))
    assert raw_exchange(server.port, b"GET / HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n").startswith(
        b"HTTP/1.1 431 "
    )
    long = b"X-Long: " + b"a" * 1000 + b"\r\n"
    assert raw_exchange(server.port, b"GET / HTTP/1.1\r\nHost: x\r\n" + long + b"\r\n").startswith(
        b"HTTP/1.1 431 "
    )


def test_limit_concurrency_answers_503_with_retry_after(start_server):
    server = start_server(
        APP, "--workers", "1", "--limit-concurrency", "1", "--graceful-timeout", "1"
    )
    server.wait_ready()
    holder = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    try:
        # one request in flight for 5 s: the 503 probe has the whole 5 s to see it
        holder.sendall(b"GET /sleep?5 HTTP/1.1\r\nHost: x\r\n\r\n")

        def rejected() -> httpx.Response | None:
            response = httpx.get(server.url("/"), timeout=10)
            return response if response.status_code == 503 else None

        response = wait_for(rejected, timeout=20, what="a 503")
        assert response.headers["retry-after"] == "1"
    finally:
        holder.close()
    wait_for(
        lambda: httpx.get(server.url("/"), timeout=10).status_code == 200,
        timeout=30,
        what="capacity back once the busy request ended",
    )


def test_pathsend_sends_the_file_exactly(start_server, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    server = start_server(APP, "--workers", "1")
    server.wait_ready()
    response = httpx.get(server.url(f"/file?{path}"), timeout=30)
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(data))
    assert response.content == data
    head = httpx.head(server.url(f"/file?{path}"), timeout=30)
    assert head.headers["content-length"] == str(len(data)) and head.content == b""


def test_pathsend_to_a_missing_file_is_a_clean_500(start_server):
    server = start_server(APP, "--workers", "1")
    server.wait_ready()
    assert httpx.get(server.url("/file?/nonexistent/file"), timeout=10).status_code == 500
    assert "cannot open /nonexistent/file" in server.log


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_large_upload_to_a_slow_reader_keeps_worker_memory_bounded(start_server, framing):
    server = start_server(APP, "--workers", "1", "--limit-request-body", "0")
    server.wait_ready()
    rss_before = int(httpx.get(server.url("/rss")).text)
    size = 200 * 1024 * 1024
    block = b"x" * (256 * 1024)
    peak = [rss_before]
    stop = threading.Event()

    def watch() -> None:
        worker = server.workers()[0]
        while not stop.is_set():
            peak[0] = max(peak[0], worker.memory_info().rss // 1024)
            time.sleep(0.2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
            if framing == "chunked":
                sock.sendall(
                    b"POST /slow-reader HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                )
                piece = b"%x\r\n%s\r\n" % (len(block), block)
            else:
                sock.sendall(
                    b"POST /slow-reader HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size
                )
                piece = block
            for _ in range(size // len(block)):
                sock.sendall(piece)
            if framing == "chunked":
                sock.sendall(b"0\r\n\r\n")
            reply = sock.recv(65536)
    finally:
        stop.set()
        watcher.join()
    assert reply.startswith(b"HTTP/1.1 200 OK")
    assert reply.endswith(b"%d" % size)
    growth_mib = (peak[0] - rss_before) / 1024
    # The requirement is < 32 MiB. Measured here: about 1 MiB with read flow control, about
    # 21 MiB with it disabled, so the bound is set where it tells the two apart.
    assert growth_mib < 8, f"worker RSS grew {growth_mib:.1f} MiB during a 200 MB upload"


def test_client_that_stops_reading_makes_send_wait_instead_of_buffering(start_server, tmp_path):
    server = start_server(APP, "--workers", "1")
    server.wait_ready()
    rss_before = int(httpx.get(server.url("/rss")).text)
    worker = server.workers()[0]
    progress = tmp_path / "sent"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(b"GET /firehose?%s HTTP/1.1\r\nHost: x\r\n\r\n" % str(progress).encode())
        sock.recv(1024)  # the response has started
        # read nothing: without write flow control the app would push all 200 MB into the
        # transport's buffer and settle at the end; with it, it stops soon and stays
        wait_for(progress.exists, timeout=20, what="the app to report its progress")
        sent = wait_until_stable(
            lambda: int(progress.read_text()), timeout=60, what="the app's progress"
        )
        rss = worker.memory_info().rss // 1024
    assert sent < 3200 // 4, f"the app sent {sent} of 3200 parts to a client reading nothing"
    growth_mib = (rss - rss_before) / 1024
    # measured: about 0 MiB with flow control; the full 200 MB would be queued without it
    assert growth_mib < 16, f"worker RSS grew {growth_mib:.1f} MiB while the client read nothing"
