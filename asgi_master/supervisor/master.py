"""The master process: owns the sockets, forks and supervises the workers.

One thread, one loop: wait on the signal queue and the workers' control channels (at most one
second), then handle queued signals, read the channels, reap exited children (any child, so
orphans are reaped when we are PID 1), check heartbeats, and converge the set of workers to the
target. Nothing in the master ever imports the application.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Callable
import os
import select
import signal
import sys
import time
import traceback
from typing import Final

import setproctitle

from ..channel import ChannelReader, Kind
from ..config import Config, ConfigError
from ..logs import configure as configure_logs
from ..worker import EXIT_APP_IMPORT, EXIT_BOOT_FAILED, run_worker
from .exits import describe_exit
from .handle import WorkerHandle, WorkerState
from .signals import SignalQueue
from .sockets import Listener

log = logging.getLogger("asgi_master.error")

#: how long a worker sent ABRT (or QUIT) may linger before SIGKILL
KILL_GRACE: Final = 5.0
#: a worker that dies younger than this counts toward its slot's crash-loop backoff
YOUNG: Final = 10.0
MAX_BACKOFF: Final = 60.0


class Master:
    """Supervises the workers until told to stop; ``run`` returns the exit status."""

    def __init__(self, config: Config, listeners: list[Listener],
                 reload_config: Callable[[], Config]) -> None:
        self.config = config
        self.listeners = listeners
        self.reload_config = reload_config
        self.pid = os.getpid()
        self.target = config.workers
        self.generation = 1
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
        #: PIDs of workers to replace, new before old, in order
        self.replace_queue: deque[int] = deque()
        #: a SIGHUP rollout is in progress; the config to go back to if it fails
        self.rollout_active = False
        self._config_before_rollout = config

    # -- main loop ------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until stopped; the process exit status."""
        setproctitle.setproctitle(f"asgi-master: master [{self.config.title_name}]")
        self.signals.install()
        for listener in self.listeners:
            log.info("Listening on %s", listener.describe())
        log.info("Master %d starting %d worker(s) of %s", self.pid, self.target,
                 self.config.app)
        self._converge(time.monotonic())
        while True:
            self._wait()
            for signum in self.signals.pending():
                self._dispatch(signum)
            self._read_channels()
            self._reap()
            now = time.monotonic()
            if self.stopping:
                if not self.workers or self._stop_overdue(now):
                    break
                continue
            self._check_heartbeats(now)
            self._advance_replacements(now)
            self._converge(now)
        log.info("Master %d exiting with status %d", self.pid, self.exit_status)
        return self.exit_status

    def _wait(self) -> None:
        fds = [self.signals.fd] + [h.channel.fd for h in self.workers.values() if h.channel_open]
        with contextlib.suppress(InterruptedError):
            select.select(fds, [], [], 1.0)

    def _dispatch(self, signum: signal.Signals) -> None:
        handler = getattr(self, "handle_" + signum.name[3:].lower(), None)
        if handler is not None:
            handler()

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
        except ConfigError as exc:
            log.error("Reload refused, configuration invalid: %s. Generation %d keeps serving.",
                      exc, self.generation)
            return
        if not self.rollout_active:
            self._config_before_rollout = self.config
        self.config = config
        configure_logs(config.log_level, config.access_log)
        self.target = config.workers
        self.generation += 1
        # a rollout still in progress starts over: its booting workers make way
        for handle in self.workers.values():
            if handle.replaces is not None and handle.state is WorkerState.BOOTING:
                self._stop_worker(handle, signal.SIGTERM, "superseded by a newer reload")
        old = sorted((h for h in self.workers.values()
                      if h.generation < self.generation and h.state is WorkerState.READY),
                     key=lambda h: h.slot)
        self.replace_queue = deque(h.pid for h in old)
        self.rollout_active = True
        log.info("SIGHUP: rolling reload to generation %d: replacing %d worker(s), %d at a time",
                 self.generation, len(old), config.reload_batch)

    def handle_usr1(self) -> None:
        """Reopen log files: the logs go to stdout/stderr, so there is nothing to reopen."""
        log.info("SIGUSR1: logs are written to stdout/stderr; nothing to reopen")

    def handle_usr2(self) -> None:
        log.warning("SIGUSR2 received: binary upgrade is not available in this version; ignored")

    def handle_winch(self) -> None:
        log.warning("SIGWINCH received: not available in this version; ignored")

    def begin_stop(self, graceful: bool) -> None:
        """Tell every worker to stop (TERM drains, QUIT closes now) and set the deadline."""
        if self.stopping and (graceful or not self.graceful):
            return
        self.stopping = True
        self.graceful = graceful
        grace = self.config.graceful_timeout if graceful else 0.0
        self.stop_deadline = time.monotonic() + grace + KILL_GRACE
        signum = signal.SIGTERM if graceful else signal.SIGQUIT
        log.info("%s stop: sending %s to %d worker(s)", "Graceful" if graceful else "Fast",
                 signum.name, len(self.workers))
        for handle in self.workers.values():
            handle.state = WorkerState.STOPPING
            handle.signalled_at = time.monotonic()
            handle.send(signum)

    def _stop_overdue(self, now: float) -> bool:
        """KILL workers past the stop deadline; give up waiting KILL_GRACE after that."""
        if now < self.stop_deadline:
            return False
        if not any(h.killed for h in self.workers.values()):
            for handle in self.workers.values():
                log.warning("Worker %d (pid %d) did not stop in time: SIGKILL", handle.slot,
                            handle.pid)
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
                self._worker_retiring(handle, detail)
            elif kind is Kind.STATS:
                self._worker_stats(handle, detail)
        if closed:
            handle.channel_open = False

    def _worker_ready(self, handle: WorkerHandle, now: float) -> None:
        handle.last_heartbeat = now
        if handle.state is WorkerState.BOOTING:
            handle.state = WorkerState.READY
        self.ever_ready = True
        log.info("Worker %d (pid %d) ready", handle.slot, handle.pid)
        old = self.workers.get(handle.replaces) if handle.replaces is not None else None
        if old is not None and old.state in (WorkerState.BOOTING, WorkerState.READY):
            # HUP tells a worker it drains because it is replaced (WebSockets get 1012)
            self._stop_worker(old, signal.SIGHUP, f"replaced by pid {handle.pid}")
        handle.replaces = None
        self._check_rollout_done()
        ready = sum(1 for h in self.workers.values() if h.state is WorkerState.READY)
        if not self.announced_ready and ready >= self.target:
            self.announced_ready = True
            log.info("Ready: %d worker(s) serving", ready)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            handle = self.workers.pop(pid, None)
            if handle is None:
                log.debug("Reaped process %d (%s)", pid, describe_exit(status))
                continue
            self._worker_exited(handle, status)

    def _worker_exited(self, handle: WorkerHandle, status: int) -> None:
        if handle.channel_open:
            self._read_channel(handle, time.monotonic())
        os.close(handle.channel.fd)
        how = describe_exit(status, we_killed=handle.killed)
        if handle.state is WorkerState.STOPPING:
            log.info("Worker %d (pid %d) %s", handle.slot, handle.pid, how)
            return
        log.error("Worker %d (pid %d) %s%s", handle.slot, handle.pid, how,
                  f": {handle.boot_failure}" if handle.boot_failure else "")
        booted = handle.state is not WorkerState.BOOTING
        if not booted and handle.replaces is not None:
            self._replacement_failed(handle, handle.boot_failure or how)
            return
        if not booted and not self.ever_ready:
            # the first workers cannot boot: a broken deploy or config, not a flaky worker
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0
            self.exit_status = 2 if code == EXIT_APP_IMPORT else EXIT_BOOT_FAILED
            log.error("Shutting down: no worker could boot%s",
                      f" ({handle.boot_failure})" if handle.boot_failure else "")
            self.begin_stop(graceful=False)
            return
        self._note_crash(handle)

    def _note_crash(self, handle: WorkerHandle) -> None:
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
            log.warning("Degraded: worker slot %d failed %d times in a row; next try in %.0fs",
                        handle.slot, failures, delay)

    def _worker_retiring(self, handle: WorkerHandle, reason: str) -> None:
        if handle.retiring or handle.state is not WorkerState.READY:
            return
        handle.retiring = reason
        log.info("Worker %d (pid %d) asks to be replaced: %s", handle.slot, handle.pid, reason)
        if handle.pid not in self.replace_queue:
            self.replace_queue.append(handle.pid)

    @staticmethod
    def _worker_stats(handle: WorkerHandle, detail: str) -> None:
        for item in detail.split():
            key, _, value = item.partition("=")
            if key in ("requests", "connections") and value.isdigit():
                setattr(handle, key, int(value))

    def _stop_worker(self, handle: WorkerHandle, signum: signal.Signals, why: str) -> None:
        log.info("Stopping worker %d (pid %d): %s", handle.slot, handle.pid, why)
        handle.state = WorkerState.STOPPING
        handle.signalled_at = time.monotonic()
        handle.send(signum)

    def _advance_replacements(self, now: float) -> None:
        """Start replacements for queued workers, ``reload_batch`` at a time (1 outside a
        reload), and give up on those that do not boot within ``worker_boot_timeout``."""
        booting = [h for h in self.workers.values()
                   if h.replaces is not None and h.state is WorkerState.BOOTING]
        for handle in booting:
            if now - handle.started_at > self.config.worker_boot_timeout:
                handle.send(signal.SIGKILL)
                handle.state = WorkerState.STOPPING
                self._replacement_failed(
                    handle, f"not ready within worker_boot_timeout "
                            f"({self.config.worker_boot_timeout:g}s)")
                return
        limit = self.config.reload_batch if self.rollout_active else 1
        while len(booting) < limit and self.replace_queue:
            old = self.workers.get(self.replace_queue[0])
            if old is None or old.state is not WorkerState.READY or old.slot > self.target:
                self.replace_queue.popleft()
                continue
            if now < self._slot_not_before.get(old.slot, 0.0):
                break
            self.replace_queue.popleft()
            booting.append(self._spawn(old.slot, replaces=old.pid))
        self._check_rollout_done()

    def _replacement_failed(self, handle: WorkerHandle, reason: str) -> None:
        """A new worker did not boot: the worker it was to replace keeps serving."""
        if self.rollout_active and handle.generation == self.generation:
            log.error("Reload failed: generation %d could not boot: %s. The previous workers "
                      "keep serving; fix the problem and send SIGHUP again.",
                      handle.generation, reason)
            self.rollout_active = False
            self.replace_queue.clear()
            self.config = self._config_before_rollout
            self.target = self.config.workers
            configure_logs(self.config.log_level, self.config.access_log)
            for other in self.workers.values():
                if other.replaces is not None and other.state is WorkerState.BOOTING:
                    self._stop_worker(other, signal.SIGTERM, "reload aborted")
            return
        log.error("Replacement for pid %s could not boot: %s; that worker keeps serving",
                  handle.replaces, reason)
        self._note_crash(handle)
        if handle.replaces is not None and handle.replaces not in self.replace_queue:
            self.replace_queue.append(handle.replaces)

    def _check_rollout_done(self) -> None:
        if not self.rollout_active or self.replace_queue:
            return
        if any(h.replaces is not None for h in self.workers.values()):
            return
        self.rollout_active = False
        log.info("Reload complete: generation %d serving with %d worker(s)", self.generation,
                 sum(1 for h in self.workers.values() if h.state is WorkerState.READY))

    def _check_heartbeats(self, now: float) -> None:
        timeout = self.config.timeout
        for handle in self.workers.values():
            if handle.state is WorkerState.READY and now - handle.last_heartbeat > timeout:
                log.error("Worker %d (pid %d) sent no heartbeat for %.1fs (timeout %gs): its "
                          "event loop is blocked. Sending SIGABRT; its stack follows.",
                          handle.slot, handle.pid, now - handle.last_heartbeat, timeout)
                handle.state = WorkerState.ABORTED
                handle.signalled_at = now
                handle.send(signal.SIGABRT)
            elif (handle.state is WorkerState.ABORTED and not handle.killed
                  and now - handle.signalled_at > KILL_GRACE):
                log.error("Worker %d (pid %d) still alive after SIGABRT: SIGKILL", handle.slot,
                          handle.pid)
                handle.send(signal.SIGKILL)

    def _converge(self, now: float) -> None:
        """Fork workers for empty slots, stop workers beyond the target."""
        taken = {h.slot for h in self.workers.values() if h.state is not WorkerState.STOPPING}
        for slot in range(1, self.target + 1):
            if slot not in taken and now >= self._slot_not_before.get(slot, 0.0):
                self._spawn(slot)
        for handle in list(self.workers.values()):
            if handle.slot > self.target and handle.state is not WorkerState.STOPPING:
                self._stop_worker(handle, signal.SIGTERM, f"above the target of {self.target}")

    def _spawn(self, slot: int, replaces: int | None = None) -> WorkerHandle:
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            self._become_worker(slot, read_fd, write_fd)
        os.close(write_fd)
        handle = WorkerHandle(slot=slot, pid=pid, channel=ChannelReader(read_fd),
                              generation=self.generation, started_at=time.monotonic(),
                              replaces=replaces)
        self.workers[pid] = handle
        log.debug("Forked worker %d (pid %d)%s", slot, pid,
                  f" to replace pid {replaces}" if replaces else "")
        return handle

    def _become_worker(self, slot: int, read_fd: int, write_fd: int) -> None:
        """In the child: drop the master's state and run the worker; never returns."""
        status = 1
        try:
            os.close(read_fd)
            self.signals.close_in_child()
            for handle in self.workers.values():
                os.close(handle.channel.fd)
            status = run_worker(self.config, [listener.sock for listener in self.listeners],
                                write_fd, slot, self.pid)
        except BaseException:
            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(status)
