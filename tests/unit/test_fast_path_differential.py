"""The fast path is only a faster route to the h11 path's verdict: same accept/reject, same head.

Hypothesis builds requests from a grammar that mixes the common shape with the irregular
(odd tokens, whitespace, control bytes, bare LF, duplicate or conflicting framing headers), and
chunked requests whose bodies are valid, broken, cut short or random bytes. Each is read twice:
by the RequestReader as it runs (fast path first) and by the same reader with the fast path off
(every head through h11 plus our extra strictness; bodies are ours on both paths).

A second property holds the h11 path to h11 itself, body included, which is what checks the
chunked decoder against an independent reader: everything we accept, h11 accepts the same
(head, body, and where the body ends), and everything we refuse that h11 accepts is one of our
named stricter rules (obs-fold, Content-Length with Transfer-Encoding, chunk extension and
trailer grammar...). The reference is h11 with its chunk-size line widened to RFC 9112 7.1.1,
the one place where h11 is narrower than the RFC: bad whitespace before ";" and leading zeros.
"""

from __future__ import annotations

import re
from unittest import mock

import h11
import h11._readers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_master.worker.http.head import ProtocolError, head_from_parts
from asgi_master.worker.http.reader import END_OF_BODY, Body, RequestReader
from tests.unit.chunked_bodies import broken_bodies, cut_short, valid_bodies
from tests.unit.defaults import limits

TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

