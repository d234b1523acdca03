"""Log set-up shared by master and workers: the error log and the access log, and reopening them.

By default the error log goes to stderr and the access log to stdout. ``error_log`` names a file
that replaces stderr itself (file descriptor 2 is pointed at it), so whatever a process writes
to stderr lands there too: tracebacks, ``faulthandler`` stack dumps, warnings. ``access_log_file``
names a file for the access lines only. Both are reopened by ``reopen`` (SIGUSR1), after a log
rotation moved them away; each process reopens its own, the master first.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Config

ERROR_LOGGER = "asgi_master.error"
ACCESS_LOGGER = "asgi_master.access"

_ERROR_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s"
_ACCESS_FORMAT = "[%(asctime)s] [%(process)d] %(message)s"
_DATE_FORMAT = "%Y-%m-%d %H:%M:%S %z"


def _file_path(setting: str | None) -> str | None:
    """``None`` and ``"-"`` mean the standard stream; anything else is a file, made absolute
    so a later ``chdir`` does not move it."""
    return None if setting in (None, "", "-") else os.path.abspath(str(setting))


class ErrorLogFile(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to stderr, after pointing file descriptor 2 at ``path``."""

    def __init__(self, path: str) -> None:
        super().__init__(sys.stderr)
        self.path = path
        self.reopen()

    def reopen(self) -> None:
        """(Re)open ``path`` for appending and make it this process's stderr."""
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        self.acquire()
        try:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(fd, 2)  # dup2 leaves fd 2 inheritable: workers and a re-exec keep it
        finally:
            self.release()
            os.close(fd)


class AccessLogFile(logging.FileHandler):
    """The access log in a file, reopenable in place."""

    def __init__(self, path: str) -> None:
        super().__init__(path, mode="a", encoding="utf-8")
        self.path = path

    def reopen(self) -> None:
        """Close the file and open ``path`` again (a new file if the old one was moved)."""
        self.acquire()
        try:
            if self.stream is not None:
                with contextlib.suppress(OSError):
                    self.stream.close()
            self.stream = self._open()
        finally:
            self.release()


def _handler_for(
    logger: logging.Logger, path: str | None, stream_is_stdout: bool
) -> logging.Handler:
    """The logger's current handler if it already writes where asked, else a new one."""
    for handler in logger.handlers:
        if getattr(handler, "path", None) == path and (
            path is not None
            or getattr(handler, "stream", None) is (sys.stdout if stream_is_stdout else sys.stderr)
        ):
            return handler
    if path is None:
        return logging.StreamHandler(sys.stdout if stream_is_stdout else sys.stderr)
    return AccessLogFile(path) if stream_is_stdout else ErrorLogFile(path)


def configure(
    level: str,
    access_log: bool,
    error_log: str | None = None,
    access_log_file: str | None = None,
    *,
    access_json: bool = False,
) -> None:
    """Install the handlers; safe to call again (a reload replaces them, a worker keeps the
    files its master opened). ``access_json``: access lines are JSON objects, written bare
    (no time and PID prefix) so that each line parses."""
    error = logging.getLogger(ERROR_LOGGER)
    access = logging.getLogger(ACCESS_LOGGER)
    for logger, path, is_stdout, fmt in (
        (error, _file_path(error_log), False, _ERROR_FORMAT),
        (
            access,
            _file_path(access_log_file),
            True,
            "%(message)s" if access_json else _ACCESS_FORMAT,
        ),
    ):
        handler = _handler_for(logger, path, is_stdout)
        for old in list(logger.handlers):
            if old is not handler:
                logger.removeHandler(old)
                if isinstance(old, AccessLogFile):
                    old.close()
        handler.setFormatter(logging.Formatter(fmt, _DATE_FORMAT))
        if handler not in logger.handlers:
            logger.addHandler(handler)
        logger.propagate = False
    error.setLevel(level.upper())
    access.setLevel(logging.INFO if access_log else logging.CRITICAL + 1)


def log_files() -> list[str]:
    """Paths of the log files in use (empty when both logs go to the standard streams)."""
    paths: list[str] = []
    for name in (ERROR_LOGGER, ACCESS_LOGGER):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, ErrorLogFile | AccessLogFile):
                paths.append(handler.path)
    return paths


def reopen() -> list[str]:
    """Reopen every log file (SIGUSR1); the paths reopened."""
    reopened: list[str] = []
    for name in (ERROR_LOGGER, ACCESS_LOGGER):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, ErrorLogFile | AccessLogFile):
                handler.reopen()
                reopened.append(handler.path)
    return reopened


def setup(config: Config) -> None:
    """The logs as ``config`` asks: handlers and files, then ``log_config`` applied on top."""
    configure(
        config.log_level,
        config.access_log,
        config.error_log,
        config.access_log_file,
        access_json=config.log_format == "json",
    )
    if config.log_config:
        # (imported here: logging.config and its handlers are for this option alone)
        import logging.config

        from .config.logconfig import read_log_config

        try:
            logging.config.dictConfig(read_log_config(config.log_config))
        except ValueError as exc:
            # the table was checked at load; what is left is a file that will not open, which
            # dictConfig wraps: hand the OSError on, as opening our own log files does
            if isinstance(exc.__cause__, OSError):
                raise exc.__cause__ from None
            raise
