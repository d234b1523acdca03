"""Privileges and process files (user, group, umask, chdir), and running as PID 1."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import ROOT, free_port, run_cli, wait_for

pytestmark = pytest.mark.timeout(90)

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="switching the workers' user needs a root master"
)


@needs_root
def test_workers_run_as_nobody_while_the_master_keeps_root(start_server):
    nobody = pwd.getpwnam("nobody")
    server = start_server("tests.apps.basic:app", "--workers", "2", "--user", "nobody")
    server.wait_ready(workers=2)
    for pid in server.worker_pids():
        process = psutil.Process(pid)
        assert process.uids() == (nobody.pw_uid,) * 3
        assert process.gids() == (nobody.pw_gid,) * 3
    assert psutil.Process(server.pid).uids().effective == 0
    assert httpx.get(server.url("/")).status_code == 200


@needs_root
def test_group_overrides_the_users_primary_group(start_server):
    group = "daemon"
    gid = grp.getgrnam(group).gr_gid
    server = start_server(
        "tests.apps.basic:app", "--workers", "1", "--user", "nobody", "--group", group
    )
    server.wait_ready()
    (pid,) = server.worker_pids()
    assert psutil.Process(pid).gids().effective == gid
    assert httpx.get(server.url("/")).status_code == 200


def test_unknown_user_is_a_config_error_naming_it():
    result = run_cli("tests.apps.basic:app", "--user", "no-such-user-here")
    assert result.returncode == 2
    assert (
        'flag --user: user = "no-such-user-here": expected an existing user name or a '
        "numeric id; there is no user 'no-such-user-here' on this system"
    ) in result.stderr


def test_unknown_group_is_a_config_error():
    result = run_cli("tests.apps.basic:app", "--group", "no-such-group-here")
    assert result.returncode == 2
    assert "there is no group 'no-such-group-here'" in result.stderr


def test_umask_applies_to_files_the_server_creates(start_server, tmp_path: Path):
    pidfile = tmp_path / "master.pid"
    server = start_server(
        "tests.apps.basic:app", "--workers", "1", "--umask", "077", "--pidfile", str(pidfile)
    )
    server.wait_ready()
    assert pidfile.stat().st_mode & 0o777 == 0o600


def test_chdir_makes_relative_paths_relative_to_it(start_server, tmp_path: Path):
    (tmp_path / "here.py").write_text("from tests.apps.basic import app\n")
    server = start_server(
        "here:app",
        "--workers",
        "1",
        "--chdir",
        str(tmp_path),
        "--pidfile",
        "relative.pid",
        "--app-dir",
        ".",
        env={"PYTHONPATH": str(ROOT)},
    )
    server.wait_ready()
    assert (tmp_path / "relative.pid").read_text().strip() == str(server.pid)
    assert httpx.get(server.url("/")).status_code == 200
    assert psutil.Process(server.pid).cwd() == str(tmp_path)


def test_missing_chdir_directory_stops_the_server_with_status_1(start_server, tmp_path: Path):
    server = start_server(
        "tests.apps.basic:app", "--workers", "1", "--chdir", str(tmp_path / "missing")
    )
    assert server.wait_exit() == 1
    assert "cannot chdir to" in server.log


# -- PID 1 ---------------------------------------------------------------------------------

PID1_APP = """
import os, subprocess
from tests.apps.lifespan import with_lifespan

@with_lifespan
async def app(scope, receive, send):
    body = b"ppid=%d" % os.getppid()
    if scope["path"] == "/orphan":
        # the shell exits at once; its background sleep is orphaned and reparented to PID 1
        out = subprocess.run(["sh", "-c", "sleep 1 >/dev/null 2>&1 & echo $!"],
                             capture_output=True, check=True)
        body = b"orphan=" + out.stdout.strip()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})
"""


def _can_unshare_pid() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True
    )
    return probe.returncode == 0


@pytest.mark.skipif(
    not _can_unshare_pid(),
    reason="`unshare --pid --fork --mount-proc` is unavailable (needs root or user namespaces)",
)
def test_master_as_pid_1_reaps_orphans_and_drains_on_term(tmp_path: Path):
    (tmp_path / "pid1app.py").write_text(PID1_APP)
    port = free_port()
    log_path = tmp_path / "pid1.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                "unshare",
                "--pid",
                "--fork",
                "--mount-proc",
                sys.executable,
                "-m",
                "asgi_master",
                "pid1app:app",
                "--app-dir",
                str(tmp_path),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--log-level",
                "debug",
            ],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    seen: set[int] = set()
    try:
        master = wait_for(lambda: _master_of(proc.pid), timeout=20, what="the master")
        seen.add(master.pid)
        wait_for(
            lambda: "Ready: 2 worker(s)" in log_path.read_text(), timeout=20, what="workers ready"
        )
        seen.update(child.pid for child in master.children())
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(url + "/").text == "ppid=1"  # the workers' parent is PID 1: us
        orphan = httpx.get(url + "/orphan", timeout=20).text.removeprefix("orphan=")
        wait_for(
            lambda: f"Reaped process {orphan} (exited normally)" in log_path.read_text(),
            timeout=20,
            what="the orphan reaped by the master",
        )
        assert not [c for c in master.children() if c.status() == psutil.STATUS_ZOMBIE]
        master.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
        assert "Master 1 exiting with status 0" in log_path.read_text()
    finally:
        if proc.poll() is None:
            for pid in seen:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            proc.kill()
            proc.wait(timeout=10)


def _master_of(unshare_pid: int) -> psutil.Process | None:
    """The master: the child ``unshare --fork`` started (PID 1 inside its namespace)."""
    try:
        children = psutil.Process(unshare_pid).children()
    except psutil.NoSuchProcess:
        return None
    for child in children:
        with contextlib.suppress(psutil.Error):
            if child.cmdline() and child.cmdline()[0].startswith("asgi-master: master"):
                return child
    return None
