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
from collections.abc import Callable
from dataclasses import dataclass

from .. import hooks
from ..config import Config, ConfigError
from ..worker import AppLoadError
from .preload import preload
from .privileges import (
    Credentials,
    PrivilegeError,
    apply_process_settings,
    resolve_credentials,
)

log = logging.getLogger("asgi_master.error")


@dataclass(frozen=True, slots=True)
class Deployment:
    """A configuration, the worker credentials resolved from it, and the app object the
    master holds with ``preload_app`` (None without)."""

    config: Config
    credentials: Credentials | None
    preloaded: object = None


class ReloadRefused(Exception):
    """A reload's configuration cannot be used; the message is one line saying why."""


def read_deployment(read_config: Callable[[], Config]) -> Deployment:
    """The deployment a reload would roll out: the configuration re-read and checked, its
    process settings applied, its master hooks imported and (``preload_app``) its app."""
    try:
        config = read_config()
        credentials = resolve_credentials(config)
        apply_process_settings(config)
    except (ConfigError, PrivilegeError) as exc:
        raise ReloadRefused(f"configuration invalid: {exc}") from None
    problem = hooks.load(config, "master")
    if problem is not None:
        raise ReloadRefused(problem)
    try:
        preloaded = preload(config)
    except AppLoadError as exc:
        log.error("Cannot preload the app: %s", exc, exc_info=exc.__cause__)
        raise ReloadRefused(f"the app cannot be preloaded: {exc}") from None
    return Deployment(config, credentials, preloaded)


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
        #: what started the newest rollout: SIGHUP, or a changed file (``reload = true``)
        self.cause = "SIGHUP"

    def refused(self, reason: str) -> None:
        """A reload whose configuration cannot be used: nothing changes."""
        log.error("Reload refused (generation %d keeps serving): %s", self.live, reason)
        self.last_reload = f"refused: {reason}"

    def begin(self, serving: Deployment, rollout_active: bool, cause: str) -> int:
        """A new generation starts its rollout; ``serving`` is what the master used until now
        (the fallback, unless a rollout in progress is being started over). Its number."""
        if not rollout_active:
            self.fallback = serving
        self.newest += 1
        self.cause = cause
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
            "keep serving; fix the problem and %s.",
            generation,
            failure,
            "send SIGHUP again" if self.cause == "SIGHUP" else "save the file again",
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
