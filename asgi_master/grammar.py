"""The HTTP field grammar (RFC 9110 section 5), written once for every protocol of the worker:
request heads, chunk extensions and trailers, response headers, the WebSocket handshake,
proxy headers and HTTP/2 header blocks all validate with these patterns.
"""

from __future__ import annotations

import re
from typing import Final

#: RFC 9110 5.6.2: token = 1*tchar (the pattern, for building larger ones)
TOKEN_PATTERN: Final = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
#: RFC 9110 5.6.4: quoted-string, obs-text included (the pattern)
QUOTED_STRING_PATTERN: Final = (
    rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
)
#: RFC 9112 5: a field line ``name: value`` with optional whitespace around the value; group 1
#: is the name, group 2 the value without that whitespace
FIELD_LINE: Final = re.compile(
    rb"("
    + TOKEN_PATTERN
    + rb"):[ \t]*((?:[\x21-\x7e\x80-\xff](?:[ \t]*[\x21-\x7e\x80-\xff])*)?)[ \t]*"
)

TOKEN: Final = re.compile(TOKEN_PATTERN)
#: RFC 9110 5.5: a field value holds no control character but HTAB (search for one)
CONTROL: Final = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def is_token(data: bytes) -> bool:
    """``data`` is a token: a valid field name or method."""
    return TOKEN.fullmatch(data) is not None


def is_field_value(data: bytes) -> bool:
    """``data`` has no character a field value may not hold (RFC 9110 5.5)."""
    return CONTROL.search(data) is None


#: RFC 9110 5.6.7: the day and month names of an HTTP date (English, whatever the locale); the
#: access log's time uses the same month names
DAY_NAMES: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTH_NAMES: Final = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
)  # fmt: skip
