"""Finding the application object from its import path."""

from __future__ import annotations

import importlib
import os
import sys
from typing import cast

from .http.cycle import ASGIApp


class AppLoadError(Exception):
    """The app could not be imported; the message is one line an operator can act on."""


def load_app(path: str, app_dir: str = ".") -> ASGIApp:
    """Import ``module:attr`` with ``app_dir`` first on sys.path and return the callable."""
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
                f"(looked in {directory} and sys.path)") from None
        raise AppLoadError(f"cannot import '{path}': {type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        raise AppLoadError(f"cannot import '{path}': {type(exc).__name__}: {exc}") from exc
    obj: object = module
    for attr in attrs.split("."):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise AppLoadError(
                f"cannot import '{path}': module '{module_name}' has no attribute "
                f"'{attrs}'") from None
    if not callable(obj):
        raise AppLoadError(f"'{path}' is not callable (it is a {type(obj).__name__})")
    return cast(ASGIApp, obj)
