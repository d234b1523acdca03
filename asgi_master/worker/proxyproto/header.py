"""The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2), sans-IO.

Theory of operation: a layer-4 proxy (HAProxy ``send-proxy``/``send-proxy-v2``, AWS NLB, GCP)
opens each connection to us with one header saying whom it relays: the client's address and
port and the address it was reached at, in text (v1, one line of at most 107 bytes) or binary
(v2, a 16-byte block and then its stated length of addresses and TLVs). The version is known
from the first bytes. ``parse_proxy_header`` reads the bytes received so far and answers one
of three ways: the header (with its length, so nothing after it is touched), ``NeedData`` with
the least number of bytes that must still come before it can be complete (so a reader can ask
for exactly that and never read past the header: bytes after it may be a TLS ClientHello that
belongs to someone else), or ``ProxyHeaderError`` as soon as the bytes cannot begin a header
(the spec asks to drop such connections at once, so the sender notices).

Strict, like the rest of our parsing: exactly one space between v1 fields, addresses in their
canonical forms (no leading zeros), ports 0..65535 without leading zeros, CRLF and nothing else
ending the line; v2 with version 2, a known command, family and transport, an address block
that fits its length, TLVs that fit theirs, and a CRC32C, when one is sent, that matches.
"""

from __future__ import annotations

import enum
import ipaddress
import re
import struct
from dataclasses import dataclass
from typing import Final

#: v2's signature: twelve bytes no other protocol begins with
V2_SIGNATURE: Final = b"\r\n\r\n\x00\r\nQUIT\n"
V1_PREFIX: Final = b"PROXY "
#: the longest v1 line, CRLF included (spec 2.1)
V1_MAX_LENGTH: Final = 107
#: the shortest v1 line (``PROXY UNKNOWN\r\n``)
V1_MIN_LENGTH: Final = 15
V2_FIXED_LENGTH: Final = 16
#: most bytes of addresses and TLVs a v2 header may state; HAProxy's with every TLV it sends
#: (TLS details, ALPN, authority, a unique id of up to 128 bytes) stays well under 1 KiB
V2_MAX_PAYLOAD: Final = 4096
#: a header is never longer than this
MAX_LENGTH: Final = V2_FIXED_LENGTH + V2_MAX_PAYLOAD

_PP2_TYPE_ALPN: Final = 0x01
_PP2_TYPE_AUTHORITY: Final = 0x02
_PP2_TYPE_CRC32C: Final = 0x03
_PP2_TYPE_UNIQUE_ID: Final = 0x05
_PP2_TYPE_SSL: Final = 0x20
_PP2_SUBTYPE_SSL_VERSION: Final = 0x21
_PP2_SUBTYPE_SSL_CIPHER: Final = 0x23
_PP2_CLIENT_SSL: Final = 0x01
#: the UNIQUE_ID value is "up to 128 bytes" (spec 2.2.5)
_UNIQUE_ID_MAX: Final = 128

_PORT: Final = re.compile(rb"0|[1-9][0-9]{0,4}")


class Command(enum.Enum):
    """What a header says about the connection."""

    #: relayed for a client: the header's addresses are the connection's
    PROXY = "PROXY"
    #: opened by the proxy itself (a health check), or relayed for a protocol the header
    #: cannot describe (v1 ``UNKNOWN``, v2 ``AF_UNSPEC``): the connection's own addresses hold
    LOCAL = "LOCAL"


class ProxyHeaderError(ValueError):
    """The bytes are not a PROXY header (or not one we accept); the message says why."""


@dataclass(frozen=True, slots=True)
class NeedData:
    """The header is not complete: at least ``at_least`` more bytes must come."""

    at_least: int


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    """One parsed header: who the connection is for, and what the proxy knew of it."""

    version: int
    command: Command
    #: bytes the header took; the connection's own data starts after them
    length: int
    #: the client as the proxy saw it (None for LOCAL, and for a UNIX-socket client)
    client: tuple[str, int] | None = None
    #: the address the client reached (``(path, None)`` for a UNIX socket; None for LOCAL)
    server: tuple[str, int | None] | None = None
    #: v2 ``PP2_TYPE_SSL`` with ``PP2_CLIENT_SSL``: the client spoke TLS to the proxy
    tls: bool = False
    #: its TLS version and cipher as the proxy names them (``TLSv1.3``)
    tls_version: str | None = None
    tls_cipher: str | None = None
    #: the protocol the proxy agreed with the client by ALPN (``h2``, ``http/1.1``)
    alpn: str | None = None
    #: the host name the client asked for (TLS SNI, or another authority the proxy knew)
    authority: str | None = None
    #: the proxy's own identifier of the connection (HAProxy's ``unique-id``)
    unique_id: bytes | None = None


