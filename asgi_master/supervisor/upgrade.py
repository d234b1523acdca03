"""SIGUSR2: re-execute a new master that inherits the listening sockets (binary/venv upgrade).

Theory of operation, as nginx and gunicorn do it:

1. The old master renames its pidfile to ``<pidfile>.oldbin`` and forks a child that clears
   close-on-exec on the listening sockets and executes ``python -m asgi_master`` with the old
   master's arguments, from the directory it was started in. The environment carries the
   socket file descriptors, in bind order, and the old master's PID.
2. The new master adopts those sockets instead of binding, writes ``<pidfile>``, forks its
   workers, and when all of them are READY sends SIGTERM to the old master (its parent; the PID
   and parentage are both checked, so a recycled PID is never signalled).
3. The old master drains its workers (as replaced: WebSockets get 1012) and exits, leaving the
   sockets open in the new master and removing ``<pidfile>.oldbin``. The new master is
   reparented (to init, or to the nearest subreaper such as systemd).

Clients see no refused connection: the listening sockets never close, and both generations of
workers accept on them during the hand-over. If the new master dies before it takes over, the
old master renames ``<pidfile>.oldbin`` back and goes on serving.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Final

from ..config.envfile import ENV_FILE
from .exits import describe_exit
from .pidfile import restore_pidfile
from .signals import blocked_for_fork, reset_in_child
from .systemd import Notifier

log = logging.getLogger("asgi_master.error")

INHERIT_FDS_ENV: Final = "ASGI_MASTER_INHERIT_FDS"
#: the exit status of the would-be new master whose ``pre_exec`` hook failed
EXIT_PRE_EXEC_FAILED: Final = 4
UPGRADE_FROM_ENV: Final = "ASGI_MASTER_UPGRADE_FROM"


@dataclass(frozen=True, slots=True)
class Launch:
    """How this master was started: what SIGUSR2 executes again."""

    argv: tuple[str, ...]
    #: the directory it was started in (``chdir`` may have moved it since)
    cwd: str


@dataclass(frozen=True, slots=True)
class Takeover:
    """What a new master received from the old one that started it."""

    fds: tuple[int, ...]
    old_pid: int


def take_takeover(environ: MutableMapping[str, str]) -> Takeover | None:
    """Read and remove the hand-over variables (before the config is loaded: they carry the
    ``ASGI_MASTER_`` prefix but are not settings). None when not started by SIGUSR2."""
    fds_text = environ.pop(INHERIT_FDS_ENV, None)
    pid_text = environ.pop(UPGRADE_FROM_ENV, "")
    if fds_text is None:
        return None
    fds = tuple(int(part) for part in fds_text.split(",") if part.strip().isdigit())
    return Takeover(fds=fds, old_pid=int(pid_text) if pid_text.isdigit() else 0)


def oldbin(pidfile: str) -> str:
    """Where the old master's pidfile goes during an upgrade."""
    return pidfile + ".oldbin"


def start_successor(
    fds: Sequence[int],
    launch: Launch,
    extra_env: Mapping[str, str],
    before_exec: Callable[[], str | None] = lambda: None,
) -> int:
    """Fork and, in the child, execute a new master that inherits ``fds``; the child's PID.

    ``extra_env`` is added to the child's environment (systemd's notify variables); a
    ``WATCHDOG_PID`` in it is replaced by the child's own PID. ``before_exec`` runs in the
    child first (the ``pre_exec`` hook); if it returns an error, the child exits instead.
    """
    env = ENV_FILE.inherited(os.environ)  # without env_file's variables: it reads the file anew
    env.update(extra_env)
    env[INHERIT_FDS_ENV] = ",".join(str(fd) for fd in fds)
    env[UPGRADE_FROM_ENV] = str(os.getpid())
    argv = [sys.executable, "-m", "asgi_master", *launch.argv]
    sys.stdout.flush()
    sys.stderr.flush()
    with blocked_for_fork():
        pid = os.fork()
        if pid == 0:
            _become_successor(fds, launch.cwd, argv, env, before_exec)
    return pid


def _become_successor(
    fds: Sequence[int],
    cwd: str,
    argv: list[str],
    env: dict[str, str],
    before_exec: Callable[[], str | None],
) -> None:
    """In the forked child: drop the master's signal set-up, keep ``fds`` open across exec,
    and execute the new master; never returns."""
    try:
        reset_in_child()
        if before_exec() is not None:  # logged by the hook runner: the upgrade is aborted
            sys.stderr.flush()
            os._exit(EXIT_PRE_EXEC_FAILED)
        if "WATCHDOG_PID" in env:
            env["WATCHDOG_PID"] = str(os.getpid())
        for fd in fds:
            os.set_inheritable(fd, True)
        os.chdir(cwd)
        os.execve(sys.executable, argv, env)
    except BaseException:
        with contextlib.suppress(Exception):
            traceback.print_exc()
            sys.stderr.flush()
    os._exit(127)


