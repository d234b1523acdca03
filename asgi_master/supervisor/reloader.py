"""``reload = true`` for development: watch the app's source files and roll out a reload.

The master polls modification times once a second from its own loop. No watcher thread (the
master forks, and a thread in a forking process is a hazard) and no extra dependency. A change
starts the same rolling reload as SIGHUP, so a broken edit is refused and the old workers keep
serving until the file is fixed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Final

#: directories never worth watching (virtual environments, caches, VCS, packages)
_SKIP_DIRS: Final = frozenset({
    ".git", ".hg", ".venv", "venv", "env", "__pycache__", "node_modules", "site-packages",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox", "build", "dist",
})
_SUFFIXES: Final = (".py", ".toml", ".json", ".yaml", ".yml", ".ini", ".env")
INTERVAL: Final = 1.0


def _sources(root: str) -> Iterator[str]:
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = [d for d in subdirs if d not in _SKIP_DIRS and not d.startswith(".")]
        for name in files:
            if name.endswith(_SUFFIXES):
                yield os.path.join(directory, name)


class SourceWatcher:
    """Notices files under ``root`` (and ``extra`` files) being changed, added or removed."""

    def __init__(self, root: str, extra: tuple[str, ...] = ()) -> None:
        self.root = os.path.abspath(root)
        self.extra = tuple(os.path.abspath(p) for p in extra)
        self._next = 0.0
        self._seen = self._snapshot()

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