def parse_proxy_header(data: bytes | bytearray) -> ProxyHeader | NeedData:
    """The header at the start of ``data``, or how many bytes it still lacks at least.
    Raises ``ProxyHeaderError`` as soon as ``data`` cannot be the start of a header."""
    if not data:
        return NeedData(V1_MIN_LENGTH)
    if data[0] == V2_SIGNATURE[0]:
        return _parse_v2(data)
    return _parse_v1(data)


# -- version 1 --------------------------------------------------------------------------------

#: per protocol: the fields after ``PROXY <proto>``, as (characters allowed, shortest, longest)
_V4_ADDRESS: Final = (frozenset(b"0123456789."), 7, 15)
_V6_ADDRESS: Final = (frozenset(b"0123456789abcdefABCDEF:."), 2, 45)
_PORT_FIELD: Final = (frozenset(b"0123456789"), 1, 5)
_V1_FIELDS: Final = {
    b"TCP4": (_V4_ADDRESS, _V4_ADDRESS, _PORT_FIELD, _PORT_FIELD),
    b"TCP6": (_V6_ADDRESS, _V6_ADDRESS, _PORT_FIELD, _PORT_FIELD),
}
_V1_PROTOCOLS: Final = (b"TCP4", b"TCP6", b"UNKNOWN")


def _parse_v1(data: bytes | bytearray) -> ProxyHeader | NeedData:
    end = data.find(b"\r\n", 0, V1_MAX_LENGTH)
    if end < 0:
        prefix = bytes(data[:V1_MAX_LENGTH])
        if len(prefix) >= V1_MAX_LENGTH:
            raise ProxyHeaderError(f"no CRLF in the first {V1_MAX_LENGTH} bytes of a PROXY v1 line")
        if b"\n" in prefix or b"\r" in prefix[:-1]:
            raise ProxyHeaderError("a PROXY v1 line ends with CRLF and nothing else")
        if prefix.endswith(b"\r"):
            if _v1_fields_missing(prefix[:-1]):
                raise ProxyHeaderError("a PROXY v1 line ended before its last field")
            return NeedData(1)
        return NeedData(_v1_fields_missing(prefix) + 2)
    line = bytes(data[:end])
    if b"\r" in line or b"\n" in line:
        raise ProxyHeaderError("a PROXY v1 line ends with CRLF and nothing else")
    if _v1_fields_missing(line):
        raise ProxyHeaderError("a PROXY v1 line ended before its last field")
    length = end + 2
    fields = line.split(b" ")
    if fields[1] == b"UNKNOWN":
        # the rest of the line is to be ignored (spec 2.1)
        return ProxyHeader(1, Command.LOCAL, length)
    kind = ipaddress.IPv4Address if fields[1] == b"TCP4" else ipaddress.IPv6Address
    source = _v1_address(kind, fields[2])
    destination = _v1_address(kind, fields[3])
    return ProxyHeader(
        1,
        Command.PROXY,
        length,
        (source, _v1_port(fields[4])),
        (destination, _v1_port(fields[5])),
    )


def _v1_fields_missing(text: bytes) -> int:
    """Check ``text`` (no CR or LF) as the start of a v1 line, field by field, as far as it
    goes; the least number of bytes its fields still need before the CRLF (0: it may end)."""
    if not V1_PREFIX.startswith(text[:6]):
        raise ProxyHeaderError("the connection does not start with a PROXY protocol header")
    fields = text.split(b" ")
    if len(fields) == 1:
        return 6 - len(text) + 7  # the rest of "PROXY " and the shortest protocol, "UNKNOWN"
    protocol = fields[1]
    if protocol == b"UNKNOWN":
        return 0  # anything may follow it on the line
    specs = _V1_FIELDS.get(protocol)
    if len(fields) == 2:
        if specs is not None:
            return sum(1 + shortest for _, shortest, _ in specs)
        candidates = [p for p in _V1_PROTOCOLS if p.startswith(protocol)]
        if not candidates:
            raise ProxyHeaderError(f"unknown PROXY v1 protocol {protocol[:8]!r}")
        return min(len(p) for p in candidates) - len(protocol)
    if specs is None:
        raise ProxyHeaderError(f"unknown PROXY v1 protocol {protocol[:8]!r}")
    values = fields[2:]
    if len(values) > len(specs):
        raise ProxyHeaderError(f"a PROXY {protocol.decode()} line has 6 fields, not more")
    last = len(values) - 1
    for index, (value, (allowed, shortest, longest)) in enumerate(zip(values, specs, strict=False)):
        if len(value) > longest or not allowed.issuperset(value):
            raise ProxyHeaderError(f"malformed PROXY v1 field {value[:48]!r}")
        if index < last and len(value) < shortest:
            # an empty field is a second space
            raise ProxyHeaderError(f"malformed PROXY v1 field {value[:48]!r}")
    still = max(0, specs[last][1] - len(values[last]))
    return still + sum(1 + shortest for _, shortest, _ in specs[last + 1 :])


