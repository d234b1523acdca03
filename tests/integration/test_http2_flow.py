"""HTTP/2 flow control and stream lifetimes through a real socket: an app that does not read
stalls only its own stream, memory stays bounded by the settings when the client or the apps do
not read, and a stream the client resets has its app cancelled."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import h2.events
import pytest

from tests.conftest import Server, free_port, wait_for
from tests.integration.h2socket import FrameReader, H2Socket, rst_stream

pytestmark = pytest.mark.timeout(90)
APP = "tests.apps.h2:app"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = free_port()
    server = Server(
        [APP, "--workers", "1", "--no-access-log", "--bind", f"127.0.0.1:{port}"],
        tmp_path_factory.mktemp("h2flow"),
        port=port,
    )
    server.wait_ready()
    yield server
    server.cleanup()


def get(port: int, path: str) -> bytes:
    client = H2Socket(port)
    try:
        stream_id = client.request(path)
        client.read_until(lambda c: c.ended(stream_id))
        return client.body(stream_id)
    finally:
        client.close()


def rss_kib(server: Server) -> int:
    return int(get(server.port, "/rss"))


def test_an_app_that_does_not_read_stalls_only_its_own_stream(server, tmp_path):
    client = H2Socket(server.port)
    record = tmp_path / "held"
    held = client.request(f"/stall?file={record}", method="POST", end_stream=False)
    # as much body as the stream's window lets the client send, which the app never reads
    window = client.conn.local_flow_control_window(held)
    client.send_body(held, b"b" * window)
    wait_for(lambda: record.exists(), 10, what="the app to start")
    # the window stays shut (the app has not read), yet the connection's is reopened on
    # receipt: another stream on the same connection is answered
    other = client.request("/echo", method="POST", body=b"x" * 200_000)
    client.read_until(lambda c: c.ended(other), timeout=20)
    assert client.body(other) == b"x" * 200_000
    assert client.conn.local_flow_control_window(held) == 0
    client.close()


def test_a_hundred_streams_whose_apps_never_read_hold_at_most_their_windows(server, tmp_path):
    before = rss_kib(server)
    client = H2Socket(server.port)
    left = {
        client.request(f"/stall?file={tmp_path / str(n)}", method="POST", end_stream=False): MIB
        for n in range(100)
    }
    # each stream pushes 1 MiB as fast as the windows let it, until they stay shut
    frame = client.conn.max_outbound_frame_size
    idle_rounds = 0
    while any(left.values()) and idle_rounds < 3:
        progress = 0
        for stream_id, size in left.items():
            window = min(client.conn.local_flow_control_window(stream_id), size, frame)
            if window:
                client.conn.send_data(stream_id, b"b" * window)
                left[stream_id] -= window
                progress += window
        client.flush()
        client.read_once(timeout=0.5)  # WINDOW_UPDATEs, if the server sends any
        idle_rounds = 0 if progress else idle_rounds + 1
    sent = 100 * MIB - sum(left.values())
    wait_for(lambda: len(list(tmp_path.iterdir())) == 100, 20, what="100 apps started")
    grown = rss_kib(server) - before
    print(f"request body taken {sent // 1024} KiB of 100 MiB, worker RSS grew {grown} KiB")
    # 100 x the 64 KiB initial window is 6.25 MiB; the rest never left the client
    assert sent <= 100 * 65535
    assert grown < 24 * 1024
    client.close()


def test_a_client_that_never_reads_gets_its_responses_held_back_not_buffered(server):
    before = rss_kib(server)
    # windows as large as HTTP/2 allows: only TCP and our write buffer hold the server back
    client = H2Socket(server.port, window=2**31 - 1)
    client.conn.increment_flow_control_window(2**31 - 1 - 65535)
    client.flush()
    for _ in range(100):
        client.request("/stream?parts=16&size=65536")  # 1 MiB each, 100 MiB in all
    # reading nothing for a while (an unbounded server would have buffered all of it by
    # then): the apps wait in send, the worker's memory stays put
    time.sleep(3)
    grown = max(rss_kib(server) - before for _ in range(3))
    print(f"worker RSS grew {grown} KiB with 100 MiB of responses unread")
    # measured: under 0.6 MiB; 6-16 MiB (and at times all 100 MiB) when the apps' parts of
    # one turn were written only at its end, past the transport's high water mark
    assert grown < 4 * 1024
    # once the client reads, everything arrives
    client.read_until(lambda c: len(c.saw(h2.events.StreamEnded)) == 100, timeout=60)
    assert {len(client.body(e.stream_id)) for e in client.saw(h2.events.StreamEnded)} == {MIB}
    client.close()


def test_a_stream_the_client_resets_has_its_app_cancelled(server, tmp_path):
    record = tmp_path / "record"
    client = H2Socket(server.port)
    stream_id = client.request(f"/hold?file={record}")
    wait_for(lambda: record.exists(), 10, what="the app to start")
    client.send_raw(rst_stream(stream_id))
    wait_for(lambda: record.read_text() == "cancelled", 10, what="the app to be cancelled")
    # the connection goes on
    other = client.request("/")
    client.read_until(lambda c: c.ended(other))
    assert client.body(other) == b"hello 2"
    client.close()


def test_a_connection_that_goes_away_disconnects_its_apps(server, tmp_path):
    record = tmp_path / "record"
    client = H2Socket(server.port)
    client.request(f"/hold?file={record}")
    wait_for(lambda: record.exists(), 10, what="the app to start")
    client.close()
    wait_for(lambda: record.read_text() == "disconnected", 10, what="http.disconnect")


def test_body_beyond_limit_request_body_is_413_on_its_stream(tmp_path: Path):
    port = free_port()
    server = Server(
        [APP, "--workers", "1", "--limit-request-body", "1000", "--bind", f"127.0.0.1:{port}"],
        tmp_path,
        port=port,
    )
    try:
        server.wait_ready()
        client = H2Socket(port)
        declared = client.request(
            "/echo", method="POST", body=b"x" * 2000, headers=[(b"content-length", b"2000")]
        )
        streamed = client.request("/echo", method="POST", body=b"y" * 2000)
        client.read_until(lambda c: c.status(declared) and c.status(streamed))
        assert (client.status(declared), client.status(streamed)) == (413, 413)
        ok = client.request("/echo", method="POST", body=b"z" * 1000)
        client.read_until(lambda c: c.ended(ok))
        assert client.body(ok) == b"z" * 1000
        client.close()
        # each answer has its access line: the refused head's, the cut-off body's, the echo's
        wait_for(lambda: server.out_path.read_text().count("HTTP/2") == 3, 10, what="3 lines")
        lines = server.out_path.read_text()
        assert '"- - HTTP/2" 413' in lines
        assert '"POST /echo HTTP/2" 413' in lines
        assert '"POST /echo HTTP/2" 200 1000' in lines
    finally:
        server.cleanup()


def test_a_client_that_half_closes_still_gets_its_responses(server):
    client = FrameReader(server.port)
    client.request(1, "/sleep?s=1")
    client.sock.shutdown(socket.SHUT_WR)  # nothing more to send, answers still wanted
    client.read_until(lambda c: c.closed, timeout=20)
    assert client.body(1) == b"slept"
