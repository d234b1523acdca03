"""The second part of the settings table: HTTP/1.1, WebSocket, HTTP/2, the access-log format
and TLS (``Config`` in settings.py extends it; see setting.py for how a setting is declared)."""

from __future__ import annotations

from dataclasses import dataclass

from .binds import BindSpec, OptionalBind
from .headers import ResponseHeader
from .serving import ServingSettings
from .setting import setting
from .types import (
    AccessLogTemplate,
    Bool,
    ByteSize,
    Choice,
    Int,
    ListOf,
    ProxyAddress,
    Seconds,
    Secret,
    Str,
    TLSVersion,
)


@dataclass(frozen=True, slots=True)
class ProtocolSettings(ServingSettings):
    """Settings of the protocols the workers speak, and of their access log and TLS."""

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
    http2: bool = setting(
        Bool(),
        True,
        "http2",
        "Speak HTTP/2: offered by ALPN (`h2`) on TLS listeners, and spoken on a plain listener "
        "by a client that opens with the HTTP/2 preface (h2c with prior knowledge). `false`: "
        "HTTP/1.1 only (ALPN offers `http/1.1` alone, the preface is answered as a bad request).",
    )
    http2_upgrade: bool = setting(
        Bool(),
        False,
        "http2",
        "Also accept the `Upgrade: h2c` request of RFC 7540 3.2 on plain listeners (a request "
        "without a body is answered `101 Switching Protocols`, then over HTTP/2). RFC 9113 "
        "deprecates it and browsers never send it; a request with a body is served over "
        "HTTP/1.1 as if it had not asked.",
    )
    http2_only: bool = setting(
        Bool(),
        False,
        "http2",
        "Speak HTTP/2 alone: on plain listeners every connection must open with the HTTP/2 "
        "preface (h2c with prior knowledge, as gRPC clients and proxies speaking h2c to a "
        "backend do), and TLS listeners offer only `h2` by ALPN. Any other opening is an HTTP/2 "
        "connection error: GOAWAY PROTOCOL_ERROR, then the connection closes. Needs `http2`.",
    )
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
    proxy_protocol: bool = setting(
        Bool(),
        False,
        "http",
        "Every connection starts with a PROXY protocol header (HAProxy's `send-proxy` or "
        "`send-proxy-v2`, AWS NLB, GCP and most layer-4 load balancers; v1 or v2, detected) "
        "whose addresses become the client and server of its requests and the access log's "
        "client. Only peers in `forwarded_allow_ips` may connect; a connection from another "
        "peer, or one without a valid header, is closed before it reaches the app. The header "
        "comes before TLS on a TLS listener. v2's `LOCAL` (health checks) keeps the "
        "connection's own addresses.",
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
    request_body_timeout: float = setting(
        Seconds(0),
        20.0,
        "http",
        "How long the app may wait, in all, for a request body that trickles in, before the "
        "request is ended (`408 Request Timeout` if no response has started, else the "
        "connection is closed); extended by one second for every `request_body_min_rate` "
        "bytes received (Apache's `RequestReadTimeout body=20,MinRate=500`). Only time the app "
        "spends waiting in `receive` for body that has not arrived counts: an app that is slow "
        "to read is never cut off. `0` turns the limit off. Checked once a second.",
    )
    request_body_min_rate: int = setting(
        ByteSize(),
        500,
        "http",
        "Bytes per second of request body that keep a slow upload going past "
        "`request_body_timeout`: each this many bytes received buy one more second of waiting "
        "(`0`: no extension, the body must come within `request_body_timeout` of waiting).",
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
    date_header: bool = setting(
        Bool(),
        True,
        "http",
        "Send a `date` header on every response (RFC 9110 6.6.1 wants one from a server with a "
        "clock; turn it off only behind a proxy that adds its own).",
    )
    headers: list[str] = setting(  # noqa: RUF009 (setting() copies the list)
        ListOf(ResponseHeader()),
        [],
        "http",
        "Headers added to every response, `name: value` (repeat the flag or give a TOML list), "
        "e.g. `strict-transport-security: max-age=63072000`. An app's header of the same name "
        "replaces it; `server: ...` replaces the `server` header. Framing headers "
        "(content-length, transfer-encoding, connection...) and `date` are the server's own.",
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