methods = st.one_of(
    st.sampled_from([b"GET", b"POST", b"HEAD", b"PUT", b"OPTIONS", b"get", b"CONNECT", b"connect"]),
    st.text(TOKEN_CHARS + " /@", min_size=1, max_size=8).map(str.encode),
)
targets = st.one_of(
    st.sampled_from(
        [
            b"/",
            b"/a/b?c=d&e",
            b"/%7Euser",
            b"/caf%C3%A9",
            b"*",
            b"http://example.com/x?y",
            b"/sp ace",
            b"/\x80",
            b"",
            b"example.com:443",
            b"http:///x",
            b"http://u:p@example.com/",
            b"HTTPS://[::1]:8443",
            b"http://example.com#f",
        ]
    ),
    st.binary(min_size=1, max_size=12).map(lambda b: b"/" + b),
)
versions = st.sampled_from(
    [b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.2", b"http/1.1", b"HTTP/1.1 "]
)
names = st.one_of(
    st.sampled_from(
        [
            b"Host",
            b"host",
            b"User-Agent",
            b"Accept",
            b"Content-Length",
            b"Transfer-Encoding",
            b"Connection",
            b"Expect",
            b"Upgrade",
            b"X-A",
        ]
    ),
    st.text(TOKEN_CHARS + " :\t", min_size=0, max_size=6).map(str.encode),
)
values = st.one_of(
    st.sampled_from(
        [
            b"x",
            b"",
            b" padded ",
            b"\tx\t",
            b"5",
            b"0",
            b"007",
            b"-1",
            b"1,1",
            b"chunked",
            b"gzip, chunked",
            b"close",
            b"keep-alive",
            b"Upgrade",
            b"100-continue",
            b"websocket",
            b"a\x00b",
            b"a\rb",
            b"\xff\xfe",
        ]
    ),
    st.binary(max_size=8),
)
header_lines = st.lists(
    st.tuples(names, st.sampled_from([b":", b": ", b" :", b":  "]), values), max_size=6
)


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    method, target, version = draw(methods), draw(targets), draw(versions)
    eol = draw(st.sampled_from([b"\r\n"] * 6 + [b"\n"]))
    lines = [method + b" " + target + b" " + version]
    if draw(st.booleans()):
        lines.append(b"Host: example.com")
    lines += [name + sep + value for name, sep, value in draw(header_lines)]
    body = draw(
        st.sampled_from(
            [
                b"",
                b"hello",
                b"5\r\nhello\r\n0\r\n\r\n",
                b"5;a=\x00\r\nhello\r\n0\r\n\r\n",
                b"5 \r\nhello\r\n0\r\n\r\n",
            ]
        )
    )
    return eol.join(lines) + eol + eol + body


def chunked_bodies() -> st.SearchStrategy[bytes]:
    """Valid, broken, cut short, or random bytes."""
    valid = valid_bodies().map(lambda body: body[0])
    return st.one_of(
        valid,
        valid,
        broken_bodies(),
        valid_bodies().flatmap(lambda body: cut_short(body[0])),
        st.binary(max_size=24),
    )


@st.composite
def chunked_requests(draw: st.DrawFn) -> bytes:
    """A request that announces a chunked body, most often in the common shape, then the body
    and sometimes a pipelined request after it."""
    method = draw(st.sampled_from([b"POST", b"PUT", b"PATCH", b"post"]))
    version = draw(st.sampled_from([b"HTTP/1.1"] * 8 + [b"HTTP/1.0"]))
    lines = [method + b" /upload " + version, b"Host: example.com"]
    lines.append(
        b"Transfer-Encoding: "
        + draw(
            st.sampled_from(
                [b"chunked"] * 6
                + [
                    b"Chunked",
                    b"CHUNKED",
                    b"  chunked ",
                    b"chunked, chunked",
                    b"gzip, chunked",
                    b"chunked\t",
                ]
            )
        )
    )
    lines += draw(
        st.lists(
            st.sampled_from(
                [
                    b"X-A: 1",
                    b"Expect: 100-continue",
                    b"Connection: close",
                    b"Accept: */*",
                    b"X-Obs: caf\xe9",
                ]
                * 3
                + [b"Content-Length: 5", b"Transfer-Encoding: chunked"]
            ),
            max_size=2,
        )
    )
    if draw(st.integers(0, 3)) == 0:
        lines += [name + sep + value for name, sep, value in draw(header_lines)][:1]
    following = draw(st.sampled_from([b"", b"", b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"]))
    return b"\r\n".join(lines) + b"\r\n\r\n" + draw(chunked_bodies()) + following


def outcome_of_reader(raw: bytes, fast_path: bool = True) -> tuple:
    """("ok", head, body, bytes after the body) or ("error", status, reason), and how many
    heads h11 read."""
    reader = RequestReader(limits(), fast_path=fast_path)
    reader.feed(raw)
    reader.feed(b"")
    try:
        head = reader.next_event()
        body = b""
        while not reader.request_complete:
            event = reader.next_event()
            if isinstance(event, Body):
                body += event.data
            elif event is END_OF_BODY:
                break
            else:
                return ("incomplete",), reader.used_h11
    except ProtocolError as exc:
        return ("error", exc.status, exc.reason), reader.used_h11
    return ("ok", head, body, reader.take_trailing()), reader.used_h11


# h11's chunk-size line, widened to RFC 9112 7.1.1: BWS before ";", leading zeros unbounded
_RFC_CHUNK_HEADER = re.compile(
    rb"(?P<chunk_size>0*[0-9A-Fa-f]{1,20})(?P<chunk_ext>[ \t]*;.*)?[ \t]*\r\n"
)


def outcome_of_h11(raw: bytes) -> tuple:
    """What h11 (with the RFC's chunk-size line) and head_from_parts make of ``raw``."""
    with mock.patch.object(h11._readers, "chunk_header_re", _RFC_CHUNK_HEADER):
        return _outcome_of_h11(raw)


def _outcome_of_h11(raw: bytes) -> tuple:
    conn = h11.Connection(h11.SERVER)
    # the reader skips empty lines before a request line (RFC 9112 2.2); so does the reference
    while raw.startswith(b"\r\n"):
        raw = raw[2:]
    conn.receive_data(raw)
    conn.receive_data(b"")
    try:
        event = conn.next_event()
        if not isinstance(event, h11.Request):
            return ("incomplete",)
        head = head_from_parts(event.method, event.target, event.http_version, list(event.headers))
        body = b""
        while True:
            part = conn.next_event()
            if isinstance(part, h11.Data):
                body += part.data
            elif isinstance(part, h11.EndOfMessage):
                break
            else:
                return ("incomplete",)
    except h11.RemoteProtocolError as exc:
        return ("error", exc.error_status_hint, str(exc))
    except ProtocolError as exc:
        # h11 accepted it but our stricter rules (head_from_parts) refuse it
        return ("error", exc.status, exc.reason)
    return ("ok", head, body, conn.trailing_data[0])


#: the reasons of our refusals of what h11 accepts: each names a rule of ours stricter than h11
STRICTER: re.Pattern[str] = re.compile(
    "|".join(
        [
            # the head (head_from_parts, reader)
            r"^obsolete line folding",
            r"^both Content-Length and Transfer-Encoding$",
            r"^Transfer-Encoding in an HTTP/1.0 request$",
            r"^control character in the value of ",
            r"^Host .* is not host\[:port\]$",
            r"^request target .* is not valid for ",
            r"^HTTP version .* is not supported$",
            # chunked bodies (chunked.py): RFC 9112 7.1 where h11 is lax
            r"^chunk size too large$",
            r"^malformed chunk extension ",
            r"^control character in a chunk extension$",
            r"^bare CR in a chunk-size line$",
            r"^bare (CR|LF) in a trailer line$",
            r"^control character in a trailer$",
        ]
    ),
    re.DOTALL,
)


def _result(outcome: tuple) -> tuple:
    return outcome[0] if outcome[0][0] == "ok" else outcome[0][:2]


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_fast_path_and_h11_path_agree(raw):
    assert _result(outcome_of_reader(raw)) == _result(outcome_of_reader(raw, fast_path=False))


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunked_requests())
def test_fast_path_and_h11_path_agree_on_chunked_requests(raw):
    assert _result(outcome_of_reader(raw)) == _result(outcome_of_reader(raw, fast_path=False))


def _check_against_h11(raw: bytes) -> None:
    ours, _ = outcome_of_reader(raw, fast_path=False)
    theirs = outcome_of_h11(raw)
    if ours[0] == "ok":
        assert ours == theirs
    elif ours[0] == "error" and theirs[0] == "ok":
        assert STRICTER.search(ours[2]), f"refused what h11 accepts: {ours[2]}"


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_h11_path_accepts_only_what_h11_accepts(raw):
    _check_against_h11(raw)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunked_requests())
def test_h11_path_reads_chunked_bodies_as_h11_does_but_stricter(raw):
    _check_against_h11(raw)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(
        [
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /x?y=1 HTTP/1.0\r\n\r\n",
            b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nAccept: */*\r\n\r\n",
            b"DELETE /r HTTP/1.1\r\nhost: a\r\ncontent-length: 0\r\n\r\n",
            b"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n0\r\n\r\n",
            b"PUT /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n",
        ]
    )
)
def test_common_requests_do_take_the_fast_path(raw):
    ours = outcome_of_reader(raw)
    assert ours[0][0] == "ok"
    assert ours[1] == 0, "a common request fell back to h11"
