"""HTTP/2 attacks played through a real socket, for what an in-memory test cannot show: the apps
of a rapid reset are cancelled and leave nothing running, each attack ends in GOAWAY
ENHANCE_YOUR_CALM and one log line, and the worker goes on serving everyone else. (Every rule
and budget is pinned frame by frame in tests/unit/test_h2_abuse.py.)"""

from __future__ import annotations

import contextlib
import signal
import time

import pytest
from hyperframe import frame as hf

from tests.conftest import wait_for
from tests.integration.h2socket import FrameReader, H2Socket

pytestmark = pytest.mark.timeout(90)
APP = "tests.apps.h2:app"
ENHANCE_YOUR_CALM = 0xB


def calm(client: FrameReader) -> bool:
    return any(f.error_code == ENHANCE_YOUR_CALM for f in client.of(hf.GoAwayFrame))


def still_serving(port: int) -> bytes:
    client = H2Socket(port)
    stream_id = client.request("/")
    client.read_until(lambda c: c.ended(stream_id))
    client.close()
    return client.body(stream_id)


def test_rapid_reset_is_stopped_its_apps_cancelled_and_nothing_left_running(start_server):
    server = start_server(APP, "--workers", "1", "--graceful-timeout", "30")
    server.wait_ready()
    client = FrameReader(server.port)
    burst = []
    for stream_id in range(1, 2001, 2):  # 1000 streams, each opened and reset at once
        block = client.encoder.encode(
            [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/sleep?s=60")]
        )
        burst.append(hf.HeadersFrame(stream_id, block, flags=["END_HEADERS"]).serialize())
        burst.append(hf.RstStreamFrame(stream_id, error_code=8).serialize())
    # (the server may close on us part way: what the attack should get)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        client.sock.sendall(b"".join(burst))
    client.read_until(lambda c: calm(c) or c.closed)
    assert calm(client)
    assert server.log.count("rapid reset") == 1  # logged once, not per stream
    assert still_serving(server.port) == b"hello 2"
    # every app of the attack was cancelled: the drain has nothing to wait for (a task left
    # in /sleep?s=60 would hold it for the whole graceful timeout)
    started = time.monotonic()
    server.signal(signal.SIGTERM)
    assert server.wait_exit(25) == 0
    assert time.monotonic() - started < 15
    assert "graceful timeout" not in server.log


def test_a_ping_flood_ends_in_enhance_your_calm_logged_once(start_server):
    server = start_server(APP, "--workers", "1")
    server.wait_ready()
    client = FrameReader(server.port)
    pings = b"".join(hf.PingFrame(0, b"%08d" % n).serialize() for n in range(1000))
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        client.sock.sendall(pings)
    client.read_until(lambda c: calm(c) or c.closed)
    assert calm(client)
    # it was answered within its budget, not 1000 times
    assert len(client.of(hf.PingFrame)) < 200
    wait_for(lambda: "ping flood" in server.log, 10, what="the log line")
    assert server.log.count("ping flood") == 1
    assert still_serving(server.port) == b"hello 2"


def test_a_continuation_flood_is_cut_off_before_the_block_grows(start_server):
    server = start_server(APP, "--workers", "1")
    server.wait_ready()
    client = FrameReader(server.port)
    block = client.encoder.encode(
        [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/")]
    )
    sent = 0
    try:
        client.sock.sendall(hf.HeadersFrame(1, block).serialize())  # no END_HEADERS
        piece = hf.ContinuationFrame(1, b"\x00\x01a\x01b" * 2000).serialize()  # 10 KiB
        for _ in range(2000):  # 20 MiB of one header block, if the server kept reading
            client.sock.sendall(piece)
            sent += len(piece)
    except (BrokenPipeError, ConnectionResetError):
        pass
    client.read_until(lambda c: calm(c) or c.closed)
    assert calm(client)
    # cut off long before the end: the server stopped reading and closed
    assert sent < 10 * 1024 * 1024
    assert "CONTINUATION flood" in server.log
    assert still_serving(server.port) == b"hello 2"
