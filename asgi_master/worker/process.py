"""One worker process: boot (app import, lifespan), serve on the inherited sockets, drain, exit.

Signals: TERM drains gracefully (stop accepting, finish requests in flight, close idle
connections, lifespan shutdown); INT and QUIT close at once. The worker also stops when its
master dies (PR_SET_PDEATHSIG, and a parent-pid check on every tick as a fallback).
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import faulthandler
import logging
import os
import random
import resource
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Final

import setproctitle
import uvloop

from .. import hooks
from ..channel import ChannelWriter, Kind
from ..config import Config
from ..logs import reopen as reopen_logs
from ..logs import setup as setup_logs
from .app import AppFactoryError, AppLoadError, load_app
from .asgi import ASGIApp
from .context import WorkerSettings, WorkerState
from .h2.entry import entry_points
from .http.protocol import DRAIN_IDLE_GRACE, HTTPProtocol
from .lifespan import Lifespan, LifespanFailure
from .proxyproto import ProxyHeader
from .proxyproto.entry import entry_factory
from .ws import UPGRADES

log = logging.getLogger("asgi_master.error")

#: exit statuses the master understands
EXIT_OK: Final = 0
EXIT_APP_IMPORT: Final = 2
EXIT_BOOT_FAILED: Final = 3

_PR_SET_PDEATHSIG: Final = 1
_RESET_SIGNALS: Final = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGHUP,
    signal.SIGTTIN,
    signal.SIGTTOU,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGCHLD,
    signal.SIGWINCH,
)
TICK: Final = 1.0


def _die_with_parent(master_pid: int) -> None:
    """Ask the kernel to send TERM when the master dies (Linux); the tick re-checks anyway."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != master_pid:
        os._exit(EXIT_OK)


def run_worker(
    config: Config,
    listeners: list[socket.socket],
    channel_fd: int,
    worker_id: int,
    master_pid: int,
    *,
    generation: int = 1,
    preloaded: object = None,
) -> int:
    """Entry point of a freshly forked worker; returns its exit status. ``preloaded`` is the
    app object (or factory) the master imported with ``preload_app``, else None."""
    for signum in _RESET_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    # a graceful stop that comes while the worker boots (the master replaces or stops a worker
    # that is not ready yet) is kept for when it has booted, so that it still ends the way
    # every worker does (lifespan shutdown, worker_exit) instead of dying by the signal
    early = EarlyStop()
    signal.signal(signal.SIGTERM, early.record)
    signal.signal(signal.SIGHUP, early.record)
    setproctitle.setproctitle(f"asgi-master: worker {worker_id} [{config.title_name}]")
    _die_with_parent(master_pid)
    faulthandler.enable(file=sys.stderr, all_threads=True)
    setup_logs(config)
    channel = ChannelWriter(channel_fd)
    server = hooks.Server(pid=master_pid, config=config, generation=generation)
    me = hooks.Worker(slot=worker_id, pid=os.getpid(), generation=generation)
    problem = hooks.load(config, "worker")  # a wrong path is found now, not at exit
    if problem is not None:
        channel.send(Kind.BOOTFAIL, problem)
        return EXIT_APP_IMPORT
    try:
        failure = hooks.run(config, "post_fork", server, me)
        if failure is not None:
            channel.send(Kind.BOOTFAIL, f"{failure} (traceback above)")
            return EXIT_BOOT_FAILED
        try:
            app = _load(config, preloaded)
        except AppLoadError as exc:
            log.error("Worker %d: %s", worker_id, exc, exc_info=exc.__cause__)
            channel.send(Kind.BOOTFAIL, f"{exc}{' (traceback above)' if exc.__cause__ else ''}")
            return EXIT_BOOT_FAILED if isinstance(exc, AppFactoryError) else EXIT_APP_IMPORT
        loop = uvloop.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            worker = Worker(config, app, listeners, channel, me, master_pid, loop, early)
            return loop.run_until_complete(worker.run())
        finally:
            loop.close()
    finally:
        hooks.run(config, "worker_exit", server, me)


def _load(config: Config, preloaded: object) -> ASGIApp:
    """The app this worker serves: imported here, or the master's preloaded object."""
    where = {} if preloaded is None else {"preloaded": preloaded}
    return load_app(
        config.app or "",
        config.app_dir,
        config.interface,
        config.wsgi_threads,
        factory=config.factory,
        **where,
    )


