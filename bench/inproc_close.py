"""In-process cost of one hello-world request on a new connection (the ``close`` workload).

Each request gets what a connection the client closes after one response costs our Python:
``connection_made`` (address look-ups on a real socket, per-connection objects, tracking),
the request with ``Connection: close``, the response, ``close()`` and ``connection_lost``.
The event loop's accept and its transport are not in it: that part is uvloop's, and shows in
a profile of the real server under ``bench/run.py --workloads close``. Usage::

    .venv/bin/python bench/inproc_close.py [--requests N] [--repeat N] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import socket
import time
from typing import Any

import uvloop

from asgi_master.config import Config
from asgi_master.worker.context import WorkerSettings, WorkerState
from asgi_master.worker.http.protocol import HTTPProtocol

REQUEST = (
    b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: wrk\r\n"
    b"Accept: */*\r\nConnection: close\r\n\r\n"
)


async def hello(scope: Any, receive: Any, send: Any) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")],
        }
    )
    await send({"type": "http.response.body", "body": b"Hello, world!"})


class ClosingTransport(asyncio.Transport):
    """One accepted connection's transport: takes the response, reports the close."""

    def __init__(self, sock: socket.socket, closed: asyncio.Future[None]) -> None:
        super().__init__()
        self._sock = sock
        self._closed = closed
        self.written = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += len(data)

    def close(self) -> None:
        if not self._closed.done():
            self._closed.set_result(None)

    def get_extra_info(self, name: str, default: object = None) -> object:
        # what uvloop's transports answer (ConnectionInfo.of asks for the addresses, which
        # uvloop has read once at accept: so here, no syscall per request)
        if name == "socket":
            return self._sock
        if name == "peername":
            return _ADDRESSES[self._sock][0]
        if name == "sockname":
            return _ADDRESSES[self._sock][1]
        return default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def is_closing(self) -> bool:
        return self._closed.done()


#: the addresses of the accepted socket, read once
_ADDRESSES: dict[socket.socket, tuple[Any, Any]] = {}


def _connected_socket() -> tuple[socket.socket, list[socket.socket]]:
    """A real accepted TCP socket on 127.0.0.1 (what getpeername/getsockname are asked)."""
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    _ADDRESSES[server] = (server.getpeername(), server.getsockname())
    return server, [listener, client, server]


async def run(requests: int) -> float:
    loop = asyncio.get_running_loop()
    settings = WorkerSettings.from_config(Config(access_log=False, proxy_headers=False))
    ctx = WorkerState(settings, hello, loop)
    sock, keep = _connected_socket()
    try:
        started = time.perf_counter()
        for _ in range(requests):
            closed = loop.create_future()
            transport = ClosingTransport(sock, closed)
            protocol = HTTPProtocol(ctx)
            protocol.connection_made(transport)
            protocol.data_received(REQUEST)
            await closed
            # uvloop calls connection_lost in the loop turn after close()
            protocol.connection_lost(None)
        elapsed = time.perf_counter() - started
        assert not ctx.connections, "connections left open"
        return elapsed
    finally:
        for each in keep:
            each.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        uvloop.run(run(args.requests))
        profiler.disable()
        stats = pstats.Stats(profiler)
        rows = int(os.environ.get("ROWS", "25"))
        stats.sort_stats("tottime").print_stats(rows)
        stats.sort_stats("cumulative").print_stats(rows)
        return
    uvloop.run(run(2000))  # warm-up
    # the fastest of several runs: on a shared machine the others measure the neighbours
    elapsed = min(uvloop.run(run(args.requests)) for _ in range(args.repeat))
    print(
        f"{args.requests} new connections, best of {args.repeat}: "
        f"{elapsed * 1e6 / args.requests:.2f} us/request "
        f"({args.requests / elapsed:,.0f} requests/s of pure Python on one core)"
    )


if __name__ == "__main__":
    main()
