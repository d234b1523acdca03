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
import os
import sys
import traceback
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Final

from ..config.envfile import ENV_FILE
from .signals import blocked_for_fork, reset_in_child

INHERIT_FDS_ENV: Final = "ASGI_MASTER_INHERIT_FDS"
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


def start_successor(fds: Sequence[int], launch: Launch, extra_env: Mapping[str, str]) -> int:
    """Fork and, in the child, execute a new master that inherits ``fds``; the child's PID.

    ``extra_env`` is added to the child's environment (systemd's notify variables); a
    ``WATCHDOG_PID`` in it is replaced by the child's own PID.
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
            _become_successor(fds, launch.cwd, argv, env)
    return pid


def _become_successor(fds: Sequence[int], cwd: str, argv: list[str], env: dict[str, str]) -> None:
    """In the forked child: drop the master's signal set-up, keep ``fds`` open across exec,
    and execute the new master; never returns."""
    try:
        reset_in_child()
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
