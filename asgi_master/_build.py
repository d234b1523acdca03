"""Which build of the hot modules runs, compiled (mypyc) or pure Python, and the switch.

Theory of operation: setup.py compiles the modules named in ``COMPILED`` with mypyc, from these
very ``.py`` files, when a C compiler and the Python headers are there; the ``.py`` files stay
the one source and always work alone. The build leaves a record beside the extensions
(``RECORD``, one per Python version): compiled, with a digest of each source, or pure, with the
reason. At import of ``asgi_master`` (``activate``) the record, the extension files and the
environment decide, once, for the whole set: the modules are compiled together and call each
other natively, so they load either all compiled or all from source.

They load from source when ``ASGI_MASTER_NO_EXTENSIONS`` is set (not empty, not ``0``), when the
build was pure, or when a source no longer matches its digest (an editable install whose
``.py`` changed after the build: its extension would silently run old code). Python's import
system finds an extension module before the ``.py`` beside it, so loading from source takes a
finder ahead of it on ``sys.meta_path`` that hands out the ``.py`` files.

This module imports only the standard library: setup.py loads it by path to read the list.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Mapping, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Final, NamedTuple

#: the modules compiled into the extension build, the one list (setup.py reads it)
COMPILED: Final = (
    "asgi_master.worker.http.head",
    "asgi_master.worker.http.reader",
    "asgi_master.worker.http.chunked",
    "asgi_master.worker.http.writer",
    "asgi_master.worker.ws.frames",
    "asgi_master.worker.ws.session",
    "asgi_master.worker.ws.inbox",
    "asgi_master.worker.http.limits",
    "asgi_master.worker.http.connection",
    "asgi_master.worker.scope",
    "asgi_master.worker.cycle",
    "asgi_master.grammar",
    "asgi_master.worker.http.protocol",
    "asgi_master.worker.context",
    "asgi_master.worker.flow",
    "asgi_master.worker.accesslog",
    "asgi_master.worker.h2.errors",
    "asgi_master.worker.h2.limits",
    "asgi_master.worker.h2.abuse",
    "asgi_master.worker.h2.frames",
    "asgi_master.worker.h2.state",
    "asgi_master.worker.h2.request",
    "asgi_master.worker.h2.compression",
    "asgi_master.worker.h2.outbox",
    "asgi_master.worker.h2.response",
    "asgi_master.worker.h2.control",
    "asgi_master.worker.h2.streams",
    "asgi_master.worker.h2.connection",
    "asgi_master.worker.h2.request_stream",
    "asgi_master.worker.h2.protocol",
)
#: set (not empty, not "0"), pure Python: at build, compile nothing; at import, load the .py
NO_EXTENSIONS_ENV: Final = "ASGI_MASTER_NO_EXTENSIONS"
#: mypyc's group: the shared library of the compiled modules is asgi_master/_native__mypyc.*
NATIVE_GROUP: Final = "asgi_master._native"
#: the file name ending of extension modules for this interpreter (setuptools builds these)
EXTENSION_SUFFIX: Final = importlib.machinery.EXTENSION_SUFFIXES[0]
#: what the build made, beside the extensions in the package directory; one per interpreter
#: (a checkout may hold builds for several Python versions: each is judged on its own)
RECORD: Final = "_native" + os.path.splitext(EXTENSION_SUFFIX)[0] + ".json"
PACKAGE_DIR: Final = os.path.dirname(os.path.abspath(__file__))


class Build(NamedTuple):
    """The build in use: compiled or not, and what says so (the compiler, or why pure)."""

    compiled: bool
    detail: str

    def describe(self) -> str:
        """One phrase for ``--version`` and the master's start-up line."""
        if self.compiled:
            return f"compiled: {self.detail}, {len(COMPILED)} modules"
        return f"pure Python: {self.detail}"


def extensions_disabled(environ: Mapping[str, str]) -> bool:
    """Whether ``ASGI_MASTER_NO_EXTENSIONS`` asks for pure Python."""
    return environ.get(NO_EXTENSIONS_ENV, "") not in ("", "0")


def source_path(module: str, package_dir: str = PACKAGE_DIR) -> str:
    """The ``.py`` file of a module of ``COMPILED``."""
    return os.path.join(package_dir, *module.split(".")[1:]) + ".py"


