"""The PROXY protocol header parser (proxyproto/header.py), in memory: every form of v1 and v2,
each read whole, byte by byte and by exact reads of the length it asks for (which must never
take a byte past the header), the bounds, and the malformed headers it refuses at once."""

from __future__ import annotations

import socket
import struct

import pytest

from asgi_master.worker.proxyproto import (
    Command,
    NeedData,
    ProxyHeader,
    ProxyHeaderError,
    parse_proxy_header,
)
from asgi_master.worker.proxyproto.header import MAX_LENGTH, V1_MAX_LENGTH, V2_SIGNATURE, crc32c
from asgi_master.worker.scope import ConnectionInfo

AFTER = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def v2(
    command: int = 1,
    family: int = 0x11,
    addresses: bytes | None = None,
    tlvs: bytes = b"",
    version: int = 2,
) -> bytes:
    if addresses is None:
        addresses = socket.inet_aton("203.0.113.7") + socket.inet_aton("198.51.100.1")
        addresses += struct.pack("!HH", 51234, 443)
    payload = addresses + tlvs
    return (
        V2_SIGNATURE
        + bytes([version << 4 | command, family])
        + struct.pack("!H", len(payload))
        + payload
    )


def tlv(kind: int, value: bytes) -> bytes:
    return bytes([kind]) + struct.pack("!H", len(value)) + value


def with_crc(header: bytes) -> bytes:
    """``header`` with a CRC32C TLV appended, its length fixed and its checksum filled in."""
    length = struct.unpack_from("!H", header, 14)[0] + 7
    header = header[:14] + struct.pack("!H", length) + header[16:] + tlv(0x03, b"\x00" * 4)
    return header[:-4] + crc32c(header).to_bytes(4, "big")


def parsed(data: bytes) -> ProxyHeader:
    result = parse_proxy_header(data)
    assert isinstance(result, ProxyHeader), result
    return result


def read_exactly(stream: bytes) -> tuple[ProxyHeader, bytes]:
    """Read ``stream`` as the entry stage does: never more than the parser asks for."""
    taken = b""
    while True:
        result = parse_proxy_header(taken)
        if isinstance(result, ProxyHeader):
            return result, stream[len(taken) :]
        assert result.at_least >= 1
        assert len(taken) + result.at_least <= len(stream), "asked for bytes past the header"
        taken += stream[len(taken) : len(taken) + result.at_least]


V1_HEADERS = [
    b"PROXY TCP4 203.0.113.7 198.51.100.1 51234 443\r\n",
    b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
    b"PROXY TCP4 0.0.0.0 1.1.1.1 0 1\r\n",
    b"PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n",
    b"PROXY TCP6 :: ::1 80 8080\r\n",
    b"PROXY TCP6 "
    + b":".join([b"ffff"] * 8)
    + b" "
    + b":".join([b"ffff"] * 8)
    + b" 65535 65535\r\n",
    b"PROXY TCP6 ::ffff:203.0.113.7 ::ffff:198.51.100.1 1 2\r\n",
    b"PROXY UNKNOWN\r\n",
    b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n",
]
V2_HEADERS = [
    v2(),
    v2(
        family=0x21,
        addresses=socket.inet_pton(socket.AF_INET6, "2001:db8::7") * 2 + b"\x00\x01\x00\x02",
    ),
    v2(
        family=0x31,
        addresses=b"/run/client".ljust(108, b"\x00") + b"/run/app.sock".ljust(108, b"\x00"),
    ),
    v2(command=0, family=0x00, addresses=b""),
    v2(command=0, family=0x11),  # LOCAL with addresses: they are ignored
    v2(family=0x00, addresses=b""),
    v2(tlvs=tlv(0x01, b"h2") + tlv(0x02, b"example.com") + tlv(0x04, b"\x00" * 5)),
    with_crc(v2(tlvs=tlv(0x05, b"id-1"))),
]


# -- every form -------------------------------------------------------------------------------


def test_v1_tcp4_gives_the_client_and_the_address_it_reached():
    header = parsed(V1_HEADERS[0] + AFTER)
    assert header == ProxyHeader(
        1, Command.PROXY, len(V1_HEADERS[0]), ("203.0.113.7", 51234), ("198.51.100.1", 443)
    )


def test_v1_tcp6_addresses_are_given_in_their_compressed_form():
    header = parsed(b"PROXY TCP6 2001:0db8:0000::0001 2001:db8::2 1 2\r\n")
    assert header.client == ("2001:db8::1", 1)
    assert header.server == ("2001:db8::2", 2)