def _v1_address(kind: type[ipaddress.IPv4Address | ipaddress.IPv6Address], text: bytes) -> str:
    try:
        return str(kind(text.decode("ascii")))
    except ValueError:
        raise ProxyHeaderError(f"malformed address {text[:48]!r} in a PROXY v1 line") from None


def _v1_port(text: bytes) -> int:
    if _PORT.fullmatch(text) is None or int(text) > 65535:
        raise ProxyHeaderError(f"malformed port {text[:8]!r} in a PROXY v1 line")
    return int(text)


# -- version 2 --------------------------------------------------------------------------------

#: family << 4 | transport -> the length of its address block (AF_UNSPEC and the UNSPEC
#: transport have none a receiver uses)
_INET_STREAM: Final = 0x11
_INET6_STREAM: Final = 0x21
_UNIX_STREAM: Final = 0x31
_ADDRESS_LENGTH: Final = {_INET_STREAM: 12, _INET6_STREAM: 36, _UNIX_STREAM: 216}
_DATAGRAM: Final = 0x2


def _parse_v2(data: bytes | bytearray) -> ProxyHeader | NeedData:
    if not V2_SIGNATURE.startswith(bytes(data[:12])):
        raise ProxyHeaderError("the connection does not start with a PROXY protocol header")
    if len(data) < V2_FIXED_LENGTH:
        if len(data) > 12:
            _v2_version_and_command(data[12])
        return NeedData(V2_FIXED_LENGTH - len(data))
    command = _v2_version_and_command(data[12])
    (payload,) = struct.unpack_from("!H", data, 14)
    if payload > V2_MAX_PAYLOAD:
        raise ProxyHeaderError(
            f"a PROXY v2 header of {payload} bytes (more than {V2_MAX_PAYLOAD} accepted)"
        )
    length = V2_FIXED_LENGTH + payload
    if len(data) < length:
        return NeedData(length - len(data))
    if command is Command.LOCAL:
        # the proxy's own connection: its family, addresses and TLVs are ignored (spec 2.2)
        return ProxyHeader(2, Command.LOCAL, length)
    family_transport = data[13]
    if family_transport >> 4 > 3 or family_transport & 0xF > 2:
        raise ProxyHeaderError(f"unknown PROXY v2 family and transport {family_transport:#04x}")
    if family_transport & 0xF == _DATAGRAM:
        raise ProxyHeaderError("a PROXY v2 header for a datagram connection on a stream socket")
    header = bytes(data[:length])
    address_length = _ADDRESS_LENGTH.get(family_transport, 0)
    if address_length > payload:
        raise ProxyHeaderError(
            f"a PROXY v2 address block of {payload} bytes, {address_length} needed"
        )
    if not address_length:
        # AF_UNSPEC (or an UNSPEC transport): nothing says who the client is (spec 2.2)
        return ProxyHeader(2, Command.LOCAL, length)
    client, server = _v2_addresses(family_transport, header)
    found, crc_at = _tlvs(header, V2_FIXED_LENGTH + address_length, length)
    if crc_at is not None:
        _check_crc32c(header, crc_at)
    tls, tls_version, tls_cipher = _tls_details(found.get(_PP2_TYPE_SSL))
    unique_id = found.get(_PP2_TYPE_UNIQUE_ID)
    if unique_id is not None and len(unique_id) > _UNIQUE_ID_MAX:
        raise ProxyHeaderError(f"a PROXY v2 unique id of {len(unique_id)} bytes (at most 128)")
    return ProxyHeader(
        2,
        Command.PROXY,
        length,
        client,
        server,
        tls=tls,
        tls_version=tls_version,
        tls_cipher=tls_cipher,
        alpn=_text(found.get(_PP2_TYPE_ALPN), "ascii", "ALPN"),
        authority=_text(found.get(_PP2_TYPE_AUTHORITY), "utf-8", "authority"),
        unique_id=unique_id,
    )


