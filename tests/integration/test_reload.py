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



APP_V1 = '''
import os
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            m = await receive()
            await send({"type": m["type"] + ".complete"})
            if m["type"] == "lifespan.shutdown":
                return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"pid=%d VERSION" % os.getpid()})
'''


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
            wait_for(lambda n=number: reloads_done(server, n), timeout=40,
                     what=f"reload {number} to complete")
        served_before = load.result.ok
        wait_for(lambda: load.result.ok > served_before + 50, timeout=20,
                 what="load served after the reloads")
    result = load.result
    print(f"served {result.ok}, longest {result.longest * 1000:.0f} ms, "
          f"{len(result.pids)} worker pids")
    assert result.failures == []
    assert result.ok > 100
    after = server.worker_pids()
    assert len(after) == 2 and not (after & before)
    assert "Reload failed" not in server.log


def test_hup_with_broken_code_keeps_old_workers_then_a_fixed_hup_succeeds(start_server,
                                                                          tmp_path):
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
        wait_for(lambda: httpx.get(server.url("/")).text.endswith("v2"), timeout=20,
                 what="new code serving")
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
    time.sleep(1)  # nothing should happen; there is no deadline being raced here
    assert server.worker_pids() == old
    assert httpx.get(server.url("/")).status_code == 200


def test_hup_applies_a_changed_worker_count(start_server, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('app = "tests.apps.basic:app"\nworkers = 1\n')
    server = start_server("-c", str(config))
    server.wait_ready(workers=1)
    config.write_text('app = "tests.apps.basic:app"\nworkers = 3\n')
    server.signal(signal.SIGHUP)
    wait_for(lambda: len(server.worker_pids()) == 3 and reloads_done(server, 1), timeout=40,
             what="three workers after reload")


def test_max_requests_recycles_workers_under_load_without_failures(start_server):
    server = start_server("tests.apps.basic:app", "--workers", "2", "--max-requests", "50",
                          "--max-requests-jitter", "10")
    server.wait_ready(workers=2)
    first = server.worker_pids()
    with LoadLoop(server.url("/")) as load:
        wait_for(lambda: server.log.count("asks to be replaced") >= 4, timeout=60,
                 what="several recycles")
    assert load.result.failures == []
    assert len(load.result.pids) >= 4  # answers came from recycled workers too
    wait_for(lambda: not first & server.worker_pids(), timeout=30,
             what="both first workers replaced")


def test_reload_setting_rolls_out_edited_code(start_server, tmp_path):
    write_app(tmp_path, "v1")
    server = start_server("reloadable:app", "--app-dir", str(tmp_path), "--workers", "1",
                          "--reload")
    server.wait_ready()
    assert httpx.get(server.url("/")).text.endswith("v1")
    write_app(tmp_path, "v2")
    path = tmp_path / "reloadable.py"
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))  # a new mtime even on coarse clocks
    wait_for(lambda: httpx.get(server.url("/")).text.endswith("v2"), timeout=30,
             what="the edited code serving")
    assert "reload: " in server.log and "reloadable.py changed" in server.log
