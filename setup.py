"""The optional compiled build: the modules listed in asgi_master/_build.py (``COMPILED``) are
compiled with mypyc, from the same .py files, when a C compiler and the Python headers are there.

Everything else about the package is declared in pyproject.toml. With no working compiler, with
mypyc failing, or with ASGI_MASTER_NO_EXTENSIONS=1, the build prints one line saying so and
installs pure Python (the same sources, uncompiled). Either way it leaves a record beside the
modules (asgi_master/_native.<python tag>.json) from which asgi_master/_build.py decides at
import which build runs (``asgi-master --version`` says which).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
import sysconfig
import tempfile
from types import ModuleType

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = "asgi_master"


def _load_build_module() -> ModuleType:
    """asgi_master/_build.py by path: importing the package itself is not needed here."""
    spec = importlib.util.spec_from_file_location(
        "_asgi_master_build", os.path.join(HERE, PACKAGE, "_build.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILD = _load_build_module()


def say(message: str) -> None:
    """The build's one line about what it does (pip shows it with -v)."""
    print(f"asgi-master: {message}", file=sys.stderr, flush=True)


def compiler_problem() -> str | None:
    """What fails when a file that includes Python.h is compiled here, or None."""
    from distutils.ccompiler import new_compiler
    from distutils.errors import CCompilerError, DistutilsError
    from distutils.sysconfig import customize_compiler

    compiler = new_compiler()
    customize_compiler(compiler)
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "probe.c")
        with open(source, "w", encoding="ascii") as file:
            file.write("#include <Python.h>\nint probe(void) { return 0; }\n")
        try:
            compiler.compile([source], output_dir=tmp, include_dirs=[sysconfig.get_path("include")])
        except (CCompilerError, DistutilsError, OSError) as exc:
            return str(exc).strip()[:200]
    return None


def mypyc_extensions(build_temp: str) -> tuple[list[Extension], str]:
    """mypyc's extension modules for ``COMPILED`` and the compiler's name; raises if it fails."""
    from mypy.version import __version__ as mypy_version
    from mypyc.build import mypycify

    package_dir = os.path.join(HERE, PACKAGE)
    sources = [BUILD.source_path(m, package_dir) for m in BUILD.COMPILED]
    # mypy only to type the compiled code, not to lint it (.ci/run does that with the project's
    # config): no config file, errors of the modules it follows silenced, and the third-party
    # packages absent from the build environment (h11, wsproto, uvloop...) taken as Any
    options = ["--config-file=", "--follow-imports=silent", "--ignore-missing-imports"]
    extensions = mypycify(
        [*options, *sources],
        group_name=BUILD.NATIVE_GROUP,
        target_dir=os.path.join(build_temp, "mypyc"),
    )
    return extensions, f"mypyc {mypy_version}"


def remove_extensions(package_dir: str) -> None:
    """Delete this interpreter's compiled modules of an earlier build from ``package_dir``
    (those of other Python versions are theirs)."""
    stems = [os.path.join(package_dir, *m.split(".")[1:]) for m in BUILD.COMPILED]
    stems.append(os.path.join(package_dir, BUILD.NATIVE_GROUP.split(".", 1)[1] + "__mypyc"))
    for stem in stems:
        with contextlib.suppress(FileNotFoundError):
            os.remove(stem + BUILD.EXTENSION_SUFFIX)


def remove_stale_extensions(package_dir: str) -> None:
    """Delete this interpreter's compiled modules that ``COMPILED`` no longer lists: an earlier
    in-place build's, which Python would import before the ``.py`` beside them (and which
    refer to a shared library that no longer has them)."""
    keep = {*BUILD.COMPILED, BUILD.NATIVE_GROUP + "__mypyc"}
    for root, _dirs, files in os.walk(package_dir):
        for name in files:
            if not name.endswith(BUILD.EXTENSION_SUFFIX):
                continue
            relative = os.path.relpath(os.path.join(root, name), package_dir)
            module = ".".join([PACKAGE, *relative[: -len(BUILD.EXTENSION_SUFFIX)].split(os.sep)])
            if module not in keep:
                os.remove(os.path.join(root, name))


class OptionalBuildExt(build_ext):
    """build_ext that compiles ``COMPILED`` with mypyc when it can and installs pure Python
    when it cannot; it writes the build record either way.

    The extensions are declared by name up front (setuptools lists and maps them long before
    anything is built, also for metadata only); mypyc generates their C sources in ``run``,
    so that only a real build pays for it.
    """

    #: why the build is pure: a short reason for the record (``--version`` shows it), and the
    #: build's line with the details
    pure_reason: str | None = None
    pure_line = ""

    def finalize_options(self) -> None:
        if BUILD.extensions_disabled(os.environ):
            self.pure_reason = f"{BUILD.NO_EXTENSIONS_ENV} set at build"
            self.pure_line = f"{BUILD.NO_EXTENSIONS_ENV} is set"
        elif problem := compiler_problem():
            self.pure_reason = "no C compiler or Python headers at build"
            self.pure_line = f"no working C compiler or Python headers ({problem})"
        super().finalize_options()
        if self.pure_reason:
            # build_ext still runs (setuptools decided that by the declared list): for the record
            self.extensions = []

    def run(self) -> None:
        compiler = ""
        if self.extensions:
            try:
                compiler = self._generate()
                super().run()
            except (Exception, SystemExit) as exc:  # mypyc exits on a type error
                self.pure_reason = "compiling failed at build"
                self.pure_line = f"compiling failed ({str(exc).strip()[:200]})"
                self.extensions = []
        for package_dir in self._package_dirs():
            if self.pure_reason:
                remove_extensions(package_dir)
                record = BUILD.pure_record(self.pure_reason)
            else:
                remove_stale_extensions(package_dir)
                # the digests of the sources compiled (those the runtime will compare)
                record = BUILD.compiled_record(compiler, os.path.join(HERE, PACKAGE))
            os.makedirs(package_dir, exist_ok=True)
            with open(os.path.join(package_dir, BUILD.RECORD), "w", encoding="utf-8") as file:
                json.dump(record, file, indent=1)
        if self.pure_reason:
            say(f"{self.pure_line}: installing pure Python (the same code, uncompiled)")
        else:
            say(f"compiled {len(BUILD.COMPILED)} modules with {compiler}")

    def _generate(self) -> str:
        """Fill the declared extensions with mypyc's; the compiler's name."""
        generated, compiler = mypyc_extensions(self.build_temp)
        by_name = {ext.name: ext for ext in generated}
        if set(by_name) != {ext.name for ext in self.extensions}:
            raise RuntimeError(f"mypyc made {sorted(by_name)}, not the declared extensions")
        for ext in self.extensions:
            # keep setuptools' bookkeeping on the declared object; take the build recipe
            for key, value in vars(by_name[ext.name]).items():
                if not key.startswith("_") or key.startswith("_mypyc"):
                    setattr(ext, key, value)
        return compiler

    def _package_dirs(self) -> list[str]:
        """Where the record goes: the build tree, and the sources for an in-place build."""
        dirs = [os.path.join(self.build_lib, PACKAGE)]
        if self.inplace or self.editable_mode:
            dirs.append(os.path.join(HERE, PACKAGE))
        return dirs


# mypyc's names: one shared library for the group, one small module per compiled module
EXTENSIONS = [BUILD.NATIVE_GROUP + "__mypyc", *BUILD.COMPILED]
setup(
    ext_modules=[Extension(name, sources=[]) for name in EXTENSIONS],
    cmdclass={"build_ext": OptionalBuildExt},
)
