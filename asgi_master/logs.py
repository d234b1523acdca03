"""Log set-up shared by master and workers: error log to stderr, access log to stdout."""

from __future__ import annotations

import logging
import sys

ERROR_LOGGER = "asgi_master.error"
ACCESS_LOGGER = "asgi_master.access"


def configure(level: str, access_log: bool) -> None:
    """Install the handlers; safe to call again (a reload replaces them)."""
    error = logging.getLogger(ERROR_LOGGER)
    access = logging.getLogger(ACCESS_LOGGER)
    for logger, stream, fmt in (
        (error, sys.stderr, "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s"),
        (access, sys.stdout, "[%(asctime)s] [%(process)d] %(message)s"),
    ):
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter(fmt, "%Y-%m-%d %H:%M:%S %z"))
        logger.addHandler(handler)
        logger.propagate = False
    error.setLevel(level.upper())
    access.setLevel(logging.INFO if access_log else logging.CRITICAL + 1)
