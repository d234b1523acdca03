"""The WebSocket adapter over an in-memory transport: the upgrade from HTTPProtocol, flow
control both ways, timers (ping, close, drain), the access log and the request count."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from wsproto.connection import Connection, ConnectionType
from wsproto.events import CloseConnection, Ping, TextMessage

from asgi_master.worker.context import WorkerState
from asgi_master.worker.http.protocol import HTTPProtocol
from asgi_master.worker.ws import UPGRADES
from asgi_master.worker.ws.protocol import WebSocketProtocol
from tests.unit.defaults import worker_settings
from tests.unit.memlink import MemoryTransport

UPGRADE = (
    b"GET /chat?room=1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)


class SwitchableTransport(MemoryTransport):
    """A memory transport that lets the protocol change (an upgrade) and reports reading."""

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol

    def get_protocol(self) -> Any:
        return self.protocol

    def is_reading(self) -> bool:
        return not self.reading_paused


class WSLink:
    """One client connection: upgrade through HTTPProtocol, then frames both ways."""

    def __init__(self, app: Any, access_log: bool = False, **websocket: Any) -> None:
        """``websocket``: ``websocket_*`` settings that differ from the defaults, without
        the prefix (``ping_interval=0.01``)."""
        self.loop = asyncio.get_running_loop()
        settings = worker_settings(
            access_log=access_log, **{f"websocket_{k}": v for k, v in websocket.items()}
        )
        self.ctx = WorkerState(settings, app, self.loop)
        self.transport = SwitchableTransport(self.loop)
        http = HTTPProtocol(self.ctx, UPGRADES)
        self.transport.protocol = http
        http.connection_made(self.transport)
        self.client = Connection(ConnectionType.CLIENT)
        self.head = b""
        self._read = 0

    def send_raw(self, data: bytes) -> None:
        self.transport.protocol.data_received(data)

    def send(self, *events: Any) -> None:
        self.send_raw(b"".join(self.client.send(e) for e in events))

    @property
    def ws(self) -> WebSocketProtocol:
        protocol = self.transport.protocol
        assert isinstance(protocol, WebSocketProtocol)
        return protocol

    async def settle(self) -> None:
        for _ in range(20):
            await asyncio.sleep(0)

    def events(self) -> list:
        data = bytes(self.transport.data[self._read :])
        self._read = len(self.transport.data)
        if not self.head:
            head, _, data = data.partition(b"\r\n\r\n")
            self.head = head
        self.client.receive_data(data)
        return list(self.client.events())

    async def wait_closed(self, timeout: float = 10.0) -> None:
        async def closed() -> None:
            while not (self.transport.closed and not self.ctx.connections):
                await asyncio.sleep(0.01)

        await asyncio.wait_for(closed(), timeout)


#: what the last ``echo`` app received (the tests run one at a time)
received: list[dict] = []


async def echo(scope, receive, send):
    received.clear()
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        received.append(message)
        if message["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", "text": message["text"]})


def run(coro):
    return asyncio.run(coro)


def test_the_upgrade_hands_the_connection_over_and_echoes():
    async def main():
        link = WSLink(echo)
        # a frame in the same packet as the request head reaches the app too
        link.send_raw(UPGRADE + Connection(ConnectionType.CLIENT).send(TextMessage("first")))
        await link.settle()
        assert link.ctx.connections == {link.ws}
        link.send(TextMessage("second"))
        await link.settle()
        assert link.events() == [TextMessage("first"), TextMessage("second")]
        assert link.head.startswith(b"HTTP/1.1 101 Switching Protocols")
        link.send(CloseConnection(1000))
        await link.wait_closed()
        assert link.events() == [CloseConnection(1000, "")]

    run(main())


def test_a_bad_upgrade_request_is_answered_400_by_the_http_layer():
    async def main():
        link = WSLink(echo)
        link.send_raw(UPGRADE.replace(b"Version: 13", b"Version: 8"))
        await link.settle()
        assert bytes(link.transport.data).startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert b"Sec-WebSocket-Version" in link.transport.data
        assert isinstance(link.transport.protocol, HTTPProtocol)

    run(main())


def test_the_scope_is_a_websocket_scope():
    seen = {}

    async def app(scope, receive, send):
        seen.update(scope)
        await send({"type": "websocket.close"})

    async def main():
        link = WSLink(app)
        link.send_raw(
            UPGRADE.replace(b"Version: 13\r\n", b"Version: 13\r\nSec-WebSocket-Protocol: a, b\r\n")
        )
        await link.settle()

    run(main())
    assert seen["type"] == "websocket" and seen["scheme"] == "ws"
    assert seen["path"] == "/chat" and seen["query_string"] == b"room=1"
    assert seen["subprotocols"] == ["a", "b"]
    assert "websocket.http.response" in seen["extensions"]
    assert "method" not in seen


def test_send_waits_while_the_peer_reads_slowly():
    sent = []
    gate = asyncio.Event()

    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        await gate.wait()
        for index in range(3):
            await send({"type": "websocket.send", "text": str(index)})
            sent.append(index)

    async def main():
        link = WSLink(app)
        link.send_raw(UPGRADE)
        await link.settle()
        link.ws.pause_writing()  # the transport's buffer is above its high water mark
        gate.set()
        await link.settle()
        assert sent == []
        assert link.events() == [TextMessage("0")]
        link.ws.resume_writing()
        await link.settle()
        assert sent == [0, 1, 2]

    run(main())


def test_reading_pauses_while_messages_wait_for_the_app_and_resumes_as_it_reads():
    gate = asyncio.Event()

    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        await gate.wait()
        while (await receive())["type"] != "websocket.disconnect":
            pass

    async def main():
        link = WSLink(app)
        link.send_raw(UPGRADE)
        await link.settle()
        link.send(*(TextMessage("m") for _ in range(40)))
        await link.settle()
        assert link.transport.reading_paused
        gate.set()
        await link.settle()
        assert not link.transport.reading_paused
        link.send(CloseConnection(1000))
        await link.wait_closed()

    run(main())


def test_a_peer_that_does_not_answer_pings_is_closed_with_1011():
    async def main():
        link = WSLink(echo, ping_interval=0.01, ping_timeout=0.01)
        link.send_raw(UPGRADE)
        await link.wait_closed()
        events = link.events()
        assert isinstance(events[0], Ping)
        assert events[-1] == CloseConnection(1011, "keepalive ping timeout")
        await link.settle()
        assert received[-1]["code"] == 1011

    run(main())


def test_a_drain_on_restart_closes_with_1012_and_the_app_sees_it():
    async def main():
        link = WSLink(echo)
        link.send_raw(UPGRADE)
        await link.settle()
        link.ctx.drain_reason = "restart"
        link.ws.shutdown()
        assert link.events() == [CloseConnection(1012, "service restart")]
        link.send(CloseConnection(1012))
        await link.wait_closed()
        await link.settle()
        assert received[-1] == {
            "type": "websocket.disconnect",
            "code": 1012,
            "reason": "service restart",
        }

    run(main())


def test_a_drain_gives_up_on_a_silent_peer_after_the_drain_timeout():
    async def main():
        link = WSLink(echo, drain_timeout=0.01)
        link.send_raw(UPGRADE)
        await link.settle()
        link.ws.shutdown()
        assert link.events() == [CloseConnection(1001, "server shutting down")]
        await link.wait_closed()
        await link.settle()
        assert received[-1]["code"] == 1001

    run(main())


def test_a_websocket_is_never_closed_as_idle():
    async def main():
        link = WSLink(echo)
        link.send_raw(UPGRADE)
        await link.settle()
        link.ws.close_if_idle(link.loop.time() + 3600, 0)
        assert not link.transport.closed

    run(main())


def test_a_session_counts_as_one_request_and_is_logged_with_its_duration(caplog):
    async def main():
        link = WSLink(echo, access_log=True)
        link.send_raw(UPGRADE)
        await link.settle()
        link.send(TextMessage("hello"))
        await link.settle()
        link.send(CloseConnection(1000))
        await link.wait_closed()
        return link.ctx.requests_served

    with caplog.at_level(logging.INFO, logger="asgi_master.access"):
        assert run(main()) == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "asgi_master.access"]
    assert len(lines) == 1
    assert '"GET /chat?room=1 HTTP/1.1" 101 5 ' in lines[0] and lines[0].endswith("ms")


def test_an_upgrade_reaching_a_draining_worker_is_closed_right_after_the_accept():
    async def main():
        link = WSLink(echo)
        link.ctx.draining = True
        link.send_raw(UPGRADE)
        await link.settle()
        assert link.events() == [CloseConnection(1001, "server shutting down")]
        assert link.head.startswith(b"HTTP/1.1 101 ")
        link.send(CloseConnection(1001))
        await link.wait_closed()

    run(main())
