"""WebSocket over HTTP/2 (RFC 8441) through a real server: an extended CONNECT with
``:protocol websocket`` from the h2 client and from headless Chromium, the WebSocket's limits
and its close codes on reload (1012) and stop (1001), as on HTTP/1.1."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
import time

import h2.events
import httpx
import psutil
import pytest
from wsproto.frame_protocol import CloseReason, FrameProtocol, Opcode

from tests.conftest import free_port, wait_for
from tests.integration.h2socket import FrameReader, H2Socket, tls_files

pytestmark = pytest.mark.timeout(90)
APP = "tests.apps.h2:app"
ENABLE_CONNECT_PROTOCOL = 0x8


class H2WebSocket:
    """A WebSocket client on one stream of an HTTP/2 connection (h2 for the stream, wsproto's
    frame layer for the frames)."""

    def __init__(self, client: H2Socket, path: str) -> None:
        self.client = client
        client.read_until(lambda c: c.saw(h2.events.RemoteSettingsChanged))
        self.stream_id = client.request(
            path,
            method="CONNECT",
            end_stream=False,
            extra_pseudo=[(b":protocol", b"websocket")],
            headers=[(b"sec-websocket-version", b"13")],
        )
        client.read_until(lambda c: c.status(self.stream_id) is not None)
        self.status = client.status(self.stream_id)
        self.frames = FrameProtocol(client=True, extensions=[])
        self._taken = 0

    def send(self, text: str) -> None:
        self.client.send_body(self.stream_id, self.frames.send_data(text, fin=True))

    def receive(self, timeout: float = 10.0) -> tuple[Opcode, object]:
        """The next frame from the server: (opcode, payload)."""
        deadline = time.monotonic() + timeout
        while True:
            body = self.client.body(self.stream_id)
            if len(body) > self._taken:
                self.frames.receive_bytes(body[self._taken :])
                self._taken = len(body)
            for frame in self.frames.received_frames():
                return frame.opcode, frame.payload
            if time.monotonic() > deadline:
                raise AssertionError(f"no frame; events: {self.client.events[-5:]}")
            self.client.read_once(max(deadline - time.monotonic(), 0.01))

    def answer_close(self, code: int) -> None:
        self.client.send_body(self.stream_id, self.frames.close(code, ""), end_stream=True)


def test_the_server_advertises_extended_connect_and_echoes_over_a_stream(start_server):
    server = start_server(APP, "--workers", "1")
    server.wait_ready()
    client = H2Socket(server.port)
    socket = H2WebSocket(client, "/ws")
    assert client.conn.remote_settings.get(ENABLE_CONNECT_PROTOCOL) == 1
    assert socket.status == 200
    socket.send("over one stream")
    assert socket.receive() == (Opcode.TEXT, "over one stream")
    # another request on the same connection, meanwhile
    other = client.request("/")
    client.read_until(lambda c: c.ended(other))
    assert client.body(other) == b"hello 2"
    client.send_body(socket.stream_id, socket.frames.close(1000, "done"))
    opcode, reason = socket.receive()
    assert opcode is Opcode.CLOSE and reason[0] == CloseReason.NORMAL_CLOSURE
    client.read_until(lambda c: c.ended(socket.stream_id))
    wait_for(
        lambda: '"GET /ws HTTP/2" 200' in server.out_path.read_text(),
        10,
        what="the WebSocket's access line",
    )
    client.close()


def test_a_denied_handshake_is_a_403_on_its_stream_and_the_connection_lives_on(start_server):
    server = start_server(APP, "--workers", "1")
    server.wait_ready()
    client = H2Socket(server.port)
    assert H2WebSocket(client, "/ws-deny").status == 403
    other = client.request("/")
    client.read_until(lambda c: c.ended(other))
    assert client.body(other) == b"hello 2"
    client.close()


def test_a_message_over_the_size_limit_closes_with_1009(start_server):
    server = start_server(APP, "--workers", "1", "--websocket-max-message-size", "1000")
    server.wait_ready()
    client = H2Socket(server.port)
    socket = H2WebSocket(client, "/ws")
    socket.send("x" * 2000)
    opcode, reason = socket.receive()
    assert opcode is Opcode.CLOSE and reason[0] == CloseReason.MESSAGE_TOO_BIG
    client.close()


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGHUP, 1012), (signal.SIGTERM, 1001)], ids=["reload", "stop"]
)
def test_a_drain_closes_websockets_over_http2_with_the_drains_code(
    start_server, tmp_path, signum, code
):
    server = start_server(APP, "--workers", "1", "--graceful-timeout", "15")
    server.wait_ready()
    record = tmp_path / "code"
    # frames by hand: the h2 client stops at the drain's first GOAWAY, the WebSocket does not
    client = FrameReader(server.port)
    client.request(
        1,
        f"/ws-close?file={record}",
        method="CONNECT",
        extra=[(":protocol", "websocket"), ("sec-websocket-version", "13")],
        end_stream=False,
    )
    frames = FrameProtocol(client=True, extensions=[])
    client.data(1, frames.send_data("ready?", fin=True))
    client.read_until(lambda c: b"ready?" in c.body(1))
    server.signal(signum)
    client.read_until(lambda c: len(c.body(1)) > 8 + len("ready?"), timeout=30)
    frames.receive_bytes(client.body(1))
    received = list(frames.received_frames())
    assert received[-1].opcode is Opcode.CLOSE and received[-1].payload[0] == code
    client.data(1, frames.close(code, ""), end_stream=True)
    wait_for(
        lambda: record.exists() and record.read_text(), 20, what="the app's websocket.disconnect"
    )
    assert record.read_text() == str(code)
    client.close()


@pytest.mark.skipif(
    shutil.which("chromium") is None or shutil.which("chromedriver") is None,
    reason="Debian chromium and chromium-driver",
)
def test_chromium_loads_a_page_over_h2_and_echoes_on_a_websocket_of_that_connection(
    start_server, tmp_path
):
    certfile, _ = tls_files(tmp_path)
    server = start_server(APP, "--workers", "1", "--certfile", certfile)
    server.wait_ready()
    port = free_port()
    driver = subprocess.Popen(
        ["chromedriver", f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(base + "/status"), 20, what="chromedriver")
        profile = tempfile.mkdtemp(dir=tmp_path)
        options = {
            "binary": shutil.which("chromium"),
            # the flags that work on this kind of machine (../.library/env/machines)
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--ignore-certificate-errors",
                f"--user-data-dir={profile}",
            ],
        }
        capabilities = {"browserName": "chrome", "goog:chromeOptions": options}
        session = httpx.post(
            base + "/session",
            json={"capabilities": {"alwaysMatch": capabilities}},
            timeout=60,
        ).json()["value"]["sessionId"]
        url = f"{base}/session/{session}"
        httpx.post(url + "/url", json={"url": f"https://127.0.0.1:{server.port}/page"}, timeout=60)
        title = wait_for(
            lambda: (t := httpx.get(url + "/title", timeout=10).json()["value"]) != "waiting" and t,
            30,
            what="the page's WebSocket echo",
        )
        protocol = httpx.post(
            url + "/execute/sync",
            json={
                "script": "return performance.getEntriesByType('navigation')[0].nextHopProtocol",
                "args": [],
            },
            timeout=10,
        ).json()["value"]
        httpx.delete(url, timeout=30)
    finally:
        # the browser processes are the driver's children: stopped by their PIDs too
        browsers = psutil.Process(driver.pid).children(recursive=True)
        driver.terminate()
        driver.wait(timeout=10)
        for browser in browsers:
            with contextlib.suppress(psutil.NoSuchProcess):
                browser.kill()
    assert title == "got: echo over h2"
    assert protocol == "h2"
    # the WebSocket went over the page's HTTP/2 connection: its line says HTTP/2
    wait_for(
        lambda: '"GET /ws HTTP/2" 200' in server.out_path.read_text(),
        10,
        what="the WebSocket's access line",
    )
    assert '"GET /page HTTP/2" 200' in server.out_path.read_text()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
