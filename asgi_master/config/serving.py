"""The first part of the settings table: the application, the sockets and the workers
(``Config`` in settings.py extends it; see setting.py for how a setting is declared)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .binds import DEFAULT_HOST, DEFAULT_PORT, Bind, BindSpec
from .setting import setting
from .types import (
    AppPath,
    Bool,
    ByteSize,
    Choice,
    FileMode,
    Int,
    ListOf,
    RootPath,
    Seconds,
    Str,
    Workers,
    auto_workers,
)


@dataclass(frozen=True, slots=True)
class ServingSettings:
    """Settings of the application, the listening sockets and the worker processes."""

    # -- application
    app: str | None = setting(
        AppPath(),
        None,
        "application",
        "The ASGI application to serve, as an import path `module:attribute`. Also given as the "
        "first positional argument.",
    )
    app_dir: str = setting(
        Str(metavar="DIR"),
        ".",
        "application",
        "Directory put first on `sys.path` before the application is imported, so "
        "`module:app` is found relative to it.",
    )
    env_file: str | None = setting(
        Str(optional=True, metavar="FILE"),
        None,
        "application",
        "A dotenv file (`KEY=VALUE` lines, read with python-dotenv as uvicorn's `--env-file` "
        "is) whose variables are put in the environment of the master, and so of every "
        "worker, before the app is imported. A variable the server was started with wins "
        "over the file. Read again on every SIGHUP (the new workers see the changes); a "
        "relative path is relative to the directory the server was started in. The file is "
        "for the app: `ASGI_MASTER_*` lines in it are refused.",
    )
    lifespan: str = setting(
        Choice("auto", "on", "off"),
        "auto",
        "application",
        "ASGI lifespan protocol. `auto`: used if the app supports it, skipped if it raises on "
        "the lifespan scope. `on`: required; any failure stops the worker. `off`: never sent.",
    )
    factory: bool = setting(
        Bool(),
        False,
        "application",
        "`app` names an app factory (uvicorn's `--factory`): a callable taking no arguments "
        "that returns the ASGI (or WSGI) app. Each worker calls it once, after `post_fork`.",
    )
    preload_app: bool = setting(
        Bool(),
        False,
        "application",
        "Import the app once in the master, before forking the workers (gunicorn's "
        "`--preload`): the workers share its memory copy-on-write (the master freezes its heap "
        "with `gc.freeze()` first) and an app that cannot be imported stops the server at "
        "once. With `factory`, the master imports the module and each worker calls the "
        "factory. The price: SIGHUP re-reads the configuration and replaces the workers but "
        "does *not* reload the app's code, since new workers are forked from the master's "
        "copy; deploy new code with SIGUSR2. Keep import-time code free of connections and "
        "threads (the master forks).",
    )
    interface: str = setting(
        Choice("auto", "asgi3", "wsgi"),
        "auto",
        "application",
        "How the app is called. `asgi3`: `app(scope, receive, send)`. `wsgi`: "
        "`app(environ, start_response)`, run in a thread pool of `wsgi_threads` threads per "
        "worker (needs `pip install asgi-master[wsgi]`). `auto`: `wsgi` when the callable "
        "takes exactly two positional parameters (a function, or an object's `__call__`), "
        "else `asgi3`.",
    )
    wsgi_threads: int = setting(
        Int(1, 1024),
        10,
        "application",
        "Threads per worker that run a WSGI app's requests: the most WSGI requests a worker "
        "serves at once.",
    )
    root_path: str = setting(
        RootPath(),
        "",
        "application",
        "The ASGI `root_path` of every request: the path prefix under which a proxy mounts the "
        "application, such as `/api` (a request for `/items` then has the path `/api/items`). "
        "It must start with `/`; a trailing `/` is dropped (`/api/` is `/api`, `/` is none).",
    )
    # -- sockets
    bind: list[BindSpec] = setting(  # noqa: RUF009 (setting() copies the list)
        ListOf(Bind()),
        [BindSpec("tcp", host=DEFAULT_HOST, port=DEFAULT_PORT)],
        "sockets",
        "Addresses to listen on; repeat the flag (or give a TOML list) for several. "
        "`HOST:PORT` (`0.0.0.0:8000`, `localhost:8000`), `[IPV6]:PORT` (`[::]:8000`), "
        "`unix:/path/to.sock`, or `fd://N` for an inherited listening socket. Short forms: "
        "`:PORT` is every IPv4 interface (`0.0.0.0:PORT`, as gunicorn reads it), `PORT` alone "
        "listens on `127.0.0.1`, `HOST` or `[IPV6]` alone on port 8000; `tcp://` may stand "
        "before a TCP address. A bare IPv6 address needs its brackets (`[::1]:8000`).",
        short="-b",
    )
    backlog: int = setting(
        Int(1, 65535),
        2048,
        "sockets",
        "Length of the kernel's queue of connections not yet accepted, per listening socket.",
    )
    unix_socket_mode: int = setting(
        FileMode(),
        0o666,
        "sockets",
        "Permissions given to UNIX sockets the server creates, in octal.",
    )
    # -- workers
    workers: int = field(  # "auto" is resolved each time a Config is made, not at import
        default_factory=auto_workers,
        metadata={
            "setting": (
                Workers(),
                "auto",
                "workers",
                "Number of worker processes, each running its own event loop. `auto`: one per CPU "
                "the server may use, that is the cgroup CPU quota rounded up (a container's or "
                "pod's CPU limit, systemd's `CPUQuota=`) when one is set, else the CPUs in its "
                "affinity mask. `--check-config` shows the number `auto` found and why.",
                "-w",
            )
        },
    )
    timeout: float = setting(
        Seconds(1),
        30.0,
        "workers",
        "A worker whose event loop has sent no heartbeat for this long is stuck: it is sent "
        "SIGABRT (its stack goes to the error log), then SIGKILL, and replaced.",
        short="-t",
    )
    graceful_timeout: float = setting(
        Seconds(0),
        30.0,
        "workers",
        "On a graceful stop, how long workers may take to finish requests in flight before they "
        "are killed.",
    )
    reload: bool = setting(
        Bool(),
        False,
        "workers",
        "Development: watch the source files under `app_dir` (and the config file) and roll "
        "out a reload, as SIGHUP does, when one changes. Skips virtual environments, caches "
        "and hidden directories. How it watches: `reload_watcher`.",
    )
    reload_watcher: str = setting(
        Choice("auto", "watchfiles", "poll"),
        "auto",
        "workers",
        "How `reload` notices changes. `watchfiles`: file-system events (inotify) through the "
        "watchfiles package (`pip install asgi-master[reload]`), in a child process of the "
        "master. `poll`: the master compares modification times once a second (works on any "
        "file system, including network mounts). `auto`: watchfiles if installed, else poll.",
    )
    reload_batch: int = setting(
        Int(1, 1024),
        1,
        "workers",
        "During a rolling reload (SIGHUP), how many new workers boot at once. Each old worker is "
        "stopped only after a new one is ready, so capacity never drops below `workers`.",
    )
    worker_boot_timeout: float = setting(
        Seconds(1),
        60.0,
        "workers",
        "How long a new worker may take to import the app and finish lifespan startup. A new "
        "worker slower than this during a reload aborts the reload; old workers keep serving.",
    )
    max_requests: int = setting(
        Int(0),
        0,
        "workers",
        "Recycle a worker after it has served this many requests (0: never). Its replacement "
        "is started and ready before it drains, so no capacity is lost.",
    )
    max_requests_jitter: int = setting(
        Int(0),
        0,
        "workers",
        "Add a random 0..N to each worker's `max_requests`, so workers do not all recycle at once.",
    )
    max_worker_lifetime: float = setting(
        Seconds(0),
        0.0,
        "workers",
        "Recycle a worker once it has run this many seconds (0: never), the same way as "
        "`max_requests`: its replacement is ready before it drains; one worker at a time.",
    )
    max_worker_lifetime_jitter: float = setting(
        Seconds(0),
        0.0,
        "workers",
        "Add a random 0..N seconds to each worker's `max_worker_lifetime`, so workers started "
        "together do not all recycle together.",
    )
    max_worker_memory: int = setting(
        ByteSize(),
        0,
        "workers",
        'Recycle a worker whose memory exceeds this many bytes (0: never), e.g. `"512MiB"` '
        "(K/M/G are powers of 1000, KiB/MiB/GiB of 1024). The master measures every worker "
        "every few seconds (see `max_worker_memory_kind`); one worker recycles at a time.",
    )
    max_worker_memory_kind: str = setting(
        Choice("rss", "uss"),
        "rss",
        "workers",
        "What `max_worker_memory` measures: `rss` (resident set, includes pages shared with the "
        "master and other workers; cheap) or `uss` (memory only this worker holds, what would "
        "be freed by its exit; reads /proc/PID/smaps, costlier).",
    )
