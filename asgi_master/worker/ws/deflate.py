"""permessage-deflate (RFC 7692): choosing among the client's offers, and the extension object
wsproto runs for the frames.

The server accepts the first offer it can honour and declines the rest (wsproto's own
negotiation lets every offer mutate one extension object, so a client listing several offers
gets a mix of them). Memory is bounded the way the websockets library does it: the server's
LZ77 window is at most 2**12 bytes (the server may always choose a smaller window than
offered), the client is asked for the same when its offer allows it, and the compressor uses
``memLevel`` 5: well under 64 KiB of zlib state per connection instead of about 300 KiB.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import Final

from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import CloseReason, FrameDecoder, FrameProtocol, Opcode, RsvBits

NAME: Final = "permessage-deflate"
SERVER_WINDOW_BITS: Final = 12
CLIENT_WINDOW_BITS: Final = 12
MEM_LEVEL: Final = 5
_MIN_BITS: Final = 9  # zlib cannot compress with a 256-byte window (it silently uses 512)
_MAX_BITS: Final = 15


class ServerDeflate(PerMessageDeflate):
    """wsproto's extension, enabled as negotiated, with a bounded compressor, a switch to stop
    inflating, and one fix: a control frame between the fragments of a compressed message no
    longer resets the message's compression state (wsproto would decode the rest of it as
    uncompressed)."""

    #: set once the server has sent its close frame: what follows is dropped anyway, so it is
    #: not inflated (a peer cannot keep the server decompressing a bomb while it closes)
    discard = False

    def enabled(self) -> bool:
        return True

    def frame_inbound_header(
        self, proto: FrameDecoder | FrameProtocol, opcode: Opcode, rsv: RsvBits, payload_length: int
    ) -> CloseReason | RsvBits:
        if opcode.iscontrol():
            self._inbound_is_compressible = False
            if rsv.rsv1:
                return CloseReason.PROTOCOL_ERROR
            return RsvBits(False, False, False)
        return super().frame_inbound_header(proto, opcode, rsv, payload_length)

    def frame_inbound_payload_data(
        self, proto: FrameDecoder | FrameProtocol, data: bytes
    ) -> bytes | CloseReason:
        if self.discard:
            return b""
        return super().frame_inbound_payload_data(proto, data)

    def frame_inbound_complete(
        self, proto: FrameDecoder | FrameProtocol, fin: bool
    ) -> bytes | CloseReason | None:
        if not self._inbound_is_compressible:
            return None
        if self.discard:
            if fin:
                self._inbound_compressed = None
            return None
        return super().frame_inbound_complete(proto, fin)

    def frame_outbound(
        self,
        proto: FrameDecoder | FrameProtocol,
        opcode: Opcode,
        rsv: RsvBits,
        data: bytes,
        fin: bool,
    ) -> tuple[RsvBits, bytes]:
        if self._compressor is None and opcode in (Opcode.TEXT, Opcode.BINARY):
            self._compressor = zlib.compressobj(
                zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -self.server_max_window_bits, MEM_LEVEL
            )
        return super().frame_outbound(proto, opcode, rsv, data, fin)


def parse_offers(values: Iterable[bytes]) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Sec-WebSocket-Extensions values as ``[(name, [(param, value or None)...])...]``."""
    offers: list[tuple[str, list[tuple[str, str | None]]]] = []
    for value in values:
        text = value.decode("latin-1")
        for element in text.split(","):
            parts = [p.strip() for p in element.split(";")]
            if not parts[0]:
                continue
            params: list[tuple[str, str | None]] = []
            for part in parts[1:]:
                name, eq, raw = part.partition("=")
                params.append((name.strip().lower(), raw.strip().strip('"') if eq else None))
            offers.append((parts[0].lower(), params))
    return offers


def _bits(value: str | None) -> int:
    """A window-bits parameter value (8-15); ValueError for anything else."""
    if value is None or not value.isdigit() or not 8 <= int(value) <= _MAX_BITS:
        raise ValueError(value)
    return int(value)


def _accept(params: list[tuple[str, str | None]]) -> tuple[ServerDeflate, str] | None:
    """The extension and response parameters for one offer, or None to decline it."""
    seen: dict[str, str | None] = {}
    for name, value in params:
        if name in seen:
            return None
        seen[name] = value
    response: list[str] = []
    deflate = ServerDeflate()
    try:
        for name, value in seen.items():
            if name == "server_no_context_takeover":
                if value is not None:
                    return None
                deflate.server_no_context_takeover = True
                response.append(name)
            elif name == "client_no_context_takeover":
                if value is not None:
                    return None
                deflate.client_no_context_takeover = True
                response.append(name)
            elif name == "server_max_window_bits":
                if _bits(value) < _MIN_BITS:
                    return None
            elif name == "client_max_window_bits":
                bits = _bits(value) if value is not None else _MAX_BITS
                if bits >= _MIN_BITS:
                    deflate.client_max_window_bits = min(bits, CLIENT_WINDOW_BITS)
                    response.append(f"client_max_window_bits={deflate.client_max_window_bits}")
            else:
                return None
    except ValueError:
        return None
    offered = seen.get("server_max_window_bits")
    deflate.server_max_window_bits = min(int(offered or _MAX_BITS), SERVER_WINDOW_BITS)
    response.append(f"server_max_window_bits={deflate.server_max_window_bits}")
    return deflate, "; ".join(response)


def negotiate(values: Iterable[bytes]) -> tuple[ServerDeflate, bytes] | None:
    """Accept the first permessage-deflate offer the server can honour: the extension and the
    Sec-WebSocket-Extensions response value, or None when there is none."""
    for name, params in parse_offers(values):
        if name != NAME:
            continue
        accepted = _accept(params)
        if accepted is not None:
            deflate, response = accepted
            return deflate, f"{NAME}; {response}".encode("ascii")
    return None
