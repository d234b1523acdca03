"""The bundled example app, served as the README serves it: HTTP and WebSocket answered."""

from __future__ import annotations

import httpx
import pytest
from websockets.sync.client import connect

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def hello(start_server):
    server = start_server("examples.hello:app", "--workers", "1")
    server.wait_ready()
    return server


def test_hello_answers_http(hello):
    assert httpx.get(hello.url("/")).text == "Hello, world!\n"
    assert httpx.post(hello.url("/echo"), content=b"ping").content == b"ping"


def test_hello_echoes_websocket_messages_without_an_error_line(hello):
    with connect(f"ws://127.0.0.1:{hello.port}/", open_timeout=20) as ws:
        ws.send("hello")
        assert ws.recv(timeout=10) == "hello"
        ws.send(b"\x00\x01")
        assert ws.recv(timeout=10) == b"\x00\x01"
    with connect(f"ws://127.0.0.1:{hello.port}/", open_timeout=20) as ws:
        ws.send("again")  # the first close left the worker serving
        assert ws.recv(timeout=10) == "again"
    assert "ERROR" not in hello.log
    assert "Traceback" not in hello.log
