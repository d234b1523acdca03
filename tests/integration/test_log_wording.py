"""What the log says when something goes wrong: the reason once, in one line that names the
exception and points at the traceback above it, in words that fit what happened."""

from __future__ import annotations

import functools
import os
import re
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.integration.test_systemd import NotifySocket

pytestmark = pytest.mark.timeout(90)

#: a lifespan that fails as Starlette's does: the traceback as the message, then the raise
FAILING_LIFESPAN = """
import traceback

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        try:
            raise RuntimeError("database unreachable")
        except RuntimeError:
            await send({"type": "lifespan.startup.failed", "message": traceback.format_exc()})
            raise
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"pid=0"})
"""

GOOD = """
import os
from tests.apps.lifespan import with_lifespan

@with_lifespan
async def app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"pid=%d" % os.getpid()})
"""

SUMMARY = "lifespan startup failed: RuntimeError: database unreachable (traceback above)"


def master_lines(server) -> list[str]:
    return [
        line
        for line in server.log.splitlines()
        if line.startswith("[") and f"[{server.pid}]" in line
    ]


def test_a_failed_start_is_summed_up_once_naming_the_exception(start_server, tmp_path: Path):
    (tmp_path / "failing.py").write_text(FAILING_LIFESPAN)
    with tempfile.TemporaryDirectory(prefix="am-") as directory:
        notify = NotifySocket(os.path.join(directory, "notify"))
        try:
            server = start_server(
                "failing:app",
                "--app-dir",
                str(tmp_path),
                "--workers",
                "2",
                env={"NOTIFY_SOCKET": notify.address},
            )
            assert server.wait_exit() == 3
            notify.wait_for(lambda: "STOPPING=1" in notify.lines(), 10, "STOPPING=1")
        finally:
            notify.close()
    log = server.log
    summary = f"Shutting down: no worker could boot: {SUMMARY}"
    assert summary in log
    assert log.index("Traceback (most recent call last)") < log.index(summary)
    assert f"STATUS=No worker could boot: {SUMMARY}" in notify.lines()
    # the master says the reason once; the other worker's exit is no alarm
    assert sum("database unreachable" in line for line in master_lines(server)) == 1
    assert "killed by SIGQUIT" not in log


def test_a_failed_reload_is_summed_up_naming_the_exception(start_server, tmp_path: Path):
    (tmp_path / "deployed.py").write_text(GOOD)
    server = start_server("deployed:app", "--app-dir", str(tmp_path), "--workers", "1")
    server.wait_ready()
    (tmp_path / "deployed.py").write_text(FAILING_LIFESPAN)
    server.signal(signal.SIGHUP)
    wait_for(lambda: "Reload failed" in server.log, timeout=40, what="the reload to fail")
    assert (
        f"Reload failed: generation 2 could not boot: {SUMMARY}. The previous workers keep "
        "serving; fix the problem and send SIGHUP again."
    ) in server.log
    assert sum("database unreachable" in line for line in master_lines(server)) == 1


def test_an_import_failure_says_cannot_import_once(start_server):
    server = start_server("tests.apps.broken_import:app", "--workers", "1")
    assert server.wait_exit() == 2
    assert (
        "Shutting down: no worker could boot: cannot import 'tests.apps.broken_import:app': "
        "ImportError: cannot import name 'settings'"
    ) in server.log
    assert "import cannot import" not in server.log


def test_a_refused_reload_ends_with_the_configuration_error(start_server, tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text('app = "tests.apps.basic:app"\nworkers = 1\n')
    server = start_server("-c", str(config))
    server.wait_ready()
    config.write_text('app = "tests.apps.basic:app"\nworker = 1\n')
    server.signal(signal.SIGHUP)
    wait_for(lambda: "Reload refused" in server.log, timeout=20, what="the refusal")
    assert (
        f"Reload refused (generation 1 keeps serving): configuration invalid: {config}:2: "
        "unknown setting 'worker'; did you mean 'workers'?\n"
    ) in server.log


def test_a_reload_started_by_a_file_change_says_so(start_server, tmp_path: Path):
    (tmp_path / "watched.py").write_text(GOOD)
    server = start_server(
        "watched:app",
        "--app-dir",
        str(tmp_path),
        "--workers",
        "1",
        "--reload",
        "--reload-watcher",
        "poll",
    )
    server.wait_ready()
    path = tmp_path / "watched.py"

    def broken_edit_seen() -> bool:  # the poller starts beside the workers: edit until seen
        path.write_text(FAILING_LIFESPAN)
        stat = path.stat()
        os.utime(path, (stat.st_atime, stat.st_mtime + 5))
        return "Reload failed" in server.log

    wait_for(broken_edit_seen, timeout=60, interval=1.0, what="the edit's reload to fail")
    log = server.log
    assert re.search(r"reload: \S*watched\.py changed: rolling reload to generation \d", log)
    assert "fix the problem and save the file again." in log
    assert "SIGHUP" not in log


def test_a_pidfile_that_cannot_be_written_is_named(start_server, tmp_path: Path):
    pidfile = tmp_path / "missing" / "master.pid"
    server = start_server("tests.apps.basic:app", "--workers", "1", "--pidfile", str(pidfile))
    assert server.wait_exit() == 1
    assert f"cannot write pidfile {pidfile}: No such file or directory" in server.log
    assert ".tmp" not in server.log


def test_ttou_at_one_worker_says_it_is_ignored(start_server):
    server = start_server("tests.apps.basic:app", "--workers", "1")
    server.wait_ready()
    server.signal(signal.SIGTTOU)
    wait_for(
        lambda: "SIGTTOU ignored: 1 worker is the fewest" in server.log,
        timeout=10,
        what="the TTOU line",
    )


@pytest.fixture
def own_session(monkeypatch):
    """A session of its own: in a terminal's foreground the master ignores WINCH."""
    monkeypatch.setattr(
        subprocess, "Popen", functools.partial(subprocess.Popen, start_new_session=True)
    )


def test_a_reload_that_adds_workers_completes_once_they_are_ready(start_server, own_session):
    server = start_server("tests.apps.basic:app", "--workers", "2")
    server.wait_ready(workers=2)
    server.signal(signal.SIGWINCH)
    wait_for(lambda: not server.worker_pids(), timeout=30, what="no workers")
    server.signal(signal.SIGTTIN)
    wait_for(lambda: server.log.count(") ready") >= 3, timeout=20, what="one worker back")
    server.signal(signal.SIGHUP)
    wait_for(lambda: "Reload complete" in server.log, timeout=40, what="the reload")
    log = server.log
    assert "Reload complete: generation 2 serving with 2 worker(s)" in log
    assert log.count(") ready") == 5  # 2 at start, 1 after TTIN, 2 of generation 2...
    assert log.rindex(") ready") < log.index("Reload complete")  # ...all before it
