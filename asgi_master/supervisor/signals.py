"""The master's signal queue: handlers do nothing but let the wakeup fd carry the signal.

``signal.set_wakeup_fd`` makes the interpreter write each signal's number as one byte to a
pipe, from C, before any Python code runs. The master's loop selects on that pipe and reads the
numbers back in order: the pipe is the queue. Handlers stay empty, so no logging, allocation or
locks ever happen inside one.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Final

HANDLED: Final = (
    signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTTIN,
    signal.SIGTTOU, signal.SIGUSR1, signal.SIGUSR2, signal.SIGCHLD, signal.SIGWINCH,
)


def _enqueue_only(signum: int, frame: object) -> None:
    """The byte on the wakeup fd is the queue entry; nothing to do here."""


class SignalQueue:
    """Signals received by the master, in order, readable through ``fd``."""

    def __init__(self) -> None:
        self.fd, self._write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def install(self) -> None:
        signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        for signum in HANDLED:
            signal.signal(signum, _enqueue_only)

    def pending(self) -> list[signal.Signals]:
        """Signals received since the last call, oldest first."""
        received: list[signal.Signals] = []
        while True:
            try:
                data = os.read(self.fd, 256)
            except BlockingIOError:
                return received
            if not data:
                return received
            for number in data:
                with contextlib.suppress(ValueError):
                    received.append(signal.Signals(number))

    def close_in_child(self) -> None:
        """In a forked worker: stop feeding the master's queue and drop its pipe."""
        signal.set_wakeup_fd(-1)
        os.close(self.fd)
        os.close(self._write_fd)
