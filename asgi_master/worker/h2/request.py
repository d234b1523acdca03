"""A request's header list, as HPACK decoded it, checked and turned into what the ASGI scope
needs (RFC 9113 sections 8.1, 8.2 and 8.3).

Two kinds of refusal. What RFC 9113 calls a malformed request (pseudo-header fields missing,
repeated, unknown or after a regular field, uppercase or invalid names, values with NUL, CR,
LF or surrounding whitespace, connection-specific fields, a ``te`` other than ``trailers``, an
empty ``:path``, a bad ``content-length``) raises ``MalformedRequest``: a stream error of type
PROTOCOL_ERROR. A well-formed request the server will not take raises ``RejectedRequest`` with
the HTTP status to answer, as HTTP/1.1 would: 431 past ``limit_request_fields`` or
``limit_request_field_size``, 414 for a ``:path`` longer than ``limit_request_line``, 413 for a
declared body above ``limit_request_body``, 400 for a target or authority that does not parse.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote

from ...grammar import CONTROL, TOKEN

Field = tuple[bytes, bytes]

#: RFC 9113 8.2.1: names are lowercase tokens
_NAME: Final = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-z]+")
#: RFC 9113 8.2.1 and RFC 9110 5.5: no control character but HTAB, no leading or trailing
#: whitespace
_BAD_VALUE: Final = re.compile(CONTROL.pattern + rb"|\A[ \t]|[ \t]\Z")
_SCHEME: Final = re.compile(rb"[A-Za-z][A-Za-z0-9+.-]*")
# RFC 9110 7.2 / RFC 3986 3.2.2, as HTTP/1.1's Host: host [ ":" port ], no userinfo
_HOST: Final = re.compile(rb"(?:\[[0-9A-Fa-f:.]+\]|[-A-Za-z0-9._~%!$&'()*+,;=]*)(?::[0-9]*)?")
#: a request target holds visible ASCII only (as HTTP/1.1's request line)
_TARGET: Final = re.compile(rb"[\x21-\x7e]+")
_DIGITS: Final = re.compile(rb"[0-9]{1,18}")
#: RFC 9113 8.2.2: fields that only mean something on an HTTP/1.1 connection
_CONNECTION_SPECIFIC: Final = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)
_SPECIAL: Final = frozenset({b"cookie", b"host", b"content-length", b"te", b"expect"})
_PSEUDO: Final = frozenset({b":method", b":scheme", b":authority", b":path", b":protocol"})

# Names repeat across requests; a name checked once is remembered.
_GOOD_NAMES: set[bytes] = set()
_GOOD_NAMES_MAX: Final = 512


class MalformedRequest(Exception):
    """The request breaks RFC 9113's rules: a stream error PROTOCOL_ERROR."""


class RejectedRequest(Exception):
    """A well-formed request the server refuses with ``status`` (as HTTP/1.1 would)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """What a request may hold: HTTP/1.1's ``limit_request_*`` settings, read the same way."""

    max_fields: int = 100
    max_field_size: int = 8190
    max_target: int = 8190
    #: 0: no limit
    max_body: int = 0
    #: RFC 8441 extended CONNECT (``:protocol``) is accepted
    connect_protocol: bool = False


@dataclass(frozen=True, slots=True)
class RequestHead:
    """A checked request head, in the scope's terms."""

    method: str
    scheme: str
    #: ``:path`` as sent (the ``:authority`` of a CONNECT tunnel): the scope is built from it
    target: bytes
    #: ``:authority`` as sent (None if absent)
    authority: bytes | None
    path: str
    raw_path: bytes
    query_string: bytes
    #: names lowercase, ``:authority`` first as ``host`` when the client sent no ``host``,
    #: ``cookie`` fields joined into one. Heads are shared between requests with the same
    #: header block (see ``Connection``): copy the list before handing it to an app.
    headers: list[Field]
    content_length: int | None
    expect_continue: bool
    #: the RFC 8441 ``:protocol`` of an extended CONNECT, else None
    protocol: str | None


def _check_name(name: bytes) -> None:
    if _NAME.fullmatch(name) is None:
        raise MalformedRequest(f"invalid field name {name[:100]!r}")
    if len(_GOOD_NAMES) >= _GOOD_NAMES_MAX:
        _GOOD_NAMES.clear()
    _GOOD_NAMES.add(name)


