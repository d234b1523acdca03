"""WebSocket against real asgi-master processes, with the websockets client library (and raw
sockets where a client must misbehave): echo, limits, close codes, pings, drain codes."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from wsproto.connection import Connection, ConnectionType
from wsproto.events import CloseConnection, Ping, TextMessage

from tests.conftest import Server, free_port, wait_for, wait_until_stable

pytestmark = pytest.mark.timeout(120)
APP = "tests.apps.ws:app"
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for the tests that do not stop it: 2 MiB messages, a ping every second."""
    port = free_port()
    srv = Server(
        [
            APP,
            "--workers",
            "1",
            "--bind",
            f"127.0.0.1:{port}",
            "--websocket-max-message-size",
            "2MiB",
            "--websocket-ping-interval",
            "1",
            "--websocket-ping-timeout",
            "5",
        ],
        tmp_path_factory.mktemp("ws"),
        port=port,
    )
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.cleanup()


def ws_url(srv: Server, path: str = "/") -> str:
    return f"ws://127.0.0.1:{srv.port}{path}"


def open_ws(srv: Server, path: str = "/", **kwargs):
    return connect(ws_url(srv, path), open_timeout=20, close_timeout=20, **kwargs)


def raw_upgrade(
    port: int, path: str = "/", headers: bytes = b"", rcvbuf: int | None = None
) -> tuple[socket.socket, bytes, bytes]:
    """A client socket after the opening handshake: (socket, response head, bytes after it)."""
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(30)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        b"GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n"
        % (path.encode(), KEY, headers)
    )
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return sock, head, rest


def read_to_eof(sock: socket.socket, first: bytes = b"") -> bytes:
    chunks = [first]
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_text_and_binary_messages_are_echoed(server):
    with open_ws(server) as ws:
        ws.send("hello")
        assert ws.recv(timeout=20) == "hello"
        ws.send(b"\x00\xffbinary")
        assert ws.recv(timeout=20) == b"\x00\xffbinary"


@pytest.mark.parametrize("message", ["é" * 500_000, os.urandom(1_000_000)], ids=["text", "binary"])
def test_a_one_megabyte_message_comes_back_whole(server, message):
    with open_ws(server) as ws:
        ws.send(message)
        assert ws.recv(timeout=30) == message


def test_a_fragmented_message_reaches_the_app_as_one(server):
    with open_ws(server) as ws:
        ws.send(["frag", "men", "ted"])
        assert ws.recv(timeout=20) == "fragmented"
        ws.send([b"\x01" * 70_000, b"\x02" * 70_000])
        assert ws.recv(timeout=20) == b"\x01" * 70_000 + b"\x02" * 70_000


def test_the_app_chooses_a_subprotocol_from_the_clients_offer(server):
    with open_ws(server, "/subprotocol", subprotocols=["chat", "v2"]) as ws:
        assert ws.subprotocol == "v2"


def test_the_app_can_add_headers_to_the_101(server):
    with open_ws(server, "/headers") as ws:
        assert ws.response.status_code == 101
        assert ws.response.headers["x-session"] == "42"


def test_the_scope_is_a_websocket_scope(server):
    with open_ws(server, "/scope?x=1", subprotocols=["a", "b"]) as ws:
        scope = json.loads(ws.recv(timeout=20))
    assert scope == {
        "type": "websocket",
        "scheme": "ws",
        "path": "/scope",
        "query_string": "x=1",
        "subprotocols": ["a", "b"],
        "http_version": "1.1",
        "extensions": ["websocket.http.response"],
    }


def test_a_denial_response_has_the_apps_status_headers_and_body(server):
    with pytest.raises(InvalidStatus) as info:
        open_ws(server, "/deny-body")
    response = info.value.response
    assert response.status_code == 401
    assert response.headers["x-why"] == "no token"
    assert bytes(response.body) == b"go away"


def test_close_before_accept_is_a_403(server):
    with pytest.raises(InvalidStatus) as info:
        open_ws(server, "/deny")
    assert info.value.response.status_code == 403


def test_an_app_error_before_accept_is_a_500(server):
    with pytest.raises(InvalidStatus) as info:
        open_ws(server, "/raise")
    assert info.value.response.status_code == 500


def test_the_apps_close_code_and_reason_reach_the_client(server):
    with open_ws(server, "/close") as ws:
        ws.send("anything")
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=20)
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (4001, "bye")


