"""preload_app and app factories, as real processes: who imports the app, who calls the
factory, what SIGHUP and SIGUSR2 load, and how an app that cannot be loaded stops the start."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import run_cli, wait_for
from tests.integration.test_upgrade import read_pid, reparented  # noqa: F401 (a fixture)

pytestmark = pytest.mark.timeout(120)

APP = """
import gc, os
from tests.apps.lifespan import with_lifespan

def _record(what):
    with open(os.environ["LOAD_LOG"], "a") as fh:
        fh.write(f"{what} {os.getpid()}\\n")

_record("import")
VERSION = "v1"

@with_lifespan
async def app(scope, receive, send):
    body = f"{VERSION} pid={os.getpid()} frozen={gc.get_freeze_count()}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})

def create_app():
    _record("factory")
    return app

def broken_factory():
    raise RuntimeError("settings missing")

"""

FORK_HOOKS = """
import os

def post_fork(server, worker):
    with open(os.environ["LOAD_LOG"], "a") as fh:
        fh.write(f"post_fork {os.getpid()}\\n")
"""


@pytest.fixture
def loadable(tmp_path: Path):
    """The app above as ``loadable:app`` in ``tmp_path``; ``loads()`` lists what happened."""
    (tmp_path / "loadable.py").write_text(APP)
    env = {"LOAD_LOG": str(tmp_path / "loads.txt")}

    def loads() -> list[tuple[str, int]]:
        path = tmp_path / "loads.txt"
        lines = path.read_text().split("\n") if path.exists() else []
        return [(what, int(pid)) for what, pid in (line.split() for line in lines if line)]

    return env, loads


def answer(server) -> dict[str, str]:
    version, *fields = httpx.get(server.url("/")).text.split()
    return {"version": version, **dict(field.split("=") for field in fields)}


def test_preload_imports_the_app_once_in_the_master_and_freezes_its_heap(
    start_server, loadable, tmp_path
):
    env, loads = loadable
    server = start_server(
        "loadable:app", "--app-dir", str(tmp_path), "--workers", "2", "--preload-app", env=env
    )
    server.wait_ready(workers=2)
    assert loads() == [("import", server.pid)]
    reply = answer(server)
    assert int(reply["pid"]) in server.worker_pids()
    assert int(reply["frozen"]) > 1000  # the app's objects, in the permanent generation
    assert "Preloaded loadable:app in the master; preload_app: SIGHUP" in server.log


def test_without_preload_each_worker_imports_the_app(start_server, loadable, tmp_path):
    env, loads = loadable
    server = start_server("loadable:app", "--app-dir", str(tmp_path), "--workers", "2", env=env)
    server.wait_ready(workers=2)
    assert sorted(loads()) == sorted(("import", pid) for pid in server.worker_pids())
    assert answer(server)["frozen"] == "0"


def test_an_app_that_cannot_be_preloaded_stops_the_start_before_any_fork(start_server):
    server = start_server("tests.apps.broken_import:app", "--workers", "2", "--preload-app")
    assert server.wait_exit() == 2
    log = server.log
    assert "Cannot preload the app: cannot import 'tests.apps.broken_import:app'" in log
    assert "simulated broken deploy" in log
    assert "Listening on" not in log and "Worker" not in log


def test_hup_with_preload_replaces_the_workers_but_not_the_code_and_usr2_loads_it(
    start_server,
    loadable,
    tmp_path,
    reparented,  # noqa: F811
):
    env, loads = loadable
    pidfile = tmp_path / "master.pid"
    server = start_server(
        "loadable:app",
        "--app-dir",
        str(tmp_path),
        "--workers",
        "1",
        "--preload-app",
        "--pidfile",
        str(pidfile),
        env=env,
    )
    server.wait_ready()
    old = server.worker_pids()
    (tmp_path / "loadable.py").write_text(APP.replace('"v1"', '"v2"'))
    server.signal(signal.SIGHUP)
    wait_for(lambda: "Reload complete" in server.log, timeout=40, what="the reload")
    assert "(preload_app: the app's code is not reloaded)" in server.log
    wait_for(lambda: server.worker_pids() and not old & server.worker_pids(), 20, what="new pids")
    assert answer(server)["version"] == "v1"  # new workers, the master's old code
    assert loads() == [("import", server.pid)]
    server.signal(signal.SIGUSR2)
    new_master = wait_for(
        lambda: (read_pid(pidfile) or server.pid) != server.pid and read_pid(pidfile),
        timeout=30,
        what="the new master",
    )
    reparented.append(new_master)
    assert server.wait_exit(timeout=60) == 0
    assert answer(server)["version"] == "v2"
    assert ("import", new_master) in loads()
    assert psutil.pid_exists(new_master)


def test_check_config_says_what_sighup_does(loadable, tmp_path):
    env, _ = loadable
    args = ["loadable:app", "--app-dir", str(tmp_path), "--check-config"]
    preloaded = run_cli(*args, "--preload-app", env=env)
    assert preloaded.returncode == 0, preloaded.stderr
    assert "preload_app = true" in preloaded.stdout
    assert (
        "# preload_app: SIGHUP re-reads the configuration and replaces the workers but does "
        "not reload the app's code"
    ) in preloaded.stdout
    plain = run_cli(*args, env=env)
    assert "replaces the workers, which import the app anew" in plain.stdout


def test_a_factory_is_called_once_in_each_worker_after_post_fork(start_server, loadable, tmp_path):
    env, loads = loadable
    # the hook in a module of its own: importing it does not import the app
    (tmp_path / "forkhooks.py").write_text(FORK_HOOKS)
    server = start_server(
        "loadable:create_app",
        "--factory",
        "--post-fork",
        "forkhooks:post_fork",
        "--app-dir",
        str(tmp_path),
        "--workers",
        "2",
        env=env,
    )
    server.wait_ready(workers=2)
    assert answer(server)["version"] == "v1"
    for pid in server.worker_pids():
        mine = [what for what, who in loads() if who == pid]
        assert mine == ["post_fork", "import", "factory"]


def test_a_preloaded_factory_is_imported_by_the_master_and_called_by_each_worker(
    start_server, loadable, tmp_path
):
    env, loads = loadable
    server = start_server(
        "loadable:create_app",
        "--factory",
        "--preload-app",
        "--app-dir",
        str(tmp_path),
        "--workers",
        "2",
        env=env,
    )
    server.wait_ready(workers=2)
    assert sorted(loads()) == sorted(
        [("import", server.pid)] + [("factory", pid) for pid in server.worker_pids()]
    )


def test_a_factory_that_raises_fails_the_boot_with_status_3(start_server, loadable, tmp_path):
    env, _ = loadable
    server = start_server(
        "loadable:broken_factory",
        "--factory",
        "--app-dir",
        str(tmp_path),
        "--workers",
        "1",
        env=env,
    )
    assert server.wait_exit() == 3
    assert (
        "no worker could boot: app factory 'loadable:broken_factory' raised RuntimeError: "
        "settings missing (traceback above)"
    ) in server.log
    assert os.path.exists(tmp_path / "loadable.py")
