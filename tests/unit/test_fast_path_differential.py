"""The fast path is only a faster route to the h11 path's verdict: same accept/reject, same head.

Hypothesis builds requests from a grammar that mixes the common shape with the irregular
(odd tokens, whitespace, control bytes, bare LF, duplicate or conflicting framing headers), and
each is read twice: by the RequestReader as it runs (fast path first) and by the same reader with
the fast path off (every request through h11 plus our extra strictness). A second property
checks that the h11 path itself only ever adds refusals to h11's own verdicts (obs-fold,
Content-Length with Transfer-Encoding), never acceptances.
"""

from __future__ import annotations

import h11
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_master.worker.http.head import ProtocolError, head_from_parts
from asgi_master.worker.http.reader import END_OF_BODY, Body, Limits, RequestReader

TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

methods = st.one_of(st.sampled_from([b"GET", b"POST", b"HEAD", b"PUT", b"OPTIONS", b"get"]),
                    st.text(TOKEN_CHARS + " /@", min_size=1, max_size=8).map(str.encode))
targets = st.one_of(
    st.sampled_from([b"/", b"/a/b?c=d&e", b"/%7Euser", b"/caf%C3%A9", b"*",
                     b"http://example.com/x?y", b"/sp ace", b"/\x80", b""]),
    st.binary(min_size=1, max_size=12).map(lambda b: b"/" + b),
)
versions = st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.2", b"http/1.1",
                            b"HTTP/1.1 "])
names = st.one_of(
    st.sampled_from([b"Host", b"host", b"User-Agent", b"Accept", b"Content-Length",
                     b"Transfer-Encoding", b"Connection", b"Expect", b"Upgrade", b"X-A"]),
    st.text(TOKEN_CHARS + " :\t", min_size=0, max_size=6).map(str.encode),
)
values = st.one_of(
    st.sampled_from([b"x", b"", b" padded ", b"\tx\t", b"5", b"0", b"007", b"-1", b"1,1",
                     b"chunked", b"gzip, chunked", b"close", b"keep-alive", b"Upgrade",
                     b"100-continue", b"websocket", b"a\x00b", b"a\rb", b"\xff\xfe"]),
    st.binary(max_size=8),
)
header_lines = st.lists(st.tuples(names, st.sampled_from([b":", b": ", b" :", b":  "]), values),
                        max_size=6)


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    method, target, version = draw(methods), draw(targets), draw(versions)
    eol = draw(st.sampled_from([b"\r\n"] * 6 + [b"\n"]))
    lines = [method + b" " + target + b" " + version]
    if draw(st.booleans()):
        lines.append(b"Host: example.com")
    lines += [name + sep + value for name, sep, value in draw(header_lines)]
    body = draw(st.sampled_from([b"", b"hello", b"5\r\nhello\r\n0\r\n\r\n"]))
    return eol.join(lines) + eol + eol + body


def outcome_of_reader(raw: bytes, fast_path: bool = True) -> tuple:
    reader = RequestReader(Limits(), fast_path=fast_path)
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
                return ("incomplete",)
    except ProtocolError:
        return ("error",)
    return ("ok", head, body), reader.used_h11


def outcome_of_h11(raw: bytes) -> tuple:
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
        head = head_from_parts(event.method, event.target, event.http_version,
                               list(event.headers))
        body = b""
        while True:
            part = conn.next_event()
            if isinstance(part, h11.Data):
                body += part.data
            elif isinstance(part, h11.EndOfMessage):
                break
            else:
                return ("incomplete",)
    except (h11.RemoteProtocolError, ProtocolError):
        # ProtocolError: h11 accepted it but our stricter rules (head_from_parts) refuse it
        return ("error",)
    return ("ok", head, body)


def _result(outcome: tuple) -> tuple:
    return outcome if outcome[0] in ("error", "incomplete") else outcome[0]


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_fast_path_and_h11_path_agree(raw):
    assert _result(outcome_of_reader(raw)) == _result(outcome_of_reader(raw, fast_path=False))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_h11_path_accepts_only_what_h11_accepts(raw):
    ours = _result(outcome_of_reader(raw, fast_path=False))
    theirs = outcome_of_h11(raw)
    if ours[0] == "ok":
        assert ours == theirs


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /x?y=1 HTTP/1.0\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nAccept: */*\r\n\r\n",
    b"DELETE /r HTTP/1.1\r\nhost: a\r\ncontent-length: 0\r\n\r\n",
]))
def test_common_requests_do_take_the_fast_path(raw):
    ours = outcome_of_reader(raw)
    assert ours[0][0] == "ok"
    assert ours[1] == 0, "a common request fell back to h11"
