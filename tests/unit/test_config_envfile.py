"""env_file: reading a dotenv file, refusing what it must not hold, and taking its variables
back before it is read again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from asgi_master.config import ConfigError, load
from asgi_master.config.envfile import EnvFileLoad, check_env_file


def env_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / ".env"
    path.write_text(text)
    return str(path)


def test_names_of_a_dotenv_file_in_order(tmp_path):
    path = env_file(tmp_path, '# comment\nA=1\nexport B="two words"\n\nC=${A}\n')
    assert check_env_file(path) == ["A", "B", "C"]


def test_the_line_of_a_bad_binding_is_counted_past_blank_lines(tmp_path):
    path = env_file(tmp_path, "A=1\n\n\nB = 'unterminated\n")
    with pytest.raises(ValueError, match=r"^line 4 is not KEY=VALUE"):
        check_env_file(path)


def test_a_setting_of_the_server_in_the_file_is_refused(tmp_path):
    path = env_file(tmp_path, "A=1\nASGI_MASTER_WORKERS=8\n")
    with pytest.raises(ValueError, match=r"^line 2 sets ASGI_MASTER_WORKERS, a setting"):
        check_env_file(path)


def test_the_setting_is_checked_when_the_config_loads(tmp_path):
    path = env_file(tmp_path, "A=1\nnot a binding\n")
    with pytest.raises(ConfigError) as err:
        load(["a:b"], {"ASGI_MASTER_ENV_FILE": path})
    assert str(err.value) == (
        f'env ASGI_MASTER_ENV_FILE: env_file = "{path}": line 2 is not KEY=VALUE '
        "(python-dotenv cannot read it)"
    )


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / ".env"
    path.write_bytes(b"A=\xff\xfe\n")
    with pytest.raises(ValueError, match="not UTF-8 text"):
        check_env_file(str(path))


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("EF_A", "EF_B", "EF_KEPT"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_loading_sets_new_variables_and_keeps_the_environment_s(tmp_path, clean_env):
    clean_env.setenv("EF_KEPT", "mine")
    loaded = EnvFileLoad()
    loaded.apply(env_file(tmp_path, "EF_A=1\nEF_KEPT=theirs\n"))
    try:
        assert (os.environ["EF_A"], os.environ["EF_KEPT"]) == ("1", "mine")
        assert loaded.set_by_file == {"EF_A": "1"}
        assert loaded.kept == ["EF_KEPT"]
    finally:
        loaded.take_back()
    assert "EF_A" not in os.environ and os.environ["EF_KEPT"] == "mine"


def test_loading_again_replaces_what_the_file_set_before(tmp_path, clean_env):
    loaded = EnvFileLoad()
    path = env_file(tmp_path, "EF_A=1\nEF_B=2\n")
    loaded.apply(path)
    Path(path).write_text("EF_A=changed\n")
    loaded.apply(path)
    try:
        assert os.environ["EF_A"] == "changed"
        assert "EF_B" not in os.environ
    finally:
        loaded.take_back()


def test_the_environment_a_new_master_inherits_lacks_the_file_s_variables(tmp_path, clean_env):
    clean_env.setenv("EF_KEPT", "mine")
    loaded = EnvFileLoad()
    loaded.apply(env_file(tmp_path, "EF_A=1\nEF_KEPT=theirs\n"))
    try:
        inherited = loaded.inherited(os.environ)
        assert "EF_A" not in inherited and inherited["EF_KEPT"] == "mine"
    finally:
        loaded.take_back()
