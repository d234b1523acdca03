"""The settings table and its loading: precedence, validation, error lines, generated docs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from asgi_master.config import BindSpec, ConfigError, describe, load
from asgi_master.config.cpus import usable_cpus
from asgi_master.config.headers import ResponseHeader
from asgi_master.config.reference import render_reference
from asgi_master.config.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return str(path)


def test_defaults_apply_when_nothing_is_given():
    config = load(["examples.hello:app"], {}).config
    assert config.workers == usable_cpus().count  # workers = "auto"
    assert config.bind == [BindSpec("tcp", host="127.0.0.1", port=8000)]
    assert config.keepalive_timeout == 5.0
    assert config.sources["workers"] == "default"


def test_file_then_env_then_flag_each_override_the_one_before(tmp_path):
    path = write(
        tmp_path, 'app = "examples.hello:app"\nworkers = 2\ntimeout = 11\ngraceful_timeout = 7\n'
    )
    env = {"ASGI_MASTER_WORKERS": "3", "ASGI_MASTER_TIMEOUT": "12"}
    config = load(["-c", path, "--workers", "4"], env).config
    assert config.workers == 4
    assert config.sources["workers"] == "flag --workers"
    assert config.timeout == 12.0
    assert config.sources["timeout"] == "env ASGI_MASTER_TIMEOUT"
    assert config.graceful_timeout == 7.0
    assert config.sources["graceful_timeout"] == f"{path}:4"
    assert config.app == "examples.hello:app"


def test_config_file_can_come_from_the_environment(tmp_path):
    path = write(tmp_path, 'app = "examples.hello:app"\nworkers = 5\n')
    assert load([], {"ASGI_MASTER_CONFIG": path}).config.workers == 5


@pytest.mark.parametrize(
    ("text", "bind"),
    [
        ("0.0.0.0:80", BindSpec("tcp", host="0.0.0.0", port=80)),
        ("localhost:8000", BindSpec("tcp", host="localhost", port=8000)),
        ("[::1]:9000", BindSpec("tcp", host="::1", port=9000)),
        ("unix:/run/app.sock", BindSpec("unix", path="/run/app.sock")),
        ("fd://3", BindSpec("fd", fd=3)),
    ],
)
def test_bind_forms_are_understood(text, bind):
    assert load(["a:b", "-b", text], {}).config.bind == [bind]


@pytest.mark.parametrize(
    ("text", "bind"),
    [
        (":8001", BindSpec("tcp", host="0.0.0.0", port=8001)),  # gunicorn: all interfaces
        ("8001", BindSpec("tcp", host="127.0.0.1", port=8001)),  # uvicorn --port: default host
        ("localhost", BindSpec("tcp", host="localhost", port=8000)),  # default port
        ("0.0.0.0", BindSpec("tcp", host="0.0.0.0", port=8000)),
        ("[::]", BindSpec("tcp", host="::", port=8000)),
        ("tcp://127.0.0.1:9000", BindSpec("tcp", host="127.0.0.1", port=9000)),
        ("tcp://:9000", BindSpec("tcp", host="0.0.0.0", port=9000)),
    ],
)
def test_short_bind_forms_operators_type_are_understood(text, bind):
    assert load(["a:b", "-b", text], {}).config.bind == [bind]


def test_metrics_bind_takes_the_short_forms_too():
    assert load(["a:b", "--metrics-bind", ":9100"], {}).config.metrics_bind == BindSpec(
        "tcp", host="0.0.0.0", port=9100
    )


def test_bind_repeats_on_the_command_line_and_splits_on_commas_in_env():
    config = load(["a:b", "-b", "127.0.0.1:1", "-b", "unix:/tmp/x.sock"], {}).config
    assert [str(b) for b in config.bind] == ["127.0.0.1:1", "unix:/tmp/x.sock"]
    config = load(["a:b"], {"ASGI_MASTER_BIND": "127.0.0.1:1,[::1]:2"}).config
    assert [str(b) for b in config.bind] == ["127.0.0.1:1", "[::1]:2"]


@pytest.mark.parametrize(
    "bad",
    [
        "host:",
        "host:99999",
        "99999",
        ":",
        "[::1:80",
        "[::1]80",
        "[nothost]:80",
        "::1",  # is ::1:8000 an address or a port? brackets say
        "::1:8000",
        "fd://x",
        "unix:",
    ],
)
def test_bad_bind_is_rejected_with_what_was_expected(bad):
    with pytest.raises(ConfigError) as err:
        load(["a:b", "--bind", bad], {})
    assert str(err.value) == (
        f'flag --bind: bind = "{bad}": expected host:port, [ipv6]:port, unix:/path or fd://N'
    )


def test_bad_toml_value_names_key_file_line_value_and_expectation(tmp_path):
    path = write(tmp_path, 'app = "a:b"\n\nworkers = "four"\n')
    with pytest.raises(ConfigError) as err:
        load(["-c", path], {})
    assert str(err.value) == (
        f'{path}:3: workers = "four": expected a whole number from 1 to 1024, or "auto"'
    )


def test_wrong_toml_type_is_an_error_not_a_coercion(tmp_path):
    path = write(tmp_path, 'app = "a:b"\naccess_log = "yes"\n')
    with pytest.raises(ConfigError, match=r":2: access_log = \"yes\": expected true or false"):
        load(["-c", path], {})


def test_unknown_key_gets_a_did_you_mean_hint(tmp_path):
    path = write(tmp_path, 'app = "a:b"\nworker = 4\n')
    with pytest.raises(ConfigError) as err:
        load(["-c", path], {})
    assert str(err.value) == f"{path}:2: unknown setting 'worker'; did you mean 'workers'?"


def test_unknown_env_setting_is_an_error():
    with pytest.raises(
        ConfigError,
        match="env ASGI_MASTER_GRACEFUL_TIMOUT: unknown setting "
        "'graceful_timout'; did you mean 'graceful_timeout'",
    ):
        load(["a:b"], {"ASGI_MASTER_GRACEFUL_TIMOUT": "3"})


def test_env_value_is_validated_and_named():
    with pytest.raises(
        ConfigError,
        match='env ASGI_MASTER_LIFESPAN: lifespan = "maybe": expected one of auto, on, off',
    ):
        load(["a:b"], {"ASGI_MASTER_LIFESPAN": "maybe"})


def test_invalid_toml_syntax_is_reported_with_its_position(tmp_path):
    path = write(tmp_path, 'app = "a:b"\nworkers = = 2\n')
    with pytest.raises(ConfigError, match=r"not valid TOML: .*line 2"):
        load(["-c", path], {})


def test_missing_config_file_is_one_line():
    with pytest.raises(ConfigError, match=r"cannot read config file /nonexistent\.toml"):
        load(["-c", "/nonexistent.toml"], {})


def test_app_is_required():
    with pytest.raises(ConfigError, match="no application given"):
        load([], {})


@pytest.mark.parametrize("bad", ["nocolon", "mod:", ":app", "mod:1app", "a-b:app"])
def test_app_must_be_an_import_path(bad):
    with pytest.raises(ConfigError, match="expected an import path"):
        load([bad], {})


def test_bool_flags_have_a_negative_form_and_env_accepts_words():
    assert load(["a:b", "--no-access-log"], {}).config.access_log is False
    assert load(["a:b"], {"ASGI_MASTER_ACCESS_LOG": "off"}).config.access_log is False


def test_unix_socket_mode_is_octal(tmp_path):
    path = write(tmp_path, 'app = "a:b"\nunix_socket_mode = "660"\n')
    assert load(["-c", path], {}).config.unix_socket_mode == 0o660


def test_describe_prints_each_value_with_its_source(tmp_path):
    path = write(tmp_path, 'app = "a:b"\nworkers = 2\n')
    text = describe(load(["-c", path], {}).config)
    assert any(
        line.startswith("workers = 2") and line.endswith(f"# {path}:2")
        for line in text.splitlines()
    )
    assert len(text.splitlines()) == len(SETTINGS)


def test_every_setting_has_help_env_and_flag():
    for setting in SETTINGS:
        assert setting.help.strip(), setting.name
        assert setting.env == "ASGI_MASTER_" + setting.name.upper()
        assert setting.flag == "--" + setting.name.replace("_", "-")


def test_docs_config_reference_is_current():
    current = (ROOT / "docs" / "config.md").read_text()
    assert current == render_reference(), (
        "docs/config.md is stale: run `python -m asgi_master.config.reference > docs/config.md`"
    )


def test_a_toml_table_is_reported_as_such_with_its_line(tmp_path):
    path = write(tmp_path, 'app = "a:b"\n\n[server]\nworkers = 4\n')
    with pytest.raises(ConfigError) as err:
        load(["-c", path], {})
    assert str(err.value) == (
        f"{path}:3: [server] is a table, and tables are not used: every setting is a "
        "top-level key, written above the first [table] header"
    )


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('app = "a:b"\n[[server]]\nx = 1\n', 2),  # an array of tables
        ('app = "a:b"\n[server.http]\nx = 1\n', 2),
        ('app = "a:b"\n# [server]\nserver.workers = 2\n', 3),  # a dotted key
        ('app = "a:b"\nserver = { workers = 2 }\n', 2),  # an inline table
    ],
)
def test_every_spelling_of_a_table_is_reported_with_its_line(tmp_path, text, line):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=rf"^{re.escape(path)}:{line}: \[server\] is a table"):
        load(["-c", path], {})


def test_a_gunicorn_python_config_file_is_named_as_such(tmp_path):
    path = tmp_path / "gunicorn.conf.py"
    path.write_text('import multiprocessing\nbind = "0.0.0.0:8000"\n')
    with pytest.raises(ConfigError, match=r"gunicorn\.conf\.py: a Python file, not TOML"):
        load(["-c", str(path)], {})


@pytest.mark.parametrize(
    ("given", "root_path"),
    [("/api", "/api"), ("/api/", "/api"), ("/", ""), ("", ""), ("/a/b//", "/a/b")],
)
def test_root_path_loses_its_trailing_slash(given, root_path):
    assert load(["a:b", "--root-path", given], {}).config.root_path == root_path


@pytest.mark.parametrize("bad", ["api", "api/", "/api?x=1", "/caf\u00e9", "/with space"])
def test_root_path_must_start_with_a_slash(bad):
    with pytest.raises(ConfigError) as err:
        load(["a:b", "--root-path", bad], {})
    assert str(err.value) == (
        f'flag --root-path: root_path = "{bad}": expected a path that starts with "/", '
        'such as "/api" (or "" for none)'
    )


@pytest.mark.parametrize(
    "value",
    [
        "no colon",
        "bad name: v",
        "x-a: line\nbreak",
        "content-length: 3",
        "Date: now",
        "transfer-encoding: chunked",
        "x-a: caf\u00e9\u20ac",
    ],
)
def test_a_response_header_setting_that_the_server_cannot_send_is_refused(value):
    with pytest.raises(ValueError):
        ResponseHeader().convert(value)


def test_a_response_header_setting_is_kept_lowercased_and_trimmed():
    assert ResponseHeader().convert("  X-Frame-Options :  DENY ") == "x-frame-options: DENY"
