"""Configuration generations: which one new workers get, which one the workers serve, which
one a failed reload returns to, and how the last reload went.

Each SIGHUP that reads a valid configuration starts a new generation; new workers are forked
with the newest one. It becomes the live one when its rollout completes. If the rollout fails,
the master goes back to the configuration of the live generation (kept here as ``fallback``),
so a later fork does not use the broken one. ``last_reload`` is what systemd's STATUS= line
and the metrics show.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..config import Config
from .privileges import Credentials

log = logging.getLogger("asgi_master.error")


@dataclass(frozen=True, slots=True)
class Deployment:
    """A configuration and the worker credentials resolved from it."""

    config: Config
    credentials: Credentials | None


class Generations:
    """The master's generation counters and its way back from a failed reload."""

    def __init__(self, first: Deployment) -> None:
        #: the generation new workers are forked with
        self.newest = 1
        #: the generation the workers serve (a failed reload leaves it behind ``newest``)
        self.live = 1
        self.last_reload = "none"
        #: the deployment of the live generation, to return to if a rollout fails
        self.fallback = first

    def refused(self, reason: str) -> None:
        """A reload whose configuration is invalid: nothing changes."""
        log.error(
            "Reload refused, configuration invalid: %s. Generation %d keeps serving.",
            reason,
            self.live,
        )
        self.last_reload = f"refused: {reason}"

    def begin(self, serving: Deployment, rollout_active: bool) -> int:
        """A new generation starts its rollout; ``serving`` is what the master used until now
        (the fallback, unless a rollout in progress is being started over). Its number."""
        if not rollout_active:
            self.fallback = serving
        self.newest += 1
        return self.newest

    def finished(self, generation: int, failure: str | None, ready: int) -> Deployment | None:
        """A rollout ended with ``ready`` workers READY; the deployment to go back to if it
        failed, else None."""
        if failure is None:
            self.live = generation
            self.last_reload = f"generation {generation} ok"
            log.info("Reload complete: generation %d serving with %d worker(s)", generation, ready)
            return None
        self.last_reload = f"generation {generation} failed: {failure}"
        log.error(
            "Reload failed: generation %d could not boot: %s. The previous workers "
            "keep serving; fix the problem and send SIGHUP again.",
            generation,
            failure,
        )
        return self.fallback

    def cancelled(self, why: str) -> None:
        """A rollout was called off (SIGWINCH): the newest generation counts as live."""
        self.live = self.newest
        self.last_reload = f"generation {self.newest} cancelled by {why}"

    def status(self, ready: int, target: int) -> str:
        """One line for systemd's STATUS=: workers ready, generation, last reload."""
        return (
            f"{ready}/{target} workers ready, generation {self.live}, "
            f"last reload: {self.last_reload}"
        )
