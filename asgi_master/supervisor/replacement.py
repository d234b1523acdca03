"""Replacing workers new before old: SIGHUP rollouts and recycling share one queue.

Theory of operation: a worker to be replaced is queued by PID. For the queue's head, a new
worker is forked into the same slot with ``replaces`` naming the old PID; only when the new one
reports READY is the old one told to drain (SIGHUP: it is being replaced). So a slot never
serves with fewer workers than before. During a rollout ``reload_batch`` new workers may boot at
once; outside one (recycling for max_requests, lifetime or memory) only one, so at most one
worker recycles at a time.

A new worker that fails to boot (exits, or is not READY within ``worker_boot_timeout``) leaves
its old worker serving. In a rollout that aborts the rollout (the new code or config is broken);
for a recycle the old worker is queued again, behind the slot's crash-loop backoff.
"""

from __future__ import annotations

import logging
import signal
import time
from collections import deque
from typing import Protocol

from .backoff import CrashBackoff
from .handle import WorkerHandle, WorkerState

log = logging.getLogger("asgi_master.error")


class Pool(Protocol):
    """What the replacement queue needs of the master."""

    workers: dict[int, WorkerHandle]
    target: int
    backoff: CrashBackoff

    def spawn(self, slot: int, replaces: int | None = None) -> WorkerHandle:
        """Fork a worker into ``slot``."""

    def stop_worker(self, handle: WorkerHandle, signum: signal.Signals, why: str) -> None:
        """Signal a worker to stop and mark it STOPPING."""

    def rollout_finished(self, generation: int, failure: str | None) -> None:
        """A rollout ended: ``failure`` is None when every worker was replaced."""


class RollingRestart:
    """The queue of workers to replace, and the rollout (if any) it is working through."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        #: PIDs of workers to replace, in order
        self.queue: deque[int] = deque()
        #: the generation a rollout in progress is moving to; None outside a rollout
        self.rollout_generation: int | None = None

    @property
    def rollout_active(self) -> bool:
        """A SIGHUP rollout is in progress."""
        return self.rollout_generation is not None

    def _booting(self) -> list[WorkerHandle]:
        """Booting workers the queue or the rollout waits for: replacements, and workers of
        the rollout's generation forked into empty slots (a reload that adds workers)."""
        return [
            h
            for h in self.pool.workers.values()
            if h.state is WorkerState.BOOTING
            and (h.replaces is not None or h.generation == self.rollout_generation)
        ]

    def begin_rollout(self, generation: int) -> int:
        """Queue every READY worker older than ``generation``; a rollout in progress starts
        over (its booting workers make way). The number of workers queued."""
        for handle in self._booting():
            self.pool.stop_worker(handle, signal.SIGTERM, "superseded by a newer reload")
        old = sorted(
            (
                h
                for h in self.pool.workers.values()
                if h.generation < generation and h.state is WorkerState.READY
            ),
            key=lambda h: h.slot,
        )
        self.queue = deque(h.pid for h in old)
        self.rollout_generation = generation
        return len(old)

    def enqueue(self, handle: WorkerHandle) -> None:
        """Queue one worker for replacement (recycling)."""
        if handle.pid not in self.queue:
            self.queue.append(handle.pid)

    def cancel(self, why: str) -> None:
        """Forget the queue and any rollout; booting replacements are stopped."""
        self.queue.clear()
        self.rollout_generation = None
        for handle in self._booting():
            self.pool.stop_worker(handle, signal.SIGTERM, why)

    def advance(self, now: float, batch: int, boot_timeout: float) -> None:
        """Give up on replacements slower than ``boot_timeout``, then start new ones for the
        queue's head: ``batch`` at a time during a rollout, one otherwise."""
        booting = self._booting()
        for handle in booting:
            if now - handle.started_at > boot_timeout:
                handle.send(signal.SIGKILL)
                handle.state = WorkerState.STOPPING
                self.boot_failed(
                    handle, f"not ready within worker_boot_timeout ({boot_timeout:g}s)"
                )
                return
        limit = batch if self.rollout_active else 1
        while len(booting) < limit and self.queue:
            old = self.pool.workers.get(self.queue[0])
            if old is None or old.state is not WorkerState.READY or old.slot > self.pool.target:
                self.queue.popleft()
                continue
            if not self.pool.backoff.may_start(old.slot, now):
                break
            self.queue.popleft()
            booting.append(self.pool.spawn(old.slot, replaces=old.pid))
        self._check_done()

    def new_worker_ready(self, handle: WorkerHandle) -> None:
        """``handle`` is READY: the worker it replaces (if any) drains now."""
        old = self.pool.workers.get(handle.replaces) if handle.replaces is not None else None
        if old is not None and old.state in (WorkerState.BOOTING, WorkerState.READY):
            # HUP tells a worker it drains because it is replaced (WebSockets get 1012)
            self.pool.stop_worker(old, signal.SIGHUP, f"replaced by pid {handle.pid}")
        handle.replaces = None
        self._check_done()

    def boot_failed(self, handle: WorkerHandle, reason: str) -> None:
        """A replacement did not boot: the worker it was to replace keeps serving."""
        generation = self.rollout_generation
        if generation is not None and handle.generation == generation:
            self.cancel("reload aborted")
            self.pool.rollout_finished(generation, reason)
            return
        log.error(
            "Replacement for pid %s could not boot: %s; that worker keeps serving",
            handle.replaces,
            reason,
        )
        self.pool.backoff.worker_died(handle.slot, handle.started_at, time.monotonic())
        if handle.replaces is not None and handle.replaces not in self.queue:
            self.queue.append(handle.replaces)

    def _check_done(self) -> None:
        generation = self.rollout_generation
        if generation is None or self.queue or self._booting():
            return
        if any(h.replaces is not None for h in self.pool.workers.values()):
            return
        self.rollout_generation = None
        self.pool.rollout_finished(generation, None)
