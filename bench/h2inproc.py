"""In-process cost of hello-world requests over one HTTP/2 connection, through the whole stack:
core, adapter, request cycle, app task (bench/inproc.py's counterpart for HTTP/2).

No sockets: a transport stub takes the bytes, and the client's side is bytes made once (the
preface, then batches of ``--streams`` HEADERS frames with the WINDOW_UPDATE a reading client
sends), so what is measured is our Python per request. ``--profile`` shows where the time goes;
under ``valgrind --tool=callgrind`` the instruction count divided by ``--requests`` is the
per-request cost (steady on a shared machine). Usage:
    .venv/bin/python bench/h2inproc.py [--requests N] [--streams M] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import struct
import time

import hpack
import uvloop
from hyperframe import frame as hf

from asgi_master.config import Config
from asgi_master.worker.context import WorkerSettings, WorkerState
from asgi_master.worker.h2.protocol import H2Protocol
from asgi_master.worker.scope import ConnectionInfo

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


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
    """Takes the server's bytes; never closes."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.bytes += len(data)

    def writelines(self, pieces: object) -> None:
        for piece in pieces:  # type: ignore[attr-defined]
            self.bytes += len(piece)

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        pass

    def is_closing(self) -> bool:
        return False


def batches(count: int, streams: int) -> tuple[bytes, list[bytes]]:
    """The client's bytes: a first request whose HPACK block puts its fields in the table, then
    ``count // streams`` batches of HEADERS frames that refer to them (the same few bytes each
    time, as h2load and browsers send a repeated request) and the WINDOW_UPDATE a reading
    client sends."""
    fields = [(":method", "GET"), (":scheme", "http"), (":authority", "127.0.0.1:8000")]
    fields.append((":path", "/"))
    encoder = hpack.Encoder()
    first = hf.HeadersFrame(1, encoder.encode(fields), flags=["END_HEADERS", "END_STREAM"])
    block = encoder.encode(fields)
    # frame heads packed by hand: cheap enough to stay out of the per-request cost measured
    head = struct.Struct(">HBBBL")
    update = hf.WindowUpdateFrame(0, window_increment=streams * 100).serialize()
    out = []
    stream_id = 3
    for _ in range(count // streams):
        frames = []
        for _ in range(streams):
            frames.append(head.pack(0, len(block), 1, 5, stream_id) + block)
            stream_id += 2
        frames.append(update)
        out.append(b"".join(frames))
    return first.serialize(), out


async def run(requests: int, streams: int) -> float:
    loop = asyncio.get_running_loop()
    # as bench/inproc.py: no access log, no proxy headers
    settings = WorkerSettings.from_config(Config(access_log=False, proxy_headers=False))
    worker = WorkerState(settings, hello, loop)
    transport = SinkTransport()
    protocol = H2Protocol(worker, transport, ConnectionInfo(("127.0.0.1", 1), None, "http", {}))
    protocol.start(PREFACE + hf.SettingsFrame(0).serialize())
    first, client = batches(requests, streams)
    protocol.data_received(hf.SettingsFrame(0, flags=["ACK"]).serialize() + first)
    while worker.requests_served < 1:
        await asyncio.sleep(0)
    started = time.perf_counter()
    for number, data in enumerate(client, 1):
        protocol.data_received(data)
        while worker.requests_served < 1 + number * streams:
            await asyncio.sleep(0)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=32_000)
    parser.add_argument("--streams", type=int, default=32, help="streams per batch")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        uvloop.run(run(args.requests, args.streams))
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(int(os.environ.get("ROWS", "25")))
        return
    if args.repeat == 1:
        elapsed = uvloop.run(run(args.requests, args.streams))  # (under callgrind: one run)
    else:
        uvloop.run(run(2048, args.streams))  # warm-up
        elapsed = min(uvloop.run(run(args.requests, args.streams)) for _ in range(args.repeat))
    print(
        f"{args.requests} requests in batches of {args.streams} streams, best of {args.repeat}: "
        f"{elapsed * 1e6 / args.requests:.2f} us/request "
        f"({args.requests / elapsed:,.0f} requests/s of pure Python on one core)"
    )


if __name__ == "__main__":
    main()
