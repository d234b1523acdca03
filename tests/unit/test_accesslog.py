"""AccessLogFormat: gunicorn-style atoms compiled once, escaped client text, a JSON mode."""

from __future__ import annotations

import base64
import json
import os
import re
from typing import Any

import pytest

from asgi_master.config.types import split_access_log_template
from asgi_master.worker.accesslog import AccessLogFormat


def scope(
    *headers: tuple[str, str],
    path: str = "/items/1",
    raw_path: bytes | None = None,
    query: bytes = b"",
    method: str = "GET",
    client: Any = ("203.0.113.5", 51000),
) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "http_version": "1.1",
        "client": client,
        "path": path,
        "raw_path": raw_path if raw_path is not None else path.encode(),
        "query_string": query,
        "headers": [(n.lower().encode(), v.encode("latin-1")) for n, v in headers],
    }


def line(
    template: str,
    s: dict[str, Any] | None = None,
    status: int = 200,
    nbytes: int = 12,
    duration: float = 0.0123456,
) -> str:
    return AccessLogFormat(template).render(s or scope(), status, nbytes, duration)


def test_default_style_line():
    s = scope(query=b"a=1&b=2")
    assert line('%(h)s - "%(r)s" %(s)s %(b)s %(M)sms', s) == (
        '203.0.113.5 - "GET /items/1?a=1&b=2 HTTP/1.1" 200 12 12ms'
    )


@pytest.mark.parametrize(
    ("atom", "text"),
    [
        ("h", "203.0.113.5"),
        ("l", "-"),
        ("u", "-"),
        ("m", "GET"),
        ("U", "/items/1"),
        ("q", "x=%20"),
        ("H", "HTTP/1.1"),
        ("s", "200"),
        ("B", "12"),
        ("b", "12"),
        ("f", "https://ref.example/"),
        ("a", "curl/8.0"),
        ("T", "0"),
        ("D", "12345"),
        ("M", "12"),
        ("L", "0.012346"),
        ("p", f"<{os.getpid()}>"),
    ],
)
def test_each_atom(atom, text):
    s = scope(("Referer", "https://ref.example/"), ("User-Agent", "curl/8.0"), query=b"x=%20")
    assert line(f"%({atom})s", s) == text


def test_request_header_atom_is_case_insensitive_and_joins_repeats():
    s = scope(("X-Request-Id", "abc"), ("Accept", "text/html"), ("Accept", "*/*"))
    assert line("%({x-request-id}i)s %({Accept}i)s %({missing}i)s", s) == ("abc text/html, */* -")


def test_time_atom_is_bracketed_common_log_date():
    assert re.fullmatch(r"\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]", line("%(t)s"))


def test_user_from_basic_auth():
    token = base64.b64encode(b"alice:secret").decode()
    assert line("%(u)s", scope(("Authorization", f"Basic {token}"))) == "alice"


@pytest.mark.parametrize(
    "value",
    [
        "Bearer abc",
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
        "Basic ",
    ],
)
def test_user_is_dash_for_other_or_broken_credentials(value):
    assert line("%(u)s", scope(("Authorization", value))) == "-"


def test_zero_bytes_is_dash_for_b_and_zero_for_big_b():
    assert line("%(b)s %(B)s", nbytes=0) == "- 0"


def test_unknown_client_is_dash():
    assert line("%(h)s", scope(client=None)) == "-"


def test_literal_percent_and_plain_text_survive():
    assert line("100%% %(s)s %d %") == "100% 200 %d %"


def test_request_line_uses_the_raw_path():
    s = scope(path="/a b", raw_path=b"/a%20b")
    assert line("%(r)s", s) == "GET /a%20b HTTP/1.1"


def test_client_text_cannot_forge_log_lines():
    s = scope(("User-Agent", 'evil"\r\n[fake] line\x1b[31m'), path="/x\ny")
    text = line("%(a)s %(U)s", s)
    assert "\n" not in text and "\r" not in text and "\x1b" not in text
    assert text == 'evil\\"\\x0d\\x0a[fake] line\\x1b[31m /x\\x0ay'


def test_backslash_is_escaped():
    assert line("%(a)s", scope(("User-Agent", "a\\b"))) == "a\\\\b"


def test_headers_not_named_by_the_template_are_not_read():
    fmt = AccessLogFormat("%(s)s")
    broken = scope()
    broken["headers"] = None  # would raise if iterated
    assert fmt.render(broken, 204, 0, 0.0) == "204"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("%(x)s", "not %(x)s"),
        ("%(h)d", "atoms written as %(name)s"),
        ("%(h", "atoms written as %(name)s"),
        ("%({}i)s", "not %({}i)s"),
    ],
)
def test_unknown_or_malformed_atoms_are_refused(template, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        AccessLogFormat(template)


def test_template_splits_into_text_and_atoms():
    assert split_access_log_template('%(h)s "%({X-A}i)s" 5%%') == [
        (True, "h"),
        (False, ' "'),
        (True, "{x-a}i"),
        (False, '" 5%'),
    ]


def test_json_line_has_fixed_keys():
    s = scope(("Referer", "https://r/"), ("User-Agent", "ua"), query=b"q=1", method="POST")
    record = json.loads(AccessLogFormat("%(h)s", json=True).render(s, 201, 5, 0.0015))
    assert set(record) == {
        "time",
        "client",
        "method",
        "path",
        "query",
        "protocol",
        "status",
        "bytes",
        "duration_ms",
        "referer",
        "user_agent",
    }
    assert record["client"] == "203.0.113.5"
    assert (record["method"], record["path"], record["query"]) == ("POST", "/items/1", "q=1")
    assert (record["protocol"], record["status"], record["bytes"]) == ("HTTP/1.1", 201, 5)
    assert record["duration_ms"] == 1.5
    assert (record["referer"], record["user_agent"]) == ("https://r/", "ua")


def test_json_line_is_one_line_even_with_control_characters():
    s = scope(("User-Agent", "a\nb"), path="/x\ny", client=None)
    text = AccessLogFormat("", json=True).render(s, 200, 0, 0.0)
    assert "\n" not in text
    record = json.loads(text)
    assert record["user_agent"] == "a\nb" and record["client"] is None
    assert record["referer"] is None
