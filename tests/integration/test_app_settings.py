"""Settings a running app sees: env_file's variables (at import, after SIGHUP, after SIGUSR2)
and root_path, through real servers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import run_cli, wait_for

pytestmark = pytest.mark.timeout(90)

#: an app that reports its environment as it was when imported and as it is now, and its scope
APP = """
import json, os

from tests.apps.lifespan import with_lifespan

AT_IMPORT = {name: os.environ.get(name) for name in ("GREETING", "KEPT", "GONE", "DERIVED")}


@with_lifespan
async def app(scope, receive, send):
    now = {name: os.environ.get(name) for name in AT_IMPORT}
    body = {"at_import": AT_IMPORT, "now": now, "pid": os.getpid()}
    body.update({key: scope[key] for key in ("root_path", "path")})
    body["raw_path"] = scope["raw_path"].decode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})
"""


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "envapp.py").write_text(APP)
    return tmp_path


def serve(start_server, app_dir: Path, *flags: str, env: dict[str, str] | None = None):
    server = start_server(
        "envapp:app", "--app-dir", str(app_dir), "--workers", "1", *flags, env=env
    )
    server.wait_ready()
    return server


def answer(server, path: str = "/") -> dict:
    return json.loads(httpx.get(server.url(path), timeout=10).text)


# -- env_file ---------------------------------------------------------------------------------


def test_env_file_variables_are_there_when_the_app_is_imported(start_server, app_dir):
    env_file = app_dir / ".env"
    env_file.write_text(
        '# the app\'s settings\nGREETING="hello world"\nKEPT=from-file\nDERIVED=${GREETING}!\n'
    )
    server = serve(start_server, app_dir, "--env-file", str(env_file), env={"KEPT": "from-env"})
    seen = answer(server)["at_import"]
    assert seen["GREETING"] == "hello world"
    assert seen["DERIVED"] == "hello world!"  # python-dotenv's ${VAR} expansion
    assert seen["KEPT"] == "from-env"  # the server's own environment wins
    assert f"env_file {env_file}: set GREETING, DERIVED; kept from the environment: KEPT" in (
        server.log
    )


def test_env_file_is_read_again_on_sighup(start_server, app_dir):
    env_file = app_dir / ".env"
    env_file.write_text("GREETING=hello\nGONE=soon\n")
    server = serve(start_server, app_dir, "--env-file", str(env_file))
    first = answer(server)
    assert first["now"]["GREETING"] == "hello" and first["now"]["GONE"] == "soon"
    env_file.write_text("GREETING=bonjour\n")
    server.signal(signal.SIGHUP)
    wait_for(lambda: "Reload complete" in server.log, timeout=30, what="the reload")
    again = answer(server)
    assert again["pid"] != first["pid"]
    assert again["at_import"]["GREETING"] == "bonjour"
    assert again["at_import"]["GONE"] is None  # a line taken out of the file is gone


def test_env_file_is_read_anew_by_a_master_started_by_sigusr2(start_server, app_dir):
    env_file = app_dir / ".env"
    env_file.write_text("GREETING=before\n")
    pidfile = app_dir / "master.pid"
    server = serve(start_server, app_dir, "--env-file", str(env_file), "--pidfile", str(pidfile))
    old_pid = server.pid
    env_file.write_text("GREETING=after\n")
    server.signal(signal.SIGUSR2)

    def new_master() -> int | None:
        with contextlib.suppress(OSError, ValueError):
            pid = int(pidfile.read_text())
            return pid if pid != old_pid else None
        return None

    new_pid = wait_for(new_master, timeout=30, what="the new master's pidfile")
    try:
        assert server.wait_exit(timeout=60) == 0  # the old master handed over
        wait_for(
            lambda: answer(server)["at_import"]["GREETING"] == "after",
            timeout=20,
            what="a worker of the new master",
        )
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            workers = psutil.Process(new_pid).children()
            os.kill(new_pid, signal.SIGKILL)
            for worker in workers:
                with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):
                    os.kill(worker.pid, signal.SIGKILL)


def test_check_config_imports_the_app_with_the_env_file_loaded(app_dir):
    (app_dir / "needs_env.py").write_text(
        "import os\nTOKEN = os.environ['API_TOKEN']\nasync def app(scope, receive, send):\n"
        "    pass\n"
    )
    env_file = app_dir / "prod.env"
    env_file.write_text("API_TOKEN=s3cret\n")
    result = run_cli(
        "needs_env:app", "--app-dir", str(app_dir), "--env-file", str(env_file), "--check-config"
    )
    assert result.returncode == 0, result.stderr
    assert f"# env_file {env_file}: set API_TOKEN" in result.stdout
    assert "s3cret" not in result.stdout  # names only, never values


def test_a_line_that_is_not_key_value_is_one_line_naming_the_file_and_line(app_dir):
    env_file = app_dir / ".env"
    env_file.write_text("A=1\n\nthis is not a binding\n")
    result = run_cli("envapp:app", "--app-dir", str(app_dir), "--env-file", str(env_file))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f'asgi-master: error: flag --env-file: env_file = "{env_file}": line 3 is not '
        "KEY=VALUE (python-dotenv cannot read it)"
    ]


def test_a_missing_env_file_stops_the_start(app_dir, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('app = "envapp:app"\nenv_file = "missing.env"\n')
    result = run_cli("-c", str(config), "--app-dir", str(app_dir))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f'asgi-master: error: {config}:2: env_file = "missing.env": cannot read it: '
        "No such file or directory"
    )


# -- root_path --------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "root_path"), [("/api/", "/api"), ("/", "")])
def test_root_path_with_a_trailing_slash_makes_no_double_slash(
    start_server, app_dir, given, root_path
):
    server = serve(start_server, app_dir, "--root-path", given)
    seen = answer(server, "/json")
    assert (seen["root_path"], seen["path"], seen["raw_path"]) == (
        root_path,
        f"{root_path}/json",
        f"{root_path}/json",
    )


def test_root_path_without_a_leading_slash_is_refused_in_one_line(app_dir):
    result = run_cli("envapp:app", "--app-dir", str(app_dir), "--root-path", "api")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        'asgi-master: error: flag --root-path: root_path = "api": expected a path that starts '
        'with "/", such as "/api" (or "" for none)'
    ]
