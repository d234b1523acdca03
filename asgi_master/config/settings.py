"""The settings table: every setting declared once, as a field of ``Config``.

Each field's ``setting(...)`` metadata (setting.py) drives the TOML schema, the
``ASGI_MASTER_<NAME>`` environment variable, the command-line flag, ``--help``, validation and
the generated reference in docs/config.md. To add a setting, add one field; nothing else needs
to know about it. The table is long, so ``Config`` is built in three parts, in the order of
docs/config.md: serving.py (application, sockets, workers), protocols.py (HTTP, WebSocket,
HTTP/2, access-log format, TLS) and this module (logging, process, hooks).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .protocols import ProtocolSettings
from .setting import ENV_PREFIX, Setting, hook_setting, setting
from .types import (
    Account,
    Bool,
    Choice,
    OpenFilesLimit,
    OptionalFileMode,
    Str,
)

__all__ = ["BY_NAME", "ENV_PREFIX", "SECTIONS", "SETTINGS", "Config", "Setting"]


@dataclass(frozen=True, slots=True)
class Config(ProtocolSettings):
    """The effective configuration; ``sources`` says where each value came from."""

    # -- logging and process
    log_level: str = setting(
        Choice("critical", "error", "warning", "info", "debug"),
        "info",
        "logging",
        "Least severe level written to the error log (stderr).",
    )
    access_log: bool = setting(
        Bool(), True, "logging", "Write one access-log line per response to stdout."
    )
    error_log: str | None = setting(
        Str(optional=True, metavar="FILE"),
        None,
        "logging",
        "File the error log is appended to instead of stderr (`-` or unset: stderr). Everything "
        "master and workers write to stderr goes there, tracebacks and stack dumps included. "
        "SIGUSR1 reopens it (after log rotation).",
    )
    access_log_file: str | None = setting(
        Str(optional=True, metavar="FILE"),
        None,
        "logging",
        "File the access log is appended to instead of stdout (`-` or unset: stdout). SIGUSR1 "
        "reopens it.",
    )
    proc_name: str | None = setting(
        Str(optional=True, metavar="NAME"),
        None,
        "process",
        "Name shown in process titles (`asgi-master: master [NAME]`); defaults to the app path.",
    )
    pidfile: str | None = setting(
        Str(optional=True, metavar="FILE"),
        None,
        "process",
        "File the master writes its PID to; removed when it exits.",
    )
    user: str | None = setting(
        Account("user"),
        None,
        "process",
        "Run the workers as this user (name or uid); the master, started as root, keeps root to "
        "bind, write the pidfile, reopen logs and re-exec. Its primary group is used unless "
        "`group` is set.",
        short="-u",
    )
    group: str | None = setting(
        Account("group"),
        None,
        "process",
        "Run the workers with this group (name or gid).",
        short="-g",
    )
    umask: int | None = setting(
        OptionalFileMode(),
        None,
        "process",
        'File mode creation mask of the master and workers, in octal (e.g. `"027"`); unset '
        "keeps the one inherited.",
    )
    chdir: str | None = setting(
        Str(optional=True, metavar="DIR"),
        None,
        "process",
        "Directory the master changes to before binding, writing the pidfile or starting "
        "workers; relative paths in other settings are relative to it (the config file itself "
        "is found from where the server was started).",
    )
    open_files_limit: int | str = setting(
        OpenFilesLimit(),
        "hard",
        "process",
        "Soft limit on open files (RLIMIT_NOFILE, `ulimit -n`) the master raises itself to at "
        "start; the workers inherit it, and every connection holds one. `hard`: up to the hard "
        "limit (systemd gives services 1024 soft, 524288 hard); a number: up to that, never "
        "above the hard limit; `off`: keep the inherited one. It is never lowered. The log "
        "says the value once.",
    )

    # -- hooks (config/hookspecs.py says where, when, and what a failure does)
    on_starting: str | None = hook_setting("on_starting")
    when_ready: str | None = hook_setting("when_ready")
    pre_fork: str | None = hook_setting("pre_fork")
    post_fork: str | None = hook_setting("post_fork")
    post_worker_init: str | None = hook_setting("post_worker_init")
    worker_int: str | None = hook_setting("worker_int")
    worker_exit: str | None = hook_setting("worker_exit")
    child_exit: str | None = hook_setting("child_exit")
    nworkers_changed: str | None = hook_setting("nworkers_changed")
    on_reload: str | None = hook_setting("on_reload")
    pre_exec: str | None = hook_setting("pre_exec")
    on_exit: str | None = hook_setting("on_exit")

    # -- not settings: where the values came from
    config_file: str | None = None
    sources: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def title_name(self) -> str:
        """The name process titles carry."""
        return self.proc_name or self.app or "asgi-master"


SETTINGS: tuple[Setting, ...] = tuple(
    Setting(f.name, *f.metadata["setting"])
    for f in dataclasses.fields(Config)
    if "setting" in f.metadata
)
BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(s.section for s in SETTINGS))
