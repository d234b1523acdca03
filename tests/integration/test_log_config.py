"""log_config: a dictConfig file applied in master and workers; a bad one is a config error."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import run_cli, wait_for

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
