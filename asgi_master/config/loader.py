"""Loading the configuration: defaults < TOML file < ASGI_MASTER_* env < command-line flags.

Every bad value becomes one ``ConfigError`` line naming the key, where it came from (file:line,
env var or flag), the value and what was expected.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any

from .._build import NO_EXTENSIONS_ENV
from .checks import check
from .cli import CONFIG_ENV, build_parser, read_cli
from .errors import ConfigError
from .settings import BY_NAME, ENV_PREFIX, SETTINGS, Config, Setting
from .types import Converter, ListOf


@dataclasses.dataclass(frozen=True, slots=True)
class Invocation:
    """What the command line asked for besides settings."""

    config: Config
    check_config: bool


def _did_you_mean(name: str) -> str:
    close = difflib.get_close_matches(name, BY_NAME, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _show(raw: object) -> str:
    return f'"{raw}"' if isinstance(raw, str) else repr(raw)


def _convert(setting: Setting, raw: object, where: str, from_toml: bool) -> Any:
    kind = setting.type
    if isinstance(kind, ListOf) and isinstance(raw, list):
        # name the one bad element, not the whole list
        return [_convert_one(setting, kind.item, item, where, from_toml) for item in raw]
    return _convert_one(setting, kind, raw, where, from_toml)


def _convert_one(
    setting: Setting, kind: Converter, raw: object, where: str, from_toml: bool
) -> Any:
    try:
        if from_toml and isinstance(raw, str) and not kind.accepts_toml_string:
            raise kind.fail()
        return kind.convert(raw)
    except ValueError as exc:
        raise ConfigError(f"{where}: {setting.name} = {_show(raw)}: expected {exc}") from None


def _key_line(text: str, key: str) -> int | None:
    """Line number of a top-level ``key =`` in TOML text (tomllib keeps no positions)."""
    pattern = re.compile(rf"""^\s*["']?{re.escape(key)}["']?\s*=""")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None


def read_toml(path: str) -> dict[str, tuple[Any, str]]:
    """Settings of a TOML file as ``{name: (raw value, "file:line")}``."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    text = data.decode("utf-8", errors="replace")
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        if path.endswith(".py"):
            raise ConfigError(
                f"{path}: a Python file, not TOML: the config file holds settings as TOML keys "
                "(docs/migrating.md turns a gunicorn.conf.py into a config.toml)"
            ) from None
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    found: dict[str, tuple[Any, str]] = {}
    for key, raw in table.items():
        if _is_table(raw):
            line = _table_line(text, key)
            where = f"{path}:{line}" if line else path
            raise ConfigError(
                f"{where}: [{key}] is a table, and tables are not used: every setting is a "
                "top-level key, written above the first [table] header"
            )
        line = _key_line(text, key)
        where = f"{path}:{line}" if line else path
        if key not in BY_NAME:
            raise ConfigError(f"{where}: unknown setting '{key}'{_did_you_mean(key)}")
        found[key] = (raw, where)
    return found


def _is_table(raw: object) -> bool:
    """A TOML table (``[name]``, ``name.key = ...``, an inline table) or array of tables."""
    return isinstance(raw, dict) or (
        isinstance(raw, list) and bool(raw) and all(isinstance(item, dict) for item in raw)
    )


def _table_line(text: str, key: str) -> int | None:
    """Line of the header ``[key]`` / ``[[key]]`` / ``[key.sub]``, or of ``key.sub =`` or
    ``key = {...}``, whichever comes first."""
    name = rf"""["']?{re.escape(key)}["']?"""
    pattern = re.compile(rf"""^\s*(\[\[?\s*{name}\s*[.\]]|{name}\s*[.=])""")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None


def read_env(environ: Mapping[str, str]) -> dict[str, tuple[Any, str]]:
    """Settings given as ``ASGI_MASTER_<NAME>`` variables."""
    found: dict[str, tuple[Any, str]] = {}
    for var, raw in environ.items():
        # the build switch is read at import (asgi_master/_build.py), not a setting
        if not var.startswith(ENV_PREFIX) or var in (CONFIG_ENV, NO_EXTENSIONS_ENV):
            continue
        name = var[len(ENV_PREFIX) :].lower()
        if name not in BY_NAME:
            raise ConfigError(f"env {var}: unknown setting '{name}'{_did_you_mean(name)}")
        found[name] = (raw, f"env {var}")
    return found


def resolve(layers: Sequence[Mapping[str, tuple[Any, str]]], config_file: str | None) -> Config:
    """Apply the layers in order of precedence (later wins) over the defaults and validate.

    The first layer is the TOML file's (the only one whose values are typed).
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {s.name: "default" for s in SETTINGS}
    for index, layer in enumerate(layers):
        for name, (raw, where) in layer.items():
            values[name] = _convert(BY_NAME[name], raw, where, from_toml=index == 0)
            sources[name] = where
    config = Config(**values, config_file=config_file, sources=sources)
    if config.app is None:
        raise ConfigError("no application given: pass MODULE:APP or set `app` in the config file")
    check(config)
    return config


def load(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> Invocation:
    """Parse the command line and build the effective configuration."""
    environ = os.environ if environ is None else environ
    args = build_parser().parse_args(list(argv))
    config_file = getattr(args, "config", None) or environ.get(CONFIG_ENV) or None
    file_layer = read_toml(config_file) if config_file else {}
    config = resolve([file_layer, read_env(environ), read_cli(args)], config_file)
    return Invocation(config=config, check_config=getattr(args, "check_config", False))


def describe(config: Config) -> str:
    """The effective configuration as TOML, each line commented with its source."""
    lines = []
    for s in SETTINGS:
        value = getattr(config, s.name)
        rendered = f"{s.name} = {s.type.render(value)}" if value is not None else f"# {s.name} ="
        lines.append(f"{rendered:<48} # {config.sources.get(s.name, 'default')}")
    return "\n".join(lines)
