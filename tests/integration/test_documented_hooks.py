"""The hook examples in docs/operations.md work as written: the Prometheus multiprocess clean-up
in ``on_starting`` and ``child_exit``, run with a real prometheus_client in real workers."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, wait_for

pytestmark = pytest.mark.timeout(60)
pytest.importorskip("prometheus_client", reason="prometheus-client is not installed (extra 'test')")

EXAMPLE = ROOT / "tests" / "apps" / "documented_hooks.py"

APP = """
from prometheus_client import Gauge
from tests.apps.lifespan import with_lifespan

in_flight = Gauge("app_in_flight", "Requests in progress", multiprocess_mode="livesum")

@with_lifespan
async def app(scope, receive, send):
    with in_flight.track_inprogress():
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
"""


def test_the_docs_show_the_example_as_it_is_tested():
    code = EXAMPLE.read_text().split("\n", 1)[1]  # after the comment line
    docs = (ROOT / "docs" / "operations.md").read_text()
    assert code.strip() in docs


def test_child_exit_removes_the_dead_workers_live_gauges(start_server, tmp_path: Path):
    directory = tmp_path / "prometheus"
    directory.mkdir()
    (directory / "gauge_livesum_1.db").write_bytes(b"left over from a previous run")
    (tmp_path / "gauged.py").write_text(APP)
    server = start_server(
        "gauged:app",
        "--app-dir",
        str(tmp_path),
        "--workers",
        "1",
        "--on-starting",
        "tests.apps.documented_hooks:on_starting",
        "--child-exit",
        "tests.apps.documented_hooks:child_exit",
        env={"PROMETHEUS_MULTIPROC_DIR": str(directory)},
    )
    server.wait_ready()
    assert httpx.get(server.url("/")).text == "ok"
    (worker,) = server.worker_pids()
    mine = directory / f"gauge_livesum_{worker}.db"
    assert mine.exists()
    assert not (directory / "gauge_livesum_1.db").exists()  # on_starting emptied it
    os.kill(worker, signal.SIGKILL)
    wait_for(lambda: not mine.exists(), timeout=20, what="the dead worker's gauge file removed")
    wait_for(lambda: server.worker_pids() - {worker}, timeout=20, what="its replacement")
