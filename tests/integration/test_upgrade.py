"""SIGUSR2: a new master re-executed on the same sockets takes over, under load, losing nothing."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import wait_for
from tests.integration.load import LoadLoop

pytestmark = pytest.mark.timeout(120)

APP = """
import os
from tests.apps.lifespan import with_lifespan

@with_lifespan
async def app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"pid=%d" % os.getpid()})
"""


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


@pytest.fixture
def reparented() -> Iterator[list[int]]:
    """PIDs of masters that outlive the test's own child (a new master is reparented once the
    old one exits): stopped at teardown, by PID, with their workers."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            workers = psutil.Process(pid).children()
            os.kill(pid, signal.SIGKILL)
            for worker in workers:
                with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):
                    os.kill(worker.pid, signal.SIGKILL)


def test_usr2_under_load_hands_over_to_a_new_master_without_failed_requests(
    start_server, tmp_path: Path, reparented: list[int]
):
    pidfile = tmp_path / "master.pid"
    oldbin = tmp_path / "master.pid.oldbin"
    server = start_server("tests.apps.basic:app", "--workers", "2", "--pidfile", str(pidfile))
    server.wait_ready(workers=2)
    old_pid = server.pid
    with LoadLoop(server.url("/")) as load:
        wait_for(lambda: load.result.ok > 50, timeout=20, what="load running")
        server.signal(signal.SIGUSR2)
        new_pid = wait_for(
            lambda: (read_pid(pidfile) or old_pid) != old_pid and read_pid(pidfile),
            timeout=20,
            what="the new master's pidfile",
        )
        reparented.append(new_pid)
        assert read_pid(oldbin) in (old_pid, None)  # None: the old master already left
        assert server.wait_exit(timeout=60) == 0  # the old master drained and exited
        served = load.result.ok
        wait_for(
            lambda: load.result.ok > served + 50,
            timeout=20,
            what="load served by the new master alone",
        )
    result = load.result
    assert result.failures == []
    assert alive(new_pid)
    new_workers = {p.pid for p in psutil.Process(new_pid).children()}
    assert len(new_workers) == 2
    assert {f"pid={pid}" for pid in new_workers} & result.pids  # the new workers served
    assert httpx.get(server.url("/")).text in {f"pid={pid}" for pid in new_workers}
    assert not oldbin.exists()
    assert psutil.Process(new_pid).cmdline()[0] == "asgi-master: master [tests.apps.basic:app]"
    log = server.log
    assert f"started a new master (pid {new_pid})" in log
    assert f"sending SIGTERM to the old master (pid {old_pid})" in log
    assert f"Master {old_pid} exiting with status 0" in log

    os.kill(new_pid, signal.SIGTERM)
    wait_for(lambda: not alive(new_pid), timeout=40, what="the new master to stop")
    assert not pidfile.exists()
    assert f"Master {new_pid} exiting with status 0" in server.log


def test_usr2_whose_new_master_cannot_boot_keeps_the_old_master_and_its_pidfile(
    start_server, tmp_path: Path, reparented: list[int]
):
    (tmp_path / "upgradable.py").write_text(APP)
    pidfile = tmp_path / "master.pid"
    server = start_server(
        "upgradable:app", "--app-dir", str(tmp_path), "--workers", "2", "--pidfile", str(pidfile)
    )
    server.wait_ready(workers=2)
    workers = {p.pid for p in server.workers()}
    with LoadLoop(server.url("/")) as load:
        wait_for(lambda: load.result.ok > 20, timeout=20, what="load running")
        (tmp_path / "upgradable.py").write_text("raise ImportError('broken release')\n")
        server.signal(signal.SIGUSR2)
        wait_for(
            lambda: "Upgrade failed" in server.log,
            timeout=40,
            what="the failed upgrade to be noticed",
        )
        served = load.result.ok
        wait_for(lambda: load.result.ok > served + 20, timeout=20, what="still serving")
    assert load.result.failures == []
    assert server.proc.poll() is None
    assert read_pid(pidfile) == server.pid
    assert not (tmp_path / "master.pid.oldbin").exists()
    assert {p.pid for p in server.workers()} >= workers
    assert "broken release" in server.log
    # the old master still handles signals: a later upgrade can be tried again
    server.signal(signal.SIGTERM)
    assert server.wait_exit() == 0