def read_request_head(fields: Iterable[Field], limits: RequestLimits) -> RequestHead:
    """The request head of a decoded header list. Raises ``MalformedRequest`` or
    ``RejectedRequest``."""
    pseudo: dict[bytes, bytes] = {}
    headers: list[Field] = []
    cookies: list[bytes] = []
    cookie_at = -1
    host: bytes | None = None
    content_length: bytes | None = None
    expect_continue = False
    count = 0
    max_fields = limits.max_fields
    max_field_size = limits.max_field_size - 2  # HTTP/1.1 counts "name: value"
    good_names = _GOOD_NAMES
    bad_value = _BAD_VALUE.search
    for name, value in fields:
        if name[:1] == b":":
            if headers or cookies:
                raise MalformedRequest(f"pseudo-header field {name!r} after a regular field")
            if name not in _PSEUDO or (name == b":protocol" and not limits.connect_protocol):
                raise MalformedRequest(f"unknown pseudo-header field {name[:100]!r}")
            if name in pseudo:
                raise MalformedRequest(f"pseudo-header field {name!r} repeated")
            if bad_value(value) is not None:
                raise MalformedRequest(f"invalid value in {name!r}")
            pseudo[name] = value
            continue
        if name not in good_names:
            _check_name(name)
        if bad_value(value) is not None:
            raise MalformedRequest(f"invalid value in field {name!r}")
        count += 1
        if count > max_fields:
            raise RejectedRequest(431, "too many header fields")
        if len(name) + len(value) > max_field_size:
            raise RejectedRequest(431, "header field too long")
        if name in _SPECIAL:
            if name == b"cookie":
                # RFC 9113 8.2.3: cookie-pairs may come as separate fields; one field for
                # the app, joined with "; "
                if cookie_at < 0:
                    cookie_at = len(headers)
                cookies.append(value)
                continue
            if name == b"host":
                if host is not None:
                    raise RejectedRequest(400, "several host fields")
                host = value
            elif name == b"content-length":
                if _DIGITS.fullmatch(value) is None:
                    raise MalformedRequest(f"content-length {value[:40]!r} is not a number")
                if content_length is not None and content_length != value:
                    raise MalformedRequest("different content-length values")
                content_length = value
            elif name == b"te":
                if value.lower() != b"trailers":
                    raise MalformedRequest("te other than trailers")
            elif value.lower() == b"100-continue":
                expect_continue = True
        elif name in _CONNECTION_SPECIFIC:
            raise MalformedRequest(f"connection-specific field {name!r}")
        headers.append((name, value))
    if cookies:
        headers.insert(cookie_at, (b"cookie", b"; ".join(cookies)))
    return _head(pseudo, headers, host, content_length, expect_continue, limits)


def _head(
    pseudo: dict[bytes, bytes],
    headers: list[Field],
    host: bytes | None,
    content_length: bytes | None,
    expect_continue: bool,
    limits: RequestLimits,
) -> RequestHead:
    method = pseudo.get(b":method")
    if method is None:
        raise MalformedRequest("no :method")
    if TOKEN.fullmatch(method) is None:
        raise MalformedRequest(f"invalid :method {method[:40]!r}")
    scheme = pseudo.get(b":scheme")
    path = pseudo.get(b":path")
    authority = pseudo.get(b":authority")
    protocol = pseudo.get(b":protocol")
    if method == b"CONNECT" and protocol is None:
        # RFC 9113 8.5: a tunnel names only its target
        if scheme is not None or path is not None:
            raise MalformedRequest("CONNECT with :scheme or :path")
        if authority is None:
            raise MalformedRequest("CONNECT without :authority")
        path = authority
    else:
        if scheme is None or path is None:
            raise MalformedRequest("no :scheme" if scheme is None else "no :path")
        if not path:
            raise MalformedRequest("empty :path")
        if protocol is not None and (method != b"CONNECT" or authority is None):
            raise MalformedRequest(":protocol without CONNECT and :authority")
        if protocol is not None and TOKEN.fullmatch(protocol) is None:
            raise MalformedRequest(f"invalid :protocol {protocol[:40]!r}")
        if _SCHEME.fullmatch(scheme) is None:
            raise MalformedRequest(f"invalid :scheme {scheme[:40]!r}")
        if path[:1] != b"/" and (path != b"*" or method != b"OPTIONS"):
            raise RejectedRequest(400, f":path {path[:100]!r} is not valid for {method!r}")
    if len(path) > limits.max_target:
        raise RejectedRequest(414, ":path too long")
    if _TARGET.fullmatch(path) is None:
        raise RejectedRequest(
            400, f":path {path[:100]!r} holds a character that is not visible ASCII"
        )
    if authority is not None:
        if _HOST.fullmatch(authority) is None:
            raise RejectedRequest(400, f":authority {authority[:100]!r} is not host[:port]")
        if host is None:
            headers.insert(0, (b"host", authority))
        elif host.lower() != authority.lower():
            # RFC 9113 8.3.1: a host naming another origin than :authority
            raise MalformedRequest("host differs from :authority")
    elif host is not None and _HOST.fullmatch(host) is None:
        raise RejectedRequest(400, f"host {host[:100]!r} is not host[:port]")
    length = None
    if content_length is not None:
        length = int(content_length)
        if limits.max_body and length > limits.max_body:
            raise RejectedRequest(413, "request body too large")
    raw_path, _, query = path.partition(b"?") if method != b"CONNECT" else (path, b"", b"")
    decoded = raw_path.decode("ascii")
    if "%" in decoded:
        decoded = unquote(decoded)
    return RequestHead(
        method=method.decode("ascii").upper(),
        scheme=scheme.decode("ascii").lower() if scheme is not None else "",
        target=path,
        authority=authority,
        path=decoded,
        raw_path=raw_path,
        query_string=query,
        headers=headers,
        content_length=length,
        expect_continue=expect_continue,
        protocol=protocol.decode("ascii") if protocol is not None else None,
    )


def check_trailers(fields: Iterable[Field]) -> None:
    """Request trailers (a HEADERS block after the body) follow the field rules and carry no
    pseudo-header fields; they are read and dropped (ASGI has no request trailers)."""
    for name, value in fields:
        if name[:1] == b":":
            raise MalformedRequest(f"pseudo-header field {name[:100]!r} in trailers")
        if name not in _GOOD_NAMES:
            _check_name(name)
        if _BAD_VALUE.search(value) is not None:
            raise MalformedRequest(f"invalid value in trailer field {name!r}")
        if name in _CONNECTION_SPECIFIC:
            raise MalformedRequest(f"connection-specific field {name!r} in trailers")
