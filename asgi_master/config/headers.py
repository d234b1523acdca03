"""The value type of the ``headers`` setting: response headers the server adds to every
response, checked against the same field grammar the worker writes with."""

from __future__ import annotations

from ..grammar import is_field_value, is_token
from .types import Converter


class ResponseHeader(Converter):
    """A response header ``name: value`` the server adds to every response."""

    #: the server writes these itself: an operator's copy would break framing or lie
    RESERVED = frozenset(
        {
            "content-length",
            "transfer-encoding",
            "connection",
            "keep-alive",
            "upgrade",
            "trailer",
            "te",
            "date",
        }
    )
    expected = (
        '"name: value", a token name and a value without control characters (not a framing '
        "header nor date)"
    )
    metavar = "NAME:VALUE"

    def convert(self, raw: object) -> str:
        if not isinstance(raw, str) or ":" not in raw:
            raise self.fail()
        name, _, value = raw.partition(":")
        name, value = name.strip(), value.strip()
        try:
            encoded = value.encode("latin-1")
        except UnicodeEncodeError:
            raise self.fail() from None
        if (
            not is_token(name.encode("ascii", "replace"))
            or not is_field_value(encoded)
            or name.lower() in self.RESERVED
        ):
            raise self.fail()
        return f"{name.lower()}: {value}"
