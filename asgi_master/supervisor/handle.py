"""What the master knows about one worker process."""

from __future__ import annotations

import contextlib
import enum
import math
import os
import signal
from dataclasses import dataclass, field

from ..channel import ChannelReader


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
    requests: int = field(default=0)
    connections: int = field(default=0)
    #: request-duration histogram counts (metrics.DURATION_BUCKETS + overflow) and their sum
    durations: list[int] = field(default_factory=list)
    duration_sum: float = 0.0

    def send(self, signum: signal.Signals) -> None:
        """Signal the process; a worker that already exited is not an error."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signum)
        if signum == signal.SIGKILL:
            self.killed = True

    @property
    def alive_and_serving(self) -> bool:
        """Booting or serving: not on its way out."""
        return self.state in (WorkerState.BOOTING, WorkerState.READY)
