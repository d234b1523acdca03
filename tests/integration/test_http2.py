"""HTTP/2 through a real server with real clients: curl (h2c with prior knowledge, and TLS with
ALPN), httpx with its http2 extra, nghttp; the ASGI mapping, the error policy, the extensions,
and HTTP/1.1 on the same ports."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, free_port, wait_for
from tests.integration.h2socket import client_tls, tls_files

pytestmark = pytest.mark.timeout(60)
APP = "tests.apps.h2:app"
needs_nghttp = pytest.mark.skipif(shutil.which("nghttp") is None, reason="nghttp2-client")


def _serve(tmp: Path, *args: str) -> Server:
    port = free_port()
    server = Server([APP, "--workers", "1", *args, "--bind", f"127.0.0.1:{port}"], tmp, port=port)
    server.wait_ready()
    return server


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server on a plain port, shared by the tests that only read from it."""
    server = _serve(tmp_path_factory.mktemp("h2c"))
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """One server on a TLS port, and the CA file its certificate is signed by."""
    folder = tmp_path_factory.mktemp("h2tls")
    certfile, cafile = tls_files(folder)
    server = _serve(folder, "--certfile", certfile)
    yield server, cafile
    server.cleanup()


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "-sS", "--max-time", "20", *args], capture_output=True, text=True, timeout=30
    )


def access_lines(server: Server) -> list[str]:
    return server.out_path.read_text(errors="replace").splitlines()


# -- entry ---------------------------------------------------------------------------------


def test_curl_with_prior_knowledge_speaks_h2c_and_is_logged_as_http2(plain):
    result = curl("--http2-prior-knowledge", "-w", " %{http_version}", plain.url("/?h2c"))
    assert result.stdout == "hello 2 2"
    wait_for(
        lambda: any('"GET /?h2c HTTP/2" 200' in line for line in access_lines(plain)),
        10,
        what="the access-log line",
    )


def test_http11_is_still_served_on_a_port_that_speaks_h2c(plain):
    result = curl("--http1.1", "-w", " %{http_version}", plain.url("/"))
    assert result.stdout == "hello 1.1 1.1"


def test_curl_over_tls_gets_http2_by_alpn(tls):
    server, cafile = tls
    url = f"https://127.0.0.1:{server.port}/"
    assert curl("--http2", "--cacert", cafile, "-w", " %{http_version}", url).stdout == (
        "hello 2 2"
    )
    # a client that offers only http/1.1 gets it
    assert curl("--http1.1", "--cacert", cafile, "-w", " %{http_version}", url).stdout == (
        "hello 1.1 1.1"
    )


def test_http2_off_answers_http11_only(tmp_path):
    server = _serve(tmp_path, "--no-http2")
    try:
        result = curl("--http2-prior-knowledge", server.url("/"))
        assert result.returncode != 0  # the preface is a bad HTTP/1.1 request: 4xx and close
        assert curl("-w", " %{http_version}", server.url("/")).stdout == "hello 1.1 1.1"
    finally:
        server.cleanup()


def test_upgrade_h2c_is_taken_only_when_enabled_and_only_without_a_body(plain, tmp_path):
    # by default the Upgrade header is ignored
    assert curl("--http2", "-w", " %{http_version}", plain.url("/")).stdout == "hello 1.1 1.1"
    server = _serve(tmp_path, "--http2-upgrade")
    try:
        upgraded = curl("--http2", "-w", " %{http_version}", server.url("/"))
        assert upgraded.stdout == "hello 2 2"
        # a request with a body is served over HTTP/1.1, as if it had not asked
        posted = curl(
            "--http2", "--data-binary", "abc", "-w", " %{http_version}", server.url("/echo")
        )
        assert posted.stdout == "abc 1.1"
    finally:
        server.cleanup()


# -- the ASGI mapping ----------------------------------------------------------------------


def test_the_scope_of_an_http2_request(tls):
    server, cafile = tls
    url = f"https://127.0.0.1:{server.port}/scope?a=1"
    with httpx.Client(http2=True, verify=client_tls(cafile)) as client:
        # two cookie fields, as browsers send them over HTTP/2, reach the app as one
        response = client.get(url, headers=[("cookie", "a=1"), ("cookie", "b=2")])
    assert response.http_version == "HTTP/2"
    scope = response.json()
    assert scope["http_version"] == "2"
    assert scope["scheme"] == "https"
    assert (scope["method"], scope["path"], scope["query_string"]) == ("GET", "/scope", "a=1")
    headers = dict(scope["headers"])
    assert headers["host"] == f"127.0.0.1:{server.port}"  # from :authority
    assert headers["cookie"] == "a=1; b=2"
    assert "tls" in scope["extensions"]
    assert "http.response.trailers" in scope["extensions"]


def test_many_concurrent_requests_with_bodies_share_one_connection(tls):
    server, cafile = tls
    url = f"https://127.0.0.1:{server.port}/echo"

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(http2=True, verify=client_tls(cafile)) as client:
            bodies = [bytes([i]) * (i * 3000) for i in range(40)]
            responses = await asyncio.gather(*(client.post(url, content=b) for b in bodies))
            return [r for r, b in zip(responses, bodies, strict=True) if r.content != b]

    assert asyncio.run(asyncio.wait_for(run(), 30)) == []


def test_an_app_that_fails_before_its_body_gets_a_500_after_it_a_reset(tls):
    server, cafile = tls
    base = f"https://127.0.0.1:{server.port}"
    with httpx.Client(http2=True, verify=client_tls(cafile)) as client:
        assert client.get(base + "/raise").status_code == 500
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(base + "/raise-after-body")
        # the connection lives on: the reset ended one stream only
        assert client.get(base + "/").text == "hello 2"


def test_trailers_early_hints_and_pathsend_over_http2(plain, tmp_path):
    trailers = curl("--http2-prior-knowledge", "-v", plain.url("/trailers"))
    assert "x-checksum: abc" in trailers.stderr and trailers.stdout == "body"
    hinted = curl("--http2-prior-knowledge", "-v", plain.url("/early-hint"))
    assert "< HTTP/2 103" in hinted.stderr and "link: </a.css>; rel=preload" in hinted.stderr
    data = bytes(range(256)) * 4096 + b"end"  # 1 MiB and a bit: several windows' worth
    path = tmp_path / "file.bin"
    path.write_bytes(data)
    sent = subprocess.run(
        ["curl", "-sS", "--http2-prior-knowledge", plain.url(f"/file?path={path}")],
        capture_output=True,
        timeout=30,
    )
    assert sent.stdout == data
    head = curl("--http2-prior-knowledge", "-I", plain.url(f"/file?path={path}"))
    assert f"content-length: {len(data)}" in head.stdout


def test_expect_100_continue_and_a_large_upload(plain, tmp_path):
    data = b"u" * (3 * 1024 * 1024)
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    result = subprocess.run(
        [
            "curl",
            "-sS",
            "--http2-prior-knowledge",
            "-H",
            "Expect: 100-continue",
            "--data-binary",
            f"@{path}",
            plain.url("/echo"),
        ],
        capture_output=True,
        timeout=30,
    )
    assert result.stdout == data


@needs_nghttp
def test_nghttp_gets_parallel_streams_of_different_sizes(plain):
    result = subprocess.run(
        [
            "nghttp",
            "-n",
            "-s",
            plain.url("/stream?parts=16&size=65536"),
            plain.url("/"),
            plain.url("/echo"),
            plain.url("/stream?parts=3&size=1024"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    sizes = {line.split()[-1]: line.split()[-2] for line in result.stdout.splitlines()[-4:]}
    assert sizes == {
        "/stream?parts=16&size=65536": "1M",
        "/": "7",
        "/echo": "0",
        "/stream?parts=3&size=1024": "3K",
    }, result.stdout


def test_limit_concurrency_answers_503_on_the_stream(tmp_path):
    server = _serve(tmp_path, "--limit-concurrency", "1")
    try:

        async def run() -> tuple[int, str | None, int]:
            async with httpx.AsyncClient(http2=True, http1=False) as client:
                slow = asyncio.ensure_future(client.get(server.url("/sleep?s=2")))
                await asyncio.sleep(0.5)
                refused = await client.get(server.url("/"))
                return (
                    refused.status_code,
                    refused.headers.get("retry-after"),
                    (await slow).status_code,
                )

        assert asyncio.run(asyncio.wait_for(run(), 20)) == (503, "1", 200)
        wait_for(
            lambda: any('"GET / HTTP/2" 503' in line for line in access_lines(server)),
            10,
            what="the 503's access line",
        )
    finally:
        server.cleanup()


def test_json_access_log_shows_the_protocol(tmp_path):
    server = _serve(tmp_path, "--log-format", "json")
    try:
        assert curl("--http2-prior-knowledge", server.url("/")).stdout == "hello 2"
        line = wait_for(
            lambda: next((x for x in access_lines(server) if "{" in x), None),
            10,
            what="a JSON access line",
        )
        assert json.loads(line[line.index("{") :])["protocol"] == "HTTP/2"
    finally:
        server.cleanup()
