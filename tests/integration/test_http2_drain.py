"""HTTP/2 through reloads and stops of a real server: the RFC 9113 6.8 drain (a GOAWAY naming
the largest stream id, a PING, then the GOAWAY naming the last stream taken) lets streams in
flight finish, and h2load sees no failed stream through SIGHUPs."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import threading
import time

import pytest
from hyperframe import frame as hf

from tests.conftest import wait_for
from tests.integration.h2socket import FrameReader

pytestmark = pytest.mark.timeout(120)
APP = "tests.apps.h2:app"
MAX_STREAM_ID = 2**31 - 1


def test_a_worker_drain_sends_two_goaways_and_lets_the_stream_in_flight_finish(start_server):
    server = start_server(APP, "--workers", "1", "--graceful-timeout", "20")
    server.wait_ready()
    client = FrameReader(server.port)
    client.request(1, "/sleep?s=2")
    client.read_until(lambda c: c.of(hf.SettingsFrame))
    time.sleep(0.5)  # the request is in the app
    server.signal(signal.SIGTERM)
    client.read_until(lambda c: len(c.of(hf.GoAwayFrame)) == 2)
    first, last = client.of(hf.GoAwayFrame)
    assert (first.last_stream_id, first.error_code) == (MAX_STREAM_ID, 0)
    assert (last.last_stream_id, last.error_code) == (1, 0)
    # the PING between them, which the client answered
    kinds = [type(f) for f in client.frames]
    assert kinds.index(hf.PingFrame) > kinds.index(hf.GoAwayFrame)
    client.read_until(lambda c: c.closed)
    data = b"".join(f.data for f in client.of(hf.DataFrame) if f.stream_id == 1)
    assert data == b"slept"
    assert server.wait_exit(30) == 0


@pytest.mark.skipif(shutil.which("h2load") is None, reason="h2load (nghttp2-client)")
def test_h2load_sees_no_failed_stream_through_two_reloads(start_server):
    server = start_server(APP, "--workers", "2", "--no-access-log", "--graceful-timeout", "10")
    server.wait_ready(workers=2)

    def reload_twice() -> None:
        for count in (1, 2):
            time.sleep(1.5)
            server.signal(signal.SIGHUP)
            wait_for(lambda c=count: server.log.count("Reload complete") >= c, 30, what="reload")

    reloads = threading.Thread(target=reload_twice)
    reloads.start()
    # h2load opens no new connection after a GOAWAY and counts the requests it could not
    # send as failed: so each of its clients sends all its requests at once (-m = n / c),
    # and new clients connect at a steady rate (-r) for the whole time of the reloads
    result = subprocess.run(
        [
            "h2load",
            "-c",
            "800",
            "-r",
            "4",
            "--rate-period",
            "50ms",
            "-n",
            "6400",
            "-m",
            "8",
            server.url("/"),
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    reloads.join(60)
    print(result.stdout[-600:])
    assert server.log.count("Reload complete") >= 2
    counts = re.search(r"requests: (\d+) total.*?(\d+) succeeded, (\d+) failed", result.stdout)
    assert counts is not None, result.stdout + result.stderr
    total, succeeded, failed = map(int, counts.groups())
    assert (total, succeeded, failed) == (6400, 6400, 0)
    assert "status codes: 6400 2xx" in result.stdout
