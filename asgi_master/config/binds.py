"""Listen addresses: the forms operators write for ``bind`` and ``metrics_bind``.

Besides ``HOST:PORT``, ``[IPV6]:PORT``, ``unix:PATH`` and ``fd://N``, the short forms people
carry over from gunicorn and uvicorn are accepted where they can mean one thing only:

- ``:PORT`` is every IPv4 interface, as gunicorn reads it (``0.0.0.0:PORT``);
- ``PORT`` alone keeps the default host (``127.0.0.1``), as ``uvicorn --port PORT`` does;
- ``HOST`` or ``[IPV6]`` alone keeps the default port (8000, gunicorn's too);
- ``tcp://`` may stand before a TCP address (gunicorn's spelling).

A bare IPv6 address (``::1``) is refused: ``::1:8000`` is itself an IPv6 address, so the port
cannot be told apart without brackets.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Final, Literal

from .types import Converter

BindKind = Literal["tcp", "unix", "fd"]

#: where a TCP address without a host, or without a port, listens
DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8000
#: the host of ``:PORT``: every IPv4 interface
ALL_INTERFACES: Final = "0.0.0.0"


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


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise ValueError(text)
    return int(text)


def _tcp(text: str) -> BindSpec:
    """A TCP address in any of the accepted forms; ValueError otherwise."""
    text = text.removeprefix("tcp://")
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(text)
        ipaddress.IPv6Address(host)
        return BindSpec("tcp", host=host, port=_port(rest[1:]) if rest else DEFAULT_PORT)
    if text.isdigit():
        return BindSpec("tcp", host=DEFAULT_HOST, port=_port(text))
    host, colon, port_text = text.rpartition(":")
    if not colon:
        host, port_text = text, ""
    if ":" in host:
        raise ValueError(text)  # a bare IPv6 address, or worse
    if not colon:
        return BindSpec("tcp", host=host, port=DEFAULT_PORT)
    return BindSpec("tcp", host=host or ALL_INTERFACES, port=_port(port_text))


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
            fd_text = text[5:]
            if not fd_text.isdigit():
                raise self.fail()
            return BindSpec("fd", fd=int(fd_text))
        try:
            return _tcp(text)
        except ValueError:
            raise self.fail() from None

    def render(self, value: Any) -> str:
        return f'"{value}"'


class OptionalBind(Converter):
    """One TCP address to listen on (any form ``Bind`` takes), or nothing (empty / unset)."""

    expected = "host:port or [ipv6]:port (TCP), or empty for none"
    metavar = "ADDRESS"

    def convert(self, raw: object) -> BindSpec | None:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        try:
            spec = Bind().convert(raw)
        except ValueError:
            raise self.fail() from None
        if spec.kind != "tcp":
            raise self.fail()
        return spec

    def render(self, value: Any) -> str:
        return '""' if value is None else f'"{value}"'
