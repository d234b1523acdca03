"""The server hooks' table: where each hook runs, how it is called, when, and what its
failure does. settings.py declares one setting per entry from it; asgi_master/hooks.py runs
the hooks by it; docs/config.md and --help show it through the settings' help."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HookSpec:
    """A server hook: where it runs, how it is called, when, and what its failure does."""

    where: str
    signature: str
    when: str
    on_failure: str


#: the server hooks (asgi_master/hooks.py runs them), in the order of a server's life
HOOKS: dict[str, HookSpec] = {
    "on_starting": HookSpec(
        "master",
        "(server)",
        "first, before the sockets are bound and the app is preloaded",
        "the server does not start (status 1)",
    ),
    "when_ready": HookSpec(
        "master",
        "(server)",
        "once every worker of the first generation is ready (when systemd is told READY=1)",
        "the server serves on",
    ),
    "pre_fork": HookSpec(
        "master",
        "(server, worker)",
        "just before each worker is forked (`worker.pid` is 0)",
        "the worker is forked anyway",
    ),
    "post_fork": HookSpec(
        "worker",
        "(server, worker)",
        "first thing in each new worker, before the app is imported or its factory called",
        "the worker does not boot, like a failed lifespan startup (status 3)",
    ),
    "post_worker_init": HookSpec(
        "worker",
        "(worker)",
        "once the app is loaded and its lifespan startup done, before the worker is ready",
        "the worker does not boot, like a failed lifespan startup (status 3)",
    ),
    "worker_int": HookSpec(
        "worker",
        "(worker)",
        "when the worker is told to stop at once (INT, QUIT)",
        "the worker stops anyway",
    ),
    "worker_exit": HookSpec(
        "worker",
        "(server, worker)",
        "last, after the worker has drained and run lifespan shutdown",
        "the worker exits as it would have",
    ),
    "child_exit": HookSpec(
        "master",
        "(server, worker)",
        "after a worker has exited and been reaped (`worker.exit_status`, `worker.exit_reason`)",
        "the master carries on",
    ),
    "nworkers_changed": HookSpec(
        "master",
        "(server, new_value, old_value)",
        "when the number of workers aimed for changes (TTIN, TTOU, WINCH, a reload)",
        "the master carries on",
    ),
    "on_reload": HookSpec(
        "master",
        "(server)",
        "on each reload, once the new configuration is read and valid (`server.config`), "
        "before new workers are forked",
        "the reload goes ahead",
    ),
    "pre_exec": HookSpec(
        "master",
        "(server)",
        "on SIGUSR2, in the new master's process just before it executes",
        "the upgrade is aborted and the old master serves on",
    ),
    "on_exit": HookSpec(
        "master",
        "(server)",
        "last, just before the master exits",
        "the exit status is unchanged",
    ),
}
