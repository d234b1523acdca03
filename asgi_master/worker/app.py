"""Finding the application object from its import path (or the object the master preloaded),
calling it if it is a factory, and adapting a WSGI app to ASGI."""

from __future__ import annotations

import importlib
import os
import sys
from typing import cast

from .asgi import ASGIApp
from .wsgi import WSGIAdapterMissing, detect_interface, wrap_wsgi


class AppLoadError(Exception):
    """The app could not be imported; the message is one line an operator can act on."""


class AppFactoryError(AppLoadError):
    """The app factory (``factory = true``) raised or returned something that is not an app."""


#: the object not yet imported (``preloaded`` unset)
_IMPORT = object()


def load_app(
    path: str,
    app_dir: str = ".",
    interface: str = "auto",
    wsgi_threads: int = 10,
    *,
    factory: bool = False,
    preloaded: object = _IMPORT,
) -> ASGIApp:
    """Import ``module:attr`` with ``app_dir`` first on sys.path and return an ASGI 3 callable.

    ``preloaded`` is the object the master imported already (``preload_app``). With
    ``factory``, that object is called with no arguments and its result is the app.
    ``interface`` is ``asgi3``, ``wsgi`` (wrapped to run in ``wsgi_threads`` threads) or
    ``auto`` (decided from the callable's signature, see ``wsgi.detect_interface``).
    """
    obj = import_app(path, app_dir) if preloaded is _IMPORT else preloaded
    if factory:
        obj = call_factory(path, obj)
    kind = detect_interface(obj) if interface == "auto" else interface
    if kind != "wsgi":
        return cast(ASGIApp, obj)
    try:
        return wrap_wsgi(obj, wsgi_threads)
    except WSGIAdapterMissing:
        how = "it looks like one" if interface == "auto" else "interface = wsgi"
        raise AppLoadError(
            f"'{path}' is a WSGI app ({how}) and the WSGI adapter is not installed: "
            "pip install 'asgi-master[wsgi]'"
        ) from None


def call_factory(path: str, factory: object) -> object:
    """The app ``factory`` (named ``path``) returns."""
    assert callable(factory)
    try:
        app = factory()
    except Exception as exc:
        raise AppFactoryError(f"app factory '{path}' raised {type(exc).__name__}: {exc}") from exc
    if not callable(app):
        raise AppFactoryError(
            f"app factory '{path}' returned a {type(app).__name__}, not an ASGI or WSGI app"
        )
    return app


def import_app(path: str, app_dir: str = ".") -> object:
    """The callable named by ``module:attr``, imported with ``app_dir`` first on sys.path."""
    directory = os.path.abspath(app_dir)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    module_name, _, attrs = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise AppLoadError(
                f"cannot import '{path}': no module named '{exc.name}' "
                f"(looked in {directory} and sys.path)"
            ) from None
        raise AppLoadError(f"cannot import '{path}': {type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        raise AppLoadError(f"cannot import '{path}': {type(exc).__name__}: {exc}") from exc
    obj: object = module
    for attr in attrs.split("."):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise AppLoadError(
                f"cannot import '{path}': module '{module_name}' has no attribute '{attrs}'"
            ) from None
    if not callable(obj):
        raise AppLoadError(f"'{path}' is not callable (it is a {type(obj).__name__})")
    return obj
