"""A worker told to stop gracefully while it still boots (a reload replacing a worker that is not
ready yet, a TERM at start) finishes booting and ends like every worker: lifespan shutdown, the
worker_exit hook, exit 0, instead of dying by the signal."""

from __future__ import annotations

import signal

import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.timeout(60)

APP = """
import os, pathlib, time

MARKS = pathlib.Path(os.environ["BOOT_MARKS"])


def mark(text):
    with MARKS.open("a") as fh:
        fh.write(text + "\\n")


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                mark("startup begins")
                time.sleep(3)  # a slow start (a database connection): the TERM comes now
                mark("startup ends")
            else:
                mark("shutdown")
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def worker_exit(server, worker):
    mark("worker_exit")
"""


def test_a_term_while_the_worker_boots_still_ends_it_through_shutdown_and_worker_exit(
    start_server, tmp_path
):
    (tmp_path / "slowboot.py").write_text(APP)
    marks = tmp_path / "marks"
    server = start_server(
        "slowboot:app",
        "--app-dir",
        str(tmp_path),
        "--workers",
        "1",
        "--worker-exit",
        "slowboot:worker_exit",
        env={"BOOT_MARKS": str(marks)},
    )
    wait_for(
        lambda: marks.exists() and "startup begins" in marks.read_text(),
        timeout=20,
        what="the worker to begin its startup",
    )
    server.signal(signal.SIGTERM)
    assert server.wait_exit(timeout=40) == 0
    assert marks.read_text().splitlines() == [
        "startup begins",
        "startup ends",
        "shutdown",
        "worker_exit",
    ]
    assert "told to stop (SIGTERM) while it booted" in server.log
