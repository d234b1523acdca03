"""Access-log lines: a gunicorn-style template compiled once, rendered per response.

The template (``access_log_format``) is split once into literal text and one getter per atom,
so rendering a line costs one call per atom actually used; request headers are found in a
single pass over the scope's headers, and only the ones the template names. In JSON mode
(``log_format = "json"``) each line is one JSON object with fixed keys instead.

Everything the client chose (target, headers, user name) is escaped in text lines: control
characters, ``"`` and ``\\`` become backslash escapes, so a request cannot forge log lines.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from ..config import Config
from ..config.types import ACCESS_LOG_ATOMS, split_access_log_template
from ..grammar import MONTH_NAMES

Scope = Mapping[str, Any]
#: (scope, status, body bytes, duration in seconds, wanted request headers) -> text
Getter = Callable[[Scope, int, int, float, dict[bytes, str]], str]

_ESCAPES: Final = {i: f"\\x{i:02x}" for i in [*range(0x20), *range(0x7F, 0xA0)]} | {
    ord('"'): '\\"',
    ord("\\"): "\\\\",
}


def _escape(text: str) -> str:
    return text.translate(_ESCAPES)


class _Clock:
    """``[10/Oct/2000:13:55:36 +0200]``, formatted at most once per second."""

    __slots__ = ("_second", "_text")

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self._second:
            t = time.localtime(second)
            offset = t.tm_gmtoff // 60
            sign = "+" if offset >= 0 else "-"
            self._text = (
                f"[{t.tm_mday:02d}/{MONTH_NAMES[t.tm_mon - 1]}/{t.tm_year}:"
                f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} "
                f"{sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}]"
            )
            self._second = second
        return self._text


_CLOCK: Final = _Clock()


def _client_host(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def _target(scope: Scope) -> str:
    query = scope.get("query_string", b"")
    path = scope.get("raw_path") or scope["path"].encode("utf-8")
    target = path.decode("latin-1")
    return f"{target}?{query.decode('latin-1')}" if query else target


def _basic_auth_user(value: str) -> str:
    scheme, _, credentials = value.partition(" ")
    if scheme.lower() != "basic":
        return "-"
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "-"
    user = decoded.partition(":")[0]
    return _escape(user) if user else "-"


def _header(name: bytes) -> Getter:
    return lambda sc, st, nb, d, found: _escape(found[name]) if name in found else "-"


#: atom -> getter; ``{name}i`` atoms are made by ``_header``
_GETTERS: Final[dict[str, Getter]] = {
    "h": lambda sc, st, nb, d, f: _client_host(sc) or "-",
    "l": lambda sc, st, nb, d, f: "-",
    "u": lambda sc, st, nb, d, f: (
        _basic_auth_user(f[b"authorization"]) if b"authorization" in f else "-"
    ),
    "t": lambda sc, st, nb, d, f: _CLOCK.now(),
    "r": lambda sc, st, nb, d, f: (
        f"{sc.get('method', 'GET')} {_escape(_target(sc))} HTTP/{sc['http_version']}"
    ),
    "m": lambda sc, st, nb, d, f: str(sc.get("method", "GET")),
    "U": lambda sc, st, nb, d, f: _escape(sc["path"]),
    "q": lambda sc, st, nb, d, f: _escape(sc.get("query_string", b"").decode("latin-1")),
    "H": lambda sc, st, nb, d, f: f"HTTP/{sc['http_version']}",
    "s": lambda sc, st, nb, d, f: str(st),
    "B": lambda sc, st, nb, d, f: str(nb),
    "b": lambda sc, st, nb, d, f: str(nb) if nb else "-",
    "f": _header(b"referer"),
    "a": _header(b"user-agent"),
    "T": lambda sc, st, nb, d, f: str(int(d)),
    "D": lambda sc, st, nb, d, f: str(int(d * 1_000_000)),
    "M": lambda sc, st, nb, d, f: str(int(d * 1000)),
    "L": lambda sc, st, nb, d, f: f"{d:.6f}",
    "p": lambda sc, st, nb, d, f: f"<{os.getpid()}>",
}
#: headers each atom reads
_NEEDS: Final = {"u": b"authorization", "f": b"referer", "a": b"user-agent"}
#: headers the JSON line reads
_JSON_HEADERS: Final = frozenset({b"referer", b"user-agent"})

assert set(_GETTERS) == ACCESS_LOG_ATOMS, "every atom the config accepts must render"


def _wanted_headers(scope: Scope, names: frozenset[bytes]) -> dict[bytes, str]:
    """The named request headers (repeated ones joined by ``, ``), in one pass."""
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in names:
            text = value.decode("latin-1")
            found[name] = f"{found[name]}, {text}" if name in found else text
    return found


class AccessLogFormat:
    """One response's access-log line, from a compiled template or as JSON."""

    __slots__ = ("_headers", "_json", "_pieces")

    def __init__(self, template: str, json: bool = False) -> None:
        self._json = json
        self._pieces: list[str | Getter] = []
        headers: set[bytes] = set()
        for is_atom, text in split_access_log_template(template):
            if not is_atom:
                self._pieces.append(text)
            elif text.startswith("{"):
                name = text[1:-2].encode("latin-1")
                headers.add(name)
                self._pieces.append(_header(name))
            else:
                self._pieces.append(_GETTERS[text])
                if text in _NEEDS:
                    headers.add(_NEEDS[text])
        self._headers = _JSON_HEADERS if json else frozenset(headers)

    def render(self, scope: Scope, status: int, body_bytes: int, duration: float) -> str:
        """The line for a completed response (``duration`` in seconds)."""
        found = _wanted_headers(scope, self._headers) if self._headers else {}
        if self._json:
            return self._render_json(scope, status, body_bytes, duration, found)
        return "".join(
            piece if isinstance(piece, str) else piece(scope, status, body_bytes, duration, found)
            for piece in self._pieces
        )

    @staticmethod
    def _render_json(
        scope: Scope, status: int, body_bytes: int, duration: float, found: dict[bytes, str]
    ) -> str:
        from datetime import datetime  # (JSON lines only: the worker does not load it otherwise)

        return json.dumps(
            {
                "time": datetime.now().astimezone().isoformat(timespec="milliseconds"),
                "client": _client_host(scope),
                "method": scope.get("method", "GET"),
                "path": scope["path"],
                "query": scope.get("query_string", b"").decode("latin-1"),
                "protocol": f"HTTP/{scope['http_version']}",
                "status": status,
                "bytes": body_bytes,
                "duration_ms": round(duration * 1000, 3),
                "referer": found.get(b"referer"),
                "user_agent": found.get(b"user-agent"),
            },
            separators=(",", ":"),
        )


