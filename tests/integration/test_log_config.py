"""log_config: a dictConfig file applied in master and workers; a bad one is a config error."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.conftest import ROOT, free_port, run_cli, wait_for

pytestmark = pytest.mark.timeout(60)

LOG_CONFIG = """
version = 1
[formatters.tagged]
format = "TAGGED %(name)s %(message)s"
[handlers.file]
class = "logging.FileHandler"
filename = "{path}"
formatter = "tagged"
[loggers."asgi_master.access"]
handlers = ["file"]
level = "INFO"
propagate = false
"""


def test_log_config_routes_the_access_log_through_its_handlers(start_server, tmp_path):
    target = tmp_path / "access.log"
    config = tmp_path / "logging.toml"
    config.write_text(LOG_CONFIG.format(path=target))
    server = start_server("tests.apps.basic:app", "--workers", "1", "--log-config", str(config))
    server.wait_ready()
    httpx.get(server.url("/via-dictconfig"))
    wait_for(
        lambda: (
            target.exists()
            and "TAGGED asgi_master.access" in target.read_text()
            and "/via-dictconfig" in target.read_text()
        ),
        timeout=10,
        what="the access line in the dictConfig file",
    )
    assert "Listening on" in server.log  # the error log is untouched


def test_bad_log_config_is_a_one_line_config_error(tmp_path):
    config = tmp_path / "logging.toml"
    config.write_text("[formatters]\n")
    result = run_cli("examples.hello:app", "--log-config", str(config), "--check-config")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f'asgi-master: error: flag --log-config: log_config = "{config}": expected a logging '
        "dictConfig table with version = 1"
    )


BAD_HANDLER = """
version = 1
[handlers.file]
class = "logging.NoSuchHandler"
filename = "{path}"
[loggers."asgi_master.access"]
handlers = ["file"]
"""


@pytest.mark.parametrize("check_only", [True, False], ids=["check-config", "start"])
def test_a_handler_class_that_does_not_exist_is_one_line_naming_file_key_and_reason(
    tmp_path, check_only
):
    config = tmp_path / "logging.toml"
    config.write_text(BAD_HANDLER.format(path=tmp_path / "access.log"))
    flags = ["--check-config"] if check_only else ["--bind", f"127.0.0.1:{free_port()}"]
    result = run_cli("examples.hello:app", "--log-config", str(config), *flags)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f'asgi-master: error: flag --log-config: log_config = "{config}": handlers.file.class = '
        "\"logging.NoSuchHandler\": cannot be imported (module 'logging' has no attribute "
        "'NoSuchHandler')"
    ]


SETUP_UNCHECKED = """
import dataclasses, sys
from asgi_master import logs
from asgi_master.config import load
config = dataclasses.replace(load(["examples.hello:app"], {}).config, log_config=sys.argv[1])
try:
    logs.setup(config)
except OSError as exc:
    print(type(exc).__name__, exc.filename)
"""


def test_a_log_file_that_will_not_open_when_applied_is_an_os_error_naming_it(tmp_path):
    """What the load-time check cannot foresee (the file changed since) reaches the master as
    the OSError of opening a log file, which it reports in one line, not dictConfig's
    traceback."""
    config = tmp_path / "logging.toml"
    config.write_text(LOG_CONFIG.format(path=tmp_path))  # the file is a directory
    result = subprocess.run(
        [sys.executable, "-c", SETUP_UNCHECKED, str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert result.stdout.strip() == f"IsADirectoryError {tmp_path}", result.stderr
