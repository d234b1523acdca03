"""What the master knows about one worker process."""

from __future__ import annotations

import contextlib
import enum
import logging
import math
import os
import signal
from dataclasses import dataclass, field
from typing import Final

from ..channel import ChannelReader, WorkerStats

log = logging.getLogger("asgi_master.error")

#: how long a worker sent ABRT (or QUIT, or past its stop deadline) may linger before SIGKILL
KILL_GRACE: Final = 5.0


class WorkerState(enum.Enum):
    """A worker's life as the master sees it."""

    BOOTING = "booting"
    READY = "ready"
    #: sent TERM (drain) or QUIT (close now); its exit is expected
    STOPPING = "stopping"
    #: missed its heartbeat: sent ABRT, SIGKILL follows if it lingers
    ABORTED = "aborted"


@dataclass(eq=False, slots=True)
class WorkerHandle:
    """One forked worker: its slot, PID, control channel and state."""

    slot: int
    pid: int
    channel: ChannelReader
    generation: int
    started_at: float
    state: WorkerState = WorkerState.BOOTING
    last_heartbeat: float = 0.0
    #: when the last TERM/QUIT/ABRT was sent
    signalled_at: float = 0.0
    killed: bool = False
    #: the last signal the master sent it (dying of a stop signal it was sent is expected)
    last_signal: signal.Signals | None = None
    channel_open: bool = True
    boot_failure: str = ""
    #: PID of the worker this one replaces once it is READY (reload or recycling)
    replaces: int | None = None
    #: the worker is to be replaced (max_requests, lifetime, memory); the reason
    retiring: str = ""
    #: monotonic time at which ``max_worker_lifetime`` makes it due for recycling
    retire_at: float = math.inf
    #: it has reported READY once (so it handles USR1 and HUP)
    serving: bool = False
    #: the figures of its last STATS message
    stats: WorkerStats = field(default_factory=WorkerStats)

    def send(self, signum: signal.Signals) -> None:
        """Signal the process; a worker that already exited is not an error."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signum)
        self.last_signal = signum
        if signum == signal.SIGKILL:
            self.killed = True

    def check_heartbeat(self, now: float, timeout: float) -> None:
        """A READY worker silent for ``timeout`` has a blocked event loop: ABRT (faulthandler
        logs its stack), then KILL if it lingers ``KILL_GRACE`` seconds."""
        if self.state is WorkerState.READY and now - self.last_heartbeat > timeout:
            log.error(
                "Worker %d (pid %d) sent no heartbeat for %.1fs (timeout %gs): its "
                "event loop is blocked. Sending SIGABRT; its stack follows.",
                self.slot,
                self.pid,
                now - self.last_heartbeat,
                timeout,
            )
            self.state = WorkerState.ABORTED
            self.signalled_at = now
            self.send(signal.SIGABRT)
        elif (
            self.state is WorkerState.ABORTED
            and not self.killed
            and now - self.signalled_at > KILL_GRACE
        ):
            log.error("Worker %d (pid %d) still alive after SIGABRT: SIGKILL", self.slot, self.pid)
            self.send(signal.SIGKILL)

    @property
    def alive_and_serving(self) -> bool:
        """Booting or serving: not on its way out."""
        return self.state in (WorkerState.BOOTING, WorkerState.READY)
