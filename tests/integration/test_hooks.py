"""Server hooks as real processes: each runs where and when the settings table says, with the
documented arguments, and a failing hook has the documented effect."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import run_cli, wait_for

pytestmark = pytest.mark.timeout(90)

HOOKS_MODULE = """
import json, os

def _record(name, **data):
    with open(os.environ["HOOK_LOG"], "a") as fh:
        fh.write(json.dumps({"hook": name, "pid": os.getpid(), **data}) + "\\n")

def on_starting(server):
    _record("on_starting", master=server.pid, generation=server.generation)

def when_ready(server):
    _record("when_ready", master=server.pid)

def pre_fork(server, worker):
    _record("pre_fork", slot=worker.slot, worker_pid=worker.pid)

def post_fork(server, worker):
    _record("post_fork", slot=worker.slot, worker_pid=worker.pid, master=server.pid)

def post_worker_init(worker):
    _record("post_worker_init", slot=worker.slot)

def worker_int(worker):
    _record("worker_int", slot=worker.slot)

def worker_exit(server, worker):
    _record("worker_exit", slot=worker.slot)

def child_exit(server, worker):
    _record("child_exit", worker_pid=worker.pid, reason=worker.exit_reason)

def nworkers_changed(server, new_value, old_value):
    _record("nworkers_changed", new=new_value, old=old_value)

def on_reload(server):
    _record("on_reload", generation=server.generation, workers=server.config.workers)

def pre_exec(server):
    _record("pre_exec")
    raise RuntimeError("pre_exec says no")

def on_exit(server):
    _record("on_exit")

def failing(*args):
    raise RuntimeError("no database")
