"""An in-memory link between an HTTPProtocol and test code: the transport side of asyncio."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import h11

from asgi_master.worker.context import WorkerState
from asgi_master.worker.http.protocol import HTTPProtocol
from asgi_master.worker.ws import UPGRADES
from tests.unit.defaults import worker_settings


class MemoryTransport(asyncio.Transport):
    """Collects what the protocol writes; closing delivers connection_lost on the next tick."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.loop = loop
        self.data = bytearray()
        self.closed = False
        self.reading_paused = False
        self.protocol: HTTPProtocol | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.closed, "write after close"
        self.data += data

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            assert self.protocol is not None
            self.loop.call_soon(self.protocol.connection_lost, None)

    abort = close

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.reading_paused = True

    def resume_reading(self) -> None:
        self.reading_paused = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass


class Link:
    """One connection: feed client bytes, run the loop, read responses back with h11."""

    def __init__(
        self,
        app: Any,
        *,
        state: dict[str, Any] | None = None,
        extensions: dict[str, Any] | None = None,
        **config: Any,
    ) -> None:
        """``config``: settings that differ from the defaults (``root_path="/api"``); the
        access log is off unless ``access_log=True``."""
        self.loop = asyncio.get_running_loop()
        settings = worker_settings(**{"access_log": False, **config})
        if extensions is not None:
            settings = dataclasses.replace(settings, extensions=extensions)
        self.ctx = WorkerState(settings, app, self.loop, state=state or {})
        self.protocol = HTTPProtocol(self.ctx, UPGRADES)
        self.transport = MemoryTransport(self.loop)
        self.transport.protocol = self.protocol
        self.protocol.connection_made(self.transport)

    def send(self, data: bytes) -> None:
        self.protocol.data_received(data)

    async def settle(self, rounds: int = 50, wait: bool = True) -> None:
        """Let the app tasks run; with ``wait``, until they finish (bounded, for real sleeps)."""
        for _ in range(rounds):
            await asyncio.sleep(0)
        if wait:
            for _ in range(10):
                if not self.ctx.tasks:
                    break
                await asyncio.wait(set(self.ctx.tasks), timeout=2)
                for _ in range(rounds):
                    await asyncio.sleep(0)

    def responses(
        self, method: bytes = b"GET", count: int = 10
    ) -> list[tuple[h11.Response, bytes]]:
        """Parse the bytes written so far as up to ``count`` responses to ``method`` requests."""
        out: list[tuple[h11.Response, bytes]] = []
        client = h11.Connection(h11.CLIENT)
        for index in range(count):
            client.send(h11.Request(method=method, target=b"/", headers=[(b"host", b"x")]))
            client.send(h11.EndOfMessage())
            if index == 0:
                client.receive_data(bytes(self.transport.data))
                if self.transport.closed:
                    client.receive_data(b"")
            try:
                event = client.next_event()
            except h11.RemoteProtocolError:
                if index == 0:
                    raise
                break  # the server closed after the responses it owed
            if not isinstance(event, h11.Response):
                break
            body = b""
            while True:
                part = client.next_event()
                if isinstance(part, h11.Data):
                    body += part.data
                elif isinstance(part, h11.EndOfMessage):
                    break
                else:
                    raise AssertionError(f"incomplete response body: {part!r}")
            out.append((event, body))
            if client.our_state is h11.MUST_CLOSE or client.their_state is h11.MUST_CLOSE:
                break
            client.start_next_cycle()
        return out
