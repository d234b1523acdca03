"""Crash-loop backoff: a worker slot whose workers keep dying young waits before the next try.

A worker that dies within ``YOUNG`` seconds of its fork counts as a failure of its slot; one
that lived longer resets the count. The first failure is retried at once, the next ones after
2, 4, 8 ... seconds, at most ``MAX_BACKOFF``. The other slots serve meanwhile, so a flaky
dependency degrades capacity instead of spinning the CPU on forks.
"""

from __future__ import annotations

import logging
from typing import Final

log = logging.getLogger("asgi_master.error")

#: a worker that dies younger than this counts toward its slot's backoff
YOUNG: Final = 10.0
MAX_BACKOFF: Final = 60.0


class CrashBackoff:
    """Failures in a row and the earliest next start, per slot."""

    def __init__(self) -> None:
        self._failures: dict[int, int] = {}
        self._not_before: dict[int, float] = {}

    def worker_died(self, slot: int, started_at: float, now: float) -> float:
        """A worker of ``slot`` forked at ``started_at`` died unexpectedly at ``now``; the
        delay before the slot may start again."""
        if now - started_at >= YOUNG:
            self._failures[slot] = 0
            return 0.0
        failures = self._failures.get(slot, 0) + 1
        self._failures[slot] = failures
        delay = min(2.0 ** (failures - 1), MAX_BACKOFF) if failures > 1 else 0.0
        self._not_before[slot] = now + delay
        if delay:
            log.warning(
                "Degraded: worker slot %d failed %d times in a row; next try in %.0fs",
                slot,
                failures,
                delay,
            )
        return delay

    def may_start(self, slot: int, now: float) -> bool:
        """False while ``slot`` waits out its backoff."""
        return now >= self._not_before.get(slot, 0.0)
