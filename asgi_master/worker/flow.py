"""Write flow control of one transport, for every protocol adapter: asyncio says when its write
buffer passes the high water mark (``pause_writing``) and when it drained below the low one
(``resume_writing``); a sender that must not outrun the peer waits on the gate meanwhile.
"""

from __future__ import annotations

import asyncio


class WriteGate:
    """Senders wait here while the transport's write buffer is full."""

    __slots__ = ("_loop", "_waiters", "closed", "paused")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._waiters: list[asyncio.Future[None]] = []
        #: the transport asked us to stop writing
        self.paused = False
        #: the transport is gone: waiting is over for good
        self.closed = False

    def pause(self) -> None:
        """``pause_writing``: the buffer is above its high water mark."""
        self.paused = True

    def resume(self) -> None:
        """``resume_writing``: the buffer drained; let the senders go on."""
        self.paused = False
        self._release()

    def close(self) -> None:
        """The transport is lost: release the senders (``wait`` returns False)."""
        self.closed = True
        self._release()

    async def wait(self) -> bool:
        """Wait while the gate is paused; False if the transport is (or got) closed."""
        if self.paused and not self.closed:
            waiter = self._loop.create_future()
            self._waiters.append(waiter)
            await waiter
        return not self.closed

    def _release(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
