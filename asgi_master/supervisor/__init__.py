"""The master: sockets, fork, signals, reaping, heartbeats. ``run`` is its entry point."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..config import Config
from .master import Master
from .pidfile import PidfileError, remove_pidfile, write_pidfile
from .sockets import BindError, bind_all

log = logging.getLogger("asgi_master.error")


def run(config: Config, reload_config: Callable[[], Config]) -> int:
    """Bind, write the pidfile, supervise workers until stopped; the process exit status.

    ``reload_config`` builds a fresh Config on SIGHUP (it raises ConfigError if invalid).
    """
    try:
        listeners = bind_all(config)
    except BindError as exc:
        log.error("%s", exc)
        return 1
    try:
        if config.pidfile:
            write_pidfile(config.pidfile)
    except (PidfileError, OSError) as exc:
        log.error("%s", exc)
        for listener in listeners:
            listener.close()
        return 1
    try:
        return Master(config, listeners, reload_config).run()
    finally:
        for listener in listeners:
            listener.close()
        if config.pidfile:
            remove_pidfile(config.pidfile)


__all__ = ["run"]
