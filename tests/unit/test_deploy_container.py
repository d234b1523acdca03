"""deploy/container/: the Dockerfile's final image runs asgi-master as PID 1 in exec form, as a
non-root user, and copies only what exists. (No Docker engine here: the Dockerfile is parsed;
its command line is run through ``--check-config`` in tests/integration/test_deploy_commands.py.)"""

from __future__ import annotations

import json
import re
import shlex
import tomllib

from tests.conftest import ROOT
from tests.deploy_files import (
    CONTAINER,
    DOCKERIGNORE,
    copied_files,
    dockerignored,
    final_stage,
    instructions,
    last,
)


def test_base_is_a_slim_python_of_a_supported_version():
    arg_defaults = dict(a.split("=", 1) for c, a in instructions() if c == "ARG" and "=" in a)
    base = last(final_stage(), "FROM").split()[0]
    base = re.sub(r"\$\{(\w+)\}", lambda m: arg_defaults[m.group(1)], base)
    match = re.fullmatch(r"python:(\d+)\.(\d+)(?:\.\d+)?-slim(?:-\w+)?", base)
    assert match, base
    assert (int(match.group(1)), int(match.group(2))) >= (3, 11)


def test_entrypoint_is_asgi_master_in_exec_form_without_an_init():
    entrypoint = json.loads(last(final_stage(), "ENTRYPOINT"))  # exec form is a JSON array
    assert entrypoint == ["asgi-master"]
    assert isinstance(json.loads(last(final_stage(), "CMD")), list)
    assert not any(
        "tini" in args or "dumb-init" in args
        for cmd, args in instructions()
        if cmd in ("RUN", "ENTRYPOINT", "CMD")
    )


def test_runs_as_a_non_root_user_and_stops_with_sigterm():
    user = last(final_stage(), "USER").split(":")[0]
    assert user not in ("root", "0")
    assert last(final_stage(), "STOPSIGNAL") == "SIGTERM"


def test_exposed_port_is_the_one_the_config_binds():
    config_path = copied_files()["/etc/asgi-master/config.toml"]
    bind = tomllib.loads(config_path.read_text())["bind"]
    ports = {b.rsplit(":", 1)[1] for b in bind}
    assert set(last(final_stage(), "EXPOSE").split()) == ports


def test_everything_copied_exists_and_is_not_dockerdockerignored():
    for cmd, args in instructions():
        if cmd != "COPY" or "--from=" in args:
            continue
        *sources, _ = [p for p in shlex.split(args) if not p.startswith("--")]
        for source in sources:
            assert (ROOT / source).exists(), source
            assert not dockerignored(source), f"{source} is excluded by .dockerignore"
    assert dockerignored(".venv") and dockerignored(".git") and dockerignored("tests")
    # BuildKit takes <Dockerfile>.dockerignore beside the Dockerfile over the context's
    assert (CONTAINER / "Dockerfile.dockerignore").resolve() == DOCKERIGNORE.resolve()
