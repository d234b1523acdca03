"""A bare uvloop ``asyncio.Protocol`` that answers every request with a fixed 200.

It parses nothing: each ``\\r\\n\\r\\n`` received counts as one (body-less)
request and gets the same canned ``Hello, world!`` response. That is the
ceiling for any Python server on this machine for the ``hello`` workload, so
it puts the other numbers in perspective. Not usable for other workloads.

Run: ``python -m bench.raw_uvloop --port 8000``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import cast

import uvloop

RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 13\r\n\r\nHello, world!"


class HelloProtocol(asyncio.Protocol):
    """Answer one canned response per request terminator seen."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        # Keep a 3-byte tail so a terminator split across reads still counts.
        self.tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; cast instead.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        buf = self.tail + data
        count = buf.count(b"\r\n\r\n")
        if count:
            # Drop everything up to the last terminator so it is not counted twice.
            buf = buf[buf.rfind(b"\r\n\r\n") + 4 :]
            assert self.transport is not None
            self.transport.write(RESPONSE * count)
        self.tail = buf[-3:]


async def serve(host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await loop.create_server(HelloProtocol, host, port, backlog=1024, reuse_address=True)
    async with server:
        await stop.wait()


def main() -> None:
    """Parse ``--host``/``--port`` and serve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
