"""HTTP/2 error codes (RFC 9113 section 7) and the two kinds of error the core raises inside
itself: a connection error ends the connection with GOAWAY, a stream error resets one stream
with RST_STREAM (section 5.4). Both carry the code the peer is told and a reason for our log.
"""

from __future__ import annotations

from typing import Final

NO_ERROR: Final = 0x0
PROTOCOL_ERROR: Final = 0x1
INTERNAL_ERROR: Final = 0x2
FLOW_CONTROL_ERROR: Final = 0x3
SETTINGS_TIMEOUT: Final = 0x4
STREAM_CLOSED: Final = 0x5
FRAME_SIZE_ERROR: Final = 0x6
REFUSED_STREAM: Final = 0x7
CANCEL: Final = 0x8
COMPRESSION_ERROR: Final = 0x9
CONNECT_ERROR: Final = 0xA
ENHANCE_YOUR_CALM: Final = 0xB
INADEQUATE_SECURITY: Final = 0xC
HTTP_1_1_REQUIRED: Final = 0xD

ERROR_NAMES: Final = {
    NO_ERROR: "NO_ERROR",
    PROTOCOL_ERROR: "PROTOCOL_ERROR",
    INTERNAL_ERROR: "INTERNAL_ERROR",
    FLOW_CONTROL_ERROR: "FLOW_CONTROL_ERROR",
    SETTINGS_TIMEOUT: "SETTINGS_TIMEOUT",
    STREAM_CLOSED: "STREAM_CLOSED",
    FRAME_SIZE_ERROR: "FRAME_SIZE_ERROR",
    REFUSED_STREAM: "REFUSED_STREAM",
    CANCEL: "CANCEL",
    COMPRESSION_ERROR: "COMPRESSION_ERROR",
    CONNECT_ERROR: "CONNECT_ERROR",
    ENHANCE_YOUR_CALM: "ENHANCE_YOUR_CALM",
    INADEQUATE_SECURITY: "INADEQUATE_SECURITY",
    HTTP_1_1_REQUIRED: "HTTP_1_1_REQUIRED",
}


def error_name(code: int) -> str:
    """The name of an error code (unknown codes are legal and shown in hex)."""
    return ERROR_NAMES.get(code) or f"0x{code:x}"


class H2ConnectionError(Exception):
    """The peer broke a rule that ends the connection: GOAWAY with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{error_name(code)}: {reason}")
        self.code = code
        self.reason = reason


class H2StreamError(Exception):
    """The peer broke a rule of one stream: RST_STREAM with ``code`` on ``stream_id``."""

    def __init__(self, stream_id: int, code: int, reason: str) -> None:
        super().__init__(f"stream {stream_id}: {error_name(code)}: {reason}")
        self.stream_id = stream_id
        self.code = code
        self.reason = reason


class CompressionError(Exception):
    """A header block does not decode (RFC 7541): a connection error COMPRESSION_ERROR, since
    the two ends' HPACK tables can no longer agree."""
