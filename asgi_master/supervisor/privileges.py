"""Privileges and process files: ``user``/``group`` for the workers, ``umask``, ``chdir``.

Decision: the master keeps the privileges it was started with and each worker drops to
``user``/``group`` right after the fork, before it imports the application. The master needs
them after start-up too: to reopen log files in root-owned directories (SIGUSR1), to rename and
rewrite a pidfile under /run (SIGUSR2), to remove a UNIX socket on exit. The application never
runs as root. (nginx, and gunicorn's workers, do the same.) Log files the master opens are
handed to the workers' user so they can reopen them.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
from collections.abc import Iterable
from dataclasses import dataclass

from ..config import Config


class PrivilegeError(Exception):
    """``user``/``group``/``chdir`` cannot be applied; the message is one line."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """Who the workers run as."""

    uid: int
    gid: int
    #: for ``initgroups`` (supplementary groups); None for a uid with no passwd entry
    name: str | None


def _uid(user: str) -> tuple[int, int | None, str | None]:
    """uid, primary gid (if known) and name of a user given by name or number."""
    try:
        entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except KeyError:
        if user.isdigit():
            return int(user), None, None
        raise PrivilegeError(f"there is no user '{user}' on this system") from None
    return entry.pw_uid, entry.pw_gid, entry.pw_name


def _gid(group: str) -> int:
    if group.isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise PrivilegeError(f"there is no group '{group}' on this system") from None


def resolve_credentials(config: Config) -> Credentials | None:
    """The workers' credentials, or None when they run as the master does.

    PrivilegeError if they cannot be switched to (not root, and not already that user).
    """
    if config.user is None and config.group is None:
        return None
    uid, gid, name = os.getuid(), os.getgid(), None
    if config.user is not None:
        uid, primary, name = _uid(config.user)
        gid = primary if primary is not None else gid
    if config.group is not None:
        gid = _gid(config.group)
    if os.geteuid() != 0 and (uid != os.geteuid() or gid != os.getegid()):
        raise PrivilegeError(
            f"cannot run workers as user {config.user or uid} group "
            f"{config.group or gid}: the master is not running as root"
        )
    return Credentials(uid=uid, gid=gid, name=name)


def drop_privileges(credentials: Credentials | None) -> None:
    """In a freshly forked worker: become ``credentials`` for good (group first)."""
    if credentials is None or os.geteuid() != 0:
        return
    if credentials.name is not None:
        os.initgroups(credentials.name, credentials.gid)
    else:
        os.setgroups([])
    os.setgid(credentials.gid)
    os.setuid(credentials.uid)


def hand_over(paths: Iterable[str], credentials: Credentials | None) -> None:
    """Give files the master created (log files) to the workers' user, so a worker can reopen
    them after SIGUSR1."""
    if credentials is None or os.geteuid() != 0:
        return
    for path in paths:
        with contextlib.suppress(OSError):
            os.chown(path, credentials.uid, credentials.gid)


def apply_process_settings(config: Config) -> None:
    """``umask`` and ``chdir``, in the master (workers inherit both)."""
    if config.umask is not None:
        os.umask(config.umask)
    if config.chdir:
        try:
            os.chdir(config.chdir)
        except OSError as exc:
            raise PrivilegeError(f"cannot chdir to {config.chdir}: {exc.strerror}") from None