def extension_path(module: str, package_dir: str = PACKAGE_DIR) -> str | None:
    """The extension module installed for ``module`` beside its source, if any."""
    stem = os.path.join(package_dir, *module.split(".")[1:])
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        if os.path.exists(stem + suffix):
            return stem + suffix
    return None


def source_digests(package_dir: str = PACKAGE_DIR) -> dict[str, str]:
    """SHA-256 of each compiled module's source, as the record keeps them."""
    digests = {}
    for module in COMPILED:
        with open(source_path(module, package_dir), "rb") as source:
            digests[module] = hashlib.sha256(source.read()).hexdigest()
    return digests


def compiled_record(compiler: str, package_dir: str = PACKAGE_DIR) -> dict[str, object]:
    """The record of a compiled build (setup.py writes it)."""
    return {"compiled": True, "compiler": compiler, "sources": source_digests(package_dir)}


def pure_record(reason: str) -> dict[str, object]:
    """The record of a build that compiled nothing, and why (setup.py writes it)."""
    return {"compiled": False, "reason": reason}


def read_record(package_dir: str = PACKAGE_DIR) -> dict[str, object] | None:
    """The record the build left, or None (a source checkout never built, a damaged file)."""
    try:
        with open(os.path.join(package_dir, RECORD), encoding="utf-8") as file:
            record = json.load(file)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def choose(environ: Mapping[str, str], package_dir: str = PACKAGE_DIR) -> Build:
    """Decide which build the modules of ``COMPILED`` load as."""
    if extensions_disabled(environ):
        return Build(False, f"{NO_EXTENSIONS_ENV} is set")
    record = read_record(package_dir)
    if record is None:
        return Build(False, "not compiled (no build record)")
    if not record.get("compiled"):
        return Build(False, str(record.get("reason") or "built without extensions"))
    # (short phrases: argparse wraps a --version line longer than the terminal)
    missing = [m for m in COMPILED if extension_path(m, package_dir) is None]
    if missing:
        return Build(False, f"{_short(missing[0])} not compiled")
    recorded = record.get("sources")
    current = source_digests(package_dir)
    changed = [
        m for m in COMPILED if not isinstance(recorded, dict) or recorded.get(m) != current[m]
    ]
    if changed:
        return Build(False, f"{_short(changed[0])} changed since the build")
    return Build(True, str(record.get("compiler") or "mypyc"))


def _short(module: str) -> str:
    return module.removeprefix("asgi_master.")


class SourceFinder:
    """Hands out the ``.py`` file for the modules of ``COMPILED``, so that an extension module
    beside it is not loaded. (A meta path finder needs only ``find_spec``; the base class in
    ``importlib.abc`` would import ``importlib.resources`` and ``tempfile``, 1.2 MiB of every
    process.)"""

    def __init__(self, package_dir: str = PACKAGE_DIR) -> None:
        self.package_dir = package_dir

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in COMPILED:
            return None
        return importlib.util.spec_from_file_location(
            fullname, source_path(fullname, self.package_dir)
        )


_current: Build | None = None


def activate(environ: Mapping[str, str] = os.environ) -> Build:
    """Decide the build once (at import of ``asgi_master``) and make imports follow it."""
    global _current
    if _current is None:
        _current = choose(environ)
        if not _current.compiled and any(extension_path(m) for m in COMPILED):
            sys.meta_path.insert(0, SourceFinder())
    return _current


def loaded() -> dict[str, bool]:
    """For each module of ``COMPILED`` imported so far: whether it is the compiled one."""
    kinds = {}
    for name in COMPILED:
        module = sys.modules.get(name)
        if module is not None:
            kinds[name] = isinstance(
                getattr(module.__spec__, "loader", None), importlib.machinery.ExtensionFileLoader
            )
    return kinds


def describe() -> str:
    """The build in use, in one phrase; checked against the modules imported so far."""
    build = activate()
    odd = [name for name, compiled in loaded().items() if compiled != build.compiled]
    if odd:
        kind = "from source" if build.compiled else "compiled"
        return f"mixed: {build.describe()}, but {odd[0]} loaded {kind}"
    return build.describe()
