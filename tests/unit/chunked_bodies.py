"""Hypothesis strategies for chunked bodies (RFC 9112 7.1), valid and invalid.

``valid_bodies`` draws bodies the grammar accepts, with the data they carry. ``broken_bodies``
draws a valid body with exactly one flaw, each flaw chosen so that no context can make it valid
again (a wrong size is only drawn with a proper CRLF after the data, for instance). Both feed
tests/unit/test_chunked.py (the decoder's verdict must match) and the differential test (where
they are also mixed freely and cut short).
"""

from __future__ import annotations

from hypothesis import strategies as st

TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

tokens = st.text(TOKEN_CHARS, min_size=1, max_size=6).map(str.encode)

VALID_EXTENSIONS = [
    b"",
    b";a",
    b";a=b",
    b";name=value",
    b';a="x;y,z"',
    b';q="\\"\\\\"',
    b';e=""',
    b';o="caf\xe9"',
    b" ;a",
    b"\t;a=1",
    b"; a = 1 ;b",
    b";a=1;b=2;c",
]
INVALID_EXTENSIONS = [
    b";",
    b"; ",
    b";=v",
    b";a=",
    b";a b",
    b";a=b ",
    b';a="x',
    b';a="x"y',
    b";a@b",
    b",a",
    b";a=\x00",
    b";a\x01",
    b";a=b\x7f",
    b";a=\x1b",
    b';a="\x00"',
    b";a\rb",
    b";a\nb",
    b"x",
]
INVALID_SIZES = [
    b"",
    b"zz",
    b"-1",
    b"+1",
    b"0x1",
    b" 1",
    b"\t1",
    b"1 ",
    b"1\t",
    b"g",
    b"\x00",
    b"f" * 17,
    b"8000000000000000",
    b"1" + b"0" * 16,
]
VALID_TRAILERS = [
    b"X-Checksum: abc123",
    b"X-T:1",
    b"X-T:\tv\t",
    b"X-Empty:",
    b"X-Obs: caf\xe9",
    b"Content-Length: 5",
    b"Transfer-Encoding: chunked",
    b"Server-Timing: db;dur=53",
]
INVALID_TRAILERS = [
    b" folded",
    b"\tfolded",
    b"X-T : 1",
    b"X-T\t: 1",
    b"Bad Trailer",
    b": v",
    b"X(T): v",
    b"X T: v",
    b"X-T: a\x00b",
    b"X-T: a\x01",
    b"X-T: a\x7f",
    b"X-T: a\x0bb",
    b"Content-Length: x",
    b"Content-Length: 1, 2",
    b"Transfer-Encoding: gzip",
    b"X-T: a\rb",
]
INVALID_DATA_ENDS = [b"", b"\n", b"\r", b"XX", b"\r\r\n", b" \r\n"]
INVALID_LINE_ENDS = [b"\n", b"\rx\r\n"]


@st.composite
def _sizes(draw: st.DrawFn, size: int) -> bytes:
    form = draw(st.sampled_from(["{:x}", "{:X}", "000{:x}", "0000000000000000000000{:x}"]))
    return form.format(size).encode()


@st.composite
def _trailer(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        return draw(st.sampled_from(VALID_TRAILERS))
    name = draw(tokens.filter(lambda t: t.lower() not in (b"content-length", b"transfer-encoding")))
    value = draw(st.binary(max_size=6).map(lambda b: bytes(c for c in b if c > 0x20 and c != 0x7F)))
    return name + draw(st.sampled_from([b":", b": ", b":\t"])) + value


@st.composite
def _parts(draw: st.DrawFn) -> tuple[list[list[bytes]], bytes]:
    """A valid body as a list of pieces, each [size, extensions, line end, data, data end],
    then [last-chunk, extensions, line end], the trailer lines and the final CRLF; and its
    data."""
    chunks = draw(st.lists(st.binary(min_size=1, max_size=12), max_size=4))
    parts = [
        [draw(_sizes(len(data))), draw(st.sampled_from(VALID_EXTENSIONS)), b"\r\n", data, b"\r\n"]
        for data in chunks
    ]
    parts.append(
        [
            draw(st.sampled_from([b"0", b"000", b"0" * 25])),
            draw(st.sampled_from(VALID_EXTENSIONS)),
            b"\r\n",
        ]
    )
    # unique: "Transfer-Encoding: chunked" twice is refused, as it would be in a head
    parts += [[line, b"\r\n"] for line in draw(st.lists(_trailer(), max_size=3, unique=True))]
    parts.append([b"\r\n"])
    return parts, b"".join(chunks)


@st.composite
def valid_bodies(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """(raw body, the data it carries)."""
    parts, data = draw(_parts())
    return b"".join(b"".join(part) for part in parts), data


@st.composite
def broken_bodies(draw: st.DrawFn) -> bytes:
    """A valid body with one flaw that the grammar refuses wherever it stands."""
    parts, _ = draw(_parts())
    chunk_count = sum(len(part) == 5 for part in parts)
    chunk_lines = range(chunk_count + 1)  # chunk-size lines, the last chunk's included
    trailers = [i for i, p in enumerate(parts) if len(p) == 2]
    flaw = draw(
        st.sampled_from(
            [
                "size",
                "extension",
                "line end",
                "wrong size",
                "data end",
                "trailer",
                "trailer end",
                "final",
            ]
        )
    )
    if flaw == "wrong size" and chunk_count == 0:
        flaw = "size"
    if flaw == "data end" and chunk_count == 0:
        flaw = "extension"
    if flaw == "trailer end" and not trailers:
        flaw = "trailer"
    if flaw == "size":
        part = parts[draw(st.sampled_from(chunk_lines))]
        part[0], part[1] = draw(st.sampled_from(INVALID_SIZES)), b""
    elif flaw == "extension":
        parts[draw(st.sampled_from(chunk_lines))][1] = draw(st.sampled_from(INVALID_EXTENSIONS))
    elif flaw == "line end":
        parts[draw(st.sampled_from(chunk_lines))][2] = draw(st.sampled_from(INVALID_LINE_ENDS))
    elif flaw == "wrong size":
        index = draw(st.integers(0, chunk_count - 1))
        size = len(parts[index][3])
        wrong = draw(st.sampled_from([size + 1, size - 1] if size > 1 else [size + 1]))
        parts[index][0] = b"%x" % wrong
    elif flaw == "data end":
        parts[draw(st.integers(0, chunk_count - 1))][4] = draw(st.sampled_from(INVALID_DATA_ENDS))
    elif flaw == "trailer":
        parts.insert(
            draw(st.sampled_from([*trailers, len(parts) - 1])),
            [draw(st.sampled_from(INVALID_TRAILERS)), b"\r\n"],
        )
    elif flaw == "trailer end":
        parts[draw(st.sampled_from(trailers))][1] = draw(st.sampled_from(INVALID_LINE_ENDS))
    else:
        parts[-1] = [draw(st.sampled_from(INVALID_LINE_ENDS))]
    return b"".join(b"".join(part) for part in parts)


def cut_short(body: bytes) -> st.SearchStrategy[bytes]:
    """Proper prefixes of ``body``: a body that never ends."""
    return st.integers(0, max(len(body) - 1, 0)).map(lambda n: body[:n])
