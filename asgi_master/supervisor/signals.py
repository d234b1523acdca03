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
from collections.abc import Iterator
from typing import Final

HANDLED: Final = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGHUP,
    signal.SIGTTIN,
    signal.SIGTTOU,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGCHLD,
    signal.SIGWINCH,
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
        """In a forked worker (forked inside ``blocked_for_fork``): stop feeding the master's
        queue, drop its pipe, restore default dispositions and unblock the signals."""
        reset_in_child()
        os.close(self.fd)
        os.close(self._write_fd)


@contextlib.contextmanager
def blocked_for_fork() -> Iterator[None]:
    """Block the handled signals around a fork.

    A signal reaching a child before it drops the master's handlers would be lost, and worse,
    its number would land in the master's wakeup pipe (the child shares it): a TERM meant for
    a booting worker would stop the master. Blocked, it waits in the child until
    ``reset_in_child`` unblocks it under the default disposition.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def reset_in_child() -> None:
    """In a child forked inside ``blocked_for_fork``: no wakeup fd, default dispositions, then
    unblock (a signal that arrived meanwhile acts now, as the default action)."""
    signal.set_wakeup_fd(-1)
    for signum in HANDLED:
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED)


def in_terminal_foreground() -> bool:
    """Whether this process is in the foreground of its controlling terminal, where a window
    resize sends SIGWINCH (so WINCH there is not an operator's request)."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return False  # no controlling terminal: a daemon, a service, a container
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)
