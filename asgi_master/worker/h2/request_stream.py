"""The ``Stream`` (worker/stream.py) of one HTTP/2 request: what the request cycle calls, carried
out on the core's ``ServerStream`` and the connection's adapter (protocol.py).

The synchronous calls go straight to the core stream, which puts frames in the connection's
outbox; the adapter writes them once per turn of the event loop (``schedule_flush``), so the
responses of many streams leave in one write. What the core adds is the waiting: ``drain``
waits while the stream's DATA waits for flow-control window (until ``StreamWritable``) or the
transport's buffer is full (the connection's ``WriteGate``), and ``file`` sends a file as body
parts of ``FILE_PIECE`` bytes under that same flow control.

A stream ends once: complete, refused, aborted or reset. Then it is counted
(``worker.response_done``) and logged, one access-log line per stream, unless nothing of a
response was sent (a stream the client reset before the app answered, as a client that leaves
an HTTP/1.1 connection before its response).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Final

from ..asgi import ASGIMessageError, ClientDisconnected
from ..cycle import RequestCycle
from .streams import ServerStream

if TYPE_CHECKING:
    from .protocol import H2Protocol

#: a file body (``http.response.pathsend``) is read and sent in parts of this size
FILE_PIECE: Final = 64 * 1024


class H2Stream:
    """One request's stream, as its ``RequestCycle`` sees it."""

    __slots__ = (
        "_done",
        "_sent",
        "_waiter",
        "core",
        "cycle",
        "proto",
        "stream_id",
        "write_paused",
    )

    def __init__(self, proto: H2Protocol, core: ServerStream) -> None:
        self.proto = proto
        self.core = core
        self.stream_id = core.stream_id
        self.cycle: RequestCycle | None = None
        #: the app's ``send`` must wait (``drain``): DATA waits for window, or the transport's
        #: buffer is full
        self.write_paused = proto.write_paused
        self._waiter: asyncio.Future[None] | None = None
        #: part of the response has gone to the core (the head, at least)
        self._sent = False
        #: counted and logged (or dropped unseen): nothing more happens to this stream
        self._done = False

    # -- the Stream of the request cycle ---------------------------------------------------

    def early_hint(self, links: Sequence[bytes]) -> None:
        self.core.early_hint(links)
        self.proto.schedule_flush()

    def start(self, status: int, headers: Iterable[Iterable[bytes]], trailers: bool) -> None:
        self.core.start(status, headers, trailers)

    def body(self, data: bytes, more: bool) -> None:
        core = self.core
        core.body(data, more)
        self._sent = True
        if core.write_paused:
            self.write_paused = True
        proto = self.proto
        proto.unflushed += len(data)
        proto.schedule_flush()

    def trailers(self, headers: Iterable[Iterable[bytes]], more: bool) -> None:
        self.core.trailers(headers, more)
        self.proto.schedule_flush()

    async def file(self, fd: int, size: int) -> None:
        core = self.core
        core.file_head(size)
        if core.cancelled:
            raise ClientDisconnected("the stream was reset")
        if not core.body_wanted or not size:
            self.body(b"", False)
            return
        offset = 0
        while offset < size:
            piece = os.pread(fd, min(FILE_PIECE, size - offset), offset)
            if not piece:
                raise ASGIMessageError("http.response.pathsend: the file shrank while it was sent")
            offset += len(piece)
            self.body(piece, offset < size)
            if self.write_paused:
                await self.drain()
            if core.cancelled:
                raise ClientDisconnected("the stream was reset")

    def send_continue(self) -> None:
        self.core.send_continue()
        self.proto.schedule_flush()

    def body_consumed(self, size: int) -> None:
        self.core.body_consumed(size)
        self.proto.schedule_flush()

    def complete(self) -> None:
        self.core.complete()
        self._finish()

    def refuse(self, status: int, body: bytes, content_type: bytes) -> None:
        if self._sent:
            # a file body that failed part way: what left cannot be taken back
            self.abort("application error after the response started")
            return
        self.core.refuse(status, body, content_type)
        self._sent = True
        self.proto.schedule_flush()
        self._finish()

    def abort(self, reason: str) -> None:
        self.core.abort(reason)
        self.proto.schedule_flush()
        self._finish()

    async def drain(self) -> None:
        core = self.core
        proto = self.proto
        while self.write_paused:
            if core.cancelled or proto.closed:
                break
            if proto.write_paused:
                await proto.gate.wait()
            else:
                waiter = self._waiter = proto.loop.create_future()
                await waiter
            self.write_paused = core.write_paused or proto.write_paused
        if core.cancelled or proto.closed:
            raise ClientDisconnected("the client has disconnected")

    # -- the adapter's side ----------------------------------------------------------------

    def writable(self) -> None:
        """The core sent what waited for window (``StreamWritable``), or the transport took
        more: the app may send again."""
        self.write_paused = self.core.write_paused or self.proto.write_paused
        if not self.write_paused:
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def reset(self, cancel: bool) -> None:
        """The stream ended under the app before its response was complete (``StreamReset``):
        its ``receive`` says so and its ``send`` raises. ``cancel``: the client reset it, so
        the app is cancelled too (nobody wants its answer, and a rapid reset must not leave
        work running)."""
        cycle = self.cycle
        self._wake()
        if cycle is not None:
            cycle.disconnect()
            task = cycle.task
            if cancel and task is not None and not task.done():
                task.cancel()
                # a task cancelled before its first step never runs the cycle's clean-up, which
                # takes it out of the worker's tasks: taken out when it is done instead
                task.add_done_callback(self.proto.worker.tasks.discard)
        self._finish()

    def _finish(self) -> None:
        """Count and log the stream once, when it ends."""
        if self._done:
            return
        self._done = True
        proto = self.proto
        proto.requests.pop(self.stream_id, None)
        cycle = self.cycle
        if cycle is None or not (self._sent or self.core.own_status):
            return  # nothing of a response left: nothing to log
        worker = proto.worker
        access = proto.settings.access_log
        if access is None and worker.durations is None:
            worker.response_done(None)
            return
        duration = time.monotonic() - cycle.start_time
        worker.response_done(duration)
        if access is not None:
            core = self.core
            status = core.own_status or core.status  # (the server's 413 in place of the app's)
            access.response(cycle.scope, status, core.response_bytes, duration)
