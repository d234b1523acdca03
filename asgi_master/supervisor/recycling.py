"""Recycling decided by the master: workers past ``max_worker_lifetime`` or ``max_worker_memory``.

(``max_requests`` is counted by the worker itself, which sends RETIRING.) The master gives each
new worker a lifetime deadline (with jitter) when it forks it, and measures the memory of every
READY worker every ``MEMORY_CHECK_INTERVAL`` seconds through psutil. A worker found due is
handed to the replacement queue like a RETIRING one: its replacement is ready before it drains.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Iterable
from typing import Final

from ..config import Config
from .handle import WorkerHandle, WorkerState

log = logging.getLogger("asgi_master.error")

#: seconds between two measurements of the workers' memory
MEMORY_CHECK_INTERVAL: Final = 3.0


def _mib(size: int) -> str:
    return f"{size / 1024**2:.0f} MiB"


def measure(pid: int, kind: str) -> int | None:
    """The memory of process ``pid`` in bytes, ``kind`` "rss" or "uss"; None if unreadable."""
    import psutil  # (only with max_worker_memory: workers inherit what the master imports)

    try:
        process = psutil.Process(pid)
        if kind == "uss":
            return int(process.memory_full_info().uss)
        return int(process.memory_info().rss)
    except psutil.Error:
        return None


class Recycler:
    """Finds READY workers due for recycling by age or memory."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._next_memory_check = 0.0

    def lifetime_deadline(self, started_at: float) -> float:
        """When a worker forked at ``started_at`` is due (``inf``: never)."""
        lifetime = self.config.max_worker_lifetime
        if not lifetime:
            return math.inf
        return started_at + lifetime + random.uniform(0, self.config.max_worker_lifetime_jitter)

    def due(self, workers: Iterable[WorkerHandle], now: float) -> list[tuple[WorkerHandle, str]]:
        """Workers to recycle now and why; each worker is reported once."""
        candidates = [h for h in workers if h.state is WorkerState.READY and not h.retiring]
        found: list[tuple[WorkerHandle, str]] = []
        for handle in candidates:
            if now >= handle.retire_at:
                up = now - handle.started_at
                found.append((handle, f"max_worker_lifetime reached (up {up:.0f}s)"))
        limit = self.config.max_worker_memory
        if limit and now >= self._next_memory_check:
            self._next_memory_check = now + MEMORY_CHECK_INTERVAL
            kind = self.config.max_worker_memory_kind
            listed = {h.pid for h, _ in found}
            for handle in candidates:
                if handle.pid in listed:
                    continue
                used = measure(handle.pid, kind)
                if used is not None and used > limit:
                    found.append(
                        (
                            handle,
                            f"max_worker_memory exceeded ({kind.upper()} "
                            f"{_mib(used)} > {_mib(limit)})",
                        )
                    )
        return found
