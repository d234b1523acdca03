"""Bounds on what a client may send in a request: the ``limit_request_*`` settings, checked by the
head reader (414, 431), the body readers (413) and the chunked decoder's trailers."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import Config
from .head import ProtocolError


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what a client may send in a request (the ``limit_request_*`` settings)."""

    max_line: int
    max_fields: int
    max_field_size: int
    #: 0 means no limit
    max_body: int

    @classmethod
    def from_config(cls, config: Config) -> Limits:
        return cls(
            max_line=config.limit_request_line,
            max_fields=config.limit_request_fields,
            max_field_size=config.limit_request_field_size,
            max_body=config.limit_request_body,
        )

    @property
    def max_head_size(self) -> int:
        return self.max_line + 2 + self.max_fields * (self.max_field_size + 2) + 2

    def check_head(self, lines: list[bytes]) -> None:
        """Raise 414/431 for a head (split at CRLF) beyond the limits."""
        if len(lines[0]) > self.max_line:
            raise ProtocolError(414, "request line too long")
        if len(lines) - 1 > self.max_fields:
            raise ProtocolError(431, "too many header fields")
        if len(lines) > 1 and max(map(len, lines[1:])) > self.max_field_size:
            raise ProtocolError(431, "header field too long")

    def check_body_size(self, size: int) -> None:
        """Raise 413 for a body (declared or counted so far) beyond the limit."""
        if self.max_body and size > self.max_body:
            raise ProtocolError(413, "request body too large")
