"""Explaining why a worker process ended, in words an operator can act on."""

from __future__ import annotations

import os
import signal

from ..worker import EXIT_APP_IMPORT, EXIT_BOOT_FAILED, EXIT_OK

_CODES = {
    EXIT_OK: "exited normally",
    EXIT_APP_IMPORT: "exited: the app could not be imported (status 2)",
    EXIT_BOOT_FAILED: "exited: the app failed to start (status 3)",
}


#: the signals by which the master stops a worker
_STOPPING = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGINT)


def describe_exit(
    status: int, *, we_killed: bool = False, sent: signal.Signals | None = None
) -> str:
    """``os.waitpid`` status -> a sentence fragment such as "killed by SIGKILL (out of memory?)".
    ``sent`` is the last signal the master sent the process: dying of a stop signal it was
    sent is "stopped by" it, no surprise."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        if sent is not None and number == sent and sent in _STOPPING:
            return f"stopped by {name}"
        text = f"killed by {name}"
        if number == signal.SIGKILL and not we_killed:
            text += " (out of memory? check the kernel log)"
        elif number == signal.SIGSEGV:
            text += " (crashed in native code)"
        if os.WCOREDUMP(status):
            text += ", core dumped"
        return text
    code = os.WEXITSTATUS(status)
    return _CODES.get(code, f"exited with status {code}")