def _v2_version_and_command(byte: int) -> Command:
    if byte >> 4 != 2:
        raise ProxyHeaderError(f"PROXY protocol version {byte >> 4} (only 2 has this signature)")
    if byte & 0xF == 0:
        return Command.LOCAL
    if byte & 0xF == 1:
        return Command.PROXY
    raise ProxyHeaderError(f"unknown PROXY v2 command {byte & 0xF}")


def _v2_addresses(
    family_transport: int, header: bytes
) -> tuple[tuple[str, int] | None, tuple[str, int | None] | None]:
    start = V2_FIXED_LENGTH
    if family_transport == _INET_STREAM:
        source, destination = header[start : start + 4], header[start + 4 : start + 8]
        ports = struct.unpack_from("!HH", header, start + 8)
        return (
            (str(ipaddress.IPv4Address(source)), ports[0]),
            (str(ipaddress.IPv4Address(destination)), ports[1]),
        )
    if family_transport == _INET6_STREAM:
        source, destination = header[start : start + 16], header[start + 16 : start + 32]
        ports = struct.unpack_from("!HH", header, start + 32)
        return (
            (str(ipaddress.IPv6Address(source)), ports[0]),
            (str(ipaddress.IPv6Address(destination)), ports[1]),
        )
    if family_transport == _UNIX_STREAM:
        destination = header[start + 108 : start + 216].split(b"\x00", 1)[0]
        # a UNIX-socket client has no address a scope can hold; the server is its path
        return None, (destination.decode("utf-8", "replace"), None)
    return None, None


def _tlvs(header: bytes, start: int, end: int) -> tuple[dict[int, bytes], int | None]:
    """The TLVs between ``start`` and ``end`` by type (the last of a repeated type), and where
    the CRC32C TLV's value is, if there is one."""
    found: dict[int, bytes] = {}
    crc_at = None
    pos = start
    while pos < end:
        if end - pos < 3:
            raise ProxyHeaderError("a PROXY v2 TLV cut short by the header's length")
        kind = header[pos]
        (size,) = struct.unpack_from("!H", header, pos + 1)
        if pos + 3 + size > end:
            raise ProxyHeaderError(f"a PROXY v2 TLV of type {kind:#04x} runs past the header")
        found[kind] = header[pos + 3 : pos + 3 + size]
        if kind == _PP2_TYPE_CRC32C:
            crc_at = pos + 3
        pos += 3 + size
    return found, crc_at


def _check_crc32c(header: bytes, at: int) -> None:
    value = header[at : at + 4]
    if header[at - 2 : at] != b"\x00\x04":
        raise ProxyHeaderError("a PROXY v2 CRC32C TLV of other than 4 bytes")
    zeroed = header[:at] + b"\x00\x00\x00\x00" + header[at + 4 :]
    if crc32c(zeroed) != int.from_bytes(value, "big"):
        raise ProxyHeaderError("the PROXY v2 header's CRC32C does not match")


def _tls_details(value: bytes | None) -> tuple[bool, str | None, str | None]:
    if value is None:
        return False, None, None
    if len(value) < 5:
        raise ProxyHeaderError("a PROXY v2 SSL TLV shorter than its 5 fixed bytes")
    subs, _ = _tlvs(value, 5, len(value))
    return (
        bool(value[0] & _PP2_CLIENT_SSL),
        _text(subs.get(_PP2_SUBTYPE_SSL_VERSION), "ascii", "TLS version"),
        _text(subs.get(_PP2_SUBTYPE_SSL_CIPHER), "ascii", "TLS cipher"),
    )


def _text(value: bytes | None, encoding: str, what: str) -> str | None:
    if value is None:
        return None
    try:
        return value.decode(encoding)
    except UnicodeDecodeError:
        raise ProxyHeaderError(f"a PROXY v2 {what} TLV that is not {encoding}") from None


def _crc32c_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC32C_TABLE: Final = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli, RFC 4960 appendix B), as the PP2_TYPE_CRC32C TLV carries it."""
    crc = 0xFFFFFFFF
    table = _CRC32C_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF
