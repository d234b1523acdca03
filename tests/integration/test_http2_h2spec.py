"""The h2spec conformance suite (../shared/tools/h2spec, 146 cases of RFC 7540/7541) against a
real server: over TLS and on a plain port set to speak HTTP/2 alone (``http2_only``) every case
passes. On a plain port that also speaks HTTP/1.1, every case but one passes, and that one
(3.5/2, an invalid preface) gets HTTP/1.1's answer to a request line that is not HTTP/1.x: a
400, which h2spec reads as a broken frame (docs/http.md)."""

from __future__ import annotations

import socket

import pytest

from tests.h2spec import h2spec_binary, run_h2spec
from tests.integration.h2socket import tls_files

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(h2spec_binary() is None, reason="h2spec is in ../shared/tools/h2spec"),
]
APP = "tests.apps.h2:app"
#: the one case a port that also speaks HTTP/1.1 answers in HTTP/1.1 (see the module docstring)
MIXED_PORT_CASE = "http2/3.5/2"
#: a route whose app reads the whole request body before it answers (tests/h2spec.py says why)
READ = "/read"


def test_h2spec_over_tls_passes_every_case(start_server, tmp_path):
    certfile, _ = tls_files(tmp_path)
    server = start_server(APP, "--workers", "1", "--no-access-log", "--certfile", certfile)
    server.wait_ready()
    report = run_h2spec(server.port, tls=True, path=READ)
    print(report.summary())
    assert report.failed == [], report.describe_failures()
    assert len(report.passed) == 146


def test_h2spec_on_an_http2_only_plain_port_passes_every_case(start_server):
    server = start_server(APP, "--workers", "1", "--no-access-log", "--http2-only")
    server.wait_ready()
    report = run_h2spec(server.port, path=READ)
    print(report.summary())
    assert report.failed == [], report.describe_failures()
    assert len(report.passed) == 146


def test_on_a_port_that_also_speaks_http11_the_invalid_preface_is_an_http11_request(
    start_server,
):
    server = start_server(APP, "--workers", "1", "--no-access-log")
    server.wait_ready()
    # the rest of section 3.5 (and so the preface check) passes on this port too
    report = run_h2spec(server.port, path=READ, cases=["http2/3.5"])
    assert [c.id for c in report.failed] == [MIXED_PORT_CASE], report.describe_failures()
    assert len(report.passed) == 1
    # what that case sends, answered as the HTTP/1.1 request it might be
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"INVALID CONNECTION PREFACE\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400 ")
