"""The master process: owns the sockets, forks and supervises the workers.

One thread, one loop: wait on the signal queue and the workers' control channels (at most one
second), then handle queued signals, read the channels, reap exited children (any child, so
orphans are reaped when we are PID 1), check heartbeats, and converge the set of workers to the
target. Nothing in the master ever imports the application.
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
from typing import Final

import setproctitle

from ..channel import ChannelReader, Kind
from ..config import Config
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

    def __init__(self, config: Config, listeners: list[Listener]) -> None:
        self.config = config
        self.listeners = listeners
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
        """Reload: not part of this version yet; say so instead of dying."""
        log.warning("SIGHUP received: rolling reload is not available in this version; "
                    "ignored")

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
        if closed:
            handle.channel_open = False

    def _worker_ready(self, handle: WorkerHandle, now: float) -> None:
        handle.last_heartbeat = now
        if handle.state is WorkerState.BOOTING:
            handle.state = WorkerState.READY
        self.ever_ready = True
        log.info("Worker %d (pid %d) ready", handle.slot, handle.pid)
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
        for handle in self.workers.values():
            if handle.slot > self.target and handle.state is not WorkerState.STOPPING:
                log.info("Stopping worker %d (pid %d): above the target of %d", handle.slot,
                         handle.pid, self.target)
                handle.state = WorkerState.STOPPING
                handle.signalled_at = now
                handle.send(signal.SIGTERM)

    def _spawn(self, slot: int) -> None:
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            self._become_worker(slot, read_fd, write_fd)
        os.close(write_fd)
        self.workers[pid] = WorkerHandle(slot=slot, pid=pid, channel=ChannelReader(read_fd),
                                         generation=self.generation,
                                         started_at=time.monotonic())
        log.debug("Forked worker %d (pid %d)", slot, pid)

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
