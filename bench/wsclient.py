"""WebSocket echo load client: raw sockets on uvloop, built not to be the bottleneck.

Each connection does the RFC 6455 handshake itself, then keeps ``window``
masked text frames in flight: every echo that comes back is checked against
the payload sent (FIFO per connection) and immediately replaced by a new one.
Messages/s is counted over ``duration`` seconds starting once every
connection has finished its handshake.

Run: ``python -m bench.wsclient --port 8000 --duration 10`` (prints one JSON line).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import random
import struct
import time
from collections import deque
from typing import cast

import uvloop

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def mask_frame(opcode: int, payload: bytes) -> bytes:
    """A FIN frame with a random mask, as a client must send it."""
    key = random.getrandbits(32)
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    # XOR through one big integer: far cheaper in Python than a byte loop.
    repeated = key.to_bytes(4, "big") * (length // 4 + 1)
    masked = int.from_bytes(payload, "big") ^ int.from_bytes(repeated[:length], "big")
    return header + key.to_bytes(4, "big") + masked.to_bytes(length, "big")


class Stats:
    """Counters shared by all connections."""

    def __init__(self) -> None:
        self.echoed = 0
        self.mismatches = 0
        self.errors: dict[str, int] = {}
        self.handshakes = 0

    def error(self, kind: str) -> None:
        """Count one error of ``kind``."""
        self.errors[kind] = self.errors.get(kind, 0) + 1


class EchoClient(asyncio.Protocol):
    """One WebSocket connection that keeps ``window`` echo messages in flight."""

    def __init__(self, ident: int, size: int, window: int, stats: Stats, host: str) -> None:
        self.ident = ident
        self.size = size
        self.window = window
        self.stats = stats
        self.host = host
        self.key = base64.b64encode(os.urandom(16))
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        self.running = True
        self.seq = 0
        self.ring = self._build_ring()
        self.pending: deque[bytes] = deque()
        self.handshake_done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; cast instead.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(
            b"GET /ws HTTP/1.1\r\nHost: " + self.host.encode() + b"\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + self.key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )

    def _build_ring(self) -> list[tuple[bytes, bytes]]:
        """Pre-build distinct (payload, masked frame) pairs to send in turn.

        Masking and formatting per message would cost this client more CPU
        than some servers spend echoing; a ring of pre-masked frames (each
        with its own random key) keeps the client light. Payloads are unique
        per connection and ring slot, and the ring is much longer than the
        window, so a misrouted, reordered or corrupted echo still shows.
        """
        ring = []
        for slot in range(max(64, 4 * self.window)):
            head = b"%06d:%012d:" % (self.ident, slot)
            payload = head + b"x" * (self.size - len(head))
            ring.append((payload, mask_frame(OP_TEXT, payload)))
        return ring

    def _send(self, count: int) -> None:
        """Send the next ``count`` frames of the ring in one write."""
        frames = []
        ring, pending = self.ring, self.pending
        for _ in range(count):
            payload, frame = ring[self.seq % len(ring)]
            self.seq += 1
            pending.append(payload)
            frames.append(frame)
        assert self.transport is not None
        self.transport.write(b"".join(frames))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode("latin-1")
            del self.buffer[: end + 4]
            expected = base64.b64encode(hashlib.sha1(self.key + WS_GUID).digest()).decode()
            lines = head.split("\r\n")
            fields = (line.partition(":") for line in lines[1:])
            headers = {name.strip().lower(): value.strip() for name, _, value in fields}
            if " 101 " not in lines[0] + " " or headers.get("sec-websocket-accept") != expected:
                self.stats.error("handshake")
                self._fail(ConnectionError(f"bad handshake: {lines[0]}"))
                return
            self.upgraded = True
            self.stats.handshakes += 1
            if not self.handshake_done.done():
                self.handshake_done.set_result(None)
            self._send(self.window)
        answered = self._parse_frames()
        if answered and self.running:
            self._send(answered)

    def _parse_frames(self) -> int:
        """Handle every complete frame buffered; return how many were echoes."""
        buf = self.buffer
        pos = 0
        echoes = 0
        while len(buf) - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length = b1 & 0x7F
            offset = pos + 2
            if length == 126:
                if len(buf) - offset < 2:
                    break
                (length,) = struct.unpack_from("!H", buf, offset)
                offset += 2
            elif length == 127:
                if len(buf) - offset < 8:
                    break
                (length,) = struct.unpack_from("!Q", buf, offset)
                offset += 8
            if b1 & 0x80:  # servers must not mask
                self.stats.error("masked_server_frame")
                offset += 4
            if len(buf) - offset < length:
                break
            payload = bytes(buf[offset : offset + length])
            pos = offset + length
            echoes += self._on_frame(b0 & 0x0F, payload)
        del buf[:pos]
        return echoes

    def _on_frame(self, opcode: int, payload: bytes) -> int:
        """Check an echo against what was sent (FIFO); answer pings and closes."""
        if opcode in (OP_TEXT, OP_BINARY):
            expected = self.pending.popleft() if self.pending else None
            if payload != expected:
                self.stats.mismatches += 1
            self.stats.echoed += 1
            return 1
        if opcode == OP_PING:
            assert self.transport is not None
            self.transport.write(mask_frame(OP_PONG, payload))
        elif opcode == OP_CLOSE:
            if self.running:
                self.stats.error("server_close")
            assert self.transport is not None
            self.transport.close()
        return 0

    def _fail(self, exc: Exception) -> None:
        if not self.handshake_done.done():
            self.handshake_done.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.running:
            self.stats.error("connection_lost")
        if not self.handshake_done.done():
            self.handshake_done.set_exception(exc or ConnectionError("closed during handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        """Stop sending, send a close frame (1000) and drop the connection."""
        self.running = False
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(mask_frame(OP_CLOSE, struct.pack("!H", 1000)))


async def run(
    host: str, port: int, connections: int, duration: float, size: int, window: int
) -> dict[str, object]:
    """Open the connections, measure for ``duration`` seconds, return the stats."""
    loop = asyncio.get_running_loop()
    stats = Stats()
    clients: list[EchoClient] = []
    for ident in range(connections):
        client = EchoClient(ident, size, window, stats, f"{host}:{port}")
        await loop.create_connection(lambda c=client: c, host, port)  # type: ignore[misc]
        clients.append(client)
    await asyncio.wait_for(asyncio.gather(*(c.handshake_done for c in clients)), timeout=15)

    start_count, start = stats.echoed, time.perf_counter()
    cpu_start = time.process_time()
    await asyncio.sleep(duration)
    end_count, elapsed = stats.echoed, time.perf_counter() - start
    cpu = time.process_time() - cpu_start

    # Stop sending and let in-flight echoes drain (bounded) so their payloads
    # are checked too; a close frame sent earlier would race with them.
    for client in clients:
        client.running = False
    drain_deadline = time.perf_counter() + 5
    while any(c.pending for c in clients) and time.perf_counter() < drain_deadline:
        await asyncio.sleep(0.01)
    unanswered = sum(len(c.pending) for c in clients)
    for client in clients:
        client.close()
    try:
        await asyncio.wait_for(asyncio.gather(*(c.closed for c in clients)), timeout=5)
    except TimeoutError:
        for client in clients:
            if client.transport is not None:
                client.transport.close()
    return {
        "messages": end_count - start_count,
        "elapsed_s": elapsed,
        "messages_per_s": (end_count - start_count) / elapsed,
        "mismatches": stats.mismatches,
        "errors": stats.errors,
        "unanswered_after_drain": unanswered,
        # Near 1.0 would mean this client, not the server, limits the rate.
        "client_cpu": cpu / elapsed,
        "connections": connections,
        "window": window,
        "message_bytes": size,
    }


def main() -> None:
    """Parse arguments, run the client on uvloop, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--window", type=int, default=8)
    args = parser.parse_args()
    if args.size < 24:
        parser.error("--size must be at least 24 bytes (sequence header)")
    try:
        result = uvloop.run(
            run(args.host, args.port, args.connections, args.duration, args.size, args.window)
        )
    except (OSError, TimeoutError) as exc:  # ConnectionError is an OSError
        # One JSON line either way, so the harness can show why.
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        raise SystemExit(1) from None
    print(json.dumps(result))


if __name__ == "__main__":
    main()
