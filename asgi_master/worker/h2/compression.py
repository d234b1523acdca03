"""HPACK (RFC 7541) for the server: decoding request header blocks, encoding response ones.

Decoding keeps the dynamic table the client writes into. It is ours rather than
``hpack.Decoder`` (the codec h2 uses, whose Huffman code and static table we take) for three
reasons: it runs in time linear in the block (hpack copies the rest of the block at every
literal field, which a block of many small literals turns quadratic); it stops keeping fields
once the list passes its size limit but decodes on to the end, so the table stays in step and
the request can be answered 431 instead of ending the connection; and ``generation`` tells the
connection when the table changed, so a block seen before can be recognised without decoding
(clients repeat the same few bytes for the same request). tests/unit/test_h2_hpack.py holds it
to hpack's decoder on generated blocks.

Encoding never uses the dynamic table: every response field is a literal "without indexing"
(or "never indexed" for credentials and cookies), with a static-table name when there is one.
That costs a few bytes per response against a table-using encoder, and buys a stateless
encoder: each field's bytes are computed once and cached for every connection, and header
blocks may be built in any order (trailers before queued DATA has left, say). The first block
of a connection starts with a table size update to 0, so a client that later lowers its
SETTINGS_HEADER_TABLE_SIZE needs no update from us.
"""

from __future__ import annotations

from typing import Final

from hpack.exceptions import HPACKDecodingError
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hpack.huffman_table import decode_huffman
from hpack.table import HeaderTable

from .errors import CompressionError
from .limits import ENTRY_OVERHEAD

Field = tuple[bytes, bytes]

STATIC_TABLE: Final[tuple[Field, ...]] = HeaderTable.STATIC_TABLE
_STATIC_COUNT: Final = len(STATIC_TABLE)
#: the table size every decoder starts with (SETTINGS_HEADER_TABLE_SIZE's default)
DEFAULT_TABLE_SIZE: Final = 4096
#: the dynamic table size update to 0 that opens a connection's first response block
TABLE_SIZE_ZERO: Final = b"\x20"
# integers above this are no size or index a peer can mean; stop before reading more bytes
_MAX_INTEGER_SHIFT: Final = 28


def _integer(block: bytes, pos: int, value: int) -> tuple[int, int]:
    """The rest of an integer whose prefix was all ones (``value``), starting at ``pos``."""
    shift = 0
    while True:
        if pos >= len(block):
            raise CompressionError("header block ends inside an integer")
        byte = block[pos]
        pos += 1
        value += (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > _MAX_INTEGER_SHIFT:
            raise CompressionError("integer too large in a header block")


def _string(block: bytes, pos: int) -> tuple[bytes, int]:
    """A string literal (RFC 7541 5.2) at ``pos``; the position after it."""
    if pos >= len(block):
        raise CompressionError("header block ends before a string")
    first = block[pos]
    length = first & 0x7F
    pos += 1
    if length == 0x7F:
        length, pos = _integer(block, pos, 0x7F)
    stop = pos + length
    if stop > len(block):
        raise CompressionError("header block ends inside a string")
    data = block[pos:stop]
    if first & 0x80:
        try:
            data = decode_huffman(data)
        except HPACKDecodingError as exc:
            raise CompressionError(f"bad Huffman string: {exc}") from None
    return data, stop


class FieldDecoder:
    """Decodes the header blocks of one connection, in the order they arrived."""

    __slots__ = ("_entries", "_max_size", "_size", "allowed_size", "generation", "list_size")

    def __init__(self, allowed_size: int = DEFAULT_TABLE_SIZE) -> None:
        #: the dynamic table, oldest entry first
        self._entries: list[Field] = []
        self._size = 0
        self._max_size = allowed_size
        #: our SETTINGS_HEADER_TABLE_SIZE: the largest table the client may ask for
        self.allowed_size = allowed_size
        #: counts changes of the dynamic table; equal values mean equal tables
        self.generation = 0
        #: RFC 7541 4.1 size of the whole list the last ``decode`` read (all fields counted,
        #: kept or not)
        self.list_size = 0

    def _entry(self, index: int) -> Field:
        if index <= _STATIC_COUNT:
            if index == 0:
                raise CompressionError("index 0 in a header block")
            return STATIC_TABLE[index - 1]
        dynamic = index - _STATIC_COUNT
        if dynamic > len(self._entries):
            raise CompressionError(f"index {index} is beyond the header table")
        return self._entries[-dynamic]

    def _insert(self, field: Field) -> None:
        size = ENTRY_OVERHEAD + len(field[0]) + len(field[1])
        self.generation += 1
        if size > self._max_size:
            # RFC 7541 4.4: an entry larger than the table empties it; not an error
            self._entries.clear()
            self._size = 0
            return
        self._size += size
        self._evict()
        self._entries.append(field)

    def _evict(self) -> None:
        entries = self._entries
        while self._size > self._max_size:
            name, value = entries.pop(0)
            self._size -= ENTRY_OVERHEAD + len(name) + len(value)

    def decode(self, block: bytes, max_list_size: int) -> list[Field]:
        """The fields of ``block``; fields past ``max_list_size`` (RFC 7541 4.1 sizes) are
        dropped but still decoded. ``list_size`` tells the whole size afterwards. Raises
        ``CompressionError``."""
        fields: list[Field] = []
        append = fields.append
        entries = self._entries
        static = STATIC_TABLE
        pos = 0
        end = len(block)
        size = 0
        started = False
        while pos < end:
            first = block[pos]
            pos += 1
            if first & 0x80:  # indexed field
                index = first & 0x7F
                if index == 0x7F:
                    index, pos = _integer(block, pos, 0x7F)
                if 0 < index <= _STATIC_COUNT:
                    field = static[index - 1]
                elif _STATIC_COUNT < index <= _STATIC_COUNT + len(entries):
                    field = entries[_STATIC_COUNT - index]
                else:
                    field = self._entry(index)  # raises with the reason
            elif first & 0x40:  # literal with incremental indexing
                index = first & 0x3F
                if index == 0x3F:
                    index, pos = _integer(block, pos, 0x3F)
                if index:
                    name = self._entry(index)[0]
                else:
                    name, pos = _string(block, pos)
                value, pos = _string(block, pos)
                field = (name, value)
                self._insert(field)
            elif first & 0x20:  # dynamic table size update
                if started:
                    raise CompressionError("table size update after a field")
                new_size = first & 0x1F
                if new_size == 0x1F:
                    new_size, pos = _integer(block, pos, 0x1F)
                if new_size > self.allowed_size:
                    raise CompressionError(
                        f"table size update to {new_size} above SETTINGS_HEADER_TABLE_SIZE "
                        f"{self.allowed_size}"
                    )
                self._max_size = new_size
                self._evict()
                self.generation += 1
                continue
            else:  # literal without indexing (0000) or never indexed (0001)
                index = first & 0x0F
                if index == 0x0F:
                    index, pos = _integer(block, pos, 0x0F)
                if index:
                    name = self._entry(index)[0]
                else:
                    name, pos = _string(block, pos)
                value, pos = _string(block, pos)
                field = (name, value)
            started = True
            size += ENTRY_OVERHEAD + len(field[0]) + len(field[1])
            if size <= max_list_size:
                append(field)
        self.list_size = size
        return fields


# -- encoding ------------------------------------------------------------------------------

_HUFFMAN: Final = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH)
#: longer values are sent raw: Huffman-coding them byte by byte in Python costs more than the
#: bytes it saves, and such values (cookies, long URLs) rarely repeat enough to be cached
_HUFFMAN_LIMIT: Final = 128
#: fields (name, value) whose encoding is kept; values longer than this are not kept
_CACHE_VALUE_LIMIT: Final = 256
_CACHE_MAX: Final = 2048
_NEVER_INDEXED: Final = frozenset(
    {b"authorization", b"proxy-authorization", b"cookie", b"set-cookie"}
)
_STATIC_NAMES: Final[dict[bytes, int]] = {}
for _index, (_name, _value) in enumerate(STATIC_TABLE, 1):
    _STATIC_NAMES.setdefault(_name, _index)

