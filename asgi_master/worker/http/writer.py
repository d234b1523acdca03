"""The response side of a request, sans-IO: ASGI response parts in, wire bytes out.

Headers are held from ``start`` until the first ``body`` call and leave in the same bytes as the
first chunk (ASGI spec; docs/http.md says why). Holding them also lets the writer choose the
framing knowing the first chunk: a response whose first body message is also its last gets a
Content-Length instead of chunked encoding.

Framing: the app's Content-Length is enforced (a mismatch raises ``ResponseError`` and the
connection must be closed); Transfer-Encoding from the app wins over Content-Length and means
we chunk; no length at all means chunked on HTTP/1.1 and close-delimited on HTTP/1.0; HEAD, 204
and 304 never carry body bytes. The Connection header is the server's: the app's is dropped and
replaced by what the server decided.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Final

from ...config import Config
from ...grammar import CONTROL, DAY_NAMES, MONTH_NAMES, TOKEN
from ..asgi import ResponseError

STATUS_LINES: Final[dict[int, bytes]] = {
    s.value: b"HTTP/1.1 %d %s\r\n" % (s.value, s.phrase.encode("ascii")) for s in HTTPStatus
}
SERVER_LINE: Final = b"server: asgi-master\r\n"
_NO_BODY_STATUS: Final = frozenset({204, 304})

#: body parts larger than this are written as separate pieces instead of joined to their
#: head or chunk framing (a copy of the part)
_JOIN_LIMIT: Final = 8192

# Validated header names and their lowercase form; apps send the same few names every time.
# App-facing parameters are typed ``object``, checked inside: compiled (mypyc), a parameter
# typed ``bytes`` would refuse a str with a TypeError before our check could name the problem.
_NAME_CACHE: dict[object, bytes] = {}
_NAME_CACHE_MAX: Final = 512


class _Framing(enum.Enum):
    #: not chosen yet: the head has not been written
    PENDING = "pending"
    NONE = "no body"
    LENGTH = "content-length"
    CHUNKED = "chunked"
    CLOSE = "close-delimited"


# hot paths compare with these, not with ``Enum.MEMBER`` (docs/design.md, "Enum states")
_FRAMING_PENDING: Final = _Framing.PENDING
_FRAMING_NONE: Final = _Framing.NONE
_FRAMING_LENGTH: Final = _Framing.LENGTH
_FRAMING_CHUNKED: Final = _Framing.CHUNKED
_FRAMING_CLOSE: Final = _Framing.CLOSE


def http_date(seconds: int) -> bytes:
    """``seconds`` since the epoch as an IMF-fixdate (RFC 9110 5.6.7), in English whatever the
    locale (``email.utils.formatdate(usegmt=True)`` without importing the email package)."""
    t = time.gmtime(seconds)
    day, month = DAY_NAMES[t.tm_wday], MONTH_NAMES[t.tm_mon - 1]
    return (
        f"{day}, {t.tm_mday:02d} {month} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    ).encode("ascii")


class _DateLine:
    """The ``date:`` header line, formatted at most once a second."""

    __slots__ = ("line", "second")

    def __init__(self) -> None:
        self.second = -1
        self.line = b""

    def get(self) -> bytes:
        now = int(time.time())
        if now != self.second:
            self.second = now
            self.line = b"date: %s\r\n" % http_date(now)
        return self.line


DATE = _DateLine()


@dataclass(frozen=True, slots=True)
class ResponseDefaults:
    """The header lines the server adds to every response, the app's and its own: ``server``
    (empty with ``server_header = false``), ``date`` (unless ``date_header = false``) and the
    ``headers`` setting's, each of which an app's header of the same name replaces."""

    server_line: bytes
    date: bool
    #: the ``headers`` setting: (lowercase name, wire line ``name: value\r\n``)
    headers: tuple[tuple[bytes, bytes], ...] = ()

    @classmethod
    def from_config(cls, config: Config) -> ResponseDefaults:
        headers = []
        server_line = SERVER_LINE if config.server_header else b""
        for text in config.headers:
            name, _, value = text.partition(":")
            line = b"%s: %s\r\n" % (name.strip().lower().encode(), value.strip().encode("latin-1"))
            if name.strip().lower() == "server":
                server_line = line  # the operator's server header replaces ours
            else:
                headers.append((name.strip().lower().encode(), line))
        return cls(server_line, config.date_header, tuple(headers))

    def date_line(self) -> bytes:
        """The ``date:`` line (or nothing)."""
        return DATE.get() if self.date else b""

    def lines(self) -> bytes:
        """The lines of the ``headers`` setting on a response of the server's own, which has a
        ``content-type`` of its own for its body (a setting's ``content-type`` is left out)."""
        return b"".join(line for name, line in self.headers if name != b"content-type")

    def fields(self) -> list[tuple[bytes, bytes]]:
        """``server`` and the ``headers`` setting's, as (lowercase name, value) fields (for
        HTTP/2, which encodes them its own way)."""
        lines = [self.server_line] if self.server_line else []
        lines += [line for _, line in self.headers]
        return [(name, value) for name, _, value in (line[:-2].partition(b": ") for line in lines)]


#: what a writer writes without settings: ``server`` and ``date``, nothing else
PLAIN: Final = ResponseDefaults(SERVER_LINE, True)


def status_line(status: int) -> bytes:
    """The status line for ``status`` (cached for the registered codes)."""
    line = STATUS_LINES.get(status)
    return line if line is not None else b"HTTP/1.1 %d \r\n" % status


def simple_response(
    status: int,
    body: bytes = b"",
    *,
    close: bool = True,
    content_type: bytes = b"text/plain; charset=utf-8",
    extra: bytes = b"",
    defaults: ResponseDefaults = PLAIN,
) -> bytes:
    """A complete response the server itself sends (errors); ``extra`` is more header lines."""
    return b"".join(
        (
            status_line(status),
            defaults.date_line(),
            defaults.server_line,
            defaults.lines(),
            extra,
            b"content-type: %s\r\n" % content_type,
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n" if close else b"",
            b"\r\n",
            body,
        )
    )


_SPECIAL: Final = frozenset(
    {b"content-length", b"transfer-encoding", b"connection", b"date", b"server"}
)


def _header_name(raw_name: object) -> bytes:
    """Validate a header name the cache has not seen; its lowercase form."""
    if type(raw_name) is not bytes:
        raise ResponseError(f"header name {raw_name!r} must be bytes")
    if TOKEN.fullmatch(raw_name) is None:
        raise ResponseError(f"header name {raw_name!r} is not a valid token")
    name = raw_name.lower()
    if len(_NAME_CACHE) >= _NAME_CACHE_MAX:
        _NAME_CACHE.clear()
    _NAME_CACHE[raw_name] = name
    return name


def _header_lines(headers: Iterable[Iterable[object]]) -> tuple[list[bytes], dict[bytes, bytes]]:
    """Validate app headers; return their wire form as a flat list of parts (name, ": ",
    value, CRLF per header) and the framing headers met on the way."""
    parts: list[bytes] = []
    special: dict[bytes, bytes] = {}
    cache = _NAME_CACHE
    try:
        for pair in headers:
            raw_name, value = pair
            name = cache.get(raw_name) or _header_name(raw_name)
            if type(value) is not bytes:
                raise ResponseError(f"header {name!r}: value {value!r} must be bytes")
            if name in _SPECIAL:
                if name == b"connection":
                    if CONTROL.search(value) is not None:
                        raise ResponseError("header b'connection' has a control character")
                    special[name] = special.get(name, b"") + b"," + value
                    continue
                if name in special and name != b"date" and name != b"server":
                    raise ResponseError(f"header {name!r} given twice")
                special[name] = value
            parts += (name, b": ", value, b"\r\n")
    except (TypeError, ValueError):
        raise ResponseError(
            f"headers must be [name, value] pairs of bytes, got {headers!r}"[:300]
        ) from None
    # one scan over all values (joined by a tab, which values may contain) instead of one each
    if parts and CONTROL.search(b"\t".join(parts[2::4])) is not None:
        bad = next(
            parts[i] for i in range(0, len(parts), 4) if CONTROL.search(parts[i + 2]) is not None
        )
        raise ResponseError(f"header {bad!r} has a control character in its value")
    return parts, special


class ResponseWriter:
    """Serialises one response for one request. Keep-alive is the connection's to decide: the
    first body part carries its decision into the head, and ``keep_alive`` then says what the
    head promised (an app's ``connection: close`` or a close-delimited body overrule it)."""

    __slots__ = (
        "_app_close",
        "_defaults",
        "_framing",
        "_head_only",
        "_http10",
        "_lines",
        "_remaining",
        "_special",
        "_trailers",
        "body_bytes",
        "keep_alive",
        "status",
    )

    def __init__(self, method: str, http_version: str, defaults: ResponseDefaults = PLAIN) -> None:
        self._defaults = defaults
        self._lines: list[bytes] = []
        self._special: dict[bytes, bytes] = {}
        self.reset(method, http_version)

    def reset(self, method: str, http_version: str) -> None:
        """Serialise the response to the next request (one writer serves a connection)."""
        self._head_only = method == "HEAD"
        self._http10 = http_version == "1.0"
        #: what the head said, once it is out: the connection may be reused
        self.keep_alive = True
        self._app_close = False
        self.status = 0
        self.body_bytes = 0
        self._framing = _FRAMING_PENDING
        self._remaining = 0
        #: the app announced trailers (``http.response.trailers`` extension)
        self._trailers = False

    @property
    def head_pending(self) -> bool:
        """The head has not been written yet (no body part so far)."""
        return self._framing is _FRAMING_PENDING

    def early_hint(self, links: Iterable[object]) -> bytes:
        """A ``103 Early Hints`` interim response (nothing for HTTP/1.0 clients, who may not
        understand interim responses)."""
        if self._http10:
            return b""
        lines = []
        for link in links:
            if type(link) is not bytes or CONTROL.search(link):
                raise ResponseError(f"early hint link {link!r} is not a valid header value")
            lines.append(b"link: %s\r\n" % link)
        return b"HTTP/1.1 103 Early Hints\r\n" + b"".join(lines) + b"\r\n"

    def start(
        self, status: object, headers: Iterable[Iterable[object]], trailers: object = False
    ) -> None:
        """Record the status and headers; nothing is written until the first body part."""
        if type(status) is not int or not 200 <= status <= 599:
            raise ResponseError(f"status {status!r} is not a final status code (200-599)")
        lines, special = _header_lines(headers)
        if b"content-length" in special and b"transfer-encoding" not in special:
            value = special[b"content-length"]
            if not value.isdigit():
                raise ResponseError(f"content-length {value!r} is not a number")
        connection = special.get(b"connection")
        self._app_close = connection is not None and b"close" in connection.lower()
        self.status = status
        self._lines = lines
        self._special = special
        self._trailers = bool(trailers)

    def _choose_framing(self, first: bytes, more: bool) -> bytes:
        """Decide the framing at the first body part; the framing header to add, if any.

        A HEAD response is framed exactly as the GET would be (same headers), then carries no
        body bytes.
        """
        special = self._special
        if self.status in _NO_BODY_STATUS:
            self._framing = _FRAMING_NONE
            return b""
        if b"transfer-encoding" in special:
            if b"content-length" in special:
                parts = self._lines
                at = next(i for i in range(0, len(parts), 4) if parts[i] == b"content-length")
                del parts[at : at + 4]
            self._framing = _FRAMING_CHUNKED
            line = b""
        elif b"content-length" in special:
            self._framing = _FRAMING_LENGTH
            self._remaining = int(special[b"content-length"])
            line = b""
        elif not more and not self._trailers:
            self._framing = _FRAMING_LENGTH
            self._remaining = len(first)
            line = b"content-length: %d\r\n" % len(first)
        elif self._http10:
            self._framing = _FRAMING_CLOSE
            line = b""
        else:
            self._framing = _FRAMING_CHUNKED
            line = b"transfer-encoding: chunked\r\n"
        if self._head_only:
            self._framing = _FRAMING_NONE
        return line

    def _head(self, framing_line: bytes, keep_alive: bool) -> bytes:
        special = self._special
        # a close-delimited body ends only with the connection
        keep_alive = keep_alive and not self._app_close and self._framing is not _FRAMING_CLOSE
        self.keep_alive = keep_alive
        if keep_alive:
            connection = b"connection: keep-alive\r\n" if self._http10 else b""
        else:
            connection = b"connection: close\r\n"
        defaults = self._defaults
        head = [
            STATUS_LINES.get(self.status) or status_line(self.status),
            b"" if b"date" in special or not defaults.date else DATE.get(),
            b"" if b"server" in special else defaults.server_line,
        ]
        lines = self._lines
        head += lines
        if defaults.headers:
            present = set(lines[0::4])  # the app's header names
            head += [line for name, line in defaults.headers if name not in present]
        head += (framing_line, connection, b"\r\n")
        return b"".join(head)

    def body(self, data: bytes, more: bool, keep_alive: bool = True) -> bytes | tuple[bytes, ...]:
        """The bytes that put this body part on the wire (the head first, the first time,
        saying whether the connection stays open: ``keep_alive``, the connection's decision).

        Raises ResponseError when the part breaks the framing; if that happens on the first
        part, nothing has been sent and the caller can still answer 500.
        """
        first = self._framing is _FRAMING_PENDING
        framing_line = self._choose_framing(data, more) if first else b""
        framing = self._framing
        size = len(data)
        if framing is _FRAMING_LENGTH:
            remaining = self._remaining - size
            if remaining < 0 or (not more and remaining):
                if first:
                    self._framing = _FRAMING_PENDING  # nothing was sent: a 500 still can be
                if remaining < 0:
                    raise ResponseError(
                        f"body longer than its content-length ({-remaining} bytes too many)"
                    )
                raise ResponseError(f"response ended {remaining} bytes short of its content-length")
            self._remaining = remaining
        head = self._head(framing_line, keep_alive) if first else b""
        if framing is _FRAMING_NONE:
            return head
        self.body_bytes += size
        if framing is _FRAMING_CHUNKED:
            # the last chunk, then the trailers' end (or the trailers to come)
            end = b"" if more else (b"0\r\n" if self._trailers else b"0\r\n\r\n")
            if size > _JOIN_LIMIT:
                # large parts are not copied into their framing: the transport writes the
                # pieces with one vectored send
                return (head + b"%x\r\n" % size, data, b"\r\n" + end)
            chunk = b"%x\r\n%s\r\n" % (size, data) if size else b""
            return head + chunk + end
        if first and size > _JOIN_LIMIT:
            return (head, data)
        return head + data if first else data

    def trailer_fields(self, headers: Iterable[Iterable[object]], more: bool) -> bytes:
        """Trailer lines after the last chunk (dropped unless the body was chunked)."""
        lines, _ = _header_lines(headers)
        if self._framing is not _FRAMING_CHUNKED:
            return b""
        return b"".join(lines) + (b"" if more else b"\r\n")

    def file_head(self, size: int, keep_alive: bool = True) -> bytes:
        """The head for a body that is a file of ``size`` bytes (``http.response.pathsend``).

        The caller sends the file itself (if ``file_body_wanted``); HEAD, 204 and 304
        responses get the head only.
        """
        special = self._special
        if b"content-length" in special and int(special[b"content-length"]) != size:
            raise ResponseError(
                f"content-length {special[b'content-length']!r} does not match "
                f"the file's {size} bytes"
            )
        if b"transfer-encoding" in special:
            raise ResponseError("pathsend cannot be used with transfer-encoding")
        line = b"" if b"content-length" in special else b"content-length: %d\r\n" % size
        self._framing = (
            _FRAMING_NONE
            if (self._head_only or self.status in _NO_BODY_STATUS)
            else _FRAMING_LENGTH
        )
        if self._framing is _FRAMING_LENGTH:
            self.body_bytes = size
        return self._head(line, keep_alive)

    @property
    def file_body_wanted(self) -> bool:
        """After ``file_head``: whether the file's bytes go on the wire."""
        return self._framing is _FRAMING_LENGTH
