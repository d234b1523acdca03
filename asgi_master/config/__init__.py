"""Configuration: the settings table, its loading from file, env and flags, and validation."""

from .errors import ConfigError
from .loader import Invocation, build_parser, describe, load
from .settings import SETTINGS, Config, Setting
from .types import BindSpec

__all__ = [
    "SETTINGS",
    "BindSpec",
    "Config",
    "ConfigError",
    "Invocation",
    "Setting",
    "build_parser",
    "describe",
    "load",
]
