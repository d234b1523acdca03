"""The command-line flags of gunicorn and uvicorn, and what to write here instead.

An operator who types a peer's flag gets one line saying what it is called here (or why it is
not needed), instead of argparse's usage text. docs/migrating.md has the same mapping as a
table; a test holds the two together.
"""

from __future__ import annotations

from typing import Final, NamedTuple


class PeerFlag(NamedTuple):
    """What a peer's flag becomes: ``setting`` (when one of ours takes its place) and a hint."""

    peer: str
    setting: str | None
    hint: str


PEER_FLAGS: Final[dict[str, PeerFlag]] = {
    # uvicorn
    "--host": PeerFlag("uvicorn", "bind", "use --bind HOST:PORT, e.g. --bind 0.0.0.0:8000"),
    "--port": PeerFlag(
        "uvicorn", "bind", "use --bind HOST:PORT, e.g. --bind 0.0.0.0:8000, or --bind PORT"
    ),
    "--uds": PeerFlag("uvicorn", "bind", "use --bind unix:PATH"),
    "--fd": PeerFlag("uvicorn", "bind", "use --bind fd://N"),
    "--ssl-certfile": PeerFlag("uvicorn", "certfile", "use --certfile FILE"),
    "--ssl-keyfile": PeerFlag("uvicorn", "keyfile", "use --keyfile FILE"),
    "--ssl-keyfile-password": PeerFlag("uvicorn", "keyfile_password", "use --keyfile-password"),
    "--ssl-ca-certs": PeerFlag("uvicorn", "ca_certs", "use --ca-certs FILE"),
    "--ssl-cert-reqs": PeerFlag("uvicorn", "cert_reqs", "use --cert-reqs none|optional|required"),
    "--ssl-ciphers": PeerFlag("uvicorn", "ciphers", "use --ciphers"),
    "--ssl-version": PeerFlag("uvicorn", "tls_min_version", "use --tls-min-version 1.2|1.3"),
    "--timeout-keep-alive": PeerFlag(
        "uvicorn", "keepalive_timeout", "use --keepalive-timeout SECONDS"
    ),
    "--timeout-graceful-shutdown": PeerFlag(
        "uvicorn", "graceful_timeout", "use --graceful-timeout SECONDS"
    ),
    "--limit-max-requests": PeerFlag("uvicorn", "max_requests", "use --max-requests N"),
    "--ws-max-size": PeerFlag(
        "uvicorn", "websocket_max_message_size", "use --websocket-max-message-size BYTES"
    ),
    "--ws-ping-interval": PeerFlag(
        "uvicorn", "websocket_ping_interval", "use --websocket-ping-interval SECONDS"
    ),
    "--ws-ping-timeout": PeerFlag(
        "uvicorn", "websocket_ping_timeout", "use --websocket-ping-timeout SECONDS"
    ),
    "--ws-per-message-deflate": PeerFlag(
        "uvicorn",
        "websocket_per_message_deflate",
        "use --websocket-per-message-deflate / --no-websocket-per-message-deflate",
    ),
    "--reload-dir": PeerFlag("uvicorn", "reload", "--reload watches the sources under --app-dir"),
    "--reload-include": PeerFlag(
        "uvicorn", "reload", "--reload watches the sources under --app-dir"
    ),
    "--reload-exclude": PeerFlag(
        "uvicorn", "reload", "--reload watches the sources under --app-dir"
    ),
    "--header": PeerFlag("uvicorn", "headers", 'use --headers "NAME: VALUE" (repeat it for more)'),
    "--loop": PeerFlag("uvicorn", None, "not needed: every worker runs asyncio on uvloop"),
    "--http": PeerFlag("uvicorn", None, "not needed: the HTTP/1.1 parser is built in"),
    "--ws": PeerFlag("uvicorn", None, "not needed: the WebSocket layer is built in"),
    "--use-colors": PeerFlag("uvicorn", None, "not needed: log lines are plain text"),
    "--no-use-colors": PeerFlag("uvicorn", None, "not needed: log lines are plain text"),
    "--h11-max-incomplete-event-size": PeerFlag(
        "uvicorn",
        "limit_request_field_size",
        "use --limit-request-line and --limit-request-field-size",
    ),
    # gunicorn
    "--worker-class": PeerFlag(
        "gunicorn",
        None,
        "not needed: workers run asyncio on uvloop; for a WSGI app use --interface wsgi",
    ),
    "--threads": PeerFlag(
        "gunicorn", "wsgi_threads", "use --wsgi-threads N (threads of a WSGI app)"
    ),
    "--worker-connections": PeerFlag("gunicorn", "limit_concurrency", "use --limit-concurrency N"),
    "--keep-alive": PeerFlag("gunicorn", "keepalive_timeout", "use --keepalive-timeout SECONDS"),
    "--access-logfile": PeerFlag(
        "gunicorn",
        "access_log_file",
        "use --access-log-file FILE (access lines go to stdout by default)",
    ),
    "--access-logformat": PeerFlag("gunicorn", "access_log_format", "use --access-log-format"),
    "--error-logfile": PeerFlag("gunicorn", "error_log", "use --error-log FILE"),
    "--log-file": PeerFlag("gunicorn", "error_log", "use --error-log FILE"),
    "--capture-output": PeerFlag(
        "gunicorn", "error_log", "not needed: --error-log FILE takes everything written to stderr"
    ),
    "--pid": PeerFlag("gunicorn", "pidfile", "use --pidfile FILE"),
    "--name": PeerFlag("gunicorn", "proc_name", "use --proc-name NAME"),
    "--preload": PeerFlag("gunicorn", "preload_app", "use --preload-app"),
    "--print-config": PeerFlag("gunicorn", None, "use --check-config"),
    "--env": PeerFlag(
        "gunicorn",
        "env_file",
        "set variables in the environment, or name a dotenv file with --env-file",
    ),
    "--daemon": PeerFlag(
        "gunicorn",
        None,
        "not supported: run it under systemd or in a container (docs/deploy-systemd.md)",
    ),
    "--worker-tmp-dir": PeerFlag(
        "gunicorn", None, "not needed: heartbeats go over a pipe, not a file"
    ),
    "--statsd-host": PeerFlag(
        "gunicorn", "metrics_bind", "use --metrics-bind HOST:PORT (Prometheus)"
    ),
    "--reuse-port": PeerFlag(
        "gunicorn", None, "not needed: the master binds once and workers inherit"
    ),
    "--paste": PeerFlag("gunicorn", None, "not supported: give the ASGI app as MODULE:APP"),
}

#: single-letter flags of the peers that are not ours: -k (gunicorn worker class), -D, -e, -p
PEER_SHORT_FLAGS: Final[dict[str, str]] = {
    "-k": "--worker-class",
    "-D": "--daemon",
    "-e": "--env",
    "-p": "--pid",
    "-n": "--name",
}


def hint_for(flag: str, known_settings: set[str]) -> str | None:
    """The hint for a peer's flag, or None when it is not one."""
    peer = PEER_FLAGS.get(PEER_SHORT_FLAGS.get(flag, flag))
    if peer is None:
        return None
    if peer.setting is not None and peer.setting not in known_settings:
        return f"{flag} is {peer.peer}'s; asgi-master has no such setting yet"
    return f"{flag} is {peer.peer}'s; {peer.hint}"
