"""Stopping every worker: how, and by when they must be gone.

A graceful stop sends TERM (drain within ``graceful_timeout``); a fast one sends QUIT (close
now); a stop that hands over to a new master started by SIGUSR2 sends HUP, so the workers drain
as replaced ones (WebSockets get 1012, not 1001). A fast stop may overrule a graceful one in
progress, never the other way round. Workers still alive ``KILL_GRACE`` seconds past the grace
get SIGKILL; the master stops waiting ``KILL_GRACE`` after that.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Iterable

from .handle import KILL_GRACE, WorkerHandle, WorkerState
from .systemd import Notifier

log = logging.getLogger("asgi_master.error")


class Shutdown:
    """The master's stop, once begun."""

    def __init__(self) -> None:
        self.begun = False
        self.graceful = True
        self.deadline = 0.0

    def covers(self, graceful: bool) -> bool:
        """A stop under way already does what a new ``graceful`` (or fast) one would."""
        return self.begun and (graceful or not self.graceful)

    def begin(
        self,
        workers: Iterable[WorkerHandle],
        graceful: bool,
        grace: float,
        successor: int | None,
        notifier: Notifier,
        status: str = "Stopping",
    ) -> None:
        """Signal every worker to stop within ``grace`` seconds, handing over to PID
        ``successor`` if set; systemd hears STOPPING=1 with ``status``, or the successor's PID
        (when the stop begins, not when a fast stop overrules a graceful one)."""
        if not self.begun and successor is not None:
            notifier.main_pid(successor, f"Handing over to the new master (pid {successor})")
        elif not self.begun:
            notifier.stopping(status)
        self.begun = True
        self.graceful = graceful
        self.deadline = time.monotonic() + grace + KILL_GRACE
        if not graceful:
            signum = signal.SIGQUIT
        else:
            signum = signal.SIGHUP if successor is not None else signal.SIGTERM
        workers = list(workers)
        log.info(
            "%s stop%s: sending %s to %d worker(s)",
            "Graceful" if graceful else "Fast",
            f" (handing over to pid {successor})" if successor is not None else "",
            signum.name,
            len(workers),
        )
        for handle in workers:
            handle.state = WorkerState.STOPPING
            handle.signalled_at = time.monotonic()
            if handle.serving or signum is not signal.SIGHUP:
                handle.send(signum)
            else:
                handle.send(signal.SIGTERM)  # still booting: HUP would not be handled yet

    def overdue(self, workers: Iterable[WorkerHandle], now: float) -> bool:
        """KILL the workers left past the deadline; True once waiting longer is pointless."""
        if now < self.deadline:
            return False
        workers = list(workers)
        if any(h.killed for h in workers):
            return True
        for handle in workers:
            log.warning("Worker %d (pid %d) did not stop in time: SIGKILL", handle.slot, handle.pid)
            handle.send(signal.SIGKILL)
        self.deadline = now + KILL_GRACE
        return False