_FIELD_CACHE: dict[Field, bytes] = {}


def _encode_integer(value: int, prefix_bits: int, flags: int) -> bytes:
    """RFC 7541 5.1: ``value`` with an N-bit prefix, ``flags`` in the first byte's high bits."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((flags | value,))
    out = bytearray((flags | limit,))
    value -= limit
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _encode_string(data: bytes) -> bytes:
    if 0 < len(data) <= _HUFFMAN_LIMIT:
        coded = _HUFFMAN.encode(data)
        if len(coded) < len(data):
            return _encode_integer(len(coded), 7, 0x80) + coded
    return _encode_integer(len(data), 7, 0) + data


def encode_field(name: bytes, value: bytes) -> bytes:
    """One response field as a literal without indexing (never indexed for credentials and
    cookies); ``name`` must already be valid and lowercase."""
    key = (name, value)
    encoded = _FIELD_CACHE.get(key)
    if encoded is not None:
        return encoded
    flags = 0x10 if name in _NEVER_INDEXED else 0x00
    index = _STATIC_NAMES.get(name)
    if index is not None:
        encoded = _encode_integer(index, 4, flags) + _encode_string(value)
    else:
        encoded = bytes((flags,)) + _encode_string(name) + _encode_string(value)
    if len(value) <= _CACHE_VALUE_LIMIT:
        if len(_FIELD_CACHE) >= _CACHE_MAX:
            _FIELD_CACHE.clear()
        _FIELD_CACHE[key] = encoded
    return encoded


def _status_field(status: int) -> bytes:
    index = next(
        (i for i, f in enumerate(STATIC_TABLE, 1) if f == (b":status", str(status).encode())),
        None,
    )
    if index is not None:
        return bytes((0x80 | index,))
    return encode_field(b":status", str(status).encode("ascii"))


_STATUS_FIELDS: Final[dict[int, bytes]] = {}


def status_field(status: int) -> bytes:
    """The ``:status`` field of ``status`` (an indexed field for the seven in the static
    table)."""
    encoded = _STATUS_FIELDS.get(status)
    if encoded is None:
        encoded = _STATUS_FIELDS[status] = _status_field(status)
    return encoded
