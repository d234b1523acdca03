"""The two builds: which one the hot modules load as, the switch that forces pure Python, and
what ``--version`` says. CI runs the suite with ``--expect-build=compiled`` and the unit tests
again with ``ASGI_MASTER_NO_EXTENSIONS=1 --expect-build=pure``."""

from __future__ import annotations

import importlib
import importlib.machinery
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from asgi_master import __version__, _build
from asgi_master.config import load

ROOT = Path(__file__).resolve().parent.parent.parent
SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def _installed_extensions() -> bool:
    return all(_build.extension_path(m) for m in _build.COMPILED)


def _python(code: str, env: dict[str, str], cwd: Path = ROOT) -> str:
    """Run ``code`` in a fresh interpreter; its stdout."""
    environ = {k: v for k, v in os.environ.items() if k != _build.NO_EXTENSIONS_ENV}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


# imports every compiled module, prints where each came from and the build reported
_REPORT = (
    "import importlib, json\n"
    "from asgi_master import _build\n"
    "files = {m: importlib.import_module(m).__file__ for m in _build.COMPILED}\n"
    "print(json.dumps({'files': files, 'describe': _build.describe()}))\n"
)


def _fake_package(tmp_path: Path, *, extensions: bool = True) -> Path:
    """A package directory with the compiled modules' sources, optionally files standing for
    their extensions, for ``choose`` to judge."""
    for module in _build.COMPILED:
        source = Path(_build.source_path(module, str(tmp_path)))
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text(f"# {module}\n")
        if extensions:
            source.with_suffix(SUFFIX).write_bytes(b"")
    return tmp_path


def _write_record(package: Path, record: dict[str, object]) -> None:
    (package / _build.RECORD).write_text(json.dumps(record))


def test_modules_load_as_the_build_that_is_reported():
    build = _build.activate()
    for name in _build.COMPILED:
        importlib.import_module(name)
    assert _build.loaded() == dict.fromkeys(_build.COMPILED, build.compiled)
    assert _build.describe() == build.describe()


def test_build_is_the_one_expected(request):
    """A CI run that should be compiled must not pass on a silently pure build."""
    expected = request.config.getoption("--expect-build")
    if expected is None:
        pytest.skip("no --expect-build given")
    for name in _build.COMPILED:
        importlib.import_module(name)
    compiled = expected == "compiled"
    assert _build.loaded() == dict.fromkeys(_build.COMPILED, compiled), _build.describe()
    assert _build.describe().startswith("compiled:" if compiled else "pure Python:")


@pytest.mark.skipif(not _installed_extensions(), reason="no compiled build installed")
def test_no_extensions_variable_loads_every_module_from_its_source():
    report = json.loads(_python(_REPORT, {_build.NO_EXTENSIONS_ENV: "1"}))
    assert all(path.endswith(".py") for path in report["files"].values()), report
    assert report["describe"] == "pure Python: ASGI_MASTER_NO_EXTENSIONS is set"


@pytest.mark.skipif(not _installed_extensions(), reason="no compiled build installed")
def test_without_the_variable_the_installed_extensions_load():
    report = json.loads(_python(_REPORT, {}))
    assert all(path.endswith(SUFFIX) for path in report["files"].values()), report
    assert report["describe"].startswith("compiled: mypyc")


@pytest.mark.skipif(not _installed_extensions(), reason="no compiled build installed")
def test_a_source_changed_after_the_build_loads_the_whole_set_from_source(tmp_path):
    copy = tmp_path / "asgi_master"
    shutil.copytree(ROOT / "asgi_master", copy, ignore=shutil.ignore_patterns("__pycache__"))
    writer = copy / "worker" / "http" / "writer.py"
    writer.write_text(writer.read_text() + "\n# edited after the build\n")
    report = json.loads(_python(_REPORT, {"PYTHONPATH": str(tmp_path)}, cwd=tmp_path))
    assert all(path.startswith(str(copy)) for path in report["files"].values()), report
    assert all(path.endswith(".py") for path in report["files"].values()), report
    assert report["describe"] == "pure Python: worker.http.writer changed since the build"


def test_a_compiled_record_matching_the_sources_chooses_the_compiled_build(tmp_path):
    package = _fake_package(tmp_path)
    _write_record(package, _build.compiled_record("mypyc 9.9", str(package)))
    assert _build.choose({}, str(package)) == _build.Build(True, "mypyc 9.9")


def test_the_variable_chooses_pure_python_over_a_compiled_build(tmp_path):
    package = _fake_package(tmp_path)
    _write_record(package, _build.compiled_record("mypyc 9.9", str(package)))
    build = _build.choose({_build.NO_EXTENSIONS_ENV: "1"}, str(package))
    assert build == _build.Build(False, "ASGI_MASTER_NO_EXTENSIONS is set")


def test_the_variable_set_to_0_or_empty_does_not_switch(tmp_path):
    package = _fake_package(tmp_path)
    _write_record(package, _build.compiled_record("mypyc 9.9", str(package)))
    for value in ("0", ""):
        assert _build.choose({_build.NO_EXTENSIONS_ENV: value}, str(package)).compiled


def test_a_pure_build_record_gives_its_reason(tmp_path):
    package = _fake_package(tmp_path, extensions=False)
    _write_record(package, _build.pure_record("no C compiler or Python headers at build"))
    assert _build.choose({}, str(package)).describe() == (
        "pure Python: no C compiler or Python headers at build"
    )


def test_extensions_without_a_build_record_are_not_used(tmp_path):
    package = _fake_package(tmp_path)
    assert _build.choose({}, str(package)) == _build.Build(False, "not compiled (no build record)")


def test_a_missing_extension_loads_the_whole_set_from_source(tmp_path):
    package = _fake_package(tmp_path)
    _write_record(package, _build.compiled_record("mypyc 9.9", str(package)))
    reader = Path(_build.source_path("asgi_master.worker.http.reader", str(package)))
    reader.with_suffix(SUFFIX).unlink()
    build = _build.choose({}, str(package))
    assert not build.compiled
    assert build.detail == "worker.http.reader not compiled"


def test_a_module_added_to_the_list_after_the_build_loads_the_set_from_source(tmp_path):
    package = _fake_package(tmp_path)
    record = _build.compiled_record("mypyc 9.9", str(package))
    sources = record["sources"]
    assert isinstance(sources, dict)
    del sources["asgi_master.worker.ws.session"]
    _write_record(package, record)
    build = _build.choose({}, str(package))
    assert not build.compiled
    assert build.detail == "worker.ws.session changed since the build"


def test_the_switch_variable_is_not_taken_for_a_setting():
    invocation = load(["examples.hello:app"], environ={_build.NO_EXTENSIONS_ENV: "1"})
    assert invocation.config.app == "examples.hello:app"


def test_version_names_the_build():
    done = subprocess.run(
        [sys.executable, "-m", "asgi_master", "--version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == f"asgi-master {__version__} ({_build.activate().describe()})"
