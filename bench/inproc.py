"""In-process cost of one keep-alive hello-world request through the HTTP stack.

No sockets: a transport stub takes the bytes, so what is measured is our Python per request
(parse, scope, task, app, serialise). Numbers are steadier than a wrk run on a shared machine,
and ``--profile`` shows where the time goes. Usage:
    .venv/bin/python bench/inproc.py [--requests N] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time

import uvloop

from asgi_master.config import Config
from asgi_master.worker.context import WorkerSettings, WorkerState
from asgi_master.worker.http.protocol import HTTPProtocol

REQUEST = (
    b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"
)


async def hello(scope, receive, send):  # type: ignore[no-untyped-def]
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")],
        }
    )
    await send({"type": "http.response.body", "body": b"Hello, world!"})


class SinkTransport(asyncio.Transport):
    """Counts responses; never closes."""

    def __init__(self) -> None:
        super().__init__()
        self.responses = 0
        self.done: asyncio.Future[None] | None = None
        self.target = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.responses += 1
        if self.responses == self.target and self.done is not None:
            self.done.set_result(None)

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def is_closing(self) -> bool:
        return False


async def run(requests: int) -> float:
    loop = asyncio.get_running_loop()
    # as measured since the first version: no access log, no proxy headers
    settings = WorkerSettings.from_config(Config(access_log=False, proxy_headers=False))
    protocol = HTTPProtocol(WorkerState(settings, hello, loop))
    transport = SinkTransport()
    protocol.connection_made(transport)
    started = time.perf_counter()
    for _ in range(requests):
        transport.done = loop.create_future()
        transport.target = transport.responses + 1
        protocol.data_received(REQUEST)
        await transport.done
    return time.perf_counter() - started


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
        pstats.Stats(profiler).sort_stats("tottime").print_stats(
            int(__import__("os").environ.get("ROWS", "18"))
        )
        return
    uvloop.run(run(2000))  # warm-up
    # the fastest of several runs: on a shared machine the others measure the neighbours
    elapsed = min(uvloop.run(run(args.requests)) for _ in range(args.repeat))
    print(
        f"{args.requests} requests, best of {args.repeat}: "
        f"{elapsed * 1e6 / args.requests:.2f} us/request "
        f"({args.requests / elapsed:,.0f} requests/s of pure Python on one core)"
    )


if __name__ == "__main__":
    main()
