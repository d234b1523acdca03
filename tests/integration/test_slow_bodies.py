"""Slow request bodies against a real server: the attack of slowhttptest -B (R-U-Dead-Yet:
many POSTs whose bodies trickle in a few bytes at a time) is cut off within the slow-body
rule's bound, with a 408, one log line each and the metrics' count, while a slow but honest
upload and an app slow to read its body are left alone. The bound is set to a few seconds so
the test is short; every margin asserted is a second or more."""

from __future__ import annotations

import contextlib
import re
import select
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, free_port, wait_for

pytestmark = pytest.mark.timeout(90)

APP = "tests.apps.uploads:app"
TIMEOUT = 3  # request_body_timeout in these tests
MIN_RATE = 500


def start(start_server, *extra: str) -> tuple[Server, int]:
    metrics = free_port()
    server = start_server(
        APP,
        "--workers",
        "1",
        "--request-body-timeout",
        str(TIMEOUT),
        "--request-body-min-rate",
        str(MIN_RATE),
        "--metrics-bind",
        f"127.0.0.1:{metrics}",
        *extra,
    )
    server.wait_ready()
    return server, metrics


def body_timeouts(metrics: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{metrics}/metrics", timeout=5).text
    match = re.search(r"^asgi_master_request_body_timeouts_total (\S+)$", text, re.MULTILINE)
    assert match, "the counter is not exported"
    return float(match.group(1))


def head(path: str, length: int) -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {length}\r\n\r\n".encode()


def trickle(port: int, clients: int, seconds: float) -> dict[int, tuple[float, bytes]]:
    """``clients`` connections each send a head announcing 100 kB and then 10 bytes every two
    seconds; for each, when the server answered or closed and what it said."""
    began = time.monotonic()
    socks = []
    for _ in range(clients):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(head("/upload", 100_000) + b"x")
        sock.setblocking(False)
        socks.append(sock)
    ended: dict[int, tuple[float, bytes]] = {}
    replies = {id(s): b"" for s in socks}
    next_drip = began + 2
    while len(ended) < clients and time.monotonic() - began < seconds:
        open_socks = [s for s in socks if id(s) not in ended]
        readable, _, _ = select.select(open_socks, [], [], 0.5)
        for sock in readable:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                data = b""
            replies[id(sock)] += data
            if not data:
                ended[id(sock)] = (time.monotonic() - began, replies[id(sock)])
        if time.monotonic() >= next_drip:
            next_drip += 2
            for sock in open_socks:
                if id(sock) not in ended:
                    with contextlib.suppress(OSError):
                        sock.send(b"0123456789")
    for sock in socks:
        sock.close()
    return ended


def honest_upload(port: int, size: int, per_half_second: int, result: dict[str, bytes]) -> None:
    """A slow but honest client: ``per_half_second`` bytes every half second (a mobile uplink
    several times above the minimum rate)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head("/upload", size)[:-2] + b"Connection: close\r\n\r\n")
        sent = 0
        while sent < size:
            piece = min(per_half_second, size - sent)
            sock.sendall(b"u" * piece)
            sent += piece
            time.sleep(0.5)
        response = b""
        while True:
            data = sock.recv(65536)
            if not data:
                break
            response += data
        result["response"] = response


def test_trickling_bodies_get_408_within_the_bound_while_an_honest_slow_upload_completes(
    start_server,
):
    server, metrics = start(start_server)
    honest: dict[str, bytes] = {}
    # 1 kB every half second for 8 s: 4x the minimum rate, longer than the timeout
    uploader = threading.Thread(target=honest_upload, args=(server.port, 16_000, 1000, honest))
    uploader.start()
    ended = trickle(server.port, clients=60, seconds=30)
    uploader.join(timeout=30)
    assert len(ended) == 60, "some trickling clients were never cut off"
    for when, reply in ended.values():
        assert reply.startswith(b"HTTP/1.1 408 "), reply[:60]
        # waiting began after the head: the bound is the timeout plus 1 s per 500 bytes (a
        # few dozen bytes came) plus the once-a-second sweep; a second of margin each way
        assert TIMEOUT - 1 < when < TIMEOUT + 3, when
    assert honest["response"].startswith(b"HTTP/1.1 200 "), honest
    assert honest["response"].split(b"\r\n\r\n", 1)[1] == b"16000"
    wait_for(lambda: body_timeouts(metrics) == 60, 10, what="60 body timeouts counted")
    lines = [line for line in server.log.splitlines() if "request body too slow" in line]
    assert len(lines) == 60  # one line per request cut off, none for the honest one
    assert ": 408" in lines[0] and "from 127.0.0.1:" in lines[0]


def test_an_app_slow_to_read_a_fast_body_is_never_cut_off(start_server):
    server, metrics = start(start_server)
    # the whole 300 kB arrives at once; the app sleeps 2 s before each later receive, 8 s or
    # more in all: the body waits in the server's buffers (flow control), not on the client
    body = b"b" * 300_000
    response = httpx.post(server.url("/upload?pause=2"), content=body, timeout=60)
    assert response.status_code == 200
    assert response.text == "300000"
    assert body_timeouts(metrics) == 0


def test_a_body_too_slow_after_the_response_started_closes_the_connection(start_server):
    server, metrics = start(start_server)
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        sock.sendall(head("/upload?early=1", 1000) + b"x")
        received = b""
        began = time.monotonic()
        while True:
            data = sock.recv(65536)
            if not data:
                break
            received += data
    assert received.startswith(b"HTTP/1.1 200 ")
    assert b"408" not in received
    assert TIMEOUT - 1 < time.monotonic() - began < TIMEOUT + 3
    assert "request body too slow" in server.log
    wait_for(lambda: body_timeouts(metrics) == 1, 10, what="the body timeout counted")


@pytest.mark.skipif(shutil.which("slowhttptest") is None, reason="slowhttptest is not installed")
def test_slowhttptest_slow_body_attack_leaves_no_connection_open(start_server, tmp_path: Path):
    server, metrics = start(start_server, "--no-access-log")
    report = tmp_path / "slow"
    # 200 connections at once, each announcing 64 KiB and sending up to 10 bytes every 2 s
    result = subprocess.run(
        [
            "slowhttptest",
            "-B",
            "-c",
            "200",
            "-r",
            "200",
            "-i",
            "2",
            "-s",
            "65536",
            "-x",
            "10",
            "-t",
            "POST",
            "-u",
            server.url("/upload"),
            "-l",
            "30",
            "-g",
            "-o",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    # slowhttptest stops by itself once the server has closed every connection (its CSV's
    # last row is written a moment before the last ones close, so it is not read for that)
    assert "No open connections left" in result.stdout, result.stdout[-2000:]
    rows = [line.split(",") for line in (tmp_path / "slow.csv").read_text().splitlines()[1:]]
    seconds = [int(row[0]) for row in rows]
    connected = [int(row[3]) for row in rows]
    assert max(connected) >= 150, "the attack did not get its connections open"
    # every connection gone within the bound (timeout, sweep, slowhttptest's own second)
    assert seconds[-1] <= TIMEOUT + 4, rows
    wait_for(lambda: body_timeouts(metrics) == 200, 10, what="200 body timeouts counted")