class DescriptorWatch:
    """Notices, once per episode, that the worker is out of file descriptors.

    The event loop says nothing when accept fails for lack of descriptors (libuv accepts and
    closes the waiting connections itself), so the worker counts: an estimate per tick (the
    descriptors open when it became ready plus its connections), and the real count from
    /proc only once the estimate passes three quarters of the limit.
    """

    def __init__(self) -> None:
        self.limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        self.baseline = self.count() or 0
        self.exhausted = False

    def count(self) -> int | None:
        """Descriptors open in this process now (None where /proc is not mounted)."""
        try:
            return len(os.listdir("/proc/self/fd")) - 1  # listdir's own
        except OSError as exc:
            # reading the directory takes a descriptor too
            return self.limit if exc.errno in (errno.EMFILE, errno.ENFILE) else None

    def check(self, connections: int) -> int | None:
        """The descriptors in use if the worker has just run out, else None."""
        if self.limit == resource.RLIM_INFINITY:
            return None
        if self.baseline + connections < self.limit * 3 // 4:
            self.exhausted = False
            return None
        used = self.count()
        if used is None or used < self.limit - 2:  # libuv keeps one spare for its accept trick
            self.exhausted = self.exhausted and used is not None and used > self.limit * 9 // 10
            return None
        if self.exhausted:
            return None
        self.exhausted = True
        return used


