"""Request heads and the strict fast parser for the common request shape.

Theory of operation: most requests on a production server are a request line, a handful of
ordinary headers, and either no body, a Content-Length body or a chunked one. ``parse_fast``
recognises exactly that shape and nothing else. It never rejects a request: anything it is not
certain h11 would accept the same way (a Transfer-Encoding but a lone ``chunked``, Expect,
Upgrade, odd whitespace, bare LF, missing Host, obs-text in names...) makes it answer
``FALLBACK`` and the reader hands the head to h11, which then accepts or rejects it. So the
fast path can only ever be a faster route to h11's verdict;
tests/unit/test_fast_path_differential.py holds it to that. Bodies are never h11's: the reader
decodes them the same way whichever parser read the head.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from ...grammar import CONTROL, FIELD_LINE, TOKEN_PATTERN

# CONNECT takes only authority-form: its origin-form targets go to the h11 path to be refused
# (in any case: the scope uppercases methods, as ASGI asks, so "connect" reaches the app as CONNECT)
_REQUEST_LINE: Final = re.compile(
    rb"(?!(?i:connect) )(" + TOKEN_PATTERN + rb") (/[\x21-\x7e]*) HTTP/(1\.[01])"
)
_DIGITS: Final = re.compile(rb"[0-9]{1,18}")
# RFC 9110 7.2 / RFC 3986 3.2.2: host [ ":" port ]; no userinfo, path or whitespace
_HOST: Final = re.compile(rb"(?:\[[0-9A-Fa-f:.]+\]|[-A-Za-z0-9._~%!$&'()*+,;=]*)(?::[0-9]*)?")
# RFC 9110 4.2: scheme "://" authority, then a path, query or nothing; the host may not be empty
# (4.2.1) and userinfo is refused (4.2.4)
_ABSOLUTE: Final = re.compile(
    rb"[A-Za-z][A-Za-z0-9+.-]*://(?:\[[0-9A-Fa-f:.]+\]|[-A-Za-z0-9._~%!$&'()*+,;=]+)(?::[0-9]*)?"
    rb"(?:[/?][\x21-\x7e]*)?"
)
_AUTHORITY: Final = re.compile(rb"[-A-Za-z0-9._~%!$&'()*+,;=\[\]:]+:[0-9]+")

# Header lines repeat across requests (User-Agent, Accept, Host...): a validated line is
# remembered with its lowercased name, so a repeat costs one dict lookup.
_LINE_CACHE: dict[bytes, tuple[bytes, bytes]] = {}
_LINE_CACHE_MAX: Final = 512

# Headers whose presence needs h11's full treatment, and Transfer-Encoding (checked further).
_DEFER: Final = frozenset({b"transfer-encoding", b"expect", b"upgrade"})


class ProtocolError(Exception):
    """The client broke HTTP/1.1; ``status`` is what it should be told before the close."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Fallback:
    """Marker type: the fast parser declines this head; h11 must parse it."""


FALLBACK: Final = Fallback()


# (not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__, a
# slow path mypyc leaves interpreted; nothing assigns to it: docs/design.md, compiled build)
@dataclass(slots=True)
class RequestHead:
    """A parsed request head with the framing facts the server acts on."""

    method: str
    target: bytes
    http_version: str
    #: lowercased names, values as received, in order
    headers: list[tuple[bytes, bytes]]
    content_length: int | None
    chunked: bool
    keep_alive: bool
    expect_continue: bool
    #: the Upgrade header's value when the client asked to switch protocols, else None
    upgrade: bytes | None


def _connection_tokens(value: bytes) -> set[bytes]:
    return {t.strip().lower() for t in value.split(b",")}


def _check_target(method: bytes, target: bytes) -> None:
    """RFC 9112 3.2: authority-form for CONNECT and only for it, origin-form and absolute-form
    for every other method, asterisk-form only for OPTIONS. The method is compared uppercased,
    as the scope will carry it."""
    method = method.upper()
    if method == b"CONNECT":
        if _AUTHORITY.fullmatch(target):
            return
    elif target[:1] == b"/" or _ABSOLUTE.fullmatch(target):
        return
    if target == b"*" and method == b"OPTIONS":
        return
    raise ProtocolError(400, f"request target {target[:100]!r} is not valid for {method!r}")


