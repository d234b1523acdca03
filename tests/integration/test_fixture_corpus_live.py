"""A representative part of the request corpus sent over real sockets to a real server: the
status line must be the recorded one, and a refused request must end with the server closing
the connection (after broken framing nothing on it can be trusted)."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, free_port
from tests.unit.test_fixture_corpus import case_names, load_case

pytestmark = pytest.mark.timeout(60)

STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d\d\d) [^\r\n]*")

VALID = [
    "get_root",
    "get_percent_encoded_path",
    "head_root",
    "options_asterisk",
    "post_form",
    "put_with_body",
    "post_binary_body",
    "absolute_form_http",
    "many_headers",
    "chunked_many_chunks",
    "chunked_with_trailers",
    "chunked_extension",
    "http10_get_without_host",
    "http10_keep_alive",
    "pipelined_two_gets",
    "pipelined_post_then_get",
    "pipelined_chunked_then_get",
    "pipelined_body_that_looks_like_a_request",
    "expect_100_continue",
    "leading_crlf_before_request_line",
    "http10_expect_100_continue_ignored",
    "request_line_exactly_at_limit",
    "connect_authority_form",
]
INVALID = [
    "missing_host_http11",
    "duplicate_host",
    "content_length_negative",
    "content_length_conflicting_headers",
    "content_length_and_transfer_encoding",
    "transfer_encoding_gzip_then_chunked",
    "whitespace_before_colon",
    "obs_fold_continuation",
    "nul_in_header_value",
    "chunk_size_hex_garbage",
    "chunk_missing_crlf_after_data",
    "method_with_parenthesis",
    "target_with_space",
    "http09_request",
    "header_line_too_long",
    "too_many_headers",
    "request_line_too_long",
    "content_length_not_a_number",
    "pipelined_second_request_invalid",
    "transfer_encoding_gzip_only",
    "version_http2",
    "host_with_space",
    "header_value_escape_char",
    "bare_cr_line_endings",
    "chunk_size_overflow",
    "chunk_extension_with_nul",
    "chunk_extension_bare_cr",
    "chunk_trailer_obs_fold",
    "connect_origin_form",
    "absolute_form_with_userinfo",
    "request_line_one_over_limit",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module (cleaned up by PID like ``start_server``'s)."""
    port = free_port()
    srv = Server(
        ["tests.apps.basic:app", "--workers", "1", "--bind", f"127.0.0.1:{port}"],
        Path(tmp_path_factory.mktemp("corpus")),
        port=port,
    )
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.cleanup()


def statuses(data: bytes, methods: list[str]) -> list[int]:
    """The final statuses of the complete responses in ``data``, in order (1xx interim
    responses are skipped); ``methods`` says which requests were HEAD (no body follows)."""
    found: list[int] = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            break  # the rest of this head has not arrived
        match = STATUS_LINE.match(data, pos)
        assert match is not None, f"not a response at {pos}: {data[pos : pos + 80]!r}"
        status = int(match.group(1))
        head = data[pos:end].lower()
        pos = end + 4
        if status < 200:
            continue
        method = methods[len(found)] if len(found) < len(methods) else "GET"
        if method != "HEAD" and status not in (204, 304):
            length = re.search(rb"\r\ncontent-length: *(\d+)", head)
            if length is not None:
                pos += int(length.group(1))
            elif b"\r\ntransfer-encoding: chunked" in head:
                last = data.find(b"\r\n0\r\n\r\n", pos - 2)
                pos = last + 7 if last >= 0 else len(data) + 1
            else:
                pos = len(data)  # close-delimited: the rest is this body
            if pos > len(data):
                break  # the rest of this body has not arrived
        found.append(status)
    return found


def exchange(
    server: Server,
    raw: bytes,
    *,
    half_close: bool = False,
    responses: int | None = None,
    methods: list[str] | None = None,
) -> tuple[bytes, bool]:
    """Send ``raw`` (then half-close if asked); what the server sent until it closed, or until
    ``responses`` complete responses arrived; and whether it closed within the timeout."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(raw)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = bytearray()
        try:
            while chunk := sock.recv(65536):
                received += chunk
                if (
                    responses is not None
                    and len(statuses(bytes(received), methods or [])) >= responses
                ):
                    return bytes(received), False
        except TimeoutError:
            return bytes(received), False
        except ConnectionResetError:
            # the server closed with unread request bytes in its buffer: still a close
            pass
        return bytes(received), True


@pytest.mark.parametrize("name", VALID)
def test_valid_request_gets_200_for_each_request(server: Server, name: str) -> None:
    raw, expected = load_case(name)
    assert "status" not in expected and "pending" not in expected
    requests = expected.get("requests", [expected])
    methods = [r["method"] for r in requests]
    data, _ = exchange(server, raw, responses=len(requests), methods=methods)
    assert statuses(data, methods) == [200] * len(requests), data[:300]


@pytest.mark.parametrize("name", INVALID)
def test_invalid_request_gets_its_status_and_the_connection_closes(
    server: Server, name: str
) -> None:
    raw, expected = load_case(name)
    assert "status" in expected and "pending" not in expected and "limits" not in expected
    data, closed = exchange(server, raw, half_close=expected.get("at_eof", False))
    before = expected.get("requests", [])
    assert statuses(data, [r["method"] for r in before]) == [
        *([200] * len(before)),
        expected["status"],
    ], data[:300]
    assert closed, "the server kept the connection open after refusing a request"


def _shapes(raw: bytes, expected: dict) -> set[str]:
    """The request shapes a case exercises: how its bodies are framed, pipelining, HTTP/1.0,
    100-continue and the request-target forms."""
    lower = raw.lower()
    requests = expected.get("requests", [expected])
    shapes = {f"target:{_target_form(r.get('target', '/'))}" for r in requests if "target" in r}
    for needle, shape in (
        (b"transfer-encoding: chunked", "chunked"),
        (b"content-length:", "content-length"),
        (b"expect: 100-continue", "expect"),
        (b" http/1.0\r\n", "http/1.0"),
    ):
        if needle in lower:
            shapes.add(shape)
    if len(requests) > 1:
        shapes.add("pipelined")
    return shapes


def _target_form(target: str) -> str:
    if target == "*":
        return "asterisk"
    if target.startswith("/"):
        return "origin"
    return "absolute" if "://" in target else "authority"


def _corpus(valid: bool) -> list[str]:
    """The names of the valid (or invalid) cases of the whole corpus a default server can be
    held to (cases with their own limits need a server of their own)."""
    names = []
    for name in case_names():
        _, expected = load_case(name)
        if (
            "limits" not in expected
            and "pending" not in expected
            and (("status" not in expected) is valid)
        ):
            names.append(name)
    return names


def test_the_live_part_refuses_with_every_status_the_corpus_refuses_with() -> None:
    corpus = {load_case(name)[1]["status"] for name in _corpus(valid=False)}
    live = {load_case(name)[1]["status"] for name in INVALID}
    assert {400, 414, 431, 505} <= corpus  # the corpus was read (413s need their own limits)
    assert corpus <= live, f"statuses only the in-memory corpus tests: {sorted(corpus - live)}"


def test_the_live_part_has_every_request_shape_of_the_corpus() -> None:
    corpus = set().union(*(_shapes(*load_case(name)) for name in _corpus(valid=True)))
    live = set().union(*(_shapes(*load_case(name)) for name in VALID))
    assert {"chunked", "content-length", "pipelined", "http/1.0", "expect"} <= corpus
    assert corpus <= live, f"shapes only the in-memory corpus tests: {sorted(corpus - live)}"