class EarlyStop:
    """The graceful stop signals (TERM, HUP) received before the worker could serve."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def record(self, signum: int, frame: object) -> None:
        # a signal handler: only remember (TERM wins over HUP: the server stops)
        if self.signum != signal.SIGTERM:
            self.signum = signum


class Worker:
    """The serving life of one worker process."""

    def __init__(
        self,
        config: Config,
        app: ASGIApp,
        listeners: list[socket.socket],
        channel: ChannelWriter,
        me: hooks.Worker,
        master_pid: int,
        loop: asyncio.AbstractEventLoop,
        early: EarlyStop | None = None,
    ) -> None:
        self.config = config
        self.early = early or EarlyStop()
        self.app = app
        self.listeners = listeners
        self.channel = channel
        #: this worker, as hooks see it
        self.me = me
        self.worker_id = me.slot
        self.master_pid = master_pid
        self.loop = loop
        self.lifespan = Lifespan(app, config.lifespan)
        self.ctx = WorkerState(
            WorkerSettings.from_config(config), app, loop, state=self.lifespan.state
        )
        # HTTP/2 (ALPN h2, the h2c preface, Upgrade: h2c) is handed over from HTTPProtocol
        self._upgrades, self.ctx.http2_handover = entry_points(self.ctx.settings, UPGRADES)
        if config.max_requests:
            self.ctx.retire_after = config.max_requests + random.randint(
                0, config.max_requests_jitter
            )
            self.ctx.on_retire = self._retire
        self._stop: asyncio.Future[bool] = loop.create_future()

    async def run(self) -> int:
        """Boot, serve until told to stop, drain; the process's exit status."""
        try:
            await self.lifespan.startup(self.ctx.base_context)
        except LifespanFailure as exc:
            details = f"\n{exc.details}" if exc.details else ""
            log.error(
                "Worker %d: application startup failed: %s%s",
                self.worker_id,
                exc,
                details,
                exc_info=exc.__cause__,
            )
            where = " (traceback above)" if exc.traceback_logged else ""
            self.channel.send(Kind.BOOTFAIL, f"lifespan startup failed: {exc}{where}")
            return EXIT_BOOT_FAILED
        failure = hooks.run(self.config, "post_worker_init", self.me)
        if failure is not None:
            self.channel.send(Kind.BOOTFAIL, f"{failure} (traceback above)")
            await self.lifespan.shutdown(timeout=max(self.config.graceful_timeout, 1.0))
            return EXIT_BOOT_FAILED
        if self.early.signum is not None:
            log.info(
                "Worker %d: told to stop (%s) while it booted: not serving",
                self.worker_id,
                signal.Signals(self.early.signum).name,
            )
            await self.lifespan.shutdown(timeout=max(self.config.graceful_timeout, 1.0))
            return EXIT_OK
        settings = self.ctx.settings
        if settings.proxy_protocol is None:
            factory: Callable[[], asyncio.BaseProtocol] = self._protocol
            tls = settings.ssl
        else:
            # the PROXY header comes before the TLS handshake: the entry stage starts TLS
            factory = entry_factory(
                self.ctx, self._behind_proxy, settings.proxy_protocol, settings.ssl
            )
            tls = None
        servers = [
            await self.loop.create_server(factory, sock=sock, backlog=self.config.backlog, ssl=tls)
            for sock in self.listeners
        ]
        loop = self.loop
        loop.add_signal_handler(signal.SIGTERM, self.stop, True)
        loop.add_signal_handler(signal.SIGHUP, self.stop, True, "restart")
        loop.add_signal_handler(signal.SIGINT, self.stop, False)
        loop.add_signal_handler(signal.SIGQUIT, self.stop, False)
        loop.add_signal_handler(signal.SIGUSR1, reopen_logs)  # log rotation
        if self.early.signum is not None:  # it came after the check above, before the handlers
            self.stop(True, "restart" if self.early.signum == signal.SIGHUP else "shutdown")
        self.descriptors = DescriptorWatch()
        self.channel.send(Kind.READY)
        log.debug("Worker %d ready", self.worker_id)
        self._tick()
        graceful = await self._stop
        delay = self.config.shutdown_delay
        if graceful and delay and self.ctx.drain_reason == "shutdown":
            # the load balancer learns from the ready path that we are leaving, and stops
            # sending traffic; meanwhile everything is still served
            self.ctx.ready = False
            log.info(
                "Worker %d: shutdown_delay: serving %gs more before draining", self.worker_id, delay
            )
            await asyncio.sleep(delay)
        self.ctx.ready = False
        for server in servers:
            server.close()
        await self._drain(graceful)
        if graceful:
            await self.lifespan.shutdown(timeout=max(self.config.graceful_timeout, 1.0))
        return EXIT_OK

    def _protocol(self) -> HTTPProtocol:
        return HTTPProtocol(self.ctx, self._upgrades)

    def _behind_proxy(self, header: ProxyHeader) -> HTTPProtocol:
        return HTTPProtocol(self.ctx, UPGRADES, proxy_header=header)

    def stop(self, graceful: bool, reason: str = "shutdown") -> None:
        """Begin stopping; a fast stop may overrule a graceful one in progress. ``reason`` is
        "restart" when this worker is being replaced (SIGHUP from the master)."""
        if not graceful:
            hooks.run(self.config, "worker_int", self.me)
        if not self._stop.done():
            self.ctx.drain_reason = reason
            self._stop.set_result(graceful)
        elif not graceful:
            self._force_close()

    def _retire(self) -> None:
        log.info(
            "Worker %d: served %d requests (max_requests): asking to be replaced",
            self.worker_id,
            self.ctx.requests_served,
        )
        self.channel.send(Kind.RETIRING, f"max_requests {self.ctx.requests_served}")

    def _tick(self) -> None:
        """Once a second, from the loop: heartbeat, idle keep-alive sweep, parent check."""
        self.channel.send(Kind.HEARTBEAT)
        now = self.loop.time()
        ctx = self.ctx
        for conn in list(ctx.connections):
            conn.close_if_idle(now, ctx.settings.keepalive_timeout)
        self.channel.send(Kind.STATS, ctx.stats().encode())
        used = self.descriptors.check(len(ctx.connections))
        if used is not None:
            log.warning(
                "Worker %d: out of file descriptors (%d of %d in use, see open_files_limit): "
                "new connections are closed as soon as they are accepted until some close",
                self.worker_id,
                used,
                self.descriptors.limit,
            )
        if os.getppid() != self.master_pid:
            log.warning("Worker %d: master is gone, stopping", self.worker_id)
            self.stop(True)
        self.loop.call_later(TICK, self._tick)

    async def _drain(self, graceful: bool) -> None:
        """Finish in-flight requests (graceful) within graceful_timeout, then close the rest."""
        ctx = self.ctx
        ctx.draining = True
        for conn in list(ctx.connections):
            conn.shutdown()
        if graceful:
            deadline = time.monotonic() + self.config.graceful_timeout
            while (ctx.connections or ctx.tasks) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                now = self.loop.time()
                for conn in list(ctx.connections):
                    conn.close_if_idle(now, DRAIN_IDLE_GRACE)
            if ctx.connections or ctx.tasks:
                log.warning(
                    "Worker %d: graceful timeout: closing %d connection(s), cancelling %d task(s)",
                    self.worker_id,
                    len(ctx.connections),
                    len(ctx.tasks),
                )
        self._force_close()
        if ctx.tasks:
            await asyncio.wait(set(ctx.tasks), timeout=1.0)

    def _force_close(self) -> None:
        for conn in list(self.ctx.connections):
            conn.abort("the worker is stopping")
        for task in list(self.ctx.tasks):
            task.cancel()
