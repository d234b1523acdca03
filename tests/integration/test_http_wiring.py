"""TLS, proxy headers and access-log formats through a real server."""

from __future__ import annotations

import ast
import json
import ssl

import httpx
import pytest

from tests.conftest import wait_for

trustme = pytest.importorskip("trustme")
pytestmark = pytest.mark.timeout(60)


def scope_of(response: httpx.Response) -> dict:
    return ast.literal_eval(response.text)


def test_tls_serves_https_with_the_tls_extension(start_server, tmp_path):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, cafile = tmp_path / "server.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    ca.cert_pem.write_to_path(str(cafile))
    server = start_server("tests.apps.basic:app", "--workers", "1", "--certfile", str(certfile))
    server.wait_ready()
    context = ssl.create_default_context(cafile=str(cafile))
    url = f"https://127.0.0.1:{server.port}/scope"
    scope = scope_of(httpx.get(url, verify=context))
    assert scope["scheme"] == "https"
    assert scope["tls_version"] in (0x0303, 0x0304)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{server.port}/scope", timeout=5)


def test_forwarded_headers_from_a_trusted_peer_rewrite_client_and_scheme(start_server):
    # forwarded_allow_ips defaults to 127.0.0.1
    server = start_server("tests.apps.basic:app", "--workers", "1")
    server.wait_ready()
    scope = scope_of(
        httpx.get(
            server.url("/scope"),
            headers={"X-Forwarded-For": "203.0.113.7, 127.0.0.1", "X-Forwarded-Proto": "https"},
        )
    )
    assert scope["client"][0] == "203.0.113.7"
    assert scope["scheme"] == "https"


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(start_server):
    server = start_server(
        "tests.apps.basic:app", "--workers", "1", "--forwarded-allow-ips", "10.0.0.1"
    )
    server.wait_ready()
    scope = scope_of(
        httpx.get(
            server.url("/scope"),
            headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"},
        )
    )
    assert scope["client"][0] == "127.0.0.1"
    assert scope["scheme"] == "http"


def test_access_log_uses_the_configured_format(start_server):
    server = start_server(
        "tests.apps.basic:app",
        "--workers",
        "1",
        "--access-log-format",
        "%(m)s %(U)s %(s)s ua=%(a)s",
    )
    server.wait_ready()
    httpx.get(server.url("/hello"), headers={"User-Agent": "probe/1"})
    wait_for(
        lambda: "GET /hello 200 ua=probe/1" in server.out_path.read_text(),
        timeout=10,
        what="the access-log line",
    )


def test_json_access_log_lines_are_json(start_server):
    server = start_server("tests.apps.basic:app", "--workers", "1", "--log-format", "json")
    server.wait_ready()
    httpx.get(server.url("/hello?x=1"))

    def line() -> dict | None:
        for text in server.out_path.read_text().splitlines():
            if '"path"' in text:
                return json.loads(text)
        return None

    record = wait_for(line, timeout=10, what="a JSON access-log line")
    assert record["path"] == "/hello" and record["status"] == 200
