"""The master process: owns the sockets, forks and supervises the workers.

One thread, one loop: wait on the signal queue and the workers' control channels (at most one
second), then handle queued signals, read the channels, reap exited children (any child, so
orphans are reaped when we are PID 1), check heartbeats and recycling limits, advance the
replacement queue, and converge the set of workers to the target. The master imports the
application only with ``preload_app`` (see preload.py); it runs the master's server hooks.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import time
from collections.abc import Callable

import setproctitle

from .. import hooks, logs, version_line
from ..channel import Kind, WorkerStats
from ..config import Config
from ..worker import EXIT_APP_IMPORT, EXIT_BOOT_FAILED, run_worker
from .backoff import CrashBackoff
from .exits import describe_exit
from .forking import fork_worker
from .generations import Deployment, Generations, ReloadRefused, read_deployment
from .handle import WorkerHandle, WorkerState
from .logfiles import reopen_log_files
from .metrics import MetricsEndpoint, Totals
from .privileges import (
    Credentials,
    PrivilegeError,
    apply_process_settings,
    drop_privileges,
    hand_over,
)
from .recycling import Recycler
from .reloader import EventWatcher, Watcher, describe_changes, start_watcher
from .replacement import RollingRestart
from .rlimits import raise_open_files_limit
from .signals import HANDLED, SignalQueue, in_terminal_foreground
from .sockets import Listener
from .stopping import Shutdown
from .systemd import Notifier
from .upgrade import HandOver, Launch, Takeover

log = logging.getLogger("asgi_master.error")


class Master:
    """Supervises the workers until told to stop; ``run`` returns the exit status."""

    def __init__(
        self,
        config: Config,
        listeners: list[Listener],
        reload_config: Callable[[], Config],
        *,
        launch: Launch | None = None,
        takeover: Takeover | None = None,
        notifier: Notifier | None = None,
        credentials: Credentials | None = None,
        metrics: MetricsEndpoint | None = None,
        preloaded: object = None,
    ) -> None:
        self.config = config
        self.listeners = listeners
        self.reload_config = reload_config
        self.notifier = notifier or Notifier(None)
        self.credentials = credentials
        #: the app object the master holds (``preload_app``), forked into every worker
        self.preloaded = preloaded
        self.pid = os.getpid()
        self.upgrade = HandOver(self.pid, launch, takeover)
        self.target = config.workers
        self.generations = Generations(Deployment(config, credentials, preloaded))
        self.workers: dict[int, WorkerHandle] = {}
        self.signals = SignalQueue()
        self.shutdown = Shutdown()
        self.exit_status = 0
        self.ever_ready = False
        self.announced_ready = False
        self.backoff = CrashBackoff()
        self.replacements = RollingRestart(self)
        #: counters kept across worker lifetimes, for the metrics endpoint
        self.totals = Totals()
        self.watcher: Watcher | None = None
        self.metrics = metrics
        self.recycler = Recycler(config)
        #: when log files were last reopened (workers booting then reopen once ready)
        self._logs_reopened_at = 0.0
        #: what each signal the master handles does (signals.HANDLED lists them all)
        self.on_signal: dict[signal.Signals, Callable[[], None]] = {
            signal.SIGTERM: self.handle_term,
            signal.SIGINT: self.handle_int,
            signal.SIGQUIT: self.handle_int,
            signal.SIGHUP: self.handle_hup,
            signal.SIGTTIN: self.handle_ttin,
            signal.SIGTTOU: self.handle_ttou,
            signal.SIGUSR1: self.handle_usr1,
            signal.SIGUSR2: self.handle_usr2,
            signal.SIGCHLD: self.handle_chld,
            signal.SIGWINCH: self.handle_winch,
        }
        assert set(self.on_signal) == set(HANDLED)

    # -- main loop ------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until stopped; the process exit status."""
        setproctitle.setproctitle(f"asgi-master: master [{self.config.title_name}]")
        self.signals.install()
        for listener in self.listeners:
            log.info("Listening on %s", listener.describe())
        log.info(
            "Master %d starting %d worker(s) of %s; %s",
            self.pid,
            self.target,
            self.config.app,
            version_line(),
        )
        if self.config.reload:
            self.watcher = start_watcher(self.config)
            log.info("reload: %s", self.watcher.describe())
        self._converge(time.monotonic())
        try:
            self._loop()
        finally:
            if self.metrics is not None:
                self.metrics.close()
            if self.watcher is not None:
                self.watcher.close()
        self._hook("on_exit")
        log.info("Master %d exiting with status %d", self.pid, self.exit_status)
        return self.exit_status

    def _hook(self, name: str, *args: object) -> str | None:
        """Run master hook ``name`` with the server first; the error line if it failed."""
        server = hooks.Server(self.pid, self.config, self.generations.newest)
        return hooks.run(self.config, name, server, *args)

    def _loop(self) -> None:
        while True:
            self._wait()
            if self.metrics is not None:
                self.metrics.service(self)
            for signum in self.signals.pending():
                self.on_signal[signum]()
            self._read_channels()
            self._reap()
            now = time.monotonic()
            self.notifier.keepalive(now)
            if self.stopping:
                if not self.workers or self.shutdown.overdue(self.workers.values(), now):
                    break
                continue
            for handle in self.workers.values():
                handle.check_heartbeat(now, self.config.timeout)
            if self.watcher is not None and (changed := self.watcher.changed(now)):
                self.reload(f"reload: {describe_changes(changed)} changed", cause="reload")
            self._recycle(now)
            self.replacements.advance(
                now, self.config.reload_batch, self.config.worker_boot_timeout
            )
            self._converge(now)
            self.notifier.status(self.status_line())

    def _wait(self) -> None:
        fds = [self.signals.fd] + [h.channel.fd for h in self.workers.values() if h.channel_open]
        if self.metrics is not None:
            fds += self.metrics.fds
        if self.watcher is not None:
            fds += self.watcher.fds
        timeout = 1.0
        watchdog = self.notifier.watchdog_due_in(time.monotonic())
        if watchdog is not None:
            timeout = min(timeout, watchdog)
        with contextlib.suppress(InterruptedError):
            select.select(fds, [], [], timeout)

    def status_line(self) -> str:
        """One line for systemd's STATUS=: workers ready, generation, last reload."""
        return self.generations.status(self._ready_count(), self.target)

    def _ready_count(self) -> int:
        return sum(1 for h in self.workers.values() if h.state is WorkerState.READY)

    # -- signals --------------------------------------------------------------------------

    def handle_term(self) -> None:
        """Graceful stop: workers drain within graceful_timeout, then KILL."""
        self.begin_stop(graceful=True)

    def handle_int(self) -> None:
        """Fast stop (INT and QUIT)."""
        self.begin_stop(graceful=False)

    def handle_chld(self) -> None:
        """Nothing to do here: every loop reaps."""

    def handle_ttin(self) -> None:
        """One worker more."""
        log.info("SIGTTIN: workers %d -> %d", self.target, self.target + 1)
        self._set_target(self.target + 1)

    def handle_ttou(self) -> None:
        """One worker fewer (never below one)."""
        if self.target <= 1:
            log.info("SIGTTOU ignored: %d worker is the fewest", self.target)
            return
        log.info("SIGTTOU: workers %d -> %d", self.target, self.target - 1)
        self._set_target(self.target - 1)

    def _set_target(self, target: int) -> None:
        old, self.target = self.target, target
        if target != old:
            self._hook("nworkers_changed", target, old)

    def handle_hup(self) -> None:
        """Rolling reload: re-read the config, then replace every worker, new before old."""
        self.reload("SIGHUP", cause="SIGHUP")

    def reload(self, why: str, cause: str) -> None:
        """Roll out the re-read configuration (``why`` starts the log line; ``cause`` is
        SIGHUP or reload): every worker is replaced, new before old."""
        if self.stopping:
            return
        try:
            deployment = read_deployment(self.reload_config)
        except ReloadRefused as exc:
            self.generations.refused(str(exc))
            # Type=notify-reload waits for RELOADING=1 then READY=1 after every HUP
            self.notifier.reloading("Reloading")
            self.notifier.ready(self.status_line())
            return
        serving = Deployment(self.config, self.credentials, self.preloaded)
        rolling = self.replacements.rollout_active
        generation = self.generations.begin(serving, rolling, cause)
        self._apply(deployment)
        self._hook("on_reload")
        count = self.replacements.begin_rollout(generation)
        log.info(
            "%s: rolling reload to generation %d: replacing %d worker(s), %d at a time%s",
            why,
            generation,
            count,
            self.config.reload_batch,
            " (preload_app: the app's code is not reloaded)" if self.preloaded else "",
        )
        self.notifier.reloading(
            f"Reloading to generation {generation}: replacing {count} worker(s)"
        )

    def _apply(self, deployment: Deployment) -> None:
        self.config = config = deployment.config
        self.credentials = deployment.credentials
        self.preloaded = deployment.preloaded
        self.recycler.config = config
        self._set_target(config.workers)
        raise_open_files_limit(config, announce=False)
        logs.setup(config)
        hand_over(logs.log_files(), self.credentials)

    def handle_usr1(self) -> None:
        """Reopen the log files here, then tell every serving worker to reopen its own."""
        reopen_log_files(self.workers.values(), self.credentials)
        self._logs_reopened_at = time.monotonic()

    def handle_usr2(self) -> None:
        """Start a new master on the same sockets; it stops this one once its workers are
        READY (see upgrade.py)."""
        if self.stopping:
            return
        refusal = self.upgrade.refusal()
        if refusal is not None:
            log.warning("SIGUSR2 ignored: %s", refusal)
            return
        self.upgrade.start(
            [listener.sock.fileno() for listener in self.listeners],
            self.config.pidfile,
            self.notifier.environ_for(0),
            before_exec=lambda: self._hook("pre_exec"),
        )

    def handle_winch(self) -> None:
        """Stop every worker gracefully and keep the master (SIGHUP or SIGTTIN brings workers
        back). Ignored in a terminal's foreground, where a window resize sends WINCH."""
        if self.stopping:
            return
        if in_terminal_foreground():
            log.info("SIGWINCH ignored: a terminal's window resize sends it to its foreground")
            return
        log.info(
            "SIGWINCH: stopping all %d worker(s) gracefully; the master keeps running. "
            "SIGHUP or SIGTTIN starts workers again.",
            len(self.workers),
        )
        rolling = self.replacements.rollout_active
        self.replacements.cancel("workers stopped by SIGWINCH")
        self._set_target(0)
        if rolling:  # systemd waits for READY=1 after RELOADING=1
            self.generations.cancelled("SIGWINCH")
            self.notifier.ready(self.status_line())

    @property
    def stopping(self) -> bool:
        """A stop has begun: no more forks, reloads or upgrades."""
        return self.shutdown.begun

    def begin_stop(self, graceful: bool, status: str = "Stopping") -> None:
        """Tell every worker to stop (see stopping.py); ``status`` is for systemd. While a new
        master started by SIGUSR2 is alive, this is the hand-over, and systemd is told the new
        master's PID."""
        if self.shutdown.covers(graceful):
            return
        successor = self.upgrade.successor_pid
        grace = self.config.graceful_timeout if graceful else 0.0
        if graceful and successor is None:
            grace += self.config.shutdown_delay  # workers keep serving that long first
        self.shutdown.begin(
            self.workers.values(), graceful, grace, successor, self.notifier, status
        )

    # -- workers --------------------------------------------------------------------------

    def _read_channels(self) -> None:
        now = time.monotonic()
        for handle in self.workers.values():
            if handle.channel_open:
                self._read_channel(handle, now)

    def _read_channel(self, handle: WorkerHandle, now: float) -> None:
        messages, closed = handle.channel.read()
        for kind, detail in messages:
            if kind is Kind.HEARTBEAT:
                handle.last_heartbeat = now
            elif kind is Kind.READY:
                self._worker_ready(handle, now)
            elif kind is Kind.BOOTFAIL:
                handle.boot_failure = detail
            elif kind is Kind.RETIRING:
                self._retire(handle, detail, asked=True)
            elif kind is Kind.STATS:
                handle.stats = WorkerStats.decode(detail) or handle.stats
        if closed:
            handle.channel_open = False

    def _worker_ready(self, handle: WorkerHandle, now: float) -> None:
        handle.last_heartbeat = now
        handle.serving = True
        if handle.state is WorkerState.BOOTING:
            handle.state = WorkerState.READY
        self.ever_ready = True
        log.info("Worker %d (pid %d) ready", handle.slot, handle.pid)
        if handle.started_at < self._logs_reopened_at:
            handle.send(signal.SIGUSR1)  # it was booting when the logs were reopened
        self.replacements.new_worker_ready(handle)
        ready = self._ready_count()
        if not self.announced_ready and ready >= self.target:
            self.announced_ready = True
            log.info("Ready: %d worker(s) serving", ready)
            self.upgrade.workers_ready(self.notifier)
            self._hook("when_ready")
            self.notifier.ready(self.status_line())

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            handle = self.workers.pop(pid, None)
            if handle is not None:
                self._worker_exited(handle, status)
            elif pid == self.upgrade.successor_pid:
                self.upgrade.successor_exited(status, self.stopping, self.config.pidfile)
            elif isinstance(self.watcher, EventWatcher) and pid == self.watcher.pid:
                self.watcher.exited(status)
                if not self.stopping:  # else, e.g., systemd sent TERM to the whole unit
                    self.watcher = self.watcher.fall_back_to_polling(status)
            else:
                log.debug("Reaped process %d (%s)", pid, describe_exit(status))

    def _worker_exited(self, handle: WorkerHandle, status: int) -> None:
        if handle.channel_open:
            self._read_channel(handle, time.monotonic())
        os.close(handle.channel.fd)
        how = describe_exit(status, we_killed=handle.killed, sent=handle.last_signal)
        self.totals.exits["stopped" if handle.state is WorkerState.STOPPING else "crashed"] += 1
        self.totals.add(handle.stats)
        gone = hooks.Worker(handle.slot, handle.pid, handle.generation, status, how)
        self._hook("child_exit", gone)
        booted = handle.state is not WorkerState.BOOTING
        rolling_out = handle.generation == self.replacements.rollout_generation
        # a boot failure the next lines sum up (once, with the reason) is logged without it
        summed_up = not booted and (
            handle.replaces is not None or rolling_out or not self.ever_ready
        )
        reason = f": {handle.boot_failure}" if handle.boot_failure and not summed_up else ""
        if handle.state is WorkerState.STOPPING:
            log.info("Worker %d (pid %d) %s", handle.slot, handle.pid, how)
            return
        log.error("Worker %d (pid %d) %s%s", handle.slot, handle.pid, how, reason)
        if not booted and (handle.replaces is not None or rolling_out):
            self.replacements.boot_failed(handle, handle.boot_failure or how)
        elif not booted and not self.ever_ready:
            # the first workers cannot boot: a broken deploy or config, not a flaky worker
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0
            self.exit_status = 2 if code == EXIT_APP_IMPORT else EXIT_BOOT_FAILED
            summary = f"no worker could boot: {handle.boot_failure or how}"
            log.error("Shutting down: %s", summary)
            self.begin_stop(graceful=False, status=summary[0].upper() + summary[1:])
        else:
            self.backoff.worker_died(handle.slot, handle.started_at, time.monotonic())

    def _retire(self, handle: WorkerHandle, reason: str, *, asked: bool) -> None:
        """Queue a READY worker for replacement (new one first), once."""
        if handle.retiring or handle.state is not WorkerState.READY:
            return
        handle.retiring = reason
        self.totals.recycles[reason.split(" ", 1)[0]] += 1
        what = "asks to be replaced" if asked else "will be recycled"
        log.info("Worker %d (pid %d) %s: %s", handle.slot, handle.pid, what, reason)
        self.replacements.enqueue(handle)

    def _recycle(self, now: float) -> None:
        for handle, reason in self.recycler.due(self.workers.values(), now):
            self._retire(handle, reason, asked=False)

    def stop_worker(self, handle: WorkerHandle, signum: signal.Signals, why: str) -> None:
        """Signal one worker to stop; its exit is then expected."""
        log.info("Stopping worker %d (pid %d): %s", handle.slot, handle.pid, why)
        handle.state = WorkerState.STOPPING
        handle.signalled_at = time.monotonic()
        handle.send(signum)

    def rollout_finished(self, generation: int, failure: str | None) -> None:
        """A SIGHUP rollout ended: log it, tell systemd, roll the config back if it failed."""
        self.totals.reloads["ok" if failure is None else "failed"] += 1
        fallback = self.generations.finished(generation, failure, self._ready_count())
        if fallback is not None:
            with contextlib.suppress(PrivilegeError):
                apply_process_settings(fallback.config)
            self._apply(fallback)
        self.notifier.ready(self.status_line())

    def _converge(self, now: float) -> None:
        """Fork workers for empty slots, stop workers beyond the target."""
        taken = {h.slot for h in self.workers.values() if h.state is not WorkerState.STOPPING}
        for slot in range(1, self.target + 1):
            if slot not in taken and self.backoff.may_start(slot, now):
                self.spawn(slot)
        for handle in list(self.workers.values()):
            if handle.slot > self.target and handle.state is not WorkerState.STOPPING:
                self.stop_worker(handle, signal.SIGTERM, f"above the target of {self.target}")

    def spawn(self, slot: int, replaces: int | None = None) -> WorkerHandle:
        """Fork a worker into ``slot`` (to replace PID ``replaces`` once READY)."""
        self._hook("pre_fork", hooks.Worker(slot, 0, self.generations.newest))
        pid, channel = fork_worker(
            lambda channel_fd: self._run_worker(slot, channel_fd),
            self.signals,
            [handle.channel.fd for handle in self.workers.values()],
        )
        started = time.monotonic()
        handle = WorkerHandle(
            slot=slot,
            pid=pid,
            channel=channel,
            generation=self.generations.newest,
            started_at=started,
            replaces=replaces,
            retire_at=self.recycler.lifetime_deadline(started),
        )
        self.workers[pid] = handle
        log.debug("Forked worker %d (pid %d)%s", slot, pid, f" for pid {replaces}" * bool(replaces))
        return handle

    def _run_worker(self, slot: int, channel_fd: int) -> int:
        """In the forked child: the worker's life; its exit status."""
        self.notifier.close()
        drop_privileges(self.credentials)
        listeners = [listener.sock for listener in self.listeners]
        generation = self.generations.newest
        return run_worker(
            self.config,
            listeners,
            channel_fd,
            slot,
            self.pid,
            generation=generation,
            preloaded=self.preloaded,
        )
