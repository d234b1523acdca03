"""Server hooks: the operator's own callables, run at fixed points of the master's and the
workers' lives (gunicorn's ``on_starting``, ``post_fork`` and the rest).

TOML holds no code, so a hook setting names a callable by import path
(``post_fork = "myproject.hooks:post_fork"``). A hook is imported where it runs: master hooks
in the master, worker hooks in the worker after the fork, so the master never imports worker
hooks' modules (a pool library imported in the master would be shared by every worker).
``--check-config`` imports every hook set and checks that it takes the documented arguments.

What a hook receives is plain data, never the server's objects: ``Server`` (the master's PID,
the configuration, the generation) and ``Worker`` (slot, PID, generation and, in
``child_exit``, how it ended). When a hook raises, the error is logged with the hook's name and
its traceback, and ``HOOKS`` (config/hookspecs.py) says what follows: ``post_fork`` and
``post_worker_init`` fail the worker's boot as a failed lifespan startup does, ``on_starting``
stops the start, ``pre_exec`` aborts the upgrade; the others are logged and the server carries
on.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .config import Config
from .config.hookspecs import HOOKS

log = logging.getLogger("asgi_master.error")


@dataclass(frozen=True, slots=True)
class Server:
    """The server, as a hook sees it."""

    #: the master's PID
    pid: int
    config: Config
    #: the configuration generation (1 at start, one more per accepted SIGHUP)
    generation: int


@dataclass(frozen=True, slots=True)
class Worker:
    """One worker, as a hook sees it."""

    #: 1..workers; a replacement takes the slot of the worker it replaces
    slot: int
    #: 0 in ``pre_fork`` (not forked yet)
    pid: int
    generation: int
    #: ``child_exit``: the ``os.waitpid`` status and how the master explains it
    exit_status: int | None = None
    exit_reason: str = ""


class HookError(Exception):
    """A hook could not be imported or raised; the message is one line naming it."""


def resolve(name: str, path: str, app_dir: str = ".") -> Callable[..., Any]:
    """The callable ``path`` names for hook ``name``, imported with ``app_dir`` on sys.path."""
    directory = os.path.abspath(app_dir)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    module_name, _, attrs = path.partition(":")
    try:
        target: object = importlib.import_module(module_name)
    except Exception as exc:
        raise HookError(
            f"{name} hook {path!r}: cannot import {module_name}: {_error(exc)}"
        ) from exc
    for attr in attrs.split("."):
        try:
            target = getattr(target, attr)
        except AttributeError:
            raise HookError(f"{name} hook {path!r}: {module_name} has no {attrs}") from None
    if not callable(target):
        raise HookError(f"{name} hook {path!r} is not callable (it is a {type(target).__name__})")
    return target


def load(config: Config, where: str) -> str | None:
    """Import every hook of ``config`` that runs in ``where`` (``master`` or ``worker``), so
    a wrong path is found at start, not when the hook first runs: the first problem (logged)
    or None."""
    for name, spec in HOOKS.items():
        path = getattr(config, name)
        if path is None or spec.where != where:
            continue
        try:
            resolve(name, path, config.app_dir)
        except HookError as exc:
            log.error("%s", exc, exc_info=exc.__cause__)
            return str(exc)
    return None


def check(config: Config) -> list[str]:
    """Every hook set in ``config``, imported and held to its signature: the problems found,
    one line each (for ``--check-config``)."""
    problems = []
    for name, hook in HOOKS.items():
        path = getattr(config, name)
        if path is None:
            continue
        try:
            function = resolve(name, path, config.app_dir)
        except HookError as exc:
            problems.append(str(exc))
            continue
        try:
            inspect.signature(function).bind(*[None] * (hook.signature.count(",") + 1))
        except TypeError:
            problems.append(f"{name} hook {path!r} cannot be called as {name}{hook.signature}")
        except ValueError:
            pass  # no signature to read (a builtin): trust it
    return problems


def run(config: Config, name: str, *args: object) -> str | None:
    """Call hook ``name`` if it is set. If it cannot be imported or raises, the error is logged
    with its traceback and returned as one line; None when it ran (or is unset). What a failure
    means is the caller's, as ``HOOKS`` says."""
    path = getattr(config, name)
    if path is None:
        return None
    try:
        function = resolve(name, path, config.app_dir)
    except HookError as exc:
        log.error("%s", exc, exc_info=exc.__cause__)
        return str(exc)
    try:
        function(*args)
    except Exception as exc:
        log.error("%s hook (%s) failed: %s", name, path, _error(exc), exc_info=exc)
        return f"{name} hook failed: {_error(exc)}"
    return None


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
