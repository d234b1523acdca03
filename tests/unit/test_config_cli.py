"""The command line: flags of gunicorn and uvicorn get a hint, --help shows every default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from asgi_master.config import CommandLineError, load
from asgi_master.config.cli import build_parser
from asgi_master.config.peers import PEER_FLAGS, PEER_SHORT_FLAGS
from asgi_master.config.settings import BY_NAME, SETTINGS

ROOT = Path(__file__).resolve().parents[2]


def command_line_error(*argv: str) -> CommandLineError:
    with pytest.raises(CommandLineError) as info:
        load(list(argv), {})
    return info.value


def test_uvicorn_host_and_port_flags_point_to_bind():
    error = command_line_error("a:b", "--host", "0.0.0.0", "--port", "80")
    assert str(error) == "unrecognized arguments: --host 0.0.0.0 --port 80"
    assert error.hint == "--host is uvicorn's; use --bind HOST:PORT, e.g. --bind 0.0.0.0:8000"


def test_a_gunicorn_short_flag_is_explained():
    error = command_line_error("a:b", "-k", "uvicorn.workers.UvicornWorker")
    assert error.hint.startswith("-k is gunicorn's; not needed: workers run asyncio on uvloop")


def test_a_flag_given_with_equals_is_recognised():
    assert command_line_error("a:b", "--ssl-keyfile=key.pem").hint == (
        "--ssl-keyfile is uvicorn's; use --keyfile FILE"
    )


def test_a_misspelt_flag_gets_the_close_one():
    assert command_line_error("a:b", "--workres", "3").hint == (
        "did you mean --workers? (asgi-master --help lists every flag)"
    )


def test_an_unknown_flag_with_nothing_close_says_so():
    assert command_line_error("a:b", "--frobnicate").hint == (
        "--frobnicate is not a flag of asgi-master (asgi-master --help lists every flag)"
    )


def test_a_second_application_is_refused_with_a_hint():
    error = command_line_error("a:b", "c:d")
    assert str(error) == "unrecognized arguments: c:d"
    assert error.hint.startswith("one application (MODULE:APP) at most")


def test_a_flag_missing_its_value_points_to_help():
    error = command_line_error("a:b", "--workers")
    assert str(error) == "argument -w/--workers: expected one argument"
    assert error.hint == "asgi-master --help lists every flag"


def test_flags_are_not_taken_by_a_prefix():
    # gunicorn's --pid must not pass for --pidfile, nor a shortened flag for a long one
    assert command_line_error("a:b", "--pid", "x.pid").hint == (
        "--pid is gunicorn's; use --pidfile FILE"
    )
    assert command_line_error("a:b", "--graceful", "3").hint.startswith("did you mean")


def test_every_peer_hint_names_a_flag_that_exists_or_says_why_none_is_needed():
    flags = {s.flag for s in SETTINGS} | {"--check-config"}
    for peer_flag, peer in PEER_FLAGS.items():
        named = {f.replace("--no-", "--") for f in re.findall(r"--[a-z][a-z-]*", peer.hint)}
        if peer.setting is None or peer.setting in BY_NAME:
            assert named <= flags, (peer_flag, named - flags)
        assert peer_flag not in flags, f"{peer_flag} is one of ours"
    assert set(PEER_SHORT_FLAGS.values()) <= set(PEER_FLAGS)


def test_help_shows_the_default_of_every_setting():
    text = " ".join(build_parser().format_help().split())
    assert "(default: 30.0)" in text  # timeout
    assert '(default: ["127.0.0.1:8000"])' in text  # bind
    assert "(default: auto)" in text  # workers
    assert text.count("(default: ") == len(SETTINGS)