"""

ALL_HOOKS = (
    "on_starting",
    "when_ready",
    "pre_fork",
    "post_fork",
    "post_worker_init",
    "worker_int",
    "worker_exit",
    "child_exit",
    "nworkers_changed",
    "on_reload",
    "on_exit",
)


@pytest.fixture
def hooked(tmp_path: Path):
    """``hooked(**paths) -> (config file, env)``: a config serving tests.apps.basic:app with
    the given hooks (name -> attribute of the hooks module), recording into HOOK_LOG."""
    (tmp_path / "hookmod.py").write_text(HOOKS_MODULE)

    def make(workers: int = 2, **hooks: str) -> tuple[Path, dict[str, str]]:
        config = tmp_path / "config.toml"
        lines = ['app = "tests.apps.basic:app"', f"workers = {workers}", f'app_dir = "{tmp_path}"']
        lines += [f'{name} = "hookmod:{attr}"' for name, attr in hooks.items()]
        config.write_text("\n".join(lines) + "\n")
        return config, {"HOOK_LOG": str(tmp_path / "hooks.jsonl")}

    return make


def records(env: dict[str, str]) -> list[dict[str, Any]]:
    path = Path(env["HOOK_LOG"])
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def named(env: dict[str, str], hook: str) -> list[dict[str, Any]]:
    return [r for r in records(env) if r["hook"] == hook]


def test_every_hook_runs_in_its_process_at_its_point_with_its_arguments(start_server, hooked):
    config, env = hooked(**{name: name for name in ALL_HOOKS})
    server = start_server("-c", str(config), env=env)
    server.wait_ready(workers=2)
    wait_for(lambda: named(env, "when_ready"), timeout=10, what="when_ready")
    first = server.worker_pids()
    server.signal(signal.SIGTTIN)
    wait_for(lambda: len(server.worker_pids()) == 3, timeout=20, what="a third worker")
    server.signal(signal.SIGHUP)  # the config says 2 workers again
    wait_for(lambda: "Reload complete" in server.log, timeout=40, what="the reload")
    wait_for(lambda: len(server.worker_pids()) == 2, timeout=20, what="two workers")
    last = server.worker_pids()
    server.signal(signal.SIGINT)
    assert server.wait_exit() == 0
    master = server.pid
    log = records(env)
    assert log[0] == {"hook": "on_starting", "pid": master, "master": master, "generation": 1}
    assert log[-1] == {"hook": "on_exit", "pid": master}
    assert [r for r in log if r["hook"] == "when_ready"] == [
        {"hook": "when_ready", "pid": master, "master": master}
    ]
    forks = named(env, "pre_fork")
    assert all(r["pid"] == master and r["worker_pid"] == 0 for r in forks)
    post = named(env, "post_fork")
    assert len(post) == len(forks)  # every worker forked ran post_fork...
    assert all(r["pid"] == r["worker_pid"] != master and r["master"] == master for r in post)
    assert {r["pid"] for r in post} >= first | last  # ...in itself
    assert {r["pid"] for r in named(env, "post_worker_init")} >= first | last
    assert [(r["new"], r["old"]) for r in named(env, "nworkers_changed")] == [(3, 2), (2, 3)]
    assert all(r["pid"] == master for r in named(env, "nworkers_changed"))
    assert named(env, "on_reload") == [
        {"hook": "on_reload", "pid": master, "generation": 2, "workers": 2}
    ]
    exits = {r["worker_pid"]: r["reason"] for r in named(env, "child_exit")}
    assert all(r["pid"] == master for r in named(env, "child_exit"))
    assert set(exits) == {r["pid"] for r in post}  # every worker's exit, seen by the master
    assert {exits[pid] for pid in first | last} == {"exited normally"}  # they drained
    assert {r["pid"] for r in named(env, "worker_int")} == last  # INT: the fast stop
    assert {r["pid"] for r in named(env, "worker_exit")} == {r["pid"] for r in post}


def test_a_failing_post_fork_fails_the_boot_like_a_lifespan_failure(start_server, hooked):
    config, env = hooked(post_fork="failing")
    server = start_server("-c", str(config), env=env)
    assert server.wait_exit() == 3
    log = server.log
    assert "post_fork hook (hookmod:failing) failed: RuntimeError: no database" in log
    assert "Traceback" in log
    assert (
        "Shutting down: no worker could boot: post_fork hook failed: RuntimeError: no "
        "database (traceback above)"
    ) in log


def test_a_failing_post_worker_init_fails_the_boot(start_server, hooked):
    config, env = hooked(workers=1, post_worker_init="failing")
    server = start_server("-c", str(config), env=env)
    assert server.wait_exit() == 3
    assert "no worker could boot: post_worker_init hook failed: RuntimeError" in server.log


def test_a_post_fork_that_fails_after_a_reload_keeps_the_old_workers(
    start_server, hooked, tmp_path
):
    config, env = hooked()
    server = start_server("-c", str(config), env=env)
    server.wait_ready(workers=2)
    old = server.worker_pids()
    with config.open("a") as fh:
        fh.write('post_fork = "hookmod:failing"\n')
    server.signal(signal.SIGHUP)
    wait_for(lambda: "Reload failed" in server.log, timeout=40, what="the reload to fail")
    assert "could not boot: post_fork hook failed: RuntimeError: no database" in server.log
    assert server.worker_pids() == old
    assert httpx.get(server.url("/")).status_code == 200


def test_a_failing_when_ready_or_child_exit_is_logged_and_the_server_serves(start_server, hooked):
    config, env = hooked(workers=1, when_ready="failing", child_exit="failing")
    server = start_server("-c", str(config), env=env)
    server.wait_ready()
    (victim,) = server.worker_pids()
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: server.worker_pids() - {victim}, timeout=20, what="a new worker")
    wait_for(lambda: server.log.count(") ready") >= 2, timeout=20, what="it ready")
    assert httpx.get(server.url("/")).status_code == 200
    assert "when_ready hook (hookmod:failing) failed: RuntimeError: no database" in server.log
    assert "child_exit hook (hookmod:failing) failed: RuntimeError: no database" in server.log


def test_a_failing_on_starting_stops_the_start_with_status_1(start_server, hooked):
    config, env = hooked(on_starting="failing")
    server = start_server("-c", str(config), env=env)
    assert server.wait_exit() == 1
    assert "on_starting hook (hookmod:failing) failed" in server.log
    assert "Listening on" not in server.log


def test_a_master_hook_that_does_not_import_stops_the_start_with_status_2(start_server, hooked):
    config, env = hooked(child_exit="missing")
    server = start_server("-c", str(config), env=env)
    assert server.wait_exit() == 2
    assert "child_exit hook 'hookmod:missing': hookmod has no missing" in server.log


def test_a_worker_hook_that_does_not_import_fails_the_boot_with_status_2(start_server, hooked):
    config, env = hooked(worker_exit="missing")
    server = start_server("-c", str(config), env=env)
    assert server.wait_exit() == 2
    assert (
        "no worker could boot: worker_exit hook 'hookmod:missing': hookmod has no missing"
    ) in server.log


def test_a_failing_pre_exec_aborts_the_upgrade_and_the_old_master_serves_on(
    start_server, hooked, tmp_path
):
    config, env = hooked(workers=1, pre_exec="pre_exec")
    pidfile = tmp_path / "master.pid"
    server = start_server("-c", str(config), "--pidfile", str(pidfile), env=env)
    server.wait_ready()
    server.signal(signal.SIGUSR2)
    wait_for(lambda: "Upgrade failed" in server.log, timeout=30, what="the upgrade to fail")
    (record,) = named(env, "pre_exec")
    assert record["pid"] != server.pid  # in the new master's process, before it executes
    assert "pre_exec hook (hookmod:pre_exec) failed: RuntimeError: pre_exec says no" in server.log
    assert "exited with status 4 before taking over" in server.log
    assert pidfile.read_text().strip() == str(server.pid)
    assert httpx.get(server.url("/")).status_code == 200


def test_check_config_imports_the_hooks_and_checks_their_arguments(hooked):
    config, env = hooked(post_fork="post_fork", child_exit="missing")
    result = run_cli("-c", str(config), "--check-config", env=env)
    assert result.returncode == 2
    assert "child_exit hook 'hookmod:missing': hookmod has no missing" in result.stderr
    config, env = hooked(post_fork="post_worker_init")  # takes (worker), not (server, worker)
    result = run_cli("-c", str(config), "--check-config", env=env)
    assert result.returncode == 2
    assert (
        "post_fork hook 'hookmod:post_worker_init' cannot be called as post_fork(server, worker)"
    ) in result.stderr
    config, env = hooked(**{name: name for name in ALL_HOOKS})
    result = run_cli("-c", str(config), "--check-config", env=env)
    assert result.returncode == 0, result.stderr
    assert 'post_fork = "hookmod:post_fork"' in result.stdout
    assert records(env) == []  # imported, never called
