"""Our HPACK decoder held to hpack's (h2's own decoding) on generated blocks, sequences of
blocks sharing a dynamic table, and mutated bytes; our stateless encoder read back by hpack."""

from __future__ import annotations

import hpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_master.worker.h2.compression import (
    TABLE_SIZE_ZERO,
    FieldDecoder,
    encode_field,
    status_field,
)
from asgi_master.worker.h2.errors import CompressionError

NO_LIMIT = 2**40

names = st.one_of(
    st.sampled_from(
        [b":path", b":authority", b"user-agent", b"cookie", b"accept", b"x-id", b"content-type"]
    ),
    st.binary(min_size=1, max_size=20),
)
values = st.one_of(
    st.sampled_from([b"", b"/", b"GET", b"a=1", b"text/html"]), st.binary(max_size=300)
)
fields = st.tuples(names, values)
blocks = st.lists(
    st.tuples(st.lists(fields, max_size=12), st.booleans(), st.booleans()), min_size=1, max_size=8
)


def theirs(decoder: hpack.Decoder, block: bytes) -> list[tuple[bytes, bytes]] | type[Exception]:
    try:
        return [(bytes(n), bytes(v)) for n, v in decoder.decode(block, raw=True)]
    except (hpack.HPACKError, IndexError, ValueError):
        return Exception


def ours(decoder: FieldDecoder, block: bytes) -> list[tuple[bytes, bytes]] | type[Exception]:
    try:
        return decoder.decode(block, NO_LIMIT)
    except CompressionError:
        return Exception


def encode(encoder: hpack.Encoder, headers, huffman: bool, never_indexed: bool) -> bytes:
    if never_indexed:
        headers = [hpack.NeverIndexedHeaderTuple(n, v) for n, v in headers]
    return encoder.encode(headers, huffman=huffman)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(blocks, st.sampled_from([4096, 256, 0]))
def test_blocks_from_hpacks_encoder_decode_the_same(sequence, table_size):
    encoder = hpack.Encoder()
    encoder.header_table_size = table_size  # the size update goes in the first block
    reference = hpack.Decoder()
    decoder = FieldDecoder()
    for headers, huffman, never_indexed in sequence:
        block = encode(encoder, headers, huffman, never_indexed)
        expected = theirs(reference, block)
        assert expected is not Exception
        assert ours(decoder, block) == expected == list(headers)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.lists(fields, min_size=1, max_size=6),
    st.binary(max_size=40),
    st.integers(0, 200),
    st.booleans(),
)
def test_mutated_blocks_get_the_same_verdict(headers, junk, at, huffman):
    encoder = hpack.Encoder()
    block = encoder.encode(headers, huffman=huffman)
    at = min(at, len(block))
    mutated = block[:at] + junk + block[at + len(junk) // 2 :]
    reference = hpack.Decoder()
    decoder = FieldDecoder()
    expected = theirs(reference, mutated)
    try:
        got = decoder.decode(mutated, NO_LIMIT)
    except CompressionError as exc:
        # stricter by one rule: integers of more than 5 continuation bytes are refused
        assert expected is Exception or "integer too large" in str(exc)
        return
    assert got == expected
    if expected is not Exception:
        # the tables agree too: the next block decodes alike
        follow = bytes(range(0x80 | 62, 0x80 | 70))
        assert ours(decoder, follow) == theirs(reference, follow)


def test_the_generation_moves_only_when_the_table_changes():
    decoder = FieldDecoder()
    encoder = hpack.Encoder()
    first = encoder.encode([(b"x-a", b"1")])
    decoder.decode(first, NO_LIMIT)
    generation = decoder.generation
    again = encoder.encode([(b"x-a", b"1")])  # now an index into the table
    assert decoder.decode(again, NO_LIMIT) == [(b"x-a", b"1")]
    assert decoder.generation == generation
    decoder.decode(encoder.encode([(b"x-b", b"2")]), NO_LIMIT)
    assert decoder.generation > generation


def test_fields_past_the_list_size_are_counted_but_not_kept():
    decoder = FieldDecoder()
    block = hpack.Encoder().encode([(b"x-%d" % i, b"v" * 100) for i in range(10)])
    fields = decoder.decode(block, 3 * (32 + 3 + 100))
    assert len(fields) == 3
    assert decoder.list_size == 10 * (32 + 3 + 100)


def test_a_table_size_update_above_our_setting_is_an_error():
    with pytest.raises(CompressionError, match="above SETTINGS_HEADER_TABLE_SIZE"):
        FieldDecoder(allowed_size=4096).decode(b"\x3f\xe2\x1f", NO_LIMIT)  # 5000


def test_a_table_size_update_after_a_field_is_an_error():
    with pytest.raises(CompressionError, match="after a field"):
        FieldDecoder().decode(b"\x82\x20", NO_LIMIT)


@pytest.mark.parametrize(
    "block", [b"\x80", b"\xbe", b"\x41", b"\x40\x85ab", b"\x0f", b"\x00\x81\xff"]
)
def test_broken_blocks_are_compression_errors(block):
    with pytest.raises(CompressionError):
        FieldDecoder().decode(block, NO_LIMIT)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (b"content-type", b"text/plain"),
        (b"x-custom", b"v" * 500),
        (b"set-cookie", b"a=1"),
        (b"date", b""),
    ],
)
def test_encoded_fields_read_back_with_hpack(name, value):
    block = TABLE_SIZE_ZERO + status_field(200) + encode_field(name, value)
    decoder = hpack.Decoder()
    assert [(bytes(n), bytes(v)) for n, v in decoder.decode(block, raw=True)] == [
        (b":status", b"200"),
        (name, value),
    ]
    assert decoder.header_table_size == 0 and len(decoder.header_table.dynamic_entries) == 0


def test_credentials_and_cookies_are_never_indexed():
    decoded = hpack.Decoder().decode(encode_field(b"set-cookie", b"s=1"), raw=True)
    assert isinstance(decoded[0], hpack.NeverIndexedHeaderTuple)


@pytest.mark.parametrize("status", [200, 204, 304, 404, 500, 103, 100, 418, 599])
def test_every_status_encodes(status):
    [(name, value)] = hpack.Decoder().decode(status_field(status), raw=True)
    assert (name, value) == (b":status", str(status).encode())
