"""Each request runs in its own context: a request never sees the context variables another
request (or the lifespan) set, whichever code path started it, and every one sees what the
worker's boot set. Played with raw sockets against a real server: pipelined requests (the next
one is started from inside the previous one's ``send``), a pipeline behind a 256 KiB body (the
read resumed from the app's ``receive``), keep-alive, a WebSocket upgrade in a pipeline, and
FastAPI with a request-id middleware."""

from __future__ import annotations

import base64
import json
import os
import socket

import pytest

from tests.conftest import Server

pytestmark = pytest.mark.timeout(60)

APP = "tests.apps.isolation:app"


def read_responses(
    sock: socket.socket, count: int
) -> list[tuple[bytes, dict[bytes, bytes], bytes]]:
    """Read ``count`` Content-Length responses: (status line, headers, body) each."""
    buffer = b""
    responses = []
    while len(responses) < count:
        while b"\r\n\r\n" not in buffer:
            data = sock.recv(65536)
            assert data, f"connection closed after {len(responses)} responses"
            buffer += data
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        status, *lines = head.split(b"\r\n")
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines)
        }
        length = int(headers[b"content-length"])
        while len(buffer) < length:
            data = sock.recv(65536)
            assert data, "connection closed inside a body"
            buffer += data
        responses.append((status, headers, buffer[:length]))
        buffer = buffer[length:]
    return responses


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode()


def post(path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    )


@pytest.fixture
def server(start_server) -> Server:
    server = start_server(APP, "--workers", "1", "--no-access-log")
    server.wait_ready()
    return server


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return sock


def reports(sock: socket.socket, count: int) -> list[dict]:
    return [json.loads(body) for _, _, body in read_responses(sock, count)]


def test_pipelined_requests_each_start_in_a_fresh_context(server):
    with connect(server) as sock:
        sock.sendall(get("/first") + get("/second") + get("/third"))
        found = reports(sock, 3)
    assert [r["path"] for r in found] == ["/first", "/second", "/third"]
    assert [r["found"] for r in found] == [None, None, None]
    assert all(r["still_ours"] for r in found)


def test_a_pipelined_request_behind_a_256_kib_body_starts_in_a_fresh_context(server):
    # reading pauses while the body waits for the app and resumes from its receive: the
    # request behind it is read on that path
    body = os.urandom(256 * 1024)
    with connect(server) as sock:
        sock.sendall(post("/upload", body) + get("/after") + post("/again", body) + get("/last"))
        found = reports(sock, 4)
    assert [r["path"] for r in found] == ["/upload", "/after", "/again", "/last"]
    assert [r["body"] for r in found] == [len(body), 0, len(body), 0]
    assert [r["found"] for r in found] == [None, None, None, None]


def test_keep_alive_requests_each_start_in_a_fresh_context(server):
    with connect(server) as sock:
        for path in ("/one", "/two", "/three"):
            sock.sendall(get(path))
            (report,) = reports(sock, 1)
            assert report["path"] == path
            assert report["found"] is None


def test_every_request_sees_what_the_worker_boot_set(server):
    with connect(server) as sock:
        sock.sendall(get("/a") + get("/b"))
        assert [r["deployment"] for r in reports(sock, 2)] == ["boot", "boot"]


def test_the_lifespan_starts_from_the_boot_context_and_leaks_into_no_request(server):
    with connect(server) as sock:
        sock.sendall(get("/lifespan") + get("/next"))
        lifespan, after = reports(sock, 2)
    assert lifespan["lifespan_found"] is None
    assert lifespan["lifespan_deployment"] == "boot"
    # the lifespan task set request_id to "lifespan": no request finds it
    assert lifespan["found"] is None
    assert after["found"] is None


def test_a_websocket_upgraded_in_a_pipeline_starts_in_a_fresh_context(server):
    key = base64.b64encode(os.urandom(16)).decode()
    upgrade = (
        "GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    with connect(server) as sock:
        # the upgrade is taken from the buffer by the first request's send
        sock.sendall(get("/before") + upgrade)
        (before,) = reports(sock, 1)
        assert before["found"] is None
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            buffer += sock.recv(65536)
        head, _, frames = buffer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101")
        while len(frames) < 2 or len(frames) < 2 + (frames[1] & 0x7F):
            frames += sock.recv(65536)
        assert frames[0] == 0x81  # one final text frame
        length = frames[1] & 0x7F
        assert length < 126
        report = json.loads(frames[2 : 2 + length])
    assert report["path"] == "/ws"
    assert report["found"] is None


def test_fastapi_request_id_middleware_sees_no_other_request(start_server):
    pytest.importorskip("fastapi", reason="fastapi is not installed (extra 'frameworks')")
    server = start_server("tests.apps.isolation_fastapi:app", "--workers", "1", "--no-access-log")
    server.wait_ready(timeout=40)
    body = os.urandom(256 * 1024)
    with connect(server) as sock:
        sock.sendall(get("/item/a") + get("/item/b") + post("/upload/c", body) + get("/item/d"))
        responses = read_responses(sock, 4)
        sock.sendall(get("/item/e"))
        responses += read_responses(sock, 1)
    assert [status.split(b" ")[1] for status, _, _ in responses] == [b"200"] * 5
    assert [headers[b"x-found"] for _, headers, _ in responses] == [b"None"] * 5
    bodies = [json.loads(body) for _, _, body in responses]
    assert [b["seen"] for b in bodies] == ["/item/a", "/item/b", "/upload/c", "/item/d", "/item/e"]
    assert bodies[2]["size"] == len(body)
