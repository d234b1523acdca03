"""The command line: one flag per setting, ``--help`` with every default, and short errors.

A mistyped or foreign flag gets the error and one hint (the flag it is called here, a close
match, or where the list is), not argparse's whole usage text.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Sequence
from typing import Any, NoReturn

from .. import version_line
from .errors import ConfigError
from .peers import hint_for
from .settings import BY_NAME, ENV_PREFIX, SECTIONS, SETTINGS, Setting
from .types import Bool

CONFIG_ENV = ENV_PREFIX + "CONFIG"
_SEE_HELP = "asgi-master --help lists every flag"


class CommandLineError(ConfigError):
    """A command line argparse could not read; ``hint`` says what to type instead."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


class _Parser(argparse.ArgumentParser):
    """argparse, raising ``CommandLineError`` instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise CommandLineError(message, _hint(message, self._flags()))

    def _flags(self) -> list[str]:
        return [flag for action in self._actions for flag in action.option_strings]


def _hint(message: str, flags: Sequence[str]) -> str:
    """One line of advice for argparse's ``message``."""
    if message.startswith("unrecognized arguments:"):
        for word in message.removeprefix("unrecognized arguments:").split():
            if not word.startswith("-"):
                continue
            flag = word.partition("=")[0]
            peer = hint_for(flag, set(BY_NAME))
            if peer is not None:
                return peer
            close = difflib.get_close_matches(flag, flags, n=1, cutoff=0.7)
            if close:
                return f"did you mean {close[0]}? ({_SEE_HELP})"
            return f"{flag} is not a flag of asgi-master ({_SEE_HELP})"
        return f"one application (MODULE:APP) at most; {_SEE_HELP}"
    return _SEE_HELP


def _shown_default(s: Setting) -> str:
    rendered = s.type.render(s.default)
    if rendered == "(unset)":
        return "unset"
    if len(rendered) > 2 and rendered[0] == rendered[-1] == '"' and rendered.count('"') == 2:
        return rendered[1:-1]
    return rendered


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser, one flag per setting (defaults suppressed to see what was given)."""
    parser = _Parser(
        prog="asgi-master",
        description="A pre-fork server for ASGI applications.",
        epilog=f"Every setting is also a key of the TOML file (-c) and an environment variable "
        f"{ENV_PREFIX}<NAME>; a flag beats the environment, which beats the file. "
        "Reference: docs/config.md.",
        argument_default=argparse.SUPPRESS,
        # no prefixes of flags: a new setting must not change what an old command line means,
        # and gunicorn's --pid or --env must not pass for --pidfile or --env-file
        allow_abbrev=False,
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
            if s.section == section:
                _add_flag(group, s)
    return parser


def _add_flag(group: argparse._ArgumentGroup, s: Setting) -> None:
    flags = [s.short, s.flag] if s.short else [s.flag]
    dest = "setting_" + s.name
    # argparse %-formats help texts
    help_text = f"{s.help} (default: {_shown_default(s)})".replace("%", "%%")
    if isinstance(s.type, Bool):
        group.add_argument(*flags, dest=dest, action=argparse.BooleanOptionalAction, help=help_text)
    elif s.repeatable:
        group.add_argument(
            *flags, dest=dest, action="append", metavar=s.type.metavar, help=help_text
        )
    else:
        group.add_argument(*flags, dest=dest, metavar=s.type.metavar, help=help_text)


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
