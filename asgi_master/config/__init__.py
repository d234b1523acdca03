"""Configuration: the settings table, its loading from file, env and flags, and validation."""

from .binds import BindSpec
from .cli import CommandLineError, build_parser
from .errors import ConfigError
from .loader import Invocation, describe, load
from .settings import SETTINGS, Config, Setting

__all__ = [
    "SETTINGS",
    "BindSpec",
    "CommandLineError",
    "Config",
    "ConfigError",
    "Invocation",
    "Setting",
    "build_parser",
    "describe",
    "load",
]
