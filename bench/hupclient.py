"""Keep-alive HTTP client for the reload workload: latency of every request, errors.

``connections`` asyncio tasks each send ``GET /`` over one keep-alive
connection, one request at a time, for ``duration`` seconds, reconnecting
after any failure. The harness sends SIGHUP to the server meanwhile; this
client reports what that cost: failed requests by kind, the longest single
request, and the longest time during which no request at all succeeded.

Run: ``python -m bench.hupclient --port 8000 --duration 10`` (prints one JSON line).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import uvloop

REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
EXPECTED_BODY = b"Hello, world!"


class Tally:
    """Shared results of all connections."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.ok = 0
        self.errors: dict[str, int] = {}
        self.max_latency = 0.0
        self.max_latency_at = 0.0
        self.last_ok = start
        self.max_gap = 0.0
        self.max_gap_end = 0.0
        self.latencies: list[float] = []

    def success(self, sent: float, now: float) -> None:
        """Record one good response to a request sent at ``sent``."""
        self.ok += 1
        latency = now - sent
        self.latencies.append(latency)
        if latency > self.max_latency:
            self.max_latency, self.max_latency_at = latency, sent - self.start
        gap = now - self.last_ok
        if gap > self.max_gap:
            self.max_gap, self.max_gap_end = gap, now - self.start
        self.last_ok = now

    def error(self, kind: str) -> None:
        """Count one failed request (or connection attempt) of ``kind``."""
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Read one response; return (status, body, server wants close)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    close = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and "close" in value.lower():
            close = True
    body = await reader.readexactly(length)
    return status, body, close


async def _connection(port: int, deadline: float, tally: Tally, timeout: float) -> None:
    """One keep-alive connection's request loop, reconnecting on failure."""
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    while time.perf_counter() < deadline:
        if conn is None:
            try:
                conn = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
            except (OSError, TimeoutError) as exc:
                tally.error(f"connect:{type(exc).__name__}")
                await asyncio.sleep(0.005)  # refused connects return at once: don't spin
                continue
        reader, writer = conn
        sent = time.perf_counter()
        try:
            writer.write(REQUEST)
            status, body, close = await asyncio.wait_for(_read_response(reader), timeout)
        except asyncio.IncompleteReadError as exc:
            # Nothing at all back on a reused connection is the case clients
            # usually retry; keep it apart from a response cut in the middle.
            tally.error("closed_before_response" if not exc.partial else "partial_response")
            close = True
        except (OSError, TimeoutError, ValueError, IndexError) as exc:
            tally.error(f"request:{type(exc).__name__}")
            close = True
        else:
            if status == 200 and body == EXPECTED_BODY:
                tally.success(sent, time.perf_counter())
            else:
                tally.error(f"status:{status}")
        if close:
            writer.close()
            conn = None
    if conn is not None:
        conn[1].close()


async def run(port: int, connections: int, duration: float, timeout: float) -> dict[str, object]:
    """Run all connections for ``duration`` seconds and summarise."""
    start = time.perf_counter()
    tally = Tally(start)
    deadline = start + duration
    await asyncio.gather(*(_connection(port, deadline, tally, timeout) for _ in range(connections)))
    elapsed = time.perf_counter() - start
    # A stall still going on at the end counts too.
    tail_gap = time.perf_counter() - tally.last_ok
    if tail_gap > tally.max_gap:
        tally.max_gap, tally.max_gap_end = tail_gap, elapsed
    ordered = sorted(tally.latencies)
    p99 = ordered[int(len(ordered) * 0.99)] if ordered else None
    return {
        "ok": tally.ok,
        "failed": sum(tally.errors.values()),
        "errors": tally.errors,
        "requests_per_s": tally.ok / elapsed,
        "max_latency_ms": tally.max_latency * 1e3,
        "max_latency_at_s": tally.max_latency_at,
        "p99_ms": p99 * 1e3 if p99 is not None else None,
        "longest_stall_ms": tally.max_gap * 1e3,
        "longest_stall_ended_at_s": tally.max_gap_end,
        "elapsed_s": elapsed,
        "connections": connections,
    }


def main() -> None:
    """Parse arguments, run on uvloop, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    result = uvloop.run(run(args.port, args.connections, args.duration, args.timeout))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
