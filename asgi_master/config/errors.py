"""The one exception of configuration: a problem told in one line an operator can act on.

A leaf module: the loader, the cross-setting checks and the value readers all raise it without
importing each other.
"""

from __future__ import annotations


class ConfigError(Exception):
    """A configuration problem, told in one line an operator can act on."""