def test_a_message_over_the_size_limit_is_closed_with_1009(server):
    with open_ws(server, max_size=None) as ws:
        ws.send(b"x" * (2 * 1024 * 1024))
        assert len(ws.recv(timeout=30)) == 2 * 1024 * 1024
        ws.send(b"x" * (2 * 1024 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=30)
    assert info.value.rcvd.code == 1009


def test_invalid_utf8_in_a_text_message_is_closed_with_1007(server):
    with open_ws(server) as ws:
        ws.send(b"valid \xff\xfe invalid", text=True)
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=20)
    assert info.value.rcvd.code == 1007


def test_a_protocol_error_is_closed_with_1002(server):
    sock, head, rest = raw_upgrade(server.port)
    with sock:
        assert head.startswith(b"HTTP/1.1 101 ")
        sock.sendall(bytes([0x81, 0x02]) + b"hi")  # a client frame must be masked
        client = Connection(ConnectionType.CLIENT)
        client.receive_data(read_to_eof(sock, rest))
        events = list(client.events())
    assert isinstance(events[0], CloseConnection) and events[0].code == 1002


def test_a_client_that_stops_answering_pings_is_closed_with_1011(server):
    started = time.monotonic()
    sock, head, rest = raw_upgrade(server.port)
    with sock:
        assert head.startswith(b"HTTP/1.1 101 ")
        data = read_to_eof(sock, rest)  # never answers: the server pings, waits, then closes
    client = Connection(ConnectionType.CLIENT)
    client.receive_data(data)
    events = list(client.events())
    assert isinstance(events[0], Ping)
    assert events[-1] == CloseConnection(1011, "keepalive ping timeout")
    assert time.monotonic() - started >= 5  # ping interval 1 s + ping timeout 5 s


def test_a_client_answering_pings_stays_connected(server):
    # the server pings every second and closes 5 s after a ping that is not answered: seven
    # answered pings outlast that, and the connection still echoes
    sock, head, rest = raw_upgrade(server.port)
    client = Connection(ConnectionType.CLIENT)
    client.receive_data(rest)
    pings = 0
    with sock:
        assert head.startswith(b"HTTP/1.1 101 ")
        while pings < 7:
            for event in client.events():
                assert isinstance(event, Ping), f"{event!r} before seven pings"
                pings += 1
                sock.sendall(client.send(event.response()))
            if pings < 7:
                data = sock.recv(65536)
                assert data, "the server closed a connection whose client answers its pings"
                client.receive_data(data)
        sock.sendall(client.send(TextMessage("still here")))
        echoed = None
        while echoed is None:
            client.receive_data(sock.recv(65536))
            for event in client.events():
                if isinstance(event, TextMessage):
                    echoed = event.data
                elif isinstance(event, Ping):
                    sock.sendall(client.send(event.response()))
    assert echoed == "still here"


def test_a_bad_upgrade_request_gets_400_from_the_http_layer(server):
    sock, head, _ = raw_upgrade(server.port, headers=b"Sec-WebSocket-Key: again\r\n")
    sock.close()
    assert head.startswith(b"HTTP/1.1 400 ")


def test_permessage_deflate_is_negotiated_when_the_client_offers_it(server):
    with open_ws(server) as ws:
        assert ws.response.headers["sec-websocket-extensions"].startswith("permessage-deflate")
        ws.send("squeeze " * 10_000)
        assert ws.recv(timeout=20) == "squeeze " * 10_000


def test_a_slow_reader_makes_the_apps_send_wait(server, tmp_path):
    progress = tmp_path / "sent"
    count = 2000  # 125 MiB: far more than socket buffers hold
    sock, head, rest = raw_upgrade(
        server.port, f"/flood?count={count}&file={quote(str(progress))}", rcvbuf=65536
    )
    with sock:
        assert head.startswith(b"HTTP/1.1 101 ")
        wait_for(progress.exists, timeout=20, what="the app to start sending")
        # without flow control the app would run through all its messages and settle there
        sent_while_not_reading = wait_until_stable(
            lambda: int(progress.read_text()), timeout=60, what="the app's progress"
        )
        assert sent_while_not_reading < count // 2
        received = len(rest)
        while received < count * 65536:
            chunk = sock.recv(1 << 20)
            assert chunk, "the server closed before sending everything"
            received += len(chunk)
    wait_for(lambda: progress.read_text() == str(count), timeout=20, what="all sent")


