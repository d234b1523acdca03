"""The settings table: every setting declared once, as a field of ``Config``.

Each field's ``setting(...)`` metadata drives the TOML schema, the ``ASGI_MASTER_<NAME>``
environment variable, the command-line flag, ``--help``, validation and the generated reference
in docs/config.md. To add a setting, add one field; nothing else needs to know about it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .binds import DEFAULT_HOST, DEFAULT_PORT, Bind, BindSpec, OptionalBind
from .hookspecs import HOOKS
from .types import (
    AccessLogTemplate,
    Account,
    AppPath,
    Bool,
    ByteSize,
    Choice,
    Converter,
    FileMode,
    Int,
    ListOf,
    OpenFilesLimit,
    OptionalFileMode,
    ProxyAddress,
    RootPath,
    Seconds,
    Secret,
    Str,
    TLSVersion,
    Workers,
    auto_workers,
)

ENV_PREFIX = "ASGI_MASTER_"


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting: its name, value type, default, flags and the help an operator reads."""

    name: str
    type: Converter
    default: Any
    section: str
    help: str
    short: str | None = None

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def repeatable(self) -> bool:
        return isinstance(self.type, ListOf)


def setting(
    type_: Converter, default: Any, section: str, help_: str, short: str | None = None
) -> Any:
    """Declare a ``Config`` field as a setting; the field's name is the setting's name."""
    meta = {"setting": (type_, default, section, help_, short)}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def hook_setting(name: str) -> Any:
    """Declare the ``Config`` field of server hook ``name`` (see ``HOOKS``)."""
    spec = HOOKS[name]
    return setting(
        AppPath(),
        None,
        "hooks",
        f"Server hook `{name}{spec.signature}`, an import path `module:callable` imported in "
        f"the {spec.where}: called {spec.when}. If it raises, the error is logged with its "
        f"traceback and {spec.on_failure}. See docs/operations.md, Server hooks.",
    )


