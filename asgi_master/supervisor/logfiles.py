"""SIGUSR1 after a log rotation: the master reopens its log files, then tells the workers.

The master reopens first and gives the new files to the workers' user (``user``), so a worker
that reopens them after dropping its privileges can write there. Workers still booting are not
signalled (they would not handle USR1 yet): the master tells each one once it is READY.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterable

from .. import logs
from .handle import WorkerHandle
from .privileges import Credentials, hand_over

log = logging.getLogger("asgi_master.error")


def reopen_log_files(workers: Iterable[WorkerHandle], credentials: Credentials | None) -> None:
    """Reopen the master's log files and send USR1 to every worker already serving."""
    reopened = logs.reopen()
    hand_over(reopened, credentials)
    told = 0
    for handle in workers:
        if handle.serving:
            handle.send(signal.SIGUSR1)
            told += 1
    log.info(
        "SIGUSR1: reopened %s; told %d worker(s) to reopen theirs",
        ", ".join(reopened) or "nothing (logs go to stdout/stderr)",
        told,
    )
