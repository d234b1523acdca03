"""The PROXY protocol with a real HAProxy in front (``send-proxy``, ``send-proxy-v2``, TLS passed
through, TLS ended by HAProxy with its TLVs, v2 LOCAL health checks), and raw sockets for what a
proxy would not send: untrusted peers, malformed and missing headers, a header that never
completes, a TLS ClientHello in the same packet as the header. Clients connect from 127.0.0.2,
so the address the header carries differs from the proxy's own (127.0.0.1)."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import ssl
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, free_port, wait_for

trustme = pytest.importorskip("trustme")
pytestmark = pytest.mark.timeout(60)

APP = "tests.apps.proxied:app"
HAPROXY = shutil.which("haproxy") or (
    "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
)
CLIENT_HOST = "127.0.0.2"
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def request(path: str = "/", host: str = "localhost") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()


def read_all(sock: socket.socket) -> bytes:
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while True:
            data = sock.recv(65536)
            if not data:
                break
            received += data
    return received


def report_of(response: bytes) -> dict:
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), response[:200]
    if b"transfer-encoding: chunked" in head.lower():
        size, _, rest = body.partition(b"\r\n")
        body = rest[: int(size, 16)]
    return json.loads(body)


def from_client(port: int) -> socket.socket:
    """A connection from CLIENT_HOST, as a client elsewhere than the proxy."""
    sock = socket.socket()
    sock.settimeout(10)
    sock.bind((CLIENT_HOST, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def v2_header(client: tuple[str, int], server: tuple[str, int], tlvs: bytes = b"") -> bytes:
    addresses = socket.inet_aton(client[0]) + socket.inet_aton(server[0])
    addresses += struct.pack("!HH", client[1], server[1])
    return (
        V2_SIGNATURE
        + b"\x21\x11"
        + struct.pack("!H", len(addresses) + len(tlvs))
        + addresses
        + tlvs
    )


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """(server certificate and key PEM, CA PEM) for 127.0.0.1 and localhost."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, cafile = tmp_path / "server.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    ca.cert_pem.write_to_path(str(cafile))
    return certfile, cafile


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator:
    """``haproxy(config) -> None``: HAProxy in the foreground with that configuration, stopped
    by its PID at the end of the test."""
    if HAPROXY is None:
        pytest.skip("haproxy is not installed (Debian package haproxy)")
    processes: list[subprocess.Popen[bytes]] = []

    def start(config: str, *ports: int) -> None:
        path = tmp_path / f"haproxy-{len(processes)}.cfg"
        path.write_text(
            "global\n    maxconn 256\n"
            "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n"
            "    timeout server 30s\n" + config
        )
        log = open(tmp_path / f"haproxy-{len(processes)}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen([HAPROXY, "-db", "-f", str(path)], stdout=log, stderr=log)
        processes.append(process)

        def listening() -> bool:
            if process.poll() is not None:
                raise AssertionError((tmp_path / f"haproxy-{len(processes) - 1}.log").read_text())
            for port in ports:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                except OSError:
                    return False
            return True

        wait_for(listening, 15, what="haproxy listening")

    yield start
    for process in processes:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def serve(start_server, *extra: str) -> Server:
    server = start_server(APP, "--workers", "1", "--proxy-protocol", *extra)
    server.wait_ready()
    return server


def relay(backend_port: int, front: int, server_options: str, bind_options: str = "") -> str:
    return (
        f"frontend front\n    bind 127.0.0.1:{front} {bind_options}\n    default_backend app\n"
        f"backend app\n    server app 127.0.0.1:{backend_port} {server_options}\n"
    )


# -- HAProxy in front -------------------------------------------------------------------------


@pytest.mark.parametrize(("option", "version"), [("send-proxy", 1), ("send-proxy-v2", 2)])
def test_haproxy_send_proxy_gives_the_client_address_to_the_scope_and_the_access_log(
    start_server, haproxy, option, version
):
    server = serve(start_server)
    front = free_port()
    haproxy(relay(server.port, front, option), front)
    with from_client(front) as sock:
        local = sock.getsockname()
        sock.sendall(request("/who"))
        report = report_of(read_all(sock))
    assert report["client"] == [CLIENT_HOST, local[1]]
    assert report["server"] == ["127.0.0.1", front]
    assert report["scheme"] == "http"
    told = report["proxy_protocol"]
    assert told["version"] == version and told["command"] == "PROXY"
    assert told["proxy"][0] == "127.0.0.1"  # HAProxy's own connection
    wait_for(lambda: f'{CLIENT_HOST} - "GET /who' in server.out_path.read_text(), 5, what="log")


def test_tls_passed_through_haproxy_starts_after_the_header(start_server, haproxy, certificate):
    certfile, cafile = certificate
    server = serve(start_server, "--certfile", str(certfile))
    front = free_port()
    haproxy(relay(server.port, front, "send-proxy-v2"), front)
    context = ssl.create_default_context(cafile=str(cafile))
    with from_client(front) as raw, context.wrap_socket(raw, server_hostname="localhost") as sock:
        local = sock.getsockname()
        sock.sendall(request("/tls"))
        report = report_of(read_all(sock))
    assert report["client"] == [CLIENT_HOST, local[1]]
    assert report["scheme"] == "https"
    assert report["tls"] is True  # our own TLS: the tls extension


def test_tls_ended_by_haproxy_is_told_in_v2_tlvs(start_server, haproxy, certificate):
    certfile, cafile = certificate
    server = serve(start_server)
    front = free_port()
    haproxy(
        relay(
            server.port,
            front,
            "send-proxy-v2 proxy-v2-options ssl,ssl-cipher,authority,unique-id,crc32c",
            f"ssl crt {certfile} alpn http/1.1\n    unique-id-format %{{+X}}o\\ %ci:%cp_%Ts",
        ),
        front,
    )
    context = ssl.create_default_context(cafile=str(cafile))
    context.set_alpn_protocols(["http/1.1"])
    with from_client(front) as raw, context.wrap_socket(raw, server_hostname="localhost") as sock:
        sock.sendall(request("/ended"))
        report = report_of(read_all(sock))
    assert report["client"][0] == CLIENT_HOST
    assert report["scheme"] == "https"  # from the SSL TLV: the client spoke TLS to the proxy
    assert report["tls"] is False  # not ours
    told = report["proxy_protocol"]
    assert told["tls"] is True
    assert told["tls_version"].startswith("TLSv1.")
    assert told["tls_cipher"]
    assert told["alpn"] == "http/1.1"
    assert told["authority"] == "localhost"
    assert told["unique_id"]  # CRC32C was checked too: a mismatch would have closed it


def test_haproxy_health_checks_with_v2_local_reach_the_app_with_the_real_addresses(
    start_server, haproxy
):
    server = serve(start_server)
    front = free_port()
    haproxy(
        "frontend front\n"
        f"    bind 127.0.0.1:{front}\n    default_backend app\n"
        "backend app\n    option httpchk GET /health-check\n"
        f"    server app 127.0.0.1:{server.port} send-proxy-v2 check check-send-proxy inter 1s\n",
        front,
    )
    wait_for(lambda: "LOCAL connection for /health-check" in server.log, 15, what="a LOCAL check")
    wait_for(lambda: '127.0.0.1 - "GET /health-check' in server.out_path.read_text(), 5, what="log")


# -- raw sockets ------------------------------------------------------------------------------


def test_a_peer_not_in_forwarded_allow_ips_is_closed_with_one_log_line(start_server):
    server = serve(start_server, "--forwarded-allow-ips", "10.0.0.1")
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            with contextlib.suppress(OSError):
                sock.sendall(b"PROXY TCP4 203.0.113.1 198.51.100.1 1000 80\r\n" + request())
            assert read_all(sock) == b""
    wait_for(lambda: "not in forwarded_allow_ips" in server.log, 5, what="the refusal logged")
    assert server.log.count("not in forwarded_allow_ips") == 1
    assert "GET /" not in server.out_path.read_text()


@pytest.mark.parametrize(
    "opening",
    [
        request(),  # no header at all: a plain HTTP request
        b"PROXY TCP4 203.0.113.1 198.51.100.1 1000\r\n",  # a field missing
        b"PROXY TCP4 203.0.113.001 198.51.100.1 1000 80\r\n",  # a leading zero
        b"PROXY TCP4 203.0.113.1 198.51.100.1 1000 80\n",  # LF without CR
        b"PROXY TCP5 203.0.113.1 198.51.100.1 1000 80\r\n",
        V2_SIGNATURE + b"\x31\x11\x00\x0c" + b"\x00" * 12,  # version 3
        V2_SIGNATURE + b"\x21\x11\x00\x04" + b"\x00" * 4,  # address block too short
        b"PROXY " + b"X" * 120,  # no CRLF within 107 bytes
    ],
    ids=["missing", "short", "leading-zero", "bare-lf", "protocol", "version", "short-v2", "long"],
)
def test_a_malformed_or_missing_header_closes_without_reaching_the_app(start_server, opening):
    server = serve(start_server)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(opening + request("/never"))
        assert read_all(sock) == b""
    wait_for(lambda: "PROXY protocol: closing the connection" in server.log, 5, what="log")
    assert "/never" not in server.out_path.read_text()


def test_a_header_that_never_completes_is_closed_after_the_header_timeout(start_server):
    server = serve(start_server, "--request-header-timeout", "2")
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(b"PROXY TCP4 203.0.1")
        began = time.monotonic()
        assert read_all(sock) == b""
        assert time.monotonic() - began < 10
    assert "no complete PROXY header within 2s" in server.log


def test_a_header_sent_byte_by_byte_is_read_whole(start_server):
    server = serve(start_server)
    header = v2_header(("203.0.113.5", 4321), ("198.51.100.2", 443))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in header:
            sock.sendall(bytes([byte]))
        sock.sendall(request("/slowly"))
        report = report_of(read_all(sock))
    assert report["client"] == ["203.0.113.5", 4321]
    assert report["server"] == ["198.51.100.2", 443]


def test_a_tls_client_hello_in_the_same_packet_as_the_header_is_not_lost(start_server, certificate):
    certfile, cafile = certificate
    server = serve(start_server, "--certfile", str(certfile))
    context = ssl.create_default_context(cafile=str(cafile))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        with contextlib.suppress(ssl.SSLWantReadError):
            tls.do_handshake()
        # one write: the header and the ClientHello after it
        sock.sendall(v2_header(("203.0.113.6", 5555), ("198.51.100.3", 443)) + outgoing.read())
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                pending = outgoing.read()
                if pending:
                    sock.sendall(pending)
                data = sock.recv(65536)
                assert data, "closed during the handshake"
                incoming.write(data)
        sock.sendall(outgoing.read())
        tls.write(request("/hello-in-one"))
        sock.sendall(outgoing.read())
        response = b""
        while True:
            try:
                chunk = tls.read(65536)
            except ssl.SSLWantReadError:
                data = sock.recv(65536)
                if not data:
                    break
                incoming.write(data)
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
            else:
                if not chunk:
                    break  # the server's close_notify
                response += chunk
    report = report_of(response)
    assert report["client"] == ["203.0.113.6", 5555]
    assert report["scheme"] == "https"


def test_v1_unknown_keeps_the_connections_own_addresses(start_server):
    server = serve(start_server)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        local = sock.getsockname()
        sock.sendall(b"PROXY UNKNOWN ignored stuff\r\n" + request("/unknown"))
        report = report_of(read_all(sock))
    assert report["client"] == ["127.0.0.1", local[1]]
    assert report["proxy_protocol"]["command"] == "LOCAL"


def test_a_websocket_behind_the_header_gets_its_addresses(start_server):
    server = serve(start_server)
    upgrade = (
        b"GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    header = b"PROXY TCP6 2001:db8::9 2001:db8::1 6000 443\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(header + upgrade)
        received = b""
        while b"\r\n\r\n" not in received or len(received.partition(b"\r\n\r\n")[2]) < 2:
            received += sock.recv(65536)
        head, _, frames = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101")
        while len(frames) < 4:
            frames += sock.recv(65536)
        assert frames[0] == 0x81  # one final text frame, unmasked
        length, start = frames[1] & 0x7F, 2
        if length == 126:
            length, start = struct.unpack_from("!H", frames, 2)[0], 4
        while len(frames) < start + length:
            frames += sock.recv(65536)
    report = json.loads(frames[start : start + length])
    assert report["client"] == ["2001:db8::9", 6000]
    assert report["scheme"] == "ws"
