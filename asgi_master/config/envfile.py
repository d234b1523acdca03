"""``env_file``: a dotenv file whose variables the app finds in its environment.

The file is read with python-dotenv (as uvicorn's ``--env-file`` is), into the master's own
environment, before any app is imported, so the workers it forks inherit the variables. A
variable the server was started with wins over the file (python-dotenv's rule). The file is
read again on every SIGHUP: variables it set before are taken back first, so an edited value
reaches the new workers and a removed line disappears.

The file is for the application. ``ASGI_MASTER_*`` lines are refused: settings come from the
config file, the server's environment or its flags, all read before this file.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import ConfigError
from .settings import ENV_PREFIX, Config


def check_env_file(path: str) -> list[str]:
    """The names the file sets; ValueError (the reason, with the line) if it cannot be read,
    or a line is not ``KEY=VALUE``, or it sets a setting of the server."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise ValueError(f"cannot read it: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    from dotenv.parser import parse_stream  # only with env_file: the worker never needs it

    names: list[str] = []
    for binding in parse_stream(io.StringIO(text)):
        raw = binding.original.string
        # python-dotenv counts the blank lines before a binding as part of it
        line = binding.original.line + raw[: len(raw) - len(raw.lstrip())].count("\n")
        if binding.error:
            # the line itself is not shown: it may hold a secret
            raise ValueError(f"line {line} is not KEY=VALUE (python-dotenv cannot read it)")
        if binding.key is None:
            continue  # a comment or a blank line
        if binding.key.upper().startswith(ENV_PREFIX):
            raise ValueError(
                f"line {line} sets {binding.key}, a setting of the server; env_file is read "
                "for the app, after the settings (put it in the config file or the environment)"
            )
        names.append(binding.key)
    return names


@dataclass
class EnvFileLoad:
    """What the last load of ``env_file`` put into this process's environment, to take it
    back before the next load."""

    path: str | None = None
    #: variables the file set, with the value set
    set_by_file: dict[str, str] = field(default_factory=dict)
    #: variables the file names that the environment already had (those win)
    kept: list[str] = field(default_factory=list)

    def apply(self, path: str | None) -> None:
        """Take back what the previous file set, then load ``path`` (None: no file)."""
        self.take_back()
        self.path = path
        if path is None:
            return
        names = list(dict.fromkeys(check_env_file(path)))
        from dotenv import load_dotenv

        before = dict(os.environ)
        load_dotenv(path, override=False, encoding="utf-8")
        self.set_by_file = {n: os.environ[n] for n in names if n in os.environ and n not in before}
        self.kept = [name for name in names if name in before]

    def take_back(self) -> None:
        """Remove the variables this load set (those still holding the value it gave)."""
        for name, value in self.set_by_file.items():
            if os.environ.get(name) == value:
                del os.environ[name]
        self.set_by_file = {}
        self.kept = []

    def inherited(self, environ: Mapping[str, str]) -> dict[str, str]:
        """``environ`` without what the file set: the environment a re-executed master (USR2)
        starts from, so that it reads the file afresh."""
        return {
            name: value for name, value in environ.items() if self.set_by_file.get(name) != value
        }


#: this process's load (the master's; a worker inherits the variables, not the record)
ENV_FILE = EnvFileLoad()


def load_env_file(config: Config) -> EnvFileLoad:
    """Load ``config.env_file`` into this process's environment (taking back the previous
    one's variables); ConfigError naming the setting if the file no longer reads."""
    try:
        ENV_FILE.apply(config.env_file)
    except ValueError as exc:
        where = config.sources.get("env_file", "default")
        raise ConfigError(f'{where}: env_file = "{config.env_file}": {exc}') from None
    return ENV_FILE
