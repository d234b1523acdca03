"""Loading the configuration: defaults < TOML file < ASGI_MASTER_* env < command-line flags.

Every bad value becomes one ``ConfigError`` line naming the key, where it came from (file:line,
env var or flag), the value and what was expected.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any

from .._build import NO_EXTENSIONS_ENV, version_line
from .settings import BY_NAME, ENV_PREFIX, SECTIONS, SETTINGS, Config, Setting
from .types import Bool, Converter, ListOf

CONFIG_ENV = ENV_PREFIX + "CONFIG"


class ConfigError(Exception):
    """A configuration problem, told in one line an operator can act on."""


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
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    found: dict[str, tuple[Any, str]] = {}
    for key, raw in table.items():
        line = _key_line(text, key)
        where = f"{path}:{line}" if line else path
        if key not in BY_NAME:
            raise ConfigError(f"{where}: unknown setting '{key}'{_did_you_mean(key)}")
        found[key] = (raw, where)
    return found


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


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser, one flag per setting (defaults suppressed to see what was given)."""
    parser = argparse.ArgumentParser(
        prog="asgi-master",
        description="A pre-fork server for ASGI applications.",
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument(
        "app", nargs="?", metavar="MODULE:APP", help="the ASGI application, e.g. examples.hello:app"
    )
    parser.add_argument(
        "-c", "--config", metavar="FILE", help=f"TOML config file (also ${CONFIG_ENV})"
    )
    parser.add_argument(
        "--check-config",
        action="store_true",
        help="validate the configuration, import the app, print the effective "
        "config with the source of each value, and exit 0 (valid) or 2",
    )
    parser.add_argument("--version", action="version", version=version_line())
    for section in SECTIONS:
        group = parser.add_argument_group(section)
        for s in SETTINGS:
            if s.section != section:
                continue
            flags = [s.short, s.flag] if s.short else [s.flag]
            dest = "setting_" + s.name
            help_text = s.help.replace("%", "%%")  # argparse %-formats help texts
            if isinstance(s.type, Bool):
                group.add_argument(
                    *flags, dest=dest, action=argparse.BooleanOptionalAction, help=help_text
                )
            elif s.repeatable:
                group.add_argument(
                    *flags, dest=dest, action="append", metavar=s.type.metavar, help=help_text
                )
            else:
                group.add_argument(*flags, dest=dest, metavar=s.type.metavar, help=help_text)
    return parser


def read_cli(args: argparse.Namespace) -> dict[str, tuple[Any, str]]:
    """Settings given as flags (and the positional app)."""
    found: dict[str, tuple[Any, str]] = {}
    for key, raw in vars(args).items():
        if key.startswith("setting_"):
            s = BY_NAME[key[len("setting_") :]]
            found[s.name] = (raw, f"flag {s.flag}")
    if "app" in args and args.app is not None:
        found["app"] = (args.app, "argument MODULE:APP")
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
    from .checks import check  # here: checks imports ConfigError from this module

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