access_log = logging.getLogger("asgi_master.access")


class AccessLog:
    """A worker's access log: one line per response that leaves, whoever made it (the app, a
    WebSocket session, a health path, or the server refusing a request), in one format."""

    __slots__ = ("_format", "health")

    def __init__(self, line_format: AccessLogFormat, health: bool) -> None:
        self._format = line_format
        #: responses of the health paths are logged too (``health_access_log``)
        self.health = health

    @classmethod
    def from_config(cls, config: Config) -> AccessLog | None:
        """The access log ``config`` asks for; None with ``access_log = false``."""
        if not config.access_log:
            return None
        line_format = AccessLogFormat(config.access_log_format, json=config.log_format == "json")
        return cls(line_format, config.health_access_log)

    def response(self, scope: Scope, status: int, body_bytes: int, duration: float) -> None:
        """Log one response (``duration`` in seconds, from the request's arrival)."""
        access_log.info("%s", self._format.render(scope, status, body_bytes, duration))


def unparsed_request_scope(client: tuple[str, int] | None) -> dict[str, Any]:
    """The scope-shaped facts of a request refused before its head could be read: its
    access-log line shows ``- - HTTP/1.1`` for the request."""
    return {
        "client": client,
        "method": "-",
        "path": "-",
        "raw_path": b"-",
        "query_string": b"",
        "http_version": "1.1",
        "headers": [],
    }
