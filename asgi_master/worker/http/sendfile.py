"""``http.response.pathsend`` on an HTTP/1.1 connection: a file's bytes after its head, zero-copy
where the transport allows, under write flow control where it does not."""

from __future__ import annotations

import asyncio
import os
from typing import Final, Protocol

from ..asgi import ASGIMessageError, ClientDisconnected

#: how much of a file one os.sendfile call may send (it returns early on a full socket anyway)
_SENDFILE_CHUNK: Final = 1 << 22
#: copy-mode chunk when the transport already holds data (order must be kept)
_COPY_CHUNK: Final = 256 * 1024


class FileSink(Protocol):
    """The connection a file is sent on."""

    transport: asyncio.Transport | None
    write_paused: bool

    @property
    def closed(self) -> bool:
        """Nothing more can be written."""

    def write(self, data: bytes) -> None:
        """Queue bytes after what is queued."""

    async def drain(self) -> None:
        """Wait while ``write_paused``; raise ``ClientDisconnected`` if the peer is gone."""


async def send_file(sink: FileSink, fd: int, size: int) -> None:
    """Send ``size`` bytes of the open file ``fd`` after what is queued.

    Zero-copy (``os.sendfile`` on the socket) whenever the transport's own buffer is empty,
    so nothing can overtake bytes already queued; otherwise (a slow client, or TLS) it
    copies through the transport under the usual write flow control.
    """
    transport = sink.transport
    assert transport is not None
    sock = transport.get_extra_info("socket")
    zero_copy = sock is not None and transport.get_extra_info("sslcontext") is None
    offset = 0
    while offset < size:
        if sink.closed:
            raise ClientDisconnected("the client has disconnected")
        if zero_copy and transport.get_write_buffer_size() == 0:
            try:
                sent = os.sendfile(sock.fileno(), fd, offset, min(size - offset, _SENDFILE_CHUNK))
            except BlockingIOError:
                sent = -1
            except OSError as exc:
                raise ClientDisconnected(f"sendfile failed: {exc.strerror}") from None
            if sent == 0:
                raise ASGIMessageError("http.response.pathsend: the file shrank while it was sent")
            if sent > 0:
                offset += sent
                continue
        chunk = os.pread(fd, min(size - offset, _COPY_CHUNK), offset)
        if not chunk:
            raise ASGIMessageError("http.response.pathsend: the file shrank while it was sent")
        sink.write(chunk)
        offset += len(chunk)
        if sink.write_paused:
            await sink.drain()
