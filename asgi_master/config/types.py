"""Value types of settings: each converts a raw value (TOML value or string) or says what it
expected.

A converter raises ``ValueError`` whose text completes the sentence "expected ...", so every
source (file, env var, flag) reports a bad value the same way.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Literal


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

    expected = 'an octal file mode such as "660"'
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


_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
}


class ByteSize(Converter):
    """A size in bytes: a whole number, or text such as "64KiB", "10MB", "1GiB"."""

    expected = 'a size in bytes such as 1048576 or "1MiB"'
    metavar = "SIZE"

    def convert(self, raw: object) -> int:
        if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
            return raw
        if isinstance(raw, str):
            text = raw.strip().lower().replace(" ", "")
            number = text.rstrip("kmgib")
            unit = text[len(number) :]
            if number.isdigit() and unit in _SIZE_UNITS:
                return int(number) * _SIZE_UNITS[unit]
        raise self.fail()

    def render(self, value: Any) -> str:
        for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
            if value and value % size == 0:
                return f'"{value // size}{unit}"'
        return str(value)


class AppPath(Converter):
    """An import path ``module:attribute`` (attribute may be dotted)."""

    expected = 'an import path such as "package.module:app"'
    metavar = "MODULE:APP"

    def convert(self, raw: object) -> str:
        if not isinstance(raw, str):
            raise self.fail()
        module, sep, attr = raw.strip().partition(":")
        names = module.split(".") + attr.split(".")
        if not sep or not all(n.isidentifier() for n in names):
            raise self.fail()
        return raw.strip()


class RootPath(Converter):
    """A URL path prefix such as ``/api``: one leading slash, no trailing one (``/`` is none).

    The request path is appended to it, so ``/api/`` would make ``/api//items``.
    """

    expected = 'a path that starts with "/", such as "/api" (or "" for none)'
    metavar = "PATH"

    def convert(self, raw: object) -> str:
        if not isinstance(raw, str):
            raise self.fail()
        text = raw.strip()
        if not text:
            return ""
        # visible ASCII only: the prefix is also put in front of the request's raw bytes
        if not text.startswith("/") or not all("!" <= char <= "~" for char in text):
            raise self.fail()
        if "?" in text or "#" in text:
            raise self.fail()
        return text.rstrip("/")


class OptionalFileMode(FileMode):
    """A permission mode in octal, or unset (empty: leave it as inherited)."""

    def convert(self, raw: object) -> int | None:  # type: ignore[override]
        if isinstance(raw, str) and not raw.strip():
            return None
        return super().convert(raw)

    def render(self, value: Any) -> str:
        return "(unset)" if value is None else super().render(value)


class Account(Converter):
    """An existing user (``kind="user"``) or group name, or a numeric id; empty means unset.

    Checked against this machine's user database when the config is loaded, so a typo stops
    the server at start instead of failing in every worker.
    """

    def __init__(self, kind: Literal["user", "group"]) -> None:
        self.kind = kind
        self.expected = f"an existing {kind} name or a numeric id"
        self.metavar = kind.upper()

    def convert(self, raw: object) -> str | None:
        import grp
        import pwd

        if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
            return str(raw)
        if not isinstance(raw, str):
            raise self.fail()
        text = raw.strip()
        if not text:
            return None
        if text.isdigit():
            return text
        try:
            pwd.getpwnam(text) if self.kind == "user" else grp.getgrnam(text)
        except KeyError:
            raise ValueError(
                f"{self.expected}; there is no {self.kind} '{text}' on this system"
            ) from None
        return text


class ProxyAddress(Converter):
    """A peer trusted to send proxy headers: an IP address, a CIDR network, or ``*`` (any)."""

    expected = 'an IP address, a CIDR network such as "10.0.0.0/8", or "*"'
    metavar = "IP|CIDR|*"

    def convert(self, raw: object) -> str:
        if not isinstance(raw, str):
            raise self.fail()
        text = raw.strip()
        if text == "*":
            return text
        try:
            if "/" in text:
                ipaddress.ip_network(text, strict=False)
            else:
                ipaddress.ip_address(text)
        except ValueError:
            raise self.fail() from None
        return text


class Secret(Str):
    """A string that is never shown back: ``--check-config`` prints it masked."""

    def __init__(self, metavar: str = "TEXT") -> None:
        super().__init__(optional=True, metavar=metavar)

    def render(self, value: Any) -> str:
        return "(unset)" if value is None else '"********"'


class TLSVersion(Converter):
    """The oldest TLS version accepted: 1.2 or 1.3 (a TOML number or a string)."""

    expected = "1.2 or 1.3"
    metavar = "1.2|1.3"

    def convert(self, raw: object) -> str:
        if isinstance(raw, float) and raw in (1.2, 1.3):
            return f"{raw:.1f}"
        if isinstance(raw, str) and raw.strip() in ("1.2", "1.3"):
            return raw.strip()
        raise self.fail()


#: gunicorn's access-log atoms that asgi-master renders, plus ``{header}i`` (a request header)
ACCESS_LOG_ATOMS = frozenset("hlutrmUqHsBbfaTDMLp")  # each atom is one letter


def split_access_log_template(template: str) -> list[tuple[bool, str]]:
    """The template as (is_atom, text) pieces: ``%(h)s`` -> (True, "h"), ``%({Name}i)s`` ->
    (True, "{name}i"), ``%%`` and other text -> (False, text); raises ValueError naming a
    malformed or unknown atom."""
    pieces: list[tuple[bool, str]] = []
    text: list[str] = []
    pos = 0
    while pos < len(template):
        char = template[pos]
        if char != "%" or pos + 1 == len(template) or template[pos + 1] not in "%(":
            text.append(char)
            pos += 1
            continue
        if template[pos + 1] == "%":
            text.append("%")
            pos += 2
            continue
        close = template.find(")", pos)
        if close < 0 or template[close + 1 : close + 2] != "s":
            raise ValueError(f"atoms written as %(name)s, not {template[pos : pos + 8]!r}")
        name = template[pos + 2 : close]
        if name.startswith("{") and name.endswith("}i") and len(name) > 3:
            name = name.lower()
        elif name not in ACCESS_LOG_ATOMS:
            known = " ".join(f"%({a})s" for a in sorted(ACCESS_LOG_ATOMS)) + " %({header}i)s"
            raise ValueError(f"known atoms ({known}), not %({name})s")
        if text:
            pieces.append((False, "".join(text)))
            text = []
        pieces.append((True, name))
        pos = close + 2
    if text:
        pieces.append((False, "".join(text)))
    return pieces


class AccessLogTemplate(Converter):
    """An access-log line template made of gunicorn-style atoms such as ``%(h)s``."""

    expected = "a template of atoms such as %(h)s %(r)s %(s)s"
    metavar = "TEMPLATE"

    def convert(self, raw: object) -> str:
        if not isinstance(raw, str) or not raw.strip():
            raise self.fail()
        split_access_log_template(raw)
        return raw

    def render(self, value: Any) -> str:
        # a TOML literal string: the template's double quotes need no escaping
        return f"'{value}'" if "'" not in value else super().render(value)


class AutoWorkers(int):
    """A worker count found by ``workers = "auto"``; keeps how, for ``--check-config``."""

    origin: str

    def __new__(cls, count: int, origin: str) -> AutoWorkers:
        obj = super().__new__(cls, count)
        obj.origin = origin
        return obj

    def __getnewargs__(self) -> tuple[int, str]:  # type: ignore[override]  # pickle, copy
        return int(self), self.origin


def auto_workers() -> AutoWorkers:
    """One worker per usable CPU: the cgroup CPU quota when set, else the CPU affinity."""
    from .cpus import usable_cpus

    limit = usable_cpus()
    return AutoWorkers(min(limit.count, 1024), limit.origin)


class Workers(Converter):
    """A number of worker processes, or ``"auto"``: one per CPU the process may use."""

    expected = 'a whole number from 1 to 1024, or "auto"'
    metavar = "N|auto"

    def convert(self, raw: object) -> int:
        if isinstance(raw, str) and raw.strip().lower() == "auto":
            return auto_workers()
        try:
            return int(Int(1, 1024).convert(raw))
        except ValueError:
            raise self.fail() from None

    def render(self, value: Any) -> str:
        if isinstance(value, AutoWorkers):
            return f'"auto"  # -> {int(value)} ({value.origin})'
        return super().render(value)


class OpenFilesLimit(Converter):
    """``open_files_limit``: ``"hard"``, ``"off"`` or a number of open files."""

    expected = 'a whole number >= 1, "hard" or "off"'
    metavar = "N|hard|off"

    def convert(self, raw: object) -> int | str:
        if isinstance(raw, str) and raw.strip().lower() in ("hard", "off"):
            return raw.strip().lower()
        try:
            return int(Int(1).convert(raw))
        except ValueError:
            raise self.fail() from None
