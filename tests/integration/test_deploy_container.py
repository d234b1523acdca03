"""deploy/container/: the Dockerfile's final image runs asgi-master as PID 1 in exec form, as a
non-root user, and its command is a valid asgi-master invocation. (No Docker engine here: the
Dockerfile is parsed, and the command is run through ``--check-config``.)"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from pathlib import Path

from tests.conftest import ROOT, run_cli

CONTAINER = ROOT / "deploy" / "container"
DOCKERFILE = CONTAINER / "Dockerfile"
DOCKERIGNORE = CONTAINER / ".dockerignore"


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        command, _, args = (pending + line).partition(" ")
        result.append((command.upper(), args.strip()))
        pending = ""
    return result


def final_stage() -> list[tuple[str, str]]:
    """The instructions of the last stage (what the image is)."""
    steps = instructions()
    start = max(i for i, (cmd, _) in enumerate(steps) if cmd == "FROM")
    return steps[start:]


def last(stage: list[tuple[str, str]], command: str) -> str:
    found = [args for cmd, args in stage if cmd == command]
    assert found, f"no {command} in the final stage"
    return found[-1]


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


def copied_files() -> dict[str, Path]:
    """Destinations in the image of single files COPY'd from the build context (repo root)."""
    files: dict[str, Path] = {}
    for cmd, args in final_stage():
        if cmd != "COPY" or "--from=" in args:
            continue
        parts = [p for p in shlex.split(args) if not p.startswith("--")]
        *sources, dest = parts
        for source in sources:
            files[dest] = ROOT / source
    return files


def ignored(path: str) -> bool:
    patterns = [
        p.strip()
        for p in DOCKERIGNORE.read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]
    return any(fnmatch.fnmatch(path, p) or path.startswith(p.rstrip("/") + "/") for p in patterns)


def test_everything_copied_exists_and_is_not_dockerignored():
    for cmd, args in instructions():
        if cmd != "COPY" or "--from=" in args:
            continue
        *sources, _ = [p for p in shlex.split(args) if not p.startswith("--")]
        for source in sources:
            assert (ROOT / source).exists(), source
            assert not ignored(source), f"{source} is excluded by .dockerignore"
    assert ignored(".venv") and ignored(".git") and ignored("tests")
    # BuildKit takes <Dockerfile>.dockerignore beside the Dockerfile over the context's
    assert (CONTAINER / "Dockerfile.dockerignore").resolve() == DOCKERIGNORE.resolve()


def test_the_image_command_is_a_valid_invocation():
    # ENTRYPOINT + CMD, with the config file the image has at that path; the WORKDIR (/app)
    # holds the copied examples/ as the repository root does
    cmd = json.loads(last(final_stage(), "CMD"))
    files = copied_files()
    args = [str(files[a]) if a in files else a for a in cmd]
    assert args != cmd, "the CMD names the config file the image copies"
    result = run_cli(*args, "--check-config")
    assert result.returncode == 0, result.stderr
    assert "configuration valid" in result.stdout
    assert 'workers = "auto"' in result.stdout