def old_master_to_stop(takeover: Takeover | None) -> int | None:
    """The old master's PID if it is still our parent (and so safe to signal), else None."""
    if takeover is None or takeover.old_pid <= 1:
        return None
    return takeover.old_pid if os.getppid() == takeover.old_pid else None


class Phase(enum.Enum):
    """Where this master is in a hand-over."""

    #: no upgrade under way: USR2 may start one
    SERVING = "serving"
    #: the old master's side: a new master it started runs on the same sockets
    SUCCESSOR_STARTED = "successor started"
    #: the new master's side: started by USR2, its workers are not all ready yet
    TAKING_OVER = "taking over"


class Event(enum.Enum):
    """What moves a hand-over on."""

    USR2 = "SIGUSR2"
    SUCCESSOR_EXITED = "the new master exited"
    WORKERS_READY = "our workers are ready"


_TRANSITIONS: Final[dict[tuple[Phase, Event], Phase]] = {
    (Phase.SERVING, Event.USR2): Phase.SUCCESSOR_STARTED,
    (Phase.SUCCESSOR_STARTED, Event.SUCCESSOR_EXITED): Phase.SERVING,
    (Phase.TAKING_OVER, Event.WORKERS_READY): Phase.SERVING,
}


class HandOverError(RuntimeError):
    """An event the hand-over has no transition for in its phase (a bug, not an input)."""


class HandOver:
    """One master's part in SIGUSR2 upgrades: the successor it started (old side), or the
    takeover from the master that started it (new side)."""

    def __init__(self, pid: int, launch: Launch | None, takeover: Takeover | None) -> None:
        self.pid = pid
        #: what USR2 executes again (None: not started from the command line)
        self.launch = launch
        self.takeover = takeover
        #: PID of the new master started by SIGUSR2, until it exits
        self.successor_pid: int | None = None
        self.phase = Phase.TAKING_OVER if takeover is not None else Phase.SERVING

    def _move(self, event: Event) -> None:
        try:
            self.phase = _TRANSITIONS[self.phase, event]
        except KeyError:
            raise HandOverError(f"upgrade: {event.value} while {self.phase.value}") from None

    def refusal(self) -> str | None:
        """Why a SIGUSR2 now would be ignored, or None if it may start an upgrade."""
        if self.launch is None:
            return "this master was not started from the command line"
        if self.phase is Phase.SUCCESSOR_STARTED:
            return f"the new master (pid {self.successor_pid}) is still starting"
        if self.phase is Phase.TAKING_OVER and self.takeover is not None:
            return f"this master is still taking over from pid {self.takeover.old_pid}"
        return None

    def start(
        self,
        fds: Sequence[int],
        pidfile: str | None,
        extra_env: Mapping[str, str],
        before_exec: Callable[[], str | None] = lambda: None,
    ) -> None:
        """SIGUSR2: move the pidfile aside and start the new master on ``fds`` (after
        ``before_exec``, the ``pre_exec`` hook, in its process)."""
        assert self.launch is not None
        if pidfile:
            try:
                os.replace(pidfile, oldbin(pidfile))
            except OSError as exc:
                log.warning("Could not rename the pidfile to %s: %s", oldbin(pidfile), exc.strerror)
        self.successor_pid = start_successor(fds, self.launch, extra_env, before_exec)
        self._move(Event.USR2)
        log.info(
            "SIGUSR2: started a new master (pid %d) on the same sockets; this master "
            "(pid %d) drains and exits once the new one's workers are ready",
            self.successor_pid,
            self.pid,
        )

    def successor_exited(self, status: int, stopping: bool, pidfile: str | None) -> None:
        """The new master is gone; before it took over (we are not stopping), the upgrade
        failed and this master takes its pidfile back."""
        pid, self.successor_pid = self.successor_pid, None
        self._move(Event.SUCCESSOR_EXITED)
        how = (
            f"exited with status {os.WEXITSTATUS(status)}"
            if os.WIFEXITED(status)
            else describe_exit(status)
        )
        if stopping:
            log.warning("The new master (pid %d) %s while this master was stopping", pid, how)
            return
        log.error(
            "Upgrade failed: the new master (pid %d) %s before taking over (its log "
            "lines are above); this master (pid %d) goes on serving",
            pid,
            how,
            self.pid,
        )
        if pidfile:
            restore_pidfile(oldbin(pidfile), pidfile)

    def workers_ready(self, notifier: Notifier) -> None:
        """In the new master, once its first workers are READY: the old master may go."""
        if self.phase is not Phase.TAKING_OVER:
            return
        takeover = self.takeover
        assert takeover is not None
        self._move(Event.WORKERS_READY)
        self.takeover = None
        old = old_master_to_stop(takeover)
        notifier.main_pid(self.pid, f"Took over from pid {takeover.old_pid}")
        if old is None:
            log.warning(
                "Upgrade: the old master (pid %d) is no longer our parent; not signalling it",
                takeover.old_pid,
            )
            return
        log.info(
            "Upgrade: our workers are ready; sending SIGTERM to the old master "
            "(pid %d), which drains its workers and exits",
            old,
        )
        with contextlib.suppress(ProcessLookupError):
            os.kill(old, signal.SIGTERM)
