"""Recycling decided by the master: worker lifetime and worker memory, new worker first."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_for
from tests.integration.load import LoadLoop

pytestmark = pytest.mark.timeout(120)

HOG_APP = """
import os
from tests.apps.lifespan import with_lifespan

_held = []

@with_lifespan
async def app(scope, receive, send):
    if scope["path"] == "/hog":
        _held.append(b"x" * (100 * 1024 * 1024))  # written, so resident and private
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"pid=%d" % os.getpid()})
"""


def test_max_worker_lifetime_recycles_workers_one_by_one_under_load(start_server):
    server = start_server(
        "tests.apps.basic:app",
        "--workers",
        "2",
        "--max-worker-lifetime",
        "3",
        "--max-worker-lifetime-jitter",
        "1",
    )
    server.wait_ready(workers=2)
    first = server.worker_pids()
    with LoadLoop(server.url("/")) as load:
        wait_for(
            lambda: server.log.count("max_worker_lifetime reached") >= 3,
            timeout=60,
            what="three lifetime recycles",
        )
    assert load.result.failures == []
    assert load.result.ok > 50
    wait_for(lambda: not first & server.worker_pids(), timeout=30, what="first workers gone")
    assert "will be recycled: max_worker_lifetime reached (up " in server.log


@pytest.mark.parametrize("kind", ["rss", "uss"])
def test_worker_over_max_worker_memory_is_replaced_without_failed_requests(
    start_server, tmp_path: Path, kind: str
):
    (tmp_path / "hog.py").write_text(HOG_APP)
    server = start_server(
        "hog:app",
        "--app-dir",
        str(tmp_path),
        "--workers",
        "2",
        "--max-worker-memory",
        "60MiB",
        "--max-worker-memory-kind",
        kind,
    )
    server.wait_ready(workers=2)
    with LoadLoop(server.url("/")) as load:
        wait_for(lambda: load.result.ok > 20, timeout=20, what="load running")
        hog = int(httpx.get(server.url("/hog"), timeout=20).text.removeprefix("pid="))
        wait_for(
            lambda: hog not in server.worker_pids(),
            timeout=40,
            what="the worker over the limit replaced",
        )
        served = load.result.ok
        wait_for(lambda: load.result.ok > served + 20, timeout=20, what="serving afterwards")
    assert load.result.failures == []
    log = server.log
    assert f"(pid {hog}) will be recycled: max_worker_memory exceeded ({kind.upper()} " in log
    assert "> 60 MiB)" in log
    assert len(server.worker_pids()) == 2