def test_v1_unknown_keeps_the_connections_addresses_whatever_follows_it():
    for line in (b"PROXY UNKNOWN\r\n", b"PROXY UNKNOWN anything at all\r\n"):
        header = parsed(line)
        assert header.command is Command.LOCAL and header.client is None
        assert header.length == len(line)


def test_v2_tcp4():
    header = parsed(v2() + AFTER)
    assert header.version == 2 and header.command is Command.PROXY
    assert header.client == ("203.0.113.7", 51234)
    assert header.server == ("198.51.100.1", 443)
    assert header.length == 28


def test_v2_tcp6():
    header = parsed(V2_HEADERS[1])
    assert header.client == ("2001:db8::7", 1) and header.server == ("2001:db8::7", 2)


def test_v2_unix_gives_the_server_path_and_no_client_address():
    header = parsed(V2_HEADERS[2])
    assert header.command is Command.PROXY
    assert header.client is None and header.server == ("/run/app.sock", None)


def test_v2_local_is_a_health_check_on_the_connections_own_addresses():
    for data in (V2_HEADERS[3], V2_HEADERS[4]):
        header = parsed(data)
        assert header.command is Command.LOCAL and header.client is None
        assert header.length == len(data)


def test_v2_unspec_family_keeps_the_connections_addresses():
    assert parsed(V2_HEADERS[5]).command is Command.LOCAL


def test_v2_tlvs_alpn_authority_and_a_noop():
    header = parsed(V2_HEADERS[6])
    assert header.alpn == "h2" and header.authority == "example.com"


def test_v2_ssl_tlv_says_the_client_spoke_tls_with_its_version_and_cipher():
    ssl_value = b"\x01" + b"\x00" * 4 + tlv(0x21, b"TLSv1.3") + tlv(0x23, b"TLS_AES_128_GCM_SHA256")
    header = parsed(v2(tlvs=tlv(0x20, ssl_value)))
    assert header.tls is True
    assert header.tls_version == "TLSv1.3"
    assert header.tls_cipher == "TLS_AES_128_GCM_SHA256"


def test_v2_ssl_tlv_without_the_client_ssl_flag_is_not_tls():
    assert parsed(v2(tlvs=tlv(0x20, b"\x00" + b"\x00" * 4))).tls is False


def test_v2_unique_id_and_a_matching_crc32c():
    header = parsed(V2_HEADERS[7])
    assert header.unique_id == b"id-1"


def test_crc32c_is_castagnoli():
    assert crc32c(b"123456789") == 0xE3069283  # RFC 3720 B.4's check value


# -- reads of any size ------------------------------------------------------------------------


@pytest.mark.parametrize("header", V1_HEADERS + V2_HEADERS)
def test_every_header_read_byte_by_byte_is_the_same(header):
    whole = parsed(header + AFTER)
    for end in range(len(header)):
        assert isinstance(parse_proxy_header(header[:end]), NeedData)
    assert parsed(header) == whole


@pytest.mark.parametrize("header", V1_HEADERS + V2_HEADERS)
def test_reading_what_the_parser_asks_for_never_takes_a_byte_after_the_header(header):
    # the bytes after the header may be a TLS ClientHello the handshake must still find
    found, rest = read_exactly(header + AFTER)
    assert found.length == len(header)
    assert rest == AFTER


def test_an_empty_read_needs_at_least_the_shortest_header():
    assert parse_proxy_header(b"") == NeedData(len(b"PROXY UNKNOWN\r\n"))


# -- bounds -----------------------------------------------------------------------------------


def test_v1_without_crlf_in_107_bytes_is_refused():
    with pytest.raises(ProxyHeaderError, match="no CRLF in the first 107"):
        parse_proxy_header(b"PROXY UNKNOWN " + b"x" * (V1_MAX_LENGTH - 14))


def test_v1_of_107_bytes_is_accepted():
    line = b"PROXY UNKNOWN " + b"x" * (V1_MAX_LENGTH - 16) + b"\r\n"
    assert len(line) == V1_MAX_LENGTH
    assert parsed(line).length == V1_MAX_LENGTH


def test_v2_longer_than_the_bound_is_refused_from_its_first_16_bytes():
    fixed = V2_SIGNATURE + b"\x21\x11" + struct.pack("!H", MAX_LENGTH - 16 + 1)
    with pytest.raises(ProxyHeaderError, match="more than 4096"):
        parse_proxy_header(fixed)


def test_v2_at_the_bound_is_accepted():
    padding = tlv(0x04, b"\x00" * (MAX_LENGTH - 28 - 3))
    assert parsed(v2(tlvs=padding)).length == MAX_LENGTH


