"""How a setting is declared: one field of ``Config`` with ``setting(...)`` metadata (its value
type, default, section and help), from which the TOML schema, the ``ASGI_MASTER_<NAME>``
variable, the command-line flag, ``--help``, validation and docs/config.md are all derived."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .hookspecs import HOOKS
from .types import AppPath, Converter, ListOf

ENV_PREFIX = "ASGI_MASTER_"


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting: its name, value type, default, flags and the help an operator reads."""

    name: str
    type: Converter
    default: Any
    section: str
    help: str
    short: str | None = None

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def repeatable(self) -> bool:
        return isinstance(self.type, ListOf)


def setting(
    type_: Converter, default: Any, section: str, help_: str, short: str | None = None
) -> Any:
    """Declare a ``Config`` field as a setting; the field's name is the setting's name."""
    meta = {"setting": (type_, default, section, help_, short)}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def hook_setting(name: str) -> Any:
    """Declare the ``Config`` field of server hook ``name`` (see ``HOOKS``)."""
    spec = HOOKS[name]
    return setting(
        AppPath(),
        None,
        "hooks",
        f"Server hook `{name}{spec.signature}`, an import path `module:callable` imported in "
        f"the {spec.where}: called {spec.when}. If it raises, the error is logged with its "
        f"traceback and {spec.on_failure}. See docs/operations.md, Server hooks.",
    )
