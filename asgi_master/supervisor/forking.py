"""Forking one worker: the child leaves the master's state behind and runs the worker.

The fork happens with the master's signals blocked (``blocked_for_fork``), so a signal meant
for the new worker cannot run the master's handlers in it. In the child, before any other code:
the master's signal queue and notify socket are closed, and so are the other workers' control
channels (each worker holds only its own write end); then privileges are dropped and the worker
entry function runs. The child never returns into the master's loop: it ``_exit``s with the
worker's status.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Callable, Iterable

from ..channel import ChannelReader
from .signals import SignalQueue, blocked_for_fork


def fork_worker(
    run: Callable[[int], int], signals: SignalQueue, inherited: Iterable[int]
) -> tuple[int, ChannelReader]:
    """Fork; in the child close ``inherited`` fds and run ``run(channel_fd)``, exiting with its
    status. In the master: the child's PID and the read end of its control channel."""
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    sys.stdout.flush()
    sys.stderr.flush()
    with blocked_for_fork():
        pid = os.fork()
        if pid == 0:
            _become_worker(run, signals, [read_fd, *inherited], write_fd)
    os.close(write_fd)
    return pid, ChannelReader(read_fd)


def _become_worker(
    run: Callable[[int], int], signals: SignalQueue, inherited: list[int], write_fd: int
) -> None:
    """In the child: drop what belongs to the master, run the worker; never returns."""
    status = 1
    try:
        signals.close_in_child()
        for fd in inherited:
            os.close(fd)
        status = run(write_fd)
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)
