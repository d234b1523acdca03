"""The master: sockets, fork, signals, reaping, heartbeats, reloads, upgrades, systemd.

``run`` is its entry point.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable

from .. import hooks, logs
from ..config import Config
from ..worker import AppLoadError
from .master import Master
from .metrics import MetricsEndpoint
from .pidfile import PidfileError, remove_pidfile, write_pidfile
from .preload import preload, reload_behaviour
from .privileges import PrivilegeError, apply_process_settings, hand_over, resolve_credentials
from .rlimits import raise_open_files_limit
from .sockets import BindError, Listener, adopt_all, bind_all
from .systemd import Notifier, take_listen_fds
from .upgrade import Launch, Takeover, oldbin, take_takeover

log = logging.getLogger("asgi_master.error")


def _listeners(
    config: Config, takeover: Takeover | None, activated: list[tuple[int, str]]
) -> list[Listener]:
    """The sockets to serve on: the old master's (SIGUSR2), systemd's, or bound here."""
    if takeover is not None:
        listeners = adopt_all([(fd, None) for fd in takeover.fds])
        unix_paths = {os.path.abspath(spec.path) for spec in config.bind if spec.kind == "unix"}
        for listener in listeners:
            # we now own the UNIX socket files the old master created
            if listener.sock.family == socket.AF_UNIX:
                name = listener.sock.getsockname()
                if isinstance(name, str) and name and os.path.abspath(name) in unix_paths:
                    listener.created_path = name
        log.info(
            "Upgrade: serving on %d socket(s) inherited from the old master (pid %d)",
            len(listeners),
            takeover.old_pid,
        )
        return listeners
    if activated:
        log.info(
            "Socket activation: serving on %d socket(s) passed by systemd; `bind` is not used",
            len(activated),
        )
        return adopt_all([(fd, name) for fd, name in activated])
    return bind_all(config)


def _metrics_endpoint(config: Config) -> MetricsEndpoint | None:
    """The Prometheus endpoint of ``metrics_bind``, listening; OSError names the address."""
    if config.metrics_bind is None:
        return None
    try:
        metrics = MetricsEndpoint(config.metrics_bind)
    except OSError as exc:
        raise OSError(
            f"cannot serve metrics on {config.metrics_bind}: {exc.strerror or exc}"
        ) from None
    log.info("Metrics on http://%s/metrics", metrics.describe())
    return metrics


def run(
    config: Config,
    reload_config: Callable[[], Config],
    launch: Launch | None = None,
    takeover: Takeover | None = None,
) -> int:
    """Apply process settings, get the sockets, write the pidfile, supervise workers until
    stopped; the process exit status.

    ``reload_config`` builds a fresh Config on SIGHUP (it raises ConfigError if invalid).
    ``launch`` is what SIGUSR2 re-executes; ``takeover`` is set in a master started that way.
    """
    notifier = Notifier.from_environ(os.environ)
    activated = take_listen_fds(os.environ)
    try:
        apply_process_settings(config)
        credentials = resolve_credentials(config)
    except PrivilegeError as exc:
        log.error("%s", exc)
        return 1
    try:
        logs.setup(config)
    except OSError as exc:
        log.error("cannot open log file %s: %s", exc.filename, exc.strerror)
        return 1
    hand_over(logs.log_files(), credentials)
    raise_open_files_limit(config, announce=True)
    if hooks.load(config, "master") is not None:
        return 2
    if hooks.run(config, "on_starting", hooks.Server(os.getpid(), config, 1)) is not None:
        return 1
    try:
        preloaded = preload(config)
    except AppLoadError as exc:
        log.error("Cannot preload the app: %s", exc, exc_info=exc.__cause__)
        return 2
    if config.preload_app:
        log.info("Preloaded %s in the master; %s", config.app, reload_behaviour(config))
    try:
        listeners = _listeners(config, takeover, activated)
    except BindError as exc:
        log.error("%s", exc)
        return 1
    pidfile = config.pidfile
    metrics = None
    try:
        metrics = _metrics_endpoint(config)
        if pidfile:
            write_pidfile(pidfile)
    except (PidfileError, OSError) as exc:
        log.error("%s", exc)
        if metrics is not None:
            metrics.close()
        for listener in listeners:
            listener.close(unlink=takeover is None)
        return 1
    master = Master(
        config,
        listeners,
        reload_config,
        launch=launch,
        takeover=takeover,
        notifier=notifier,
        credentials=credentials,
        metrics=metrics,
        preloaded=preloaded,
    )
    try:
        return master.run()
    finally:
        # after a SIGUSR2 hand-over the new master serves on these sockets: keep their files
        handed_over = master.upgrade.successor_pid is not None
        for listener in listeners:
            listener.close(unlink=not handed_over)
        if pidfile:
            remove_pidfile(pidfile)
            remove_pidfile(oldbin(pidfile))


__all__ = ["Launch", "Takeover", "run", "take_takeover"]
