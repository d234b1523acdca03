"""``reload = true`` for development: watch the app's source files and roll out a reload.

Two ways to watch (``reload_watcher``). ``EventWatcher`` runs watchfiles (inotify) in a child
process (``filewatch``), which writes each changed path as a
line to a pipe the master selects on: watchfiles runs a thread, and the master, which forks,
keeps none. ``PollingWatcher`` compares modification times once a second from the master's
own loop and needs nothing installed. Either way a change starts the same rolling reload as
SIGHUP, so a broken edit is refused and the old workers keep serving until the file is fixed.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

from .exits import describe_exit

if TYPE_CHECKING:
    from ..config import Config

log = logging.getLogger("asgi_master.error")

#: directories never worth watching (virtual environments, caches, VCS, packages)
_SKIP_DIRS: Final = frozenset(
    {
        ".git",
        ".hg",
        ".venv",
        "venv",
        "env",
        "__pycache__",
        "node_modules",
        "site-packages",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        "build",
        "dist",
    }
)
SUFFIXES: Final = (".py", ".toml", ".json", ".yaml", ".yml", ".ini", ".env")
INTERVAL: Final = 1.0


def _sources(root: str) -> Iterator[str]:
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = [d for d in subdirs if d not in _SKIP_DIRS and not d.startswith(".")]
        for name in files:
            if name.endswith(SUFFIXES):
                yield os.path.join(directory, name)


def skipped(root: str, path: str) -> bool:
    """A path under a directory neither watcher looks into."""
    parts = os.path.relpath(path, root).split(os.sep)[:-1]
    return any(part in _SKIP_DIRS or part.startswith(".") for part in parts)


class PollingWatcher:
    """Notices files under ``root`` (and ``extra`` files) being changed, added or removed."""

    #: no child process
    pid: int | None = None

    def __init__(self, root: str, extra: tuple[str, ...] = ()) -> None:
        self.root = os.path.abspath(root)
        self.extra = tuple(os.path.abspath(p) for p in extra)
        self._next = 0.0
        self._seen = self._snapshot()

    @property
    def fds(self) -> list[int]:
        """Nothing to select on: the master's loop ticks at least once a second anyway."""
        return []

    def describe(self) -> str:
        """How it watches, for the log."""
        return f"polling {self.root} once a second"

    def close(self) -> None:
        """Nothing to release."""

    def _snapshot(self) -> dict[str, float]:
        seen: dict[str, float] = {}
        for path in (*_sources(self.root), *self.extra):
            try:
                seen[path] = os.stat(path).st_mtime
            except OSError:
                continue
        return seen

    def changed(self, now: float) -> list[str]:
        """Paths changed since the last look (at most one look per INTERVAL)."""
        if now < self._next:
            return []
        self._next = now + INTERVAL
        current = self._snapshot()
        changed = [p for p, mtime in current.items() if self._seen.get(p) != mtime]
        changed += [p for p in self._seen if p not in current]
        self._seen = current
        return sorted(changed)


class EventWatcher:
    """watchfiles in a child process; changed paths arrive one per line on a pipe."""

    def __init__(self, root: str, extra: tuple[str, ...] = ()) -> None:
        self.root = os.path.abspath(root)
        self.extra = tuple(os.path.abspath(p) for p in extra)
        read_fd, write_fd = os.pipe()
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "asgi_master.supervisor.filewatch",
                    str(os.getpid()),
                    self.root,
                    *self.extra,
                ],
                stdin=subprocess.DEVNULL,
                stdout=write_fd,
                close_fds=True,
            )
        except OSError:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        os.set_blocking(read_fd, False)
        self.pid: int | None = self._process.pid
        self._fd = read_fd
        self._partial = b""

    @property
    def fds(self) -> list[int]:
        """The pipe, while the child may still write to it."""
        return [self._fd] if self._fd >= 0 else []

    def describe(self) -> str:
        """How it watches, for the log."""
        return f"watching {self.root} with watchfiles (pid {self.pid})"

    def changed(self, now: float) -> list[str]:
        """Paths the child reported since the last look."""
        if self._fd < 0:
            return []
        data = self._partial
        while True:
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                break
            if not chunk:  # the child is gone; the master reaps it
                os.close(self._fd)
                self._fd = -1
                break
            data += chunk
        *lines, self._partial = data.split(b"\n")
        return sorted({os.fsdecode(line) for line in lines if line})

    def exited(self, status: int) -> None:
        """The master reaped the child (``waitpid(-1)``): tell the Popen object."""
        self._process.returncode = status
        self.pid = None

    def fall_back_to_polling(self, status: int) -> PollingWatcher:
        """The child died (``status`` from waitpid) while the master serves: poll instead."""
        log.warning(
            "reload: the file watcher (pid %s) %s; polling from now on",
            self._process.pid,
            describe_exit(status),
        )
        self.close()
        return PollingWatcher(self.root, self.extra)

    def close(self) -> None:
        """Stop the child and wait for it (the master is exiting)."""
        if self.pid is not None:
            try:
                self._process.terminate()
                self._process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
            self.pid = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


Watcher = PollingWatcher | EventWatcher


def describe_changes(changed: list[str]) -> str:
    """The changed paths for the log: the first three, then how many more."""
    more = f" (and {len(changed) - 3} more)" if len(changed) > 3 else ""
    return ", ".join(changed[:3]) + more


def start_watcher(config: Config) -> Watcher:
    """The watcher ``reload_watcher`` asks for (``auto``: watchfiles when installed)."""
    extra = tuple(filter(None, [config.config_file]))
    kind = config.reload_watcher
    if kind == "auto":
        kind = "watchfiles" if importlib.util.find_spec("watchfiles") is not None else "poll"
    if kind == "watchfiles":
        try:
            return EventWatcher(config.app_dir, extra)
        except OSError as exc:
            log.warning(
                "reload: cannot start the watchfiles process (%s); polling instead",
                exc.strerror or exc,
            )
    return PollingWatcher(config.app_dir, extra)
