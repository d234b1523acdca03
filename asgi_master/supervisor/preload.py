"""``preload_app``: the master imports the app once, before it forks the workers.

Workers forked from a master that holds the app share its memory copy-on-write, so N workers
cost far less than N imports, and they boot faster; an app that cannot be imported stops the
start at once instead of failing in every worker. The garbage collector would write to every
object it examines (its reference counts live in the object's header) and so copy the shared
pages one by one in each worker: the import runs with collection paused, then ``gc.freeze()``
moves everything it made to the permanent generation, which collections never visit (the
recipe of CPython's ``gc.freeze`` documentation, as large Django deployments use it).

The price is the one gunicorn documents: new workers are forked from the master's copy, so
SIGHUP re-reads the configuration and replaces the workers but does not load new code. A new
master (SIGUSR2) imports it afresh.
"""

from __future__ import annotations

import gc
import logging

from ..config import Config
from ..worker import import_app

log = logging.getLogger("asgi_master.error")


def preload(config: Config) -> object:
    """The app object (or, with ``factory``, the factory) of ``config``, imported in this
    process; None without ``preload_app``. AppLoadError if it cannot be imported."""
    if not config.preload_app:
        return None
    gc.disable()  # no collection while the app is built: fewer holes in the shared pages
    try:
        app = import_app(config.app or "", config.app_dir)
    finally:
        gc.enable()
    gc.freeze()
    return app


def reload_behaviour(config: Config) -> str:
    """What SIGHUP does under ``config``, in one line (the log at start, ``--check-config``)."""
    if config.preload_app:
        return (
            "preload_app: SIGHUP re-reads the configuration and replaces the workers but does "
            "not reload the app's code (the master holds it); SIGUSR2 starts a new master that "
            "imports it afresh"
        )
    return "SIGHUP re-reads the configuration and replaces the workers, which import the app anew"
