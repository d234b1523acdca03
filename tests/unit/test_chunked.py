"""ChunkedDecoder: RFC 9112 7.1 read strictly, every rule fed whole and one byte at a time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_master.worker.http.chunked import ChunkedDecoder
from asgi_master.worker.http.head import ProtocolError
from tests.unit.chunked_bodies import (
    INVALID_EXTENSIONS,
    INVALID_SIZES,
    INVALID_TRAILERS,
    VALID_EXTENSIONS,
    VALID_TRAILERS,
    broken_bodies,
    cut_short,
    valid_bodies,
)
from tests.unit.defaults import limits


@dataclass
class Decoded:
    """What the decoder made of some bytes."""

    pieces: list[bytes] = field(default_factory=list)
    complete: bool = False
    #: the bytes after the body, left for the next request
    rest: bytes = b""

    @property
    def body(self) -> bytes:
        return b"".join(self.pieces)


def run(raw: bytes, bytewise: bool, *, eof: bool = True, **overrides: Any) -> Decoded:
    """Feed ``raw`` (whole or one byte at a time) and then, if ``eof``, the client's close;
    ``overrides`` are limits that differ from the defaults (``max_body=20``)."""
    decoder = ChunkedDecoder(limits(**overrides))
    buffer = bytearray()
    step = 1 if bytewise else max(len(raw), 1)
    position = 0
    out = Decoded()
    while not decoder.complete:
        data = decoder.next_data(buffer, eof and position >= len(raw))
        if data is not None:
            assert data, "an empty piece of data"
            out.pieces.append(data)
        elif not decoder.complete:
            if position >= len(raw):
                return out
            buffer += raw[position : position + step]
            position += step
    out.complete = True
    out.rest = bytes(buffer) + raw[position:]
    return out


def refusal(raw: bytes, bytewise: bool, **limits: Any) -> ProtocolError:
    """The error ``raw`` is refused with, before the client closes (nothing it waits for)."""
    with pytest.raises(ProtocolError) as err:
        run(raw, bytewise, eof=False, **limits)
    return err.value


@pytest.fixture(params=[False, True], ids=["whole", "bytewise"])
def bytewise(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


# == chunks and the last chunk ===================================================================


def test_one_chunk_then_the_last_chunk(bytewise):
    decoded = run(b"5\r\nhello\r\n0\r\n\r\n", bytewise)
    assert decoded.complete and decoded.body == b"hello" and decoded.rest == b""


def test_chunks_are_concatenated(bytewise):
    assert run(b"1\r\na\r\n2\r\nbc\r\n3\r\ndef\r\n0\r\n\r\n", bytewise).body == b"abcdef"


def test_an_empty_body_is_only_the_last_chunk(bytewise):
    decoded = run(b"0\r\n\r\n", bytewise)
    assert decoded.complete and decoded.pieces == []


def test_hex_digits_in_either_case(bytewise):
    assert run(b"a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n", bytewise).body == (
        b"0123456789" * 2
    )


def test_leading_zeros_are_not_counted_as_digits(bytewise):
    raw = b"0" * 30 + b"5\r\nhello\r\n" + b"0" * 30 + b"\r\n\r\n"
    assert run(raw, bytewise).body == b"hello"


def test_chunk_data_is_opaque_even_crlf_and_nul(bytewise):
    assert run(b"6\r\n\r\n\x000\r\n\r\n0\r\n\r\n", bytewise).body == b"\r\n\x000\r\n"


def test_bytes_after_the_body_stay_for_the_next_request(bytewise):
    decoded = run(b"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n", bytewise)
    assert decoded.body == b"abc" and decoded.rest == b"GET / HTTP/1.1\r\n"


def test_data_is_handed_out_as_it_arrives_not_accumulated():
    decoder = ChunkedDecoder(limits())
    buffer = bytearray(b"a\r\n01234")
    assert decoder.next_data(buffer, False) == b"01234"
    assert decoder.next_data(buffer, False) is None and not decoder.complete
    buffer += b"56789\r\n0\r\n\r\n"
    assert decoder.next_data(buffer, False) == b"56789"
    assert decoder.next_data(buffer, False) is None and decoder.complete


def test_the_largest_chunk_size_is_taken_and_its_data_awaited():
    decoder = ChunkedDecoder(limits(max_body=0))  # no body limit: only the size grammar
    buffer = bytearray(b"7fffffffffffffff\r\nxy")
    assert decoder.next_data(buffer, False) == b"xy"
    assert decoder.data_due == 2**63 - 1 - 2


@pytest.mark.parametrize(
    "size", [b"8000000000000000", b"f" * 17, b"1" + b"0" * 16, b"f" * 20, b"0" * 5 + b"f" * 17]
)
def test_a_chunk_size_beyond_2_63_or_16_digits_is_refused(bytewise, size):
    error = refusal(size + b"\r\nhello\r\n0\r\n\r\n", bytewise)
    assert error.status == 400 and error.reason == "chunk size too large"


@pytest.mark.parametrize(
    "line",
    [b"", b"zz", b"-5", b"+5", b"0x5", b" 5", b"\t5", b"5z", b"g", b"\x005", b"\xef\xbc\x95"],
)
def test_a_chunk_size_that_is_not_hex_digits_is_refused(bytewise, line):
    error = refusal(line + b"\r\nhello\r\n0\r\n\r\n", bytewise)
    assert error.status == 400 and "not hexadecimal" in error.reason


@pytest.mark.parametrize("size", INVALID_SIZES)
def test_a_chunk_size_off_the_grammar_is_refused_on_the_last_chunk_too(bytewise, size):
    assert refusal(b"5\r\nhello\r\n" + size + b"\r\n\r\n", bytewise).status == 400


def test_whitespace_after_a_chunk_size_without_an_extension_is_refused(bytewise):
    for line in (b"5 ", b"5\t"):
        assert refusal(line + b"\r\nhello\r\n0\r\n\r\n", bytewise).status == 400


def test_a_bare_lf_ending_a_chunk_size_line_is_refused(bytewise):
    error = refusal(b"5\nhello\r\n0\r\n\r\n", bytewise)
    assert error.reason == "bare LF in a chunk-size line"


def test_a_bare_cr_in_a_chunk_size_line_is_refused_without_waiting_for_a_line_end(bytewise):
    error = refusal(b"5\rhello", bytewise)
    assert error.reason == "bare CR in a chunk-size line"


# == chunk extensions ============================================================================


@pytest.mark.parametrize("extension", [e for e in VALID_EXTENSIONS if e])
def test_chunk_extensions_of_the_grammar_are_read_and_ignored(bytewise, extension):
    raw = b"5" + extension + b"\r\nhello\r\n0" + extension + b"\r\n\r\n"
    assert run(raw, bytewise).body == b"hello"


@pytest.mark.parametrize("extension", INVALID_EXTENSIONS)
def test_chunk_extensions_off_the_grammar_are_refused(bytewise, extension):
    assert refusal(b"5" + extension + b"\r\nhello\r\n0\r\n\r\n", bytewise).status == 400


@pytest.mark.parametrize("extension", INVALID_EXTENSIONS)
def test_the_last_chunk_is_held_to_the_same_extension_grammar(bytewise, extension):
    assert refusal(b"5\r\nhello\r\n0" + extension + b"\r\n\r\n", bytewise).status == 400


@pytest.mark.parametrize("byte", [b"\x00", b"\x01", b"\x1b", b"\x7f", b"\x0b"])
def test_a_control_character_in_an_extension_is_named_as_such(byte):
    error = refusal(b"5;a=" + byte + b"\r\nhello\r\n0\r\n\r\n", False)
    assert error.reason == "control character in a chunk extension"


def test_a_bare_cr_in_an_extension_is_refused(bytewise):
    assert refusal(b"5;a\rb\r\nhello\r\n0\r\n\r\n", bytewise).reason == (
        "bare CR in a chunk-size line"
    )


def test_a_bare_lf_in_an_extension_is_refused(bytewise):
    assert refusal(b"5;a\nb\r\nhello\r\n0\r\n\r\n", bytewise).reason == (
        "bare LF in a chunk-size line"
    )


# == the CRLF after chunk data ===================================================================


@pytest.mark.parametrize(
    "raw",
    [
        b"3\r\nhello\r\n0\r\n\r\n",  # more data than the size said
        b"5\r\nhelloXX0\r\n\r\n",  # no CRLF at all
        b"5\r\nhello\n0\r\n\r\n",  # a bare LF
        b"5\r\nhello\r0\r\n\r\n",  # a bare CR
        b"5\r\nhello\r\r\n0\r\n\r\n",
    ],
)
def test_chunk_data_must_be_followed_by_exactly_crlf(bytewise, raw):
    error = refusal(raw, bytewise)
    assert error.status == 400 and "not followed by CRLF" in error.reason


# == trailers ====================================================================================


@pytest.mark.parametrize("line", VALID_TRAILERS)
def test_trailer_fields_are_read_and_dropped(bytewise, line):
    decoded = run(b"5\r\nhello\r\n0\r\n" + line + b"\r\nX-Next: 1\r\n\r\nGET", bytewise)
    assert decoded.body == b"hello" and decoded.rest == b"GET"


@pytest.mark.parametrize("line", INVALID_TRAILERS)
def test_trailer_fields_are_as_strict_as_header_fields(bytewise, line):
    assert refusal(b"5\r\nhello\r\n0\r\n" + line + b"\r\n\r\n", bytewise).status == 400


def test_obs_fold_in_the_trailers_is_refused_not_unfolded(bytewise):
    error = refusal(b"5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n", bytewise)
    assert error.reason == "obsolete line folding (obs-fold) in a trailer"


def test_whitespace_before_the_colon_of_a_trailer_is_refused(bytewise):
    error = refusal(b"0\r\nX-T : a\r\n\r\n", bytewise)
    assert error.reason == "whitespace before the colon in a trailer"


def test_a_nul_in_a_trailer_value_is_refused(bytewise):
    assert refusal(b"0\r\nX-T: a\x00b\r\n\r\n", bytewise).reason == (
        "control character in a trailer"
    )


def test_a_trailer_line_ended_by_a_bare_lf_is_refused(bytewise):
    assert refusal(b"0\r\nX-T: a\n\r\n", bytewise).reason == "bare LF in a trailer line"


def test_the_blank_line_ending_the_trailers_must_be_crlf(bytewise):
    assert refusal(b"0\r\nX-T: a\r\n\n", bytewise).reason == "bare LF in a trailer line"
    assert refusal(b"0\r\n\n", bytewise).reason == "bare LF in a trailer line"


def test_a_bare_cr_in_the_trailers_is_refused_without_waiting_for_a_line_end(bytewise):
    assert refusal(b"0\r\nX-T: a\rb", bytewise).reason == "bare CR in a trailer line"


def test_conflicting_content_length_trailers_are_refused_like_conflicting_headers(bytewise):
    error = refusal(b"0\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", bytewise)
    assert error.status == 400
    assert run(b"0\r\nContent-Length: 5\r\ncontent-length: 5, 5\r\n\r\n", bytewise).complete


def test_a_second_transfer_encoding_trailer_is_refused_like_a_second_header(bytewise):
    raw = b"0\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert refusal(raw, bytewise).status == 400


# == the end of the stream =======================================================================


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b"5\r\nhel", "middle"),
        (b"5\r\nhello", "middle"),
        (b"5\r\nhello\r", "middle"),
        (b"5\r\nhello\r\n", "middle"),
        (b"5\r\nhello\r\n0", "middle"),
        (b"5\r\nhello\r\n0\r\n", "trailer"),
        (b"5\r\nhello\r\n0\r\nX-T: 1\r\n", "trailer"),
    ],
)
def test_the_client_closing_before_the_end_is_refused_then_and_only_then(bytewise, raw, where):
    assert not run(raw, bytewise, eof=False).complete
    with pytest.raises(ProtocolError) as err:
        run(raw, bytewise)
    assert err.value.status == 400 and where in err.value.reason


# == limits ======================================================================================


def test_a_chunk_crossing_the_body_limit_is_refused_before_its_data_arrives(bytewise):
    error = refusal(b"10\r\n" + b"x" * 16 + b"\r\n5\r\n", bytewise, max_body=20)
    assert error.status == 413


def test_a_body_exactly_at_the_limit_is_accepted(bytewise):
    raw = b"10\r\n" + b"x" * 16 + b"\r\n4\r\nyyyy\r\n0\r\n\r\n"
    assert run(raw, bytewise, max_body=20).body == b"x" * 16 + b"yyyy"


def test_a_long_chunk_size_line_is_refused_before_it_ends(bytewise):
    error = refusal(b"5;x=" + b"a" * 200, bytewise, max_field_size=100)
    assert error.status == 400 and error.reason == "chunk-size line too long"
    assert run(
        b"5;x=" + b"a" * 96 + b"\r\nhello\r\n0\r\n\r\n", bytewise, max_field_size=100
    ).complete


def test_a_long_trailer_line_is_431_before_it_ends(bytewise):
    error = refusal(b"0\r\nX-T: " + b"a" * 200, bytewise, max_field_size=100)
    assert error.status == 431


def test_more_trailer_fields_than_the_limit_is_431(bytewise):
    raw = b"0\r\n" + b"X-T: 1\r\n" * 4
    assert refusal(raw + b"X-T: 1\r\n\r\n", bytewise, max_fields=4).status == 431
    assert run(raw + b"\r\n", bytewise, max_fields=4).complete


def test_a_pathological_extension_is_refused_in_linear_time():
    import time

    started = time.perf_counter()
    for line in (
        b"5;a" + b" " * 8000 + b"x",
        b"5;" + b"a" * 8000 + b" x",
        b'5;a="' + b"\\\\" * 4000 + b"x",
    ):
        refusal(line + b"\r\n", False)
    assert time.perf_counter() - started < 1.0


# == handing data out from the received bytes ===================================================


def test_data_due_can_be_taken_without_the_buffer():
    decoder = ChunkedDecoder(limits())
    buffer = bytearray(b"a\r\n")
    assert decoder.next_data(buffer, False) is None
    assert decoder.data_due == 10
    decoder.handed_out(4)
    assert decoder.data_due == 6
    decoder.handed_out(6)
    assert decoder.data_due == 0
    buffer += b"\r\n0\r\n\r\n"
    assert decoder.next_data(buffer, False) is None and decoder.complete


def test_handing_out_more_than_is_due_is_a_bug():
    decoder = ChunkedDecoder(limits())
    decoder.next_data(bytearray(b"2\r\n"), False)
    with pytest.raises(RuntimeError):
        decoder.handed_out(3)


# == generated bodies ============================================================================


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_bodies(), st.booleans())
def test_every_valid_body_decodes_to_its_data(body, bytewise):
    raw, data = body
    decoded = run(raw + b"GET", bytewise)
    assert decoded.complete and decoded.body == data and decoded.rest == b"GET"


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(broken_bodies(), st.booleans())
def test_every_broken_body_is_refused_without_waiting(raw, bytewise):
    assert refusal(raw, bytewise).status == 400


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_bodies().flatmap(lambda body: cut_short(body[0])), st.booleans())
def test_every_body_cut_short_waits_then_is_refused_at_the_close(raw, bytewise):
    assert not run(raw, bytewise, eof=False).complete
    with pytest.raises(ProtocolError):
        run(raw, bytewise)