def test_each_session_is_one_access_log_line_with_101_and_its_duration(server):
    with open_ws(server, "/?log=me") as ws:
        ws.send("x")
        ws.recv(timeout=20)
    wait_for(
        lambda: '"GET /?log=me HTTP/1.1" 101 1 ' in server.out_path.read_text(),
        timeout=20,
        what="the access-log line",
    )


def test_the_access_log_format_applies_to_websocket_sessions(start_server):
    srv = start_server(APP, "--workers", "1", "--log-format", "json")
    srv.wait_ready()
    with open_ws(srv, "/json") as ws:
        ws.send("12345")
        ws.recv(timeout=20)

    def logged():
        for line in srv.out_path.read_text().splitlines():
            record = json.loads(line[line.index("{") :])
            if record["path"] == "/json":
                return record
        return None

    record = wait_for(logged, timeout=20, what="the access-log line")
    assert (record["method"], record["status"], record["bytes"]) == ("GET", 101, 5)


def test_a_session_counts_as_one_request_towards_max_requests(start_server):
    srv = start_server(APP, "--workers", "1", "--max-requests", "1")
    srv.wait_ready()
    with open_ws(srv) as ws:
        ws.send("one")
        assert ws.recv(timeout=20) == "one"
        ws.send("two")
        assert ws.recv(timeout=20) == "two"
        # the worker logs the retirement the moment it counts: two echoes after the accept,
        # a session counted at its start would have shown in the log by now
        assert "(max_requests)" not in srv.log  # counted when the session ends, not before
    wait_for(
        lambda: "served 1 requests (max_requests)" in srv.log,
        timeout=20,
        what="the worker to retire after one session",
    )


def test_permessage_deflate_can_be_turned_off(start_server):
    srv = start_server(APP, "--workers", "1", "--no-websocket-per-message-deflate")
    srv.wait_ready()
    with open_ws(srv) as ws:
        assert "sec-websocket-extensions" not in ws.response.headers
        ws.send("plain")
        assert ws.recv(timeout=20) == "plain"


def record_path(tmp_path: Path) -> tuple[Path, str]:
    target = tmp_path / "disconnect.json"
    return target, "/record?" + quote(str(target))


def test_a_worker_being_replaced_closes_its_websockets_with_1012(start_server, tmp_path):
    srv = start_server(APP, "--workers", "1")
    srv.wait_ready()
    target, path = record_path(tmp_path)
    with open_ws(srv, path) as ws:
        ws.send("ping")
        assert ws.recv(timeout=20) == "ping"
        [worker] = srv.workers()
        os.kill(worker.pid, signal.SIGHUP)  # what the master sends a worker it replaces
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=30)
    assert info.value.rcvd.code == 1012
    wait_for(target.exists, timeout=20, what="the app's disconnect")
    assert json.loads(target.read_text())["code"] == 1012


def test_a_server_shutdown_closes_websockets_with_1001(start_server, tmp_path):
    srv = start_server(APP, "--workers", "1")
    srv.wait_ready()
    target, path = record_path(tmp_path)
    with open_ws(srv, path) as ws:
        ws.send("ping")
        assert ws.recv(timeout=20) == "ping"
        srv.signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=30)
    assert info.value.rcvd.code == 1001
    assert srv.wait_exit(timeout=30) == 0
    assert json.loads(target.read_text())["code"] == 1001


def test_echo_over_tls(start_server, tmp_path):
    trustme = pytest.importorskip("trustme")
    import ssl

    ca = trustme.CA()
    certfile, cafile = tmp_path / "server.pem", tmp_path / "ca.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(certfile))
    ca.cert_pem.write_to_path(str(cafile))
    server = start_server("tests.apps.ws:app", "--workers", "1", "--certfile", str(certfile))
    server.wait_ready()
    context = ssl.create_default_context(cafile=str(cafile))
    with connect(f"wss://127.0.0.1:{server.port}/", ssl=context, open_timeout=10) as ws:
        ws.send("over tls")
        assert ws.recv(timeout=10) == "over tls"
        ws.send(b"\x00" * 100_000)
        assert ws.recv(timeout=10) == b"\x00" * 100_000
    with connect(f"wss://127.0.0.1:{server.port}/scope", ssl=context, open_timeout=10) as ws:
        scope = json.loads(ws.recv(timeout=10))
    assert scope["scheme"] == "wss"
    assert scope["extensions"] == ["tls", "websocket.http.response"]  # tls, as on HTTP
