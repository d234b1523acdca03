"""docs/migrating.md says what it does: its examples load, and every flag of gunicorn and
uvicorn the command line has a hint for is in it."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from asgi_master.config import load
from asgi_master.config.peers import PEER_FLAGS

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "migrating.md").read_text()


def fenced(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE, flags=re.DOTALL)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A directory with the files the examples name (env files, certificates)."""
    import trustme

    monkeypatch.chdir(tmp_path)
    (tmp_path / "production.env").write_text("DJANGO_SETTINGS_MODULE=myproject.settings\n")
    (tmp_path / ".env").write_text("SECRET=x\n")
    cert = trustme.CA().issue_cert("localhost")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    return tmp_path


def test_every_peer_flag_with_a_hint_is_in_the_guide():
    assert [flag for flag in PEER_FLAGS if f"`{flag}" not in GUIDE] == []


@pytest.mark.parametrize("index", [0, 1])
def test_the_config_toml_examples_load(project, index):
    examples = fenced("toml")
    assert len(examples) == 2
    path = project / "config.toml"
    path.write_text(examples[index])
    config = load(["-c", str(path)], {}).config
    assert config.app in ("myproject.asgi:application", "main:app")


def test_the_uvicorn_command_line_becomes_ours_and_loads(project):
    commands = [c for c in fenced("sh") if c.startswith("asgi-master main:app")]
    assert len(commands) == 1
    argv = shlex.split(commands[0].replace("\\\n", " "))[1:]
    config = load(argv, {}).config
    assert str(config.bind[0]) == "0.0.0.0:8000"
    assert (config.workers, config.keepalive_timeout, config.graceful_timeout) == (4, 10, 30)
    assert (config.max_requests, config.root_path, config.access_log) == (10000, "/api", False)
    toml = project / "config.toml"
    toml.write_text(fenced("toml")[1])
    from_file = load(["-c", str(toml)], {}).config
    for name in ("bind", "workers", "keepalive_timeout", "graceful_timeout", "root_path"):
        assert getattr(from_file, name) == getattr(config, name), name
