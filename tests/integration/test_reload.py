"""Rolling reload (SIGHUP) and recycling under load: zero failed requests, new workers first."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_for
from tests.integration.load import LoadLoop

pytestmark = pytest.mark.timeout(120)


APP_V1 = """
import os
from tests.apps.lifespan import with_lifespan

@with_lifespan
async def app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"pid=%d VERSION" % os.getpid()})
"""


def write_app(directory: Path, version: str) -> None:
    (directory / "reloadable.py").write_text(APP_V1.replace("VERSION", version))


def reloads_done(server, count: int) -> bool:
    return server.log.count("Reload complete") >= count


def test_three_hups_under_load_lose_nothing_and_replace_every_worker(start_server, tmp_path):
    server = start_server("tests.apps.basic:app", "--workers", "2", "--graceful-timeout", "10")
    server.wait_ready(workers=2)
    before = server.worker_pids()
    with LoadLoop(server.url("/")) as load:
        wait_for(lambda: load.result.ok > 50, timeout=20, what="load running")
        for number in (1, 2, 3):
            server.signal(signal.SIGHUP)
            wait_for(
                lambda n=number: reloads_done(server, n),
                timeout=40,
                what=f"reload {number} to complete",
            )
        served_before = load.result.ok
        wait_for(
            lambda: load.result.ok > served_before + 50,
            timeout=20,
            what="load served after the reloads",
        )
    result = load.result
    print(
        f"served {result.ok}, longest {result.longest * 1000:.0f} ms, "
        f"{len(result.pids)} worker pids"
    )
    assert result.failures == []
    assert result.ok > 100
    after = server.worker_pids()
    assert len(after) == 2 and not (after & before)
    assert "Reload failed" not in server.log


def test_hup_with_broken_code_keeps_old_workers_then_a_fixed_hup_succeeds(start_server, tmp_path):
    write_app(tmp_path, "v1")
    server = start_server("reloadable:app", "--app-dir", str(tmp_path), "--workers", "2")
    server.wait_ready(workers=2)
    old = server.worker_pids()
    with LoadLoop(server.url("/")) as load:
        wait_for(lambda: load.result.ok > 20, timeout=20, what="load running")
        (tmp_path / "reloadable.py").write_text("raise ImportError('half-deployed release')\n")
        server.signal(signal.SIGHUP)
        wait_for(lambda: "Reload failed" in server.log, timeout=40, what="reload to fail")
        served = load.result.ok
        wait_for(lambda: load.result.ok > served + 20, timeout=20, what="still serving")
        assert server.worker_pids() == old
        write_app(tmp_path, "v2")
        server.signal(signal.SIGHUP)
        wait_for(lambda: reloads_done(server, 1), timeout=40, what="the fixed reload")
        wait_for(
            lambda: httpx.get(server.url("/")).text.endswith("v2"),
            timeout=20,
            what="new code serving",
        )
    assert load.result.failures == []
    assert "half-deployed release" in server.log
    assert not (server.worker_pids() & old)


def test_hup_with_an_invalid_config_file_changes_nothing(start_server, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('app = "tests.apps.basic:app"\nworkers = 2\n')
    server = start_server("-c", str(config))
    server.wait_ready(workers=2)
    old = server.worker_pids()
    config.write_text('app = "tests.apps.basic:app"\nworkers = "many"\n')
    server.signal(signal.SIGHUP)
    wait_for(lambda: "Reload refused" in server.log, timeout=20, what="reload refused")
    assert f'{config}:2: workers = "many"' in server.log
    # a HUP either refuses or starts a rollout, in one turn of the master's loop: a rollout
    # would have been logged before the refusal could be seen
    assert "rolling reload" not in server.log
    assert server.worker_pids() == old
    assert httpx.get(server.url("/")).status_code == 200


def test_hup_applies_a_changed_worker_count(start_server, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('app = "tests.apps.basic:app"\nworkers = 1\n')
    server = start_server("-c", str(config))
    server.wait_ready(workers=1)
    config.write_text('app = "tests.apps.basic:app"\nworkers = 3\n')
    server.signal(signal.SIGHUP)
    wait_for(
        lambda: len(server.worker_pids()) == 3 and reloads_done(server, 1),
        timeout=40,
        what="three workers after reload",
    )


def test_max_requests_recycles_workers_under_load_without_failures(start_server):
    server = start_server(
        "tests.apps.basic:app",
        "--workers",
        "2",
        "--max-requests",
        "50",
        "--max-requests-jitter",
        "10",
    )
    server.wait_ready(workers=2)
    first = server.worker_pids()
    with LoadLoop(server.url("/")) as load:
        wait_for(
            lambda: server.log.count("asks to be replaced") >= 4,
            timeout=60,
            what="several recycles",
        )
    assert load.result.failures == []
    assert len(load.result.pids) >= 4  # answers came from recycled workers too
    wait_for(
        lambda: not first & server.worker_pids(), timeout=30, what="both first workers replaced"
    )


def wait_until_watching(server, directory: Path) -> None:
    """The watcher starts beside the workers: touch a probe file until a change is seen."""
    probe = directory / "probe.py"

    def seen() -> bool:
        probe.write_text(f"# {time.monotonic()}\n")
        return "probe.py changed" in server.log

    wait_for(seen, timeout=30, interval=1.0, what="the file watcher to report a change")
    wait_for(lambda: reloads_done(server, 1), timeout=30, what="the probe's reload")


def edit_app(directory: Path, version: str) -> None:
    write_app(directory, version)
    path = directory / "reloadable.py"
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))  # a new mtime even on coarse clocks


def reloading_server(start_server, directory: Path, watcher: str):
    """One worker serving reloadable.py "v1" with ``--reload``, ready."""
    write_app(directory, "v1")
    server = start_server(
        "reloadable:app",
        "--app-dir",
        str(directory),
        "--workers",
        "1",
        "--reload",
        "--reload-watcher",
        watcher,
    )
    server.wait_ready()
    return server


@pytest.mark.parametrize("watcher", ["watchfiles", "poll"])
def test_reload_setting_rolls_out_edited_code(start_server, tmp_path, watcher):
    server = reloading_server(start_server, tmp_path, watcher)
    assert ("with watchfiles" if watcher == "watchfiles" else "polling") in server.log
    assert (server.file_watcher() is not None) == (watcher == "watchfiles")
    assert httpx.get(server.url("/")).text.endswith("v1")
    wait_until_watching(server, tmp_path)
    edit_app(tmp_path, "v2")
    wait_for(
        lambda: httpx.get(server.url("/")).text.endswith("v2"),
        timeout=30,
        what="the edited code serving",
    )
    assert "reload: " in server.log and "reloadable.py changed" in server.log


def test_reload_falls_back_to_polling_when_the_file_watcher_dies(start_server, tmp_path):
    server = reloading_server(start_server, tmp_path, "watchfiles")
    watcher = server.file_watcher()
    assert watcher is not None
    os.kill(watcher.pid, signal.SIGKILL)
    wait_for(
        lambda: "polling from now on" in server.log,
        timeout=20,
        what="the master to notice the watcher is gone",
    )
    assert server.worker_pids(), "the workers kept serving"
    edit_app(tmp_path, "v2")
    wait_for(
        lambda: httpx.get(server.url("/")).text.endswith("v2"),
        timeout=30,
        what="the edited code serving after the fallback",
    )


def test_the_file_watcher_exits_with_the_master(start_server, tmp_path):
    server = reloading_server(start_server, tmp_path, "watchfiles")
    watcher = server.file_watcher()
    assert watcher is not None
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=30) == 0
    wait_for(
        lambda: not watcher.is_running() or watcher.status() == "zombie",
        timeout=10,
        what="the file watcher to exit",
    )