@dataclass(frozen=True, slots=True)
class Config:
    """The effective configuration; ``sources`` says where each value came from."""

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
    # -- http
    keepalive_timeout: float = setting(
        Seconds(0),
        5.0,
        "http",
        "How long an idle keep-alive connection is kept open waiting for the next request. "
        "`0` turns keep-alive off. A new connection that sends nothing is closed after this "
        "long too.",
    )
    # -- websocket
    websocket_max_message_size: int = setting(
        ByteSize(),
        16 * 1024**2,
        "websocket",
        "Largest WebSocket message accepted, in bytes after decompression (`0`: no limit). A "
        "larger one closes the connection with code 1009 (message too big).",
    )
    websocket_ping_interval: float = setting(
        Seconds(0),
        20.0,
        "websocket",
        "Send a ping on every open WebSocket this often (`0`: never). Keeps proxies from "
        "closing quiet connections and finds peers that are gone.",
    )
    websocket_ping_timeout: float = setting(
        Seconds(0),
        20.0,
        "websocket",
        "Close a WebSocket (code 1011) whose peer has not answered a ping within this long "
        "(`0`: never).",
    )
    websocket_per_message_deflate: bool = setting(
        Bool(),
        True,
        "websocket",
        "Compress WebSocket messages (permessage-deflate) when the client offers it. Costs CPU "
        "and about 64 KiB of memory per connection; saves bandwidth on text.",
    )
    websocket_drain_timeout: float = setting(
        Seconds(0),
        5.0,
        "websocket",
        "When a worker drains, its WebSockets get a close frame at once (1012 on a reload, "
        "1001 on shutdown); this is how long a client has to answer it before the connection "
        "is cut. The app sees `websocket.disconnect` with that code either way.",
    )
    # -- http2
    http2_max_concurrent_streams: int = setting(
        Int(1, 2**31 - 1),
        100,
        "http2",
        "Most streams (requests) an HTTP/2 client may have open at once on one connection "
        "(SETTINGS_MAX_CONCURRENT_STREAMS); more are refused with REFUSED_STREAM, which "
        "clients retry.",
    )
    http2_initial_window_size: int = setting(
        Int(1024, 2**31 - 1),
        65535,
        "http2",
        "Request body, in bytes, an HTTP/2 client may send on a stream ahead of the app "
        "reading it (SETTINGS_INITIAL_WINDOW_SIZE). The window reopens as the app reads, so an "
        "app that does not read stalls only its own stream; unread body per connection is at "
        "most this times `http2_max_concurrent_streams`.",
    )
    http2_max_frame_size: int = setting(
        Int(16384, 16777215),
        16384,
        "http2",
        "Largest HTTP/2 frame payload accepted, in bytes (SETTINGS_MAX_FRAME_SIZE).",
    )
    http2_idle_timeout: float = setting(
        Seconds(0),
        60.0,
        "http2",
        "Close an HTTP/2 connection (GOAWAY) that has had no open stream for this long (`0`: "
        "never). It takes the place of `keepalive_timeout`, which is HTTP/1.1's.",
    )
    http2_ping_interval: float = setting(
        Seconds(0),
        20.0,
        "http2",
        "Send a PING on an HTTP/2 connection that has received nothing for this long (`0`: "
        "never). Finds peers that are gone and keeps proxies from closing quiet connections.",
    )
    http2_ping_timeout: float = setting(
        Seconds(0),
        20.0,
        "http2",
        "Close an HTTP/2 connection whose peer has sent nothing within this long of our PING "
        "(`0`: never).",
    )
    proxy_headers: bool = setting(
        Bool(),
        True,
        "http",
        "Believe the proxy headers `X-Forwarded-For`, `X-Forwarded-Proto`, `X-Forwarded-Host` "
        "and `Forwarded` (RFC 7239) for the client address, scheme and host, when the "
        "connection comes from a peer in `forwarded_allow_ips`.",
    )
    forwarded_allow_ips: list[str] = setting(  # noqa: RUF009 (setting() copies the list)
        ListOf(ProxyAddress()),
        ["127.0.0.1"],
        "http",
        "Peers trusted to send proxy headers: IP addresses, CIDR networks (`10.0.0.0/8`), or "
        "`*` for any peer (only safe when nothing but the proxy can reach the server). A UNIX "
        "socket peer is always trusted. Anyone can send these headers, so from any other peer "
        "they are ignored. Behind a chain of proxies, list them all: the client is the first "
        "address from the right of the chain that is not a trusted proxy. `Forwarded` wins "
        "over `X-Forwarded-*` when a request has both, so the proxy should set (or strip) the "
        "one it uses.",
    )
    # -- logging (access-log format)
    access_log_format: str = setting(
        AccessLogTemplate(),
        '%(h)s - "%(r)s" %(s)s %(b)s %(M)sms',
        "logging",
        "Template of an access-log line, in gunicorn's atoms: `%(h)s` client address, `%(l)s` "
        "`-`, `%(u)s` user (basic auth), `%(t)s` date, `%(r)s` request line, `%(m)s` method, "
        "`%(U)s` path, `%(q)s` query, `%(H)s` protocol, `%(s)s` status, `%(B)s` body bytes "
        "(`%(b)s`: `-` for none), `%(f)s` referer, `%(a)s` user agent, `%(T)s` seconds, "
        "`%(D)s` microseconds, `%(M)s` milliseconds, `%(L)s` decimal seconds, `%(p)s` pid, "
        "`%({name}i)s` a request header; `%%` is a percent sign.",
    )
    log_format: str = setting(
        Choice("text", "json"),
        "text",
        "logging",
        "Access-log lines as `text` (`access_log_format`) or `json`: one object per line with "
        "the keys time, client, method, path, query, protocol, status, bytes, duration_ms, "
        "referer, user_agent.",
    )
    log_config: str | None = setting(
        Str(optional=True, metavar="FILE"),
        None,
        "logging",
        "A logging configuration (a `logging.config.dictConfig` table, `version = 1`) in a "
        "TOML or `.json` file, applied in the master and every worker after the settings "
        "above: extra handlers, other formats, app loggers. Loggers it does not name keep "
        "working (`disable_existing_loggers` defaults to false here). Use WatchedFileHandler "
        "for files rotated by logrotate; USR1 reopens only asgi-master's own files.",
    )
    # -- tls
    certfile: str | None = setting(
        Str(optional=True, metavar="FILE"),
        None,
        "tls",
        "PEM certificate (with its chain after it) to serve HTTPS with; TLS is on when this is "
        "set. The private key may be in the same file or in `keyfile`.",
    )
    keyfile: str | None = setting(
        Str(optional=True, metavar="FILE"),
        None,
        "tls",
        "PEM private key of `certfile`, when it is not in the certificate file.",
    )
    keyfile_password: str | None = setting(
        Secret(metavar="PASSWORD"),
        None,
        "tls",
        "Password of an encrypted private key. Prefer the environment variable to a flag "
        "(visible in `ps`) or the file; `--check-config` never prints it.",
    )
    ca_certs: str | None = setting(
        Str(optional=True, metavar="FILE"),
        None,
        "tls",
        "PEM file of the CA certificates that client certificates are verified against "
        "(see `cert_reqs`).",
    )
    cert_reqs: str = setting(
        Choice("none", "optional", "required"),
        "none",
        "tls",
        "Client certificates: `none` (not asked for), `optional` (asked for, and verified "
        "against `ca_certs` when sent), `required` (a client without a valid one is refused "
        "in the handshake). The app sees them in the `tls` scope extension.",
    )
    ciphers: str | None = setting(
        Str(optional=True, metavar="CIPHERS"),
        None,
        "tls",
        "OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are not affected); unset: Python's "
        "defaults.",
    )
    tls_min_version: str = setting(
        TLSVersion(), "1.2", "tls", "Oldest TLS version accepted: `1.2` or `1.3`."
    )
    request_header_timeout: float = setting(
        Seconds(1),
        10.0,
        "http",
        "How long a client may take to send a complete request head, counted from its first "
        "byte. Slower clients (slowloris) get `408 Request Timeout` and are disconnected.",
    )
    limit_request_line: int = setting(
        Int(64, 1048576),
        8190,
        "http",
        "Longest request line (method, target, version) accepted, in bytes; longer gets `414`.",
    )
    limit_request_fields: int = setting(
        Int(1, 10000), 100, "http", "Most header fields a request may have; more gets `431`."
    )
    limit_request_field_size: int = setting(
        Int(64, 1048576), 8190, "http", "Longest header line accepted, in bytes; longer gets `431`."
    )
    limit_request_body: int = setting(
        ByteSize(),
        1024**3,
        "http",
        "Largest request body accepted (`0`: no limit). Checked against Content-Length before "
        "anything is read (`413` at once) and counted while a chunked body streams.",
    )
    limit_concurrency: int = setting(
        Int(0),
        0,
        "http",
        "Most requests a worker runs at once and connections it holds open (0: no limit). A "
        "request beyond it gets `503` with `Retry-After`.",
    )
    debug: bool = setting(
        Bool(),
        False,
        "http",
        "Put the traceback in `500` responses (HTML or text by the request's Accept). For "
        "development only: it shows code to clients.",
    )
    server_header: bool = setting(
        Bool(), True, "http", "Send `server: asgi-master` on every response."
    )
    health_live_path: str | None = setting(
        Str(optional=True, metavar="PATH"),
        None,
        "health",
        "A path (e.g. `/livez`) the worker answers itself, before the app: `200` while its "
        "event loop runs. For liveness probes. Unset: no such path.",
    )
    health_ready_path: str | None = setting(
        Str(optional=True, metavar="PATH"),
        None,
        "health",
        "A path (e.g. `/readyz`) the worker answers itself: `200` while it serves, `503` "
        "during `shutdown_delay` and while it drains. For readiness probes and load balancers.",
    )
    health_access_log: bool = setting(
        Bool(),
        False,
        "health",
        "Write access-log lines for health-path requests (they never count toward `max_requests`).",
    )
    metrics_bind: BindSpec | None = setting(  # noqa: RUF009 (a frozen value)
        OptionalBind(),
        None,
        "health",
        "TCP address (e.g. `127.0.0.1:9100`) on which the master serves Prometheus metrics at "
        "`/metrics`: workers by state, per-worker RSS, CPU, requests and connections, restarts "
        "and recycles by reason, reloads by result, the live generation and a request-duration "
        "histogram. Unset: no endpoint, and workers keep no histogram.",
    )
    shutdown_delay: float = setting(
        Seconds(0),
        0.0,
        "health",
        "On SIGTERM, keep serving this many seconds with the ready path answering `503` "
        "before draining, so a load balancer (a Kubernetes Service) stops sending traffic "
        "first. Not applied to reloads.",
    )
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
