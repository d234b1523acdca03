"""The open-files limit: the master raises its soft RLIMIT_NOFILE at start, workers inherit it.

systemd starts services with a soft limit of 1024 open files and a hard limit of 524288, and
expects a server to raise its own soft limit (Go's runtime does so at start since 1.19). Every
connection a worker holds is a file descriptor, so 1024 is reached long before the CPU is busy.
``open_files_limit`` says how far: ``hard`` (the default), a number (capped at the hard
limit), or ``off``. The soft limit is never lowered: the process may already hold more files.

What a worker does when it runs out anyway is libuv's doing (the event loop is uvloop): the
connections waiting in the backlog are accepted and closed at once, so their clients see the
connection closed instead of waiting; the connections already open are served as before, and
accepting resumes as soon as descriptors are free. Nothing spins.
"""

from __future__ import annotations

import logging
import resource

from ..config import Config

log = logging.getLogger("asgi_master.error")


def raise_open_files_limit(config: Config, *, announce: bool) -> None:
    """Apply ``open_files_limit`` to this process (the master, before it forks); log the
    resulting soft limit if ``announce`` or if it changed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = config.open_files_limit
    if wanted == "off":
        if announce:
            log.info("Open files limit: %s (open_files_limit = off)", _show(soft))
        return
    target = hard if wanted == "hard" else min(int(wanted), _finite(hard))
    if _finite(target) <= _finite(soft):
        if announce:
            log.info("Open files limit: %s (hard limit %s)", _show(soft), _show(hard))
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        log.warning(
            "Open files limit: could not raise it from %s to %s: %s; keeping %s",
            _show(soft),
            _show(target),
            exc,
            _show(soft),
        )
        return
    log.info(
        "Open files limit raised from %s to %s (%s)",
        _show(soft),
        _show(target),
        "the hard limit" if target == hard else f"open_files_limit; hard limit {_show(hard)}",
    )


def _finite(limit: int) -> int:
    return 2**63 - 1 if limit == resource.RLIM_INFINITY else limit


def _show(limit: int) -> str:
    return "unlimited" if limit == resource.RLIM_INFINITY else str(limit)
