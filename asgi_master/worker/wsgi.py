"""WSGI apps: telling a WSGI callable from an ASGI one, and running it through a2wsgi.

The heuristic of ``interface = "auto"``: a coroutine function (or an object whose ``__call__``
is one) is ASGI; otherwise a callable whose signature has exactly two positional parameters,
``(environ, start_response)``, is WSGI; anything else (three parameters, ``*args``, a signature
that cannot be read) is taken as ASGI 3. Set ``interface`` explicitly when it guesses wrong.
"""

from __future__ import annotations

import inspect
from typing import Any, Literal, cast

from .asgi import ASGIApp

Interface = Literal["asgi3", "wsgi"]

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


class WSGIAdapterMissing(Exception):
    """The app is WSGI but the optional adapter package (a2wsgi) is not installed."""


def detect_interface(app: object) -> Interface:
    """``wsgi`` for an ``(environ, start_response)`` callable, else ``asgi3``."""
    call = app if inspect.isroutine(app) else getattr(app, "__call__", None)  # noqa: B004
    if call is None or inspect.iscoroutinefunction(call):
        return "asgi3"
    try:
        params = inspect.signature(app).parameters.values()  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "asgi3"
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return "asgi3"
    positional = [p for p in params if p.kind in _POSITIONAL]
    return "wsgi" if len(positional) == 2 else "asgi3"


def wrap_wsgi(app: Any, threads: int) -> ASGIApp:
    """An ASGI 3 app running the WSGI ``app`` in a pool of ``threads`` threads."""
    try:
        from a2wsgi import WSGIMiddleware
    except ImportError:
        raise WSGIAdapterMissing from None
    return cast(ASGIApp, WSGIMiddleware(app, workers=threads))