def test_v2_unique_id_over_128_bytes_is_refused():
    with pytest.raises(ProxyHeaderError, match="unique id"):
        parse_proxy_header(v2(tlvs=tlv(0x05, b"i" * 129)))


# -- refused, and as early as the bytes show it ---------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"GET / HTTP/1.1\r\n", "does not start with a PROXY protocol header"),
        (b"PRI * HTTP/2.0", "does not start"),
        (b"\x16\x03\x01", "does not start"),  # a TLS ClientHello, no header before it
        (b"PROXY  TCP4", "unknown PROXY v1 protocol"),
        (b"PROXY TCP5 ", "unknown PROXY v1 protocol"),
        (b"PROXY tcp4 ", "unknown PROXY v1 protocol"),
        (b"PROXY TCP4 203.0.113.7  ", "malformed PROXY v1 field"),
        (b"PROXY TCP4 203.0.113.x", "malformed PROXY v1 field"),
        (b"PROXY TCP4 2001:db8::1", "malformed PROXY v1 field"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3", "6 fields, not more"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 123456", "malformed PROXY v1 field"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8\r\n", "ended before its last field"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "CRLF and nothing else"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n", "CRLF and nothing else"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r", "ended before its last field"),
        (b"PROXY TCP4 001.2.3.4 5.6.7.8 1 2\r\n", "malformed address"),
        (b"PROXY TCP4 256.2.3.4 5.6.7.8 1 2\r\n", "malformed address"),
        (b"PROXY TCP6 ::1::2 ::1 1 2\r\n", "malformed address"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", "malformed port"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", "malformed port"),
        (V2_SIGNATURE[:5] + b"X", "does not start"),
        (V2_SIGNATURE + b"\x11", "version 1"),
        (V2_SIGNATURE + b"\x22", "unknown PROXY v2 command 2"),
        (v2(family=0x41), "unknown PROXY v2 family"),
        (v2(family=0x13), "unknown PROXY v2 family"),
        (v2(family=0x12), "datagram"),
        (v2(addresses=b"\x00" * 11), "address block of 11 bytes, 12 needed"),
        (v2(tlvs=b"\x01\x00"), "TLV cut short"),
        (v2(tlvs=b"\x01\x00\x05ab"), "runs past the header"),
        (v2(tlvs=tlv(0x02, b"\xff\xfe")), "authority TLV that is not utf-8"),
        (v2(tlvs=tlv(0x01, "é".encode())), "ALPN TLV that is not ascii"),
        (v2(tlvs=tlv(0x20, b"\x01\x00")), "SSL TLV shorter"),
        (v2(tlvs=tlv(0x03, b"\x00\x00\x00")), "CRC32C TLV of other than 4 bytes"),
        (with_crc(v2())[:-1] + b"\x00", "CRC32C does not match"),
    ],
)
def test_malformed_headers_are_refused(data, reason):
    with pytest.raises(ProxyHeaderError, match=reason):
        parse_proxy_header(data)


def test_a_changed_byte_under_the_crc32c_is_refused():
    header = bytearray(with_crc(v2()))
    header[17] ^= 0x01  # the client address
    with pytest.raises(ProxyHeaderError, match="CRC32C"):
        parse_proxy_header(bytes(header))


# -- what the scope sees (scope.ConnectionInfo.behind_proxy) --------------------------------


def connection(scheme: str = "http") -> ConnectionInfo:
    return ConnectionInfo(("127.0.0.1", 40000), ("127.0.0.1", 8000), scheme, {"x": {}})


def test_the_headers_addresses_become_client_and_server_and_the_proxy_is_kept_aside():
    info = connection().behind_proxy(parsed(v2()))
    assert info.client == ("203.0.113.7", 51234)
    assert info.server == ("198.51.100.1", 443)
    assert info.scheme == "http"
    told = info.extensions["proxy_protocol"]
    assert told["proxy"] == ("127.0.0.1", 40000)
    assert told["version"] == 2 and told["command"] == "PROXY"
    assert "x" in info.extensions


def test_tls_to_the_proxy_makes_the_scheme_https():
    ssl_value = b"\x01" + b"\x00" * 4 + tlv(0x21, b"TLSv1.2")
    info = connection().behind_proxy(parsed(v2(tlvs=tlv(0x20, ssl_value))))
    assert info.scheme == "https"
    assert info.extensions["proxy_protocol"]["tls_version"] == "TLSv1.2"


def test_local_keeps_the_connections_own_addresses_and_scheme():
    info = connection("https").behind_proxy(parsed(V2_HEADERS[3]))
    assert info.client == ("127.0.0.1", 40000) and info.scheme == "https"
    assert info.extensions["proxy_protocol"]["command"] == "LOCAL"
