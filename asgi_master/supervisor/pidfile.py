"""The master's pidfile: refuse to start over a live master, clean up on exit."""

from __future__ import annotations

import contextlib
import os


class PidfileError(Exception):
    """The pidfile cannot be written, or another live process owns it; one line."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_pidfile(path: str) -> None:
    """Write our PID, replacing a stale file; refuse if the PID in it is alive."""
    with contextlib.suppress(FileNotFoundError, ValueError):
        with open(path) as fh:
            pid = int(fh.read().strip() or "0")
        if pid > 0 and pid != os.getpid() and _alive(pid):
            raise PidfileError(f"pidfile {path} names process {pid}, which is running")
    # written aside and renamed, so a reader never sees a half-written file
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w") as fh:
            fh.write(f"{os.getpid()}\n")
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise PidfileError(f"cannot write pidfile {path}: {exc.strerror}") from None


def remove_pidfile(path: str) -> None:
    """Remove the pidfile if it still names us."""
    if read_pid(path) == os.getpid():
        with contextlib.suppress(OSError):
            os.unlink(path)


def read_pid(path: str) -> int | None:
    """The PID a pidfile names, or None if it is missing or unreadable."""
    try:
        with open(path) as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


def restore_pidfile(oldbin: str, path: str) -> None:
    """Move our ``<pidfile>.oldbin`` back to ``<pidfile>`` (a SIGUSR2 upgrade failed), unless
    a live process other than us now owns ``<pidfile>``."""
    if read_pid(oldbin) != os.getpid():
        return
    owner = read_pid(path)
    if owner is not None and owner != os.getpid() and _alive(owner):
        return
    with contextlib.suppress(OSError):
        os.replace(oldbin, path)
