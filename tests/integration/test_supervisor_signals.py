"""USR1 (reopen log files in master and workers) and WINCH (stop workers, keep the master)."""

from __future__ import annotations

import functools
import re
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.timeout(90)


def text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def logged_pids(path: Path) -> set[int]:
    """PIDs found in the ``[pid]`` field of log lines."""
    return {int(pid) for pid in re.findall(r"^\[[^]]+\] \[(\d+)\]", text(path), re.M)}


def test_usr1_reopens_moved_log_files_in_master_and_workers(start_server, tmp_path: Path):
    error_log, access_log = tmp_path / "error.log", tmp_path / "access.log"
    server = start_server(
        "tests.apps.basic:app",
        "--workers",
        "2",
        "--error-log",
        str(error_log),
        "--access-log-file",
        str(access_log),
    )
    wait_for(
        lambda: text(error_log).count(") ready") >= 2 and "Ready:" in text(error_log),
        timeout=20,
        what="workers ready (in the error log file)",
    )
    workers = server.worker_pids()
    assert len(workers) == 2
    with httpx.Client() as client:
        assert client.get(server.url("/")).status_code == 200
    wait_for(lambda: logged_pids(access_log) & workers, timeout=10, what="an access line")
    assert "Listening on" not in server.log  # stderr itself went to the file

    error_log.rename(tmp_path / "error.log.1")
    access_log.rename(tmp_path / "access.log.1")
    server.signal(signal.SIGUSR1)
    wait_for(
        lambda: "SIGUSR1: reopened" in text(error_log),
        timeout=20,
        what="the master's line in a new error log",
    )
    assert "told 2 worker(s)" in text(error_log)

    def every_worker_writes_the_new_access_log() -> bool:
        httpx.get(server.url("/"), headers={"connection": "close"})  # a new connection each
        return workers <= logged_pids(access_log)

    wait_for(
        every_worker_writes_the_new_access_log,
        timeout=30,
        interval=0.1,
        what="access lines of both workers in the new file",
    )
    assert "SIGUSR1" not in text(tmp_path / "error.log.1")


@pytest.fixture
def own_session(monkeypatch):
    """Start servers in a session of their own: in a terminal's foreground the master ignores
    WINCH (a window resize sends it), and the test may run in a terminal."""
    monkeypatch.setattr(
        subprocess, "Popen", functools.partial(subprocess.Popen, start_new_session=True)
    )


def test_winch_stops_all_workers_and_keeps_the_master_until_ttin_and_hup(start_server, own_session):
    server = start_server("tests.apps.basic:app", "--workers", "2")
    server.wait_ready(workers=2)
    first = server.worker_pids()
    server.signal(signal.SIGWINCH)
    wait_for(lambda: not server.worker_pids(), timeout=30, what="every worker stopped")
    assert server.proc.poll() is None
    assert "SIGWINCH: stopping all 2 worker(s) gracefully" in server.log
    assert f"(pid {min(first)}) exited normally" in server.log

    server.signal(signal.SIGTTIN)
    wait_for(lambda: len(server.worker_pids()) == 1, timeout=20, what="one worker back")
    wait_for(lambda: _answers(server), timeout=20, what="serving again")
    server.signal(signal.SIGHUP)
    wait_for(
        lambda: len(server.worker_pids()) == 2 and "Reload complete" in server.log,
        timeout=40,
        what="the configured two workers after SIGHUP",
    )
    assert _answers(server)
    server.signal(signal.SIGTERM)
    assert server.wait_exit() == 0


def _answers(server) -> bool:
    try:
        return httpx.get(server.url("/"), timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
