"""The command line as an operator meets it: one-line errors, exit 2, --check-config."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import free_port, run_cli

pytestmark = pytest.mark.timeout(60)


def _one_line_error(result) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_bad_toml_value_exits_2_with_one_line(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('app = "examples.hello:app"\ntimeout = "soon"\n')
    line = _one_line_error(run_cli("-c", str(config)))
    assert line == (
        f'asgi-master: error: {config}:2: timeout = "soon": expected a number of seconds >= 1'
    )


def test_unknown_key_exits_2_with_a_hint(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('app = "examples.hello:app"\nkeepalive = 3\n')
    line = _one_line_error(run_cli("-c", str(config)))
    assert line == (
        f"asgi-master: error: {config}:2: unknown setting 'keepalive'; "
        "did you mean 'keepalive_timeout'?"
    )


def test_bad_flag_value_exits_2(tmp_path):
    line = _one_line_error(run_cli("examples.hello:app", "--workers", "0"))
    assert line == (
        'asgi-master: error: flag --workers: workers = "0": expected a whole '
        'number from 1 to 1024, or "auto"'
    )


def test_check_config_prints_sources_and_exits_0(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('app = "examples.hello:app"\nworkers = 3\n')
    result = run_cli("-c", str(config), "--check-config", env={"ASGI_MASTER_TIMEOUT": "9"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "workers = 3" in out and f"# {config}:2" in out
    assert "timeout = 9.0" in out and "# env ASGI_MASTER_TIMEOUT" in out
    assert "configuration valid" in out


def test_check_config_with_unimportable_app_exits_2():
    result = run_cli("no_such_module_xyz:app", "--check-config")
    line = _one_line_error(result)
    assert line.startswith(
        "asgi-master: error: cannot import 'no_such_module_xyz:app': "
        "no module named 'no_such_module_xyz'"
    )


def test_check_config_names_a_missing_attribute():
    line = _one_line_error(run_cli("examples.hello:nope", "--check-config"))
    assert "module 'examples.hello' has no attribute 'nope'" in line


def test_app_dir_is_put_on_sys_path(tmp_path):
    (tmp_path / "myapp.py").write_text("async def app(scope, receive, send):\n    pass\n")
    result = run_cli("myapp:app", "--app-dir", str(tmp_path), "--check-config")
    assert result.returncode == 0, result.stderr


def test_version_flag():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("asgi-master ")


def test_unknown_flag_prints_the_error_and_one_hint_not_the_usage():
    result = run_cli("examples.hello:app", "--host", "0.0.0.0", "--port", "8001")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "asgi-master: error: unrecognized arguments: --host 0.0.0.0 --port 8001",
        "asgi-master: hint: --host is uvicorn's; use --bind HOST:PORT, e.g. --bind 0.0.0.0:8000",
    ]
    assert result.stdout == ""


def test_help_shows_defaults():
    result = run_cli("--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "--graceful-timeout SECONDS" in text
    assert "(default: 30.0)" in text and '(default: ["127.0.0.1:8000"])' in text


def test_bind_colon_port_listens_on_every_interface(start_server):
    port = free_port()
    server = start_server(
        "examples.hello:app", "--workers", "1", "-b", f":{port}", port=port, bind=False
    )
    server.wait_ready()
    assert f"Listening on 0.0.0.0:{port}" in server.log
    assert httpx.get(server.url("/")).text == "Hello, world!\n"


def test_bind_port_alone_listens_on_the_default_host(start_server):
    port = free_port()
    server = start_server(
        "examples.hello:app", "--workers", "1", "-b", str(port), port=port, bind=False
    )
    server.wait_ready()
    assert f"Listening on 127.0.0.1:{port}" in server.log
    assert httpx.get(server.url("/")).status_code == 200


def test_a_toml_table_is_one_line_naming_its_line(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('app = "examples.hello:app"\n\n[server]\nworkers = 4\n')
    line = _one_line_error(run_cli("-c", str(config)))
    assert line == (
        f"asgi-master: error: {config}:3: [server] is a table, and tables are not used: "
        "every setting is a top-level key, written above the first [table] header"
    )
