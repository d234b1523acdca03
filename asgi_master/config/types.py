"""Value types of settings: each converts a raw value (TOML value or string) or says what it expected.

A converter raises ``ValueError`` whose text completes the sentence "expected ...", so every
source (file, env var, flag) reports a bad value the same way.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Literal

BindKind = Literal["tcp", "unix", "fd"]


@dataclass(frozen=True, slots=True)
class BindSpec:
    """One address to listen on: ``host:port``, ``[v6]:port``, ``unix:/path`` or ``fd://N``."""

    kind: BindKind
    host: str = ""
    port: int = 0
    path: str = ""
    fd: int = -1

    def __str__(self) -> str:
        if self.kind == "unix":
            return f"unix:{self.path}"
        if self.kind == "fd":
            return f"fd://{self.fd}"
        if ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"


class Converter:
    """Base of the value types: ``convert`` raw -> value, ``expected`` for errors and docs."""

    expected: str = "a value"
    #: how the value is written in the docs' type column and the ``--help`` metavar
    metavar: str = "VALUE"
    #: whether a TOML string is an acceptable spelling (env and flags are always strings);
    #: a TOML file has real numbers and booleans, so ``workers = "4"`` is a mistake worth naming
    accepts_toml_string: bool = True

    def convert(self, raw: object) -> Any:
        raise NotImplementedError

    def fail(self) -> ValueError:
        return ValueError(self.expected)

    def render(self, value: Any) -> str:
        """The value as an operator would write it in config.toml."""
        if value is None:
            return "(unset)"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            return f'"{value}"'
        if isinstance(value, list | tuple):
            return "[" + ", ".join(self.render(v) for v in value) + "]"
        return str(value)


class Str(Converter):
    """Any string; ``optional`` also accepts an empty value meaning unset."""

    def __init__(self, *, optional: bool = False, metavar: str = "TEXT") -> None:
        self.optional = optional
        self.expected = "a string"
        self.metavar = metavar

    def convert(self, raw: object) -> str | None:
        if not isinstance(raw, str):
            raise self.fail()
        if self.optional and raw == "":
            return None
        return raw


class Int(Converter):
    """A whole number within ``[minimum, maximum]``."""

    accepts_toml_string = False

    def __init__(self, minimum: int | None = None, maximum: int | None = None) -> None:
        self.minimum, self.maximum = minimum, maximum
        if minimum is not None and maximum is not None:
            self.expected = f"a whole number from {minimum} to {maximum}"
        elif minimum is not None:
            self.expected = f"a whole number >= {minimum}"
        else:
            self.expected = "a whole number"
        self.metavar = "INT"

    def convert(self, raw: object) -> int:
        if isinstance(raw, bool):
            raise self.fail()
        if isinstance(raw, str):
            try:
                raw = int(raw.strip())
            except ValueError:
                raise self.fail() from None
        if not isinstance(raw, int):
            raise self.fail()
        if (self.minimum is not None and raw < self.minimum) or (
            self.maximum is not None and raw > self.maximum
        ):
            raise self.fail()
        return raw


class Seconds(Converter):
    """A duration in seconds (whole or decimal) at or above ``minimum``."""

    accepts_toml_string = False

    def __init__(self, minimum: float = 0.0) -> None:
        self.minimum = minimum
        self.expected = f"a number of seconds >= {minimum:g}"
        self.metavar = "SECONDS"

    def convert(self, raw: object) -> float:
        if isinstance(raw, bool):
            raise self.fail()
        if isinstance(raw, str):
            try:
                raw = float(raw.strip())
            except ValueError:
                raise self.fail() from None
        if not isinstance(raw, int | float) or raw != raw or raw < self.minimum:
            raise self.fail()
        return float(raw)


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class Bool(Converter):
    """true/false; from env or flags also 1/0, yes/no, on/off."""

    accepts_toml_string = False

    expected = "true or false"
    metavar = "BOOL"

    def convert(self, raw: object) -> bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str):
            low = raw.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
        raise self.fail()


class Choice(Converter):
    """One of a fixed set of words (case-insensitive)."""

    def __init__(self, *choices: str) -> None:
        self.choices = choices
        self.expected = "one of " + ", ".join(choices)
        self.metavar = "|".join(choices)

    def convert(self, raw: object) -> str:
        if isinstance(raw, str) and raw.strip().lower() in self.choices:
            return raw.strip().lower()
        raise self.fail()


class FileMode(Converter):
    """A permission mode written in octal, e.g. ``"660"`` or ``0o660``."""

    expected = "an octal file mode such as \"660\""
    metavar = "OCTAL"

    def convert(self, raw: object) -> int:
        if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= 0o7777:
            return raw
        if isinstance(raw, str):
            text = raw.strip().lower().removeprefix("0o")
            try:
                mode = int(text, 8)
            except ValueError:
                raise self.fail() from None
            if 0 <= mode <= 0o7777:
                return mode
        raise self.fail()

    def render(self, value: Any) -> str:
        return f'"{value:03o}"'


class Bind(Converter):
    """One listen address; the setting holding these is a list."""

    expected = "host:port, [ipv6]:port, unix:/path or fd://N"
    metavar = "ADDRESS"

    def convert(self, raw: object) -> BindSpec:
        if not isinstance(raw, str) or not raw.strip():
            raise self.fail()
        text = raw.strip()
        if text.startswith("unix:"):
            path = text[5:]
            if not path:
                raise self.fail()
            return BindSpec("unix", path=path)
        if text.startswith("fd://"):
            try:
                fd = int(text[5:])
            except ValueError:
                raise self.fail() from None
            if fd < 0:
                raise self.fail()
            return BindSpec("fd", fd=fd)
        if text.startswith("["):
            host, sep, port_text = text[1:].partition("]:")
            if not sep:
                raise self.fail()
            try:
                ipaddress.IPv6Address(host)
            except ValueError:
                raise self.fail() from None
        else:
            host, sep, port_text = text.rpartition(":")
            if not sep or not host or ":" in host:
                raise self.fail()
        if not port_text.isdigit() or int(port_text) > 65535:
            raise self.fail()
        return BindSpec("tcp", host=host, port=int(port_text))

    def render(self, value: Any) -> str:
        return f'"{value}"'


class ListOf(Converter):
    """A list of values of one type; from env/flags a comma-separated string."""

    def __init__(self, item: Converter) -> None:
        self.item = item
        self.expected = f"a list of {item.expected}"
        self.metavar = item.metavar

    def convert(self, raw: object) -> list[Any]:
        if isinstance(raw, str):
            raw = [part for part in raw.split(",") if part.strip()]
        if not isinstance(raw, list) or not raw:
            raise self.fail()
        return [self.item.convert(v) for v in raw]

    def render(self, value: Any) -> str:
        return "[" + ", ".join(self.item.render(v) for v in value) + "]"


class AppPath(Converter):
    """An import path ``module:attribute`` (attribute may be dotted)."""

    expected = "an import path such as \"package.module:app\""
    metavar = "MODULE:APP"

    def convert(self, raw: object) -> str:
        if not isinstance(raw, str):
            raise self.fail()
        module, sep, attr = raw.strip().partition(":")
        names = module.split(".") + attr.split(".")
        if not sep or not all(n.isidentifier() for n in names):
            raise self.fail()
        return raw.strip()

