"""``log_config``: reading a ``logging.config.dictConfig`` table from TOML or JSON, and checking
it before anything is configured.

``dictConfig`` finds most mistakes only while it applies a table, as a traceback. The check here
finds them first, without side effects, and names the key: the sections and their keys, every
``class`` and ``()`` (resolved as ``dictConfig`` resolves them, so the same modules are
imported), the references between entries (a handler's formatter, a logger's handlers), the
levels, the format strings, a handler's arguments against its constructor, and the directory of
a log file.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import logging.config
import logging.handlers
import os
import tomllib
from collections.abc import Callable, Mapping
from typing import Any

_SECTIONS = ("formatters", "filters", "handlers", "loggers")
_TOP_KEYS = {"version", "incremental", "disable_existing_loggers", "root", *_SECTIONS}
#: keys of a handler entry that dictConfig takes itself; the rest go to the constructor
_HANDLER_KEYS = {"class", "()", "formatter", "level", "filters", "."}
_FORMATTER_KEYS = {"()", "class", "format", "datefmt", "style", "validate", "defaults", "."}


class LogConfigProblem(ValueError):
    """What is wrong with a log_config table, starting with the key it is about."""


def read_log_config(path: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dictionary from a TOML or JSON file; ValueError (with
    the reason) when it cannot be one. Not checked beyond its version: see ``check``."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ValueError(f"cannot read it: {exc.strerror}") from None
    is_json = path.endswith(".json")
    try:
        loaded = json.loads(data) if is_json else tomllib.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"not valid {'JSON' if is_json else 'TOML'}: {exc}") from None
    if not isinstance(loaded, dict) or loaded.get("version") != 1:
        raise ValueError("expected a logging dictConfig table with version = 1")
    # our own loggers stay unless the file configures them
    loaded.setdefault("disable_existing_loggers", False)
    return loaded


def check(table: Mapping[str, Any]) -> None:
    """Raise LogConfigProblem for the first thing ``dictConfig(table)`` would fail on."""
    for key in table:
        if key not in _TOP_KEYS:
            raise LogConfigProblem(f"{key}: not a dictConfig key ({', '.join(sorted(_TOP_KEYS))})")
    sections = {name: _section(table, name) for name in _SECTIONS}
    for name, entry in sections["formatters"].items():
        _check_formatter(f"formatters.{name}", entry)
    for name, entry in sections["filters"].items():
        if "()" in entry:
            _callable(f"filters.{name}.()", entry["()"])
    for name, entry in sections["handlers"].items():
        _check_handler(f"handlers.{name}", entry, sections)
    loggers = {f"loggers.{name}": entry for name, entry in sections["loggers"].items()}
    if "root" in table:
        loggers["root"] = _entry("root", table["root"])
    for key, entry in loggers.items():
        _check_logger(key, entry, sections)


def _section(table: Mapping[str, Any], name: str) -> dict[str, dict[str, Any]]:
    section = table.get(name, {})
    if not isinstance(section, dict):
        raise LogConfigProblem(f"{name}: expected a table of named entries")
    return {entry: _entry(f"{name}.{entry}", value) for entry, value in section.items()}


def _entry(key: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise LogConfigProblem(f"{key}: expected a table, not {_shown(value)}")
    return value


def _shown(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _resolve(key: str, dotted: object) -> Any:
    """The object a dotted path names, found the way dictConfig finds it (import the first
    name, then attributes, importing submodules as needed)."""
    if not isinstance(dotted, str) or not dotted:
        raise LogConfigProblem(f"{key} = {_shown(dotted)}: expected a dotted import path")
    parts = dotted.split(".")
    try:
        found = _import(parts[0])
        for index, part in enumerate(parts[1:], start=2):
            try:
                found = getattr(found, part)
            except AttributeError:
                if not inspect.ismodule(found):
                    raise ValueError(f"{parts[index - 2]!r} has no attribute {part!r}") from None
                try:
                    found = _import(".".join(parts[:index]))
                except ValueError:
                    name = ".".join(parts[: index - 1])
                    raise ValueError(f"module {name!r} has no attribute {part!r}") from None
    except ValueError as exc:
        raise LogConfigProblem(f'{key} = "{dotted}": cannot be imported ({exc})') from None
    return found


def _import(name: str) -> Any:
    """``import name``; ValueError saying why not (a missing module, or the module's error)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            raise ValueError(f"no module named {name!r}") from None
        raise ValueError(f"importing {name} failed: {exc}") from None
    except Exception as exc:  # the module itself failed: say how, in one line
        raise ValueError(f"importing {name} failed: {type(exc).__name__}: {exc}") from None


def _callable(key: str, dotted: object) -> Callable[..., Any]:
    found = _resolve(key, dotted)
    if not callable(found):
        raise LogConfigProblem(f'{key} = "{dotted}": not a class or function')
    return found  # type: ignore[no-any-return]


def _check_level(key: str, level: object) -> None:
    try:
        logging._checkLevel(level)  # type: ignore[attr-defined]
    except (ValueError, TypeError):
        names = ", ".join(n for n in logging.getLevelNamesMapping() if n != "WARN")
        raise LogConfigProblem(f"{key} = {_shown(level)}: expected a level ({names})") from None


def _check_formatter(key: str, entry: dict[str, Any]) -> None:
    if "()" in entry:
        _callable(f"{key}.()", entry["()"])
        return  # a factory takes what it takes
    for name in entry:
        if name not in _FORMATTER_KEYS:
            raise LogConfigProblem(f"{key}.{name}: not a formatter key")
    cls = _callable(f"{key}.class", entry["class"]) if "class" in entry else logging.Formatter
    style = entry.get("style", "%")
    if style not in ("%", "{", "$"):
        raise LogConfigProblem(f'{key}.style = {_shown(style)}: expected "%", "{{" or "$"')
    if isinstance(cls, type) and issubclass(cls, logging.Formatter):
        try:  # a Formatter checks its format string and does nothing else
            cls(entry.get("format"), entry.get("datefmt"), style, entry.get("validate", True))
        except (ValueError, TypeError) as exc:
            raise LogConfigProblem(f"{key}.format = {_shown(entry.get('format'))}: {exc}") from None


def _check_handler(key: str, entry: dict[str, Any], sections: dict[str, Any]) -> None:
    if "class" not in entry and "()" not in entry:
        raise LogConfigProblem(f'{key}: needs class (e.g. class = "logging.StreamHandler")')
    if "level" in entry:
        _check_level(f"{key}.level", entry["level"])
    formatter = entry.get("formatter")
    if formatter is not None and formatter not in sections["formatters"]:
        raise LogConfigProblem(f"{key}.formatter = {_shown(formatter)}: no such formatter")
    _check_filters(key, entry, sections)
    if "()" in entry:
        _callable(f"{key}.()", entry["()"])
        return
    cls = _callable(f"{key}.class", entry["class"])
    if not (isinstance(cls, type) and issubclass(cls, logging.Handler)):
        raise LogConfigProblem(f'{key}.class = "{entry["class"]}": not a logging.Handler class')
    arguments = {k: v for k, v in entry.items() if k not in _HANDLER_KEYS}
    target = arguments.get("target")
    is_buffer = issubclass(cls, logging.handlers.MemoryHandler)
    if is_buffer and target is not None and target not in sections["handlers"]:
        raise LogConfigProblem(f"{key}.target = {_shown(target)}: no such handler")
    for name, value in arguments.items():
        if isinstance(value, str) and value.startswith("ext://"):
            _resolve(f"{key}.{name}", value[len("ext://") :])
    if not issubclass(cls, logging.handlers.QueueHandler):  # dictConfig makes its queue
        _check_arguments(key, cls, arguments)
    if issubclass(cls, logging.FileHandler) and isinstance(arguments.get("filename"), str):
        _check_log_directory(f"{key}.filename", arguments["filename"])


def _check_arguments(key: str, cls: type, arguments: dict[str, Any]) -> None:
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return  # a constructor written in C: nothing to hold the arguments against
    try:
        signature.bind(**arguments)
    except TypeError as exc:
        if "stream" in arguments:  # dictConfig retries an old handler's `strm`
            renamed = {("strm" if k == "stream" else k): v for k, v in arguments.items()}
            try:
                signature.bind(**renamed)
                return
            except TypeError:
                pass
        raise LogConfigProblem(
            f'{key}: class "{cls.__module__}.{cls.__qualname__}" {exc}'
        ) from None


def _check_log_directory(key: str, filename: str) -> None:
    directory = os.path.dirname(os.path.abspath(filename))
    if os.path.isdir(filename):
        raise LogConfigProblem(f'{key} = "{filename}": is a directory, not a file')
    if not os.path.isdir(directory):
        raise LogConfigProblem(f'{key} = "{filename}": no directory {directory}')
    if not os.access(directory, os.W_OK | os.X_OK) and not os.access(filename, os.W_OK):
        raise LogConfigProblem(f'{key} = "{filename}": {directory} is not writable by this user')


def _check_filters(key: str, entry: dict[str, Any], sections: dict[str, Any]) -> None:
    filters = entry.get("filters", [])
    if not isinstance(filters, list):
        raise LogConfigProblem(f"{key}.filters: expected a list of filter names")
    for name in filters:
        if name not in sections["filters"]:
            raise LogConfigProblem(f"{key}.filters: {_shown(name)}: no such filter")


def _check_logger(key: str, entry: dict[str, Any], sections: dict[str, Any]) -> None:
    if "level" in entry:
        _check_level(f"{key}.level", entry["level"])
    handlers = entry.get("handlers", [])
    if not isinstance(handlers, list):
        raise LogConfigProblem(f"{key}.handlers: expected a list of handler names")
    for name in handlers:
        if name not in sections["handlers"]:
            raise LogConfigProblem(f"{key}.handlers: {_shown(name)}: no such handler")
    _check_filters(key, entry, sections)
    propagate = entry.get("propagate", True)
    if not isinstance(propagate, bool):
        raise LogConfigProblem(f"{key}.propagate = {_shown(propagate)}: expected true or false")
