"""The master process: owns the sockets, forks and supervises the workers.

One thread, one loop: wait on the signal queue and the workers' control channels (at most one
second), then handle queued signals, read the channels, reap exited children (any child, so
orphans are reaped when we are PID 1), check heartbeats and recycling limits, advance the
replacement queue, and converge the set of workers to the target. Nothing in the master ever
imports the application.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Final

import setproctitle

from .. import logs
from .._build import version_line
from ..channel import ChannelReader, Kind
from ..config import Config, ConfigError
from ..worker import EXIT_APP_IMPORT, EXIT_BOOT_FAILED, run_worker
from . import privileges, upgrade
from .exits import describe_exit
from .handle import WorkerHandle, WorkerState
from .metrics import MetricsEndpoint, Totals, parse_histogram
from .pidfile import restore_pidfile
from .privileges import Credentials, PrivilegeError
from .recycling import Recycler
from .reloader import PollingWatcher, Watcher, start_watcher
from .replacement import RollingRestart
from .signals import SignalQueue, blocked_for_fork, in_terminal_foreground
from .sockets import Listener
from .systemd import Notifier

log = logging.getLogger("asgi_master.error")

#: how long a worker sent ABRT (or QUIT) may linger before SIGKILL
KILL_GRACE: Final = 5.0
#: a worker that dies younger than this counts toward its slot's crash-loop backoff
YOUNG: Final = 10.0
MAX_BACKOFF: Final = 60.0


class Master:
    """Supervises the workers until told to stop; ``run`` returns the exit status."""

    def __init__(
        self,
        config: Config,
        listeners: list[Listener],
        reload_config: Callable[[], Config],
        *,
        launch: upgrade.Launch | None = None,
        takeover: upgrade.Takeover | None = None,
        notifier: Notifier | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self.config = config
        self.listeners = listeners
        self.reload_config = reload_config
        self.launch = launch
        self.takeover = takeover
        self.notifier = notifier or Notifier(None)
        self.credentials = credentials
        self.pid = os.getpid()
        self.target = config.workers
        self.generation = 1
        #: the generation the workers serve (a failed reload leaves it behind ``generation``)
        self.live_generation = 1
        self.last_reload = "none"
        self.workers: dict[int, WorkerHandle] = {}
        self.signals = SignalQueue()
        self.stopping = False
        self.graceful = True
        self.stop_deadline = 0.0
        self.exit_status = 0
        self.ever_ready = False
        self.announced_ready = False
        self._slot_failures: dict[int, int] = {}
        self._slot_not_before: dict[int, float] = {}
        self.replacements = RollingRestart(self)
        #: counters kept across worker lifetimes, for the metrics endpoint
        self.totals = Totals()
        self.watcher: Watcher | None = None
        self.metrics: MetricsEndpoint | None = None
        self.recycler = Recycler(config)
        self._config_before_rollout = config
        self._credentials_before_rollout = credentials
        #: PID of the new master started by SIGUSR2, until it exits
        self.successor_pid: int | None = None
        #: when log files were last reopened (workers booting then reopen once ready)
        self._logs_reopened_at = 0.0

    # -- main loop ------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until stopped; the process exit status."""
        setproctitle.setproctitle(f"asgi-master: master [{self.config.title_name}]")
        if self.config.metrics_bind is not None:
            try:
                self.metrics = MetricsEndpoint(self.config.metrics_bind)
            except OSError as exc:
                log.error(
                    "cannot serve metrics on %s: %s", self.config.metrics_bind, exc.strerror or exc
                )
                return 1
            log.info("Metrics on http://%s/metrics", self.metrics.describe())
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
        log.info("Master %d exiting with status %d", self.pid, self.exit_status)
        return self.exit_status

    def _loop(self) -> None:
        while True:
            self._wait()
            if self.metrics is not None:
                self.metrics.service(self)
            for signum in self.signals.pending():
                self._dispatch(signum)
            self._read_channels()
            self._reap()
            now = time.monotonic()
            self.notifier.keepalive(now)
            if self.stopping:
                if not self.workers or self._stop_overdue(now):
                    break
                continue
            self._check_heartbeats(now)
            self._watch_sources(now)
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

    def _dispatch(self, signum: signal.Signals) -> None:
        handler = getattr(self, "handle_" + signum.name[3:].lower(), None)
        if handler is not None:
            handler()

    def status_line(self) -> str:
        """One line for systemd's STATUS=: workers ready, generation, last reload."""
        ready = sum(1 for h in self.workers.values() if h.state is WorkerState.READY)
        return (
            f"{ready}/{self.target} workers ready, generation {self.live_generation}, "
            f"last reload: {self.last_reload}"
        )

    # -- signals --------------------------------------------------------------------------

    def handle_term(self) -> None:
        """Graceful stop: workers drain within graceful_timeout, then KILL."""
        self.begin_stop(graceful=True)

    def handle_int(self) -> None:
        """Fast stop."""
        self.begin_stop(graceful=False)

    handle_quit = handle_int

    def handle_chld(self) -> None:
        """Nothing to do here: every loop reaps."""

    def handle_ttin(self) -> None:
        """One worker more."""
        self.target += 1
        log.info("SIGTTIN: workers %d -> %d", self.target - 1, self.target)

    def handle_ttou(self) -> None:
        """One worker fewer (never below one)."""
        if self.target > 1:
            self.target -= 1
            log.info("SIGTTOU: workers %d -> %d", self.target + 1, self.target)

    def handle_hup(self) -> None:
        """Rolling reload: re-read the config, then replace every worker, new before old."""
        if self.stopping:
            return
        try:
            config = self.reload_config()
            credentials = privileges.resolve(config)
            privileges.apply_process_settings(config)
        except (ConfigError, PrivilegeError) as exc:
            log.error(
                "Reload refused, configuration invalid: %s. Generation %d keeps serving.",
                exc,
                self.live_generation,
            )
            self.last_reload = f"refused: {exc}"
            # Type=notify-reload waits for RELOADING=1 then READY=1 after every HUP
            self.notifier.reloading("Reloading")
            self.notifier.ready(self.status_line())
            return
        if not self.replacements.rollout_active:
            self._config_before_rollout = self.config
            self._credentials_before_rollout = self.credentials
        self._apply_config(config, credentials)
        self.generation += 1
        count = self.replacements.begin_rollout(self.generation)
        log.info(
            "SIGHUP: rolling reload to generation %d: replacing %d worker(s), %d at a time",
            self.generation,
            count,
            config.reload_batch,
        )
        self.notifier.reloading(
            f"Reloading to generation {self.generation}: replacing {count} worker(s)"
        )

    def _apply_config(self, config: Config, credentials: Credentials | None) -> None:
        self.config = config
        self.credentials = credentials
        self.recycler.config = config
        self.target = config.workers
        logs.setup(config)
        privileges.hand_over(logs.log_files(), credentials)

    def handle_usr1(self) -> None:
        """Reopen the log files here, then tell every serving worker to reopen its own."""
        reopened = logs.reopen()
        privileges.hand_over(reopened, self.credentials)
        self._logs_reopened_at = time.monotonic()
        told = 0
        for handle in self.workers.values():
            if handle.serving:  # a booting worker is told once it is READY
                handle.send(signal.SIGUSR1)
                told += 1
        log.info(
            "SIGUSR1: reopened %s; told %d worker(s) to reopen theirs",
            ", ".join(reopened) or "nothing (logs go to stdout/stderr)",
            told,
        )

    def handle_usr2(self) -> None:
        """Start a new master on the same sockets; it stops this one once its workers are
        READY (see upgrade.py)."""
        if self.stopping:
            return
        if self.launch is None:
            log.warning("SIGUSR2 ignored: this master was not started from the command line")
            return
        if self.successor_pid is not None:
            log.warning(
                "SIGUSR2 ignored: the new master (pid %d) is still starting", self.successor_pid
            )
            return
        if self.takeover is not None:
            log.warning(
                "SIGUSR2 ignored: this master is still taking over from pid %d",
                self.takeover.old_pid,
            )
            return
        pidfile = self.config.pidfile
        if pidfile:
            try:
                os.replace(pidfile, upgrade.oldbin(pidfile))
            except OSError as exc:
                log.warning(
                    "Could not rename the pidfile to %s: %s", upgrade.oldbin(pidfile), exc.strerror
                )
        self.successor_pid = upgrade.start_successor(
            [listener.sock.fileno() for listener in self.listeners],
            self.launch,
            self.notifier.environ_for(0),
        )
        log.info(
            "SIGUSR2: started a new master (pid %d) on the same sockets; this master "
            "(pid %d) drains and exits once the new one's workers are ready",
            self.successor_pid,
            self.pid,
        )

    def handle_winch(self) -> None:
        """Stop every worker gracefully and keep the master (SIGHUP or SIGTTIN brings workers
        back). Ignored in a terminal's foreground, where a window resize sends WINCH."""
        if self.stopping:
            return
        if in_terminal_foreground():
            log.info(
                "SIGWINCH ignored: the master runs in the foreground of a terminal, "
                "where resizing the window sends it"
            )
            return
        log.info(
            "SIGWINCH: stopping all %d worker(s) gracefully; the master keeps running. "
            "SIGHUP or SIGTTIN starts workers again.",
            len(self.workers),
        )
        rolling = self.replacements.rollout_active
        self.replacements.cancel("workers stopped by SIGWINCH")
        self.target = 0
        if rolling:  # systemd waits for READY=1 after RELOADING=1
            self.live_generation = self.generation
            self.last_reload = f"generation {self.generation} cancelled by SIGWINCH"
            self.notifier.ready(self.status_line())

    def begin_stop(self, graceful: bool) -> None:
        """Tell every worker to stop (TERM drains, QUIT closes now) and set the deadline.

        While a new master started by SIGUSR2 is alive, this is the hand-over: the workers
        drain as replaced ones (HUP) and systemd is told the new master's PID.
        """
        if self.stopping and (graceful or not self.graceful):
            return
        handing_over = self.successor_pid is not None
        if not self.stopping:
            if handing_over:
                assert self.successor_pid is not None
                self.notifier.main_pid(
                    self.successor_pid, f"Handing over to the new master (pid {self.successor_pid})"
                )
            else:
                self.notifier.stopping("Stopping")
        self.stopping = True
        self.graceful = graceful
        grace = self.config.graceful_timeout if graceful else 0.0
        if graceful and not handing_over:
            grace += self.config.shutdown_delay  # workers keep serving that long first
        self.stop_deadline = time.monotonic() + grace + KILL_GRACE
        if not graceful:
            signum = signal.SIGQUIT
        else:
            signum = signal.SIGHUP if handing_over else signal.SIGTERM
        log.info(
            "%s stop%s: sending %s to %d worker(s)",
            "Graceful" if graceful else "Fast",
            f" (handing over to pid {self.successor_pid})" if handing_over else "",
            signum.name,
            len(self.workers),
        )
        for handle in self.workers.values():
            handle.state = WorkerState.STOPPING
            handle.signalled_at = time.monotonic()
            if handle.serving or signum is not signal.SIGHUP:
                handle.send(signum)
            else:
                handle.send(signal.SIGTERM)  # still booting: HUP would not be handled yet

    def _stop_overdue(self, now: float) -> bool:
        """KILL workers past the stop deadline; give up waiting KILL_GRACE after that."""
        if now < self.stop_deadline:
            return False
        if not any(h.killed for h in self.workers.values()):
            for handle in self.workers.values():
                log.warning(
                    "Worker %d (pid %d) did not stop in time: SIGKILL", handle.slot, handle.pid
                )
                handle.send(signal.SIGKILL)
            self.stop_deadline = now + KILL_GRACE
            return False
        return True

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
                self._worker_stats(handle, detail)
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
        ready = sum(1 for h in self.workers.values() if h.state is WorkerState.READY)
        if not self.announced_ready and ready >= self.target:
            self.announced_ready = True
            log.info("Ready: %d worker(s) serving", ready)
            if self.takeover is not None:
                self._complete_takeover()
            self.notifier.ready(self.status_line())

    def _complete_takeover(self) -> None:
        """After SIGUSR2, in the new master: our workers serve, so the old master may go."""
        assert self.takeover is not None
        old = upgrade.old_master_to_stop(self.takeover)
        self.notifier.main_pid(self.pid, f"Took over from pid {self.takeover.old_pid}")
        if old is None:
            log.warning(
                "Upgrade: the old master (pid %d) is no longer our parent; not signalling it",
                self.takeover.old_pid,
            )
        else:
            log.info(
                "Upgrade: our workers are ready; sending SIGTERM to the old master "
                "(pid %d), which drains its workers and exits",
                old,
            )
            with contextlib.suppress(ProcessLookupError):
                os.kill(old, signal.SIGTERM)
        self.takeover = None

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
            elif pid == self.successor_pid:
                self._successor_exited(status)
            elif self.watcher is not None and pid == self.watcher.pid:
                self._watcher_exited(status)
            else:
                log.debug("Reaped process %d (%s)", pid, describe_exit(status))

    def _watcher_exited(self, status: int) -> None:
        """The watchfiles process died: go on watching by polling."""
        watcher = self.watcher
        assert watcher is not None and not isinstance(watcher, PollingWatcher)
        if self.stopping:  # e.g. systemd sent TERM to every process of the unit
            watcher.exited(status)
            return
        log.warning(
            "reload: the file watcher (pid %s) %s; polling from now on",
            watcher.pid,
            describe_exit(status),
        )
        watcher.exited(status)
        watcher.close()
        self.watcher = PollingWatcher(watcher.root, watcher.extra)

    def _successor_exited(self, status: int) -> None:
        """The new master started by SIGUSR2 is gone; before it took over, the upgrade failed."""
        pid, self.successor_pid = self.successor_pid, None
        how = (
            f"exited with status {os.WEXITSTATUS(status)}"
            if os.WIFEXITED(status)
            else describe_exit(status)
        )
        if self.stopping:
            log.warning("The new master (pid %d) %s while this master was stopping", pid, how)
            return
        log.error(
            "Upgrade failed: the new master (pid %d) %s before taking over (its log "
            "lines are above); this master (pid %d) goes on serving",
            pid,
            how,
            self.pid,
        )
        if self.config.pidfile:
            restore_pidfile(upgrade.oldbin(self.config.pidfile), self.config.pidfile)

    def _worker_exited(self, handle: WorkerHandle, status: int) -> None:
        if handle.channel_open:
            self._read_channel(handle, time.monotonic())
        os.close(handle.channel.fd)
        how = describe_exit(status, we_killed=handle.killed)
        self._count_exit(handle)
        if handle.state is WorkerState.STOPPING:
            log.info("Worker %d (pid %d) %s", handle.slot, handle.pid, how)
            return
        log.error(
            "Worker %d (pid %d) %s%s",
            handle.slot,
            handle.pid,
            how,
            f": {handle.boot_failure}" if handle.boot_failure else "",
        )
        booted = handle.state is not WorkerState.BOOTING
        if not booted and handle.replaces is not None:
            self.replacements.boot_failed(handle, handle.boot_failure or how)
            return
        if not booted and not self.ever_ready:
            # the first workers cannot boot: a broken deploy or config, not a flaky worker
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0
            self.exit_status = 2 if code == EXIT_APP_IMPORT else EXIT_BOOT_FAILED
            log.error(
                "Shutting down: no worker could boot%s",
                f" ({handle.boot_failure})" if handle.boot_failure else "",
            )
            self.begin_stop(graceful=False)
            return
        self.note_crash(handle)

    def _watch_sources(self, now: float) -> None:
        """``reload = true``: a changed source file rolls out a reload."""
        if self.watcher is None:
            return
        changed = self.watcher.changed(now)
        if changed:
            log.info(
                "reload: %s changed%s; rolling reload",
                ", ".join(changed[:3]),
                f" (and {len(changed) - 3} more)" if len(changed) > 3 else "",
            )
            self.handle_hup()

    def _count_exit(self, handle: WorkerHandle) -> None:
        """Fold an exited worker's figures into the totals the metrics report."""
        totals = self.totals
        totals.exits["stopped" if handle.state is WorkerState.STOPPING else "crashed"] += 1
        totals.requests += handle.requests
        for index, count in enumerate(handle.durations):
            totals.buckets[index] += count
        totals.duration_sum += handle.duration_sum

    def note_crash(self, handle: WorkerHandle) -> None:
        """Back off exponentially on a slot whose workers keep dying young."""
        now = time.monotonic()
        if now - handle.started_at >= YOUNG:
            self._slot_failures[handle.slot] = 0
            return
        failures = self._slot_failures.get(handle.slot, 0) + 1
        self._slot_failures[handle.slot] = failures
        delay = min(2.0 ** (failures - 1), MAX_BACKOFF) if failures > 1 else 0.0
        self._slot_not_before[handle.slot] = now + delay
        if delay:
            log.warning(
                "Degraded: worker slot %d failed %d times in a row; next try in %.0fs",
                handle.slot,
                failures,
                delay,
            )

    def may_start(self, slot: int, now: float) -> bool:
        """False while ``slot`` waits out its crash-loop backoff."""
        return now >= self._slot_not_before.get(slot, 0.0)

    def _retire(self, handle: WorkerHandle, reason: str, *, asked: bool) -> None:
        """Queue a READY worker for replacement (new one first), once."""
        if handle.retiring or handle.state is not WorkerState.READY:
            return
        handle.retiring = reason
        self.totals.recycles[reason.split(" ", 1)[0]] += 1
        if asked:
            log.info("Worker %d (pid %d) asks to be replaced: %s", handle.slot, handle.pid, reason)
        else:
            log.info("Worker %d (pid %d) will be recycled: %s", handle.slot, handle.pid, reason)
        self.replacements.enqueue(handle)

    def _recycle(self, now: float) -> None:
        for handle, reason in self.recycler.due(self.workers.values(), now):
            self._retire(handle, reason, asked=False)

    @staticmethod
    def _worker_stats(handle: WorkerHandle, detail: str) -> None:
        for item in detail.split():
            key, _, value = item.partition("=")
            if key in ("requests", "connections") and value.isdigit():
                setattr(handle, key, int(value))
        histogram = parse_histogram(detail)
        if histogram is not None:
            handle.durations, handle.duration_sum = histogram

    def stop_worker(self, handle: WorkerHandle, signum: signal.Signals, why: str) -> None:
        """Signal one worker to stop; its exit is then expected."""
        log.info("Stopping worker %d (pid %d): %s", handle.slot, handle.pid, why)
        handle.state = WorkerState.STOPPING
        handle.signalled_at = time.monotonic()
        handle.send(signum)

    def rollout_finished(self, generation: int, failure: str | None) -> None:
        """A SIGHUP rollout ended: log it, tell systemd, roll the config back if it failed."""
        self.totals.reloads["ok" if failure is None else "failed"] += 1
        if failure is None:
            self.live_generation = generation
            self.last_reload = f"generation {generation} ok"
            log.info(
                "Reload complete: generation %d serving with %d worker(s)",
                generation,
                sum(1 for h in self.workers.values() if h.state is WorkerState.READY),
            )
        else:
            self.last_reload = f"generation {generation} failed: {failure}"
            log.error(
                "Reload failed: generation %d could not boot: %s. The previous workers "
                "keep serving; fix the problem and send SIGHUP again.",
                generation,
                failure,
            )
            with contextlib.suppress(PrivilegeError):
                privileges.apply_process_settings(self._config_before_rollout)
            self._apply_config(self._config_before_rollout, self._credentials_before_rollout)
        self.notifier.ready(self.status_line())

    def _check_heartbeats(self, now: float) -> None:
        timeout = self.config.timeout
        for handle in self.workers.values():
            if handle.state is WorkerState.READY and now - handle.last_heartbeat > timeout:
                log.error(
                    "Worker %d (pid %d) sent no heartbeat for %.1fs (timeout %gs): its "
                    "event loop is blocked. Sending SIGABRT; its stack follows.",
                    handle.slot,
                    handle.pid,
                    now - handle.last_heartbeat,
                    timeout,
                )
                handle.state = WorkerState.ABORTED
                handle.signalled_at = now
                handle.send(signal.SIGABRT)
            elif (
                handle.state is WorkerState.ABORTED
                and not handle.killed
                and now - handle.signalled_at > KILL_GRACE
            ):
                log.error(
                    "Worker %d (pid %d) still alive after SIGABRT: SIGKILL", handle.slot, handle.pid
                )
                handle.send(signal.SIGKILL)

    def _converge(self, now: float) -> None:
        """Fork workers for empty slots, stop workers beyond the target."""
        taken = {h.slot for h in self.workers.values() if h.state is not WorkerState.STOPPING}
        for slot in range(1, self.target + 1):
            if slot not in taken and self.may_start(slot, now):
                self.spawn(slot)
        for handle in list(self.workers.values()):
            if handle.slot > self.target and handle.state is not WorkerState.STOPPING:
                self.stop_worker(handle, signal.SIGTERM, f"above the target of {self.target}")

    def spawn(self, slot: int, replaces: int | None = None) -> WorkerHandle:
        """Fork a worker into ``slot`` (to replace PID ``replaces`` once READY)."""
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        sys.stdout.flush()
        sys.stderr.flush()
        with blocked_for_fork():
            pid = os.fork()
            if pid == 0:
                self._become_worker(slot, read_fd, write_fd)
        os.close(write_fd)
        started = time.monotonic()
        handle = WorkerHandle(
            slot=slot,
            pid=pid,
            channel=ChannelReader(read_fd),
            generation=self.generation,
            started_at=started,
            replaces=replaces,
            retire_at=self.recycler.lifetime_deadline(started),
        )
        self.workers[pid] = handle
        log.debug(
            "Forked worker %d (pid %d)%s",
            slot,
            pid,
            f" to replace pid {replaces}" if replaces else "",
        )
        return handle

    def _become_worker(self, slot: int, read_fd: int, write_fd: int) -> None:
        """In the child: drop the master's state and privileges, run the worker; never
        returns."""
        status = 1
        try:
            os.close(read_fd)
            self.signals.close_in_child()
            self.notifier.close()
            for handle in self.workers.values():
                os.close(handle.channel.fd)
            privileges.drop(self.credentials)
            status = run_worker(
                self.config,
                [listener.sock for listener in self.listeners],
                write_fd,
                slot,
                self.pid,
            )
        except BaseException:
            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(status)
