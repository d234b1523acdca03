"""Response heads and trailers from the app's ``(name, value)`` pairs to HPACK-encoded fields,
checked the way HTTP/1.1's writer checks them.

Names must be tokens and go out lowercase (RFC 9113 8.2.1); values must be bytes without
control characters (HTAB aside) and lose surrounding whitespace, which HTTP/2 forbids.
Connection-specific fields (``connection``, ``keep-alive``, ``proxy-connection``,
``transfer-encoding``, ``upgrade``; RFC 9113 8.2.2) mean nothing here and are dropped, as
HTTP/1.1 replaces the app's ``connection``. ``content-length`` is read for enforcement; an
app's ``date`` or ``server`` replaces ours.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from ...grammar import CONTROL, TOKEN
from ..asgi import ResponseError
from .compression import encode_field, status_field

_DIGITS: Final = re.compile(rb"[0-9]{1,18}")
_DROPPED: Final = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)
# the names the response side acts on
CONTENT_LENGTH: Final = b"content-length"
DATE: Final = b"date"
SERVER: Final = b"server"
#: the fields the stream acts on: their values are noted (``encode_fields``)
NOTED: Final = frozenset({CONTENT_LENGTH, DATE, SERVER})

#: validated app fields: (name as given, value) -> (lowercase name, encoded field; empty for
#: a dropped field). Apps send the same fields on every response.
_FIELDS: dict[tuple[bytes, bytes], tuple[bytes, bytes]] = {}
_FIELDS_MAX: Final = 2048
_CACHE_VALUE_LIMIT: Final = 256


def _check_field(raw_name: object, value: object) -> tuple[bytes, bytes]:
    """Validate one field the cache has not seen; its lowercase name and encoding."""
    if type(raw_name) is not bytes:
        raise ResponseError(f"header name {raw_name!r} must be bytes")
    if TOKEN.fullmatch(raw_name) is None:
        raise ResponseError(f"header name {raw_name!r} is not a valid token")
    name = raw_name.lower()
    if type(value) is not bytes:
        raise ResponseError(f"header {name!r}: value {value!r} must be bytes")
    if CONTROL.search(value) is not None:
        raise ResponseError(f"header {name!r} has a control character in its value")
    stripped = value.strip(b" \t")
    if name == CONTENT_LENGTH and _DIGITS.fullmatch(stripped) is None:
        raise ResponseError(f"content-length {value!r} is not a number")
    checked = (name, b"" if name in _DROPPED else encode_field(name, stripped))
    if len(value) <= _CACHE_VALUE_LIMIT:
        if len(_FIELDS) >= _FIELDS_MAX:
            _FIELDS.clear()
        _FIELDS[raw_name, value] = checked
    return checked


def encode_fields(
    headers: Iterable[Iterable[bytes]], noting: frozenset[bytes] = NOTED
) -> tuple[list[bytes], dict[bytes, bytes]]:
    """The encoded fields of the app's headers, and the values of those named in ``noting``
    (``content-length``, ``date``, ``server`` and the names of the ``headers`` setting; see
    module docstring). Raises ``ResponseError``."""
    parts: list[bytes] = []
    noted: dict[bytes, bytes] = {}
    cache = _FIELDS
    try:
        for pair in headers:
            raw_name, value = pair
            checked = cache.get((raw_name, value)) or _check_field(raw_name, value)
            name, encoded = checked
            if name in noting:
                if name == CONTENT_LENGTH:
                    value = value.strip(b" \t")
                    if noted.get(name, value) != value:
                        raise ResponseError("header b'content-length' given twice")
                noted[name] = value
            if encoded:
                parts.append(encoded)
    except (TypeError, ValueError):
        raise ResponseError(
            f"headers must be [name, value] pairs of bytes, got {headers!r}"[:300]
        ) from None
    return parts, noted


def informational_block(status: int, links: Iterable[bytes] = ()) -> list[bytes]:
    """The fields of a 1xx response: ``100 Continue``, or ``103 Early Hints`` with ``link``
    values."""
    parts = [status_field(status)]
    for link in links:
        if type(link) is not bytes or CONTROL.search(link):
            raise ResponseError(f"early hint link {link!r} is not a valid header value")
        parts.append(encode_field(b"link", link.strip(b" \t")))
    return parts


def check_status(status: object) -> int:
    """A final status the app may send."""
    if type(status) is not int or not 200 <= status <= 599:
        raise ResponseError(f"status {status!r} is not a final status code (200-599)")
    return status