def head_from_parts(
    method: bytes, target: bytes, version: bytes, headers: list[tuple[bytes, bytes]]
) -> RequestHead:
    """Build a ``RequestHead`` from parts h11 accepted (the h11 path), stricter than h11 where
    ambiguity helps request smuggling or confuses the app:

    - Content-Length together with Transfer-Encoding, and Transfer-Encoding in HTTP/1.0 (RFC
      9112 6.1 lets a server refuse both; proxies disagree on them);
    - control characters in values (RFC 9110 5.5), a Host that is not host[:port];
    - request-target forms the method does not allow (RFC 9112 3.2);
    - HTTP versions of another major (505); a higher 1.x minor is read as 1.1 (RFC 9110 2.5).

    And ``Expect`` and ``Upgrade`` mean nothing in an HTTP/1.0 request.
    """
    if version[:2] != b"1.":
        raise ProtocolError(
            505, f"HTTP version {version.decode('ascii', 'replace')} is not supported"
        )
    if version not in (b"1.0", b"1.1"):
        version = b"1.1"
    _check_target(method, target)
    content_length: int | None = None
    chunked = expect_continue = False
    connection: set[bytes] = set()
    upgrade: bytes | None = None
    for name, value in headers:
        if CONTROL.search(value) is not None:
            raise ProtocolError(400, f"control character in the value of {name!r}")
        if name == b"content-length":
            content_length = int(value)
        elif name == b"host" and _HOST.fullmatch(value) is None:
            raise ProtocolError(400, f"Host {value[:100]!r} is not host[:port]")
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"connection":
            connection |= _connection_tokens(value)
        elif name == b"expect":
            expect_continue = value.lower() == b"100-continue"
        elif name == b"upgrade":
            upgrade = value
    if chunked:
        if content_length is not None:
            raise ProtocolError(400, "both Content-Length and Transfer-Encoding")
        if version == b"1.0":
            raise ProtocolError(400, "Transfer-Encoding in an HTTP/1.0 request")
        content_length = None
    keep_alive = b"close" not in connection and (version == b"1.1" or b"keep-alive" in connection)
    if version == b"1.0":
        # RFC 9110 10.1.1 and 7.8: both are ignored in an HTTP/1.0 request (and no 1xx may go
        # to an HTTP/1.0 client, 15.2)
        expect_continue = False
        upgrade = None
    return RequestHead(
        method=method.decode("ascii").upper(),
        target=target,
        http_version=version.decode("ascii"),
        headers=headers,
        content_length=content_length,
        chunked=chunked,
        keep_alive=keep_alive,
        expect_continue=expect_continue,
        upgrade=upgrade if b"upgrade" in connection else None,
    )


def parse_fast(lines: list[bytes]) -> RequestHead | Fallback:
    """Parse a complete head split at CRLF (the blank line excluded) or decline with FALLBACK."""
    match = _REQUEST_LINE.fullmatch(lines[0])
    if match is None:
        return FALLBACK
    method, target, version = match.groups()
    headers: list[tuple[bytes, bytes]] = []
    content_length: int | None = None
    connection: bytes | None = None
    chunked = False
    hosts = 0
    cache = _LINE_CACHE
    for line in lines[1:]:
        parsed = cache.get(line)
        if parsed is None:
            m = FIELD_LINE.fullmatch(line)
            if m is None:
                return FALLBACK
            parsed = (m.group(1).lower(), m.group(2))
            if parsed[0] == b"host" and _HOST.fullmatch(parsed[1]) is None:
                return FALLBACK
            if len(cache) >= _LINE_CACHE_MAX:
                cache.clear()
            cache[line] = parsed
        name, value = parsed
        headers.append(parsed)
        if name == b"host":
            hosts += 1
        elif name == b"content-length":
            if content_length is not None or _DIGITS.fullmatch(value) is None:
                return FALLBACK
            content_length = int(value)
        elif name == b"connection":
            if connection is not None:
                return FALLBACK
            connection = value
        elif name in _DEFER:
            # h11 takes one Transfer-Encoding, a case-insensitive "chunked", and lowercases it
            if name != b"transfer-encoding" or chunked or value.lower() != b"chunked":
                return FALLBACK
            chunked = True
            if value != b"chunked":
                headers[-1] = (name, b"chunked")
    if hosts > 1 or (hosts == 0 and version == b"1.1"):
        return FALLBACK
    # both are refused (head_from_parts): the h11 path says why
    if chunked and (content_length is not None or version == b"1.0"):
        return FALLBACK
    if connection is None:
        keep_alive = version == b"1.1"
    else:
        tokens = _connection_tokens(connection)
        if b"upgrade" in tokens:
            return FALLBACK
        keep_alive = b"close" not in tokens and (version == b"1.1" or b"keep-alive" in tokens)
    return RequestHead(
        method.decode("ascii").upper(),
        target,
        version.decode("ascii"),
        headers,
        content_length,
        chunked,
        keep_alive,
        False,
        None,
    )
