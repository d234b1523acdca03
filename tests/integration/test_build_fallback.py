"""Building without extensions: no C compiler, or ASGI_MASTER_NO_EXTENSIONS=1, gives a pure
Python wheel, says so in one line and records why (``--version`` reports it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from asgi_master import _build

ROOT = Path(__file__).resolve().parent.parent.parent

# pip fetches setuptools and mypy into an isolated build environment first
pytestmark = pytest.mark.timeout(600)


def _build_wheel(tmp_path: Path, env: dict[str, str]) -> tuple[list[str], list[str], dict]:
    """Build a wheel of a copy of the project; the build's ``asgi-master:`` lines, the wheel's
    file names and its build record."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, project)
    shutil.copytree(
        ROOT / "asgi_master",
        project / "asgi_master",
        ignore=shutil.ignore_patterns("__pycache__", "*.so", _build.RECORD),
    )
    environ = {k: v for k, v in os.environ.items() if k != _build.NO_EXTENSIONS_ENV}
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(tmp_path), "."],
        cwd=project,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    output = done.stdout + done.stderr
    said = [line.strip() for line in output.splitlines() if line.strip().startswith("asgi-master:")]
    (wheel,) = tmp_path.glob("asgi_master-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        record = json.loads(archive.read(f"asgi_master/{_build.RECORD}"))
    return said, names, record


def test_without_a_c_compiler_the_build_installs_pure_python(tmp_path):
    missing = tmp_path / "no-such-cc"
    said, names, record = _build_wheel(tmp_path, {"CC": str(missing)})
    assert len(said) == 1, said
    assert said[0].startswith("asgi-master: no working C compiler or Python headers (")
    assert str(missing) in said[0]
    assert said[0].endswith(": installing pure Python (the same code, uncompiled)")
    assert not [name for name in names if name.endswith(".so")]
    assert "asgi_master/worker/http/head.py" in names
    assert record == _build.pure_record("no C compiler or Python headers at build")


def test_the_variable_makes_the_build_pure_python(tmp_path):
    said, names, record = _build_wheel(tmp_path, {_build.NO_EXTENSIONS_ENV: "1"})
    assert said == [
        "asgi-master: ASGI_MASTER_NO_EXTENSIONS is set: installing pure Python "
        "(the same code, uncompiled)"
    ]
    assert not [name for name in names if name.endswith(".so")]
    assert record == _build.pure_record("ASGI_MASTER_NO_EXTENSIONS set at build")
