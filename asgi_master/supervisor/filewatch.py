"""The reload watcher's child process: watchfiles (inotify) on the app's sources.

Started by ``reloader.EventWatcher`` as ``python -m asgi_master.supervisor.filewatch MASTER_PID
ROOT [FILE ...]``; writes each changed path as a line to stdout (a pipe the master selects on)
and exits when the master does. A process of its own because watchfiles runs a thread, and the
master, which forks, keeps none.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from typing import Any

from .reloader import SUFFIXES, skipped


def watch(master_pid: int, root: str, extra: list[str]) -> int:
    """Report changed sources under ``root`` and the ``extra`` files until the master dies."""
    import setproctitle
    import watchfiles

    setproctitle.setproctitle(f"asgi-master: file watcher [{root}]")
    with contextlib.suppress(OSError, AttributeError):
        # TERM when the master dies (Linux: PR_SET_PDEATHSIG); the ppid check below covers the rest
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is the master's to handle
    extra_set = frozenset(extra)

    class SourceFilter(watchfiles.DefaultFilter):
        def __call__(self, change: Any, path: str) -> bool:
            if path in extra_set:
                return True
            if not path.startswith(root + os.sep) or not path.endswith(SUFFIXES):
                return False
            return not skipped(root, path) and bool(super().__call__(change, path))

    # an editor may save a file by renaming a new one over it: watch the directories
    paths = sorted({root, *(os.path.dirname(p) for p in extra)})
    for changes in watchfiles.watch(*paths, watch_filter=SourceFilter(), raise_interrupt=False):
        if os.getppid() != master_pid:
            return 0
        lines = b"".join(os.fsencode(path) + b"\n" for _, path in changes)
        try:
            os.write(1, lines)
        except BrokenPipeError:
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(watch(int(sys.argv[1]), sys.argv[2], sys.argv[3:]))
