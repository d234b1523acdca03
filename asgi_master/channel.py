"""The control channel's wire format: one line per message, worker -> master, over a pipe.

Shared by both sides (``supervisor`` reads, ``worker`` writes) and by nothing else. A message is
``KIND[ detail]\\n`` in ASCII, far below PIPE_BUF, so each write is atomic. The worker never
blocks on the channel: if the master has stopped reading, messages are dropped (a master that
stops reading will also stop hearing heartbeats, which is the failure it must notice).
"""

from __future__ import annotations

import contextlib
import enum
import os
from dataclasses import dataclass

#: upper bounds (seconds) of the request-duration histogram a worker reports in STATS
#: (``durations=`` one count per bound, then one for longer; ``duration_sum=``)
DURATION_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


class Kind(enum.Enum):
    """What a worker can tell its master."""

    #: lifespan startup done and listening
    READY = "READY"
    #: sent from the event loop; silence means the loop is blocked
    HEARTBEAT = "HEARTBEAT"
    #: the worker could not boot; detail is the one-line reason
    BOOTFAIL = "BOOTFAIL"
    #: the worker wants to be replaced (max requests, lifetime, memory); detail is the reason
    RETIRING = "RETIRING"
    #: detail is a ``WorkerStats``, encoded
    STATS = "STATS"


@dataclass(frozen=True, slots=True)
class WorkerStats:
    """The figures a worker reports every second in its STATS message.

    On the wire: ``requests=N connections=M`` and, when the worker keeps the request-duration
    histogram (a metrics endpoint wants it), ``durations=c0,c1,...`` (one count per bound of
    DURATION_BUCKETS, then one for longer) and ``duration_sum=S`` (seconds); then
    ``body_timeouts=K`` once the slow-body rule has cut a request off.
    """

    #: requests served since the worker started
    requests: int = 0
    #: connections open now
    connections: int = 0
    #: the histogram's counts; empty when the worker keeps none
    durations: tuple[int, ...] = ()
    duration_sum: float = 0.0
    #: requests cut off by the slow-body rule (request_body_timeout / _min_rate)
    body_timeouts: int = 0

    def encode(self) -> str:
        """The STATS message's detail."""
        text = f"requests={self.requests} connections={self.connections}"
        if self.durations:
            text += (
                f" durations={','.join(map(str, self.durations))}"
                f" duration_sum={self.duration_sum:.6f}"
            )
        if self.body_timeouts:
            text += f" body_timeouts={self.body_timeouts}"
        return text

    @classmethod
    def decode(cls, detail: str) -> WorkerStats | None:
        """The figures of a STATS detail; None if it is malformed (the reader keeps the last
        good ones)."""
        fields = dict(item.partition("=")[::2] for item in detail.split())
        try:
            requests = int(fields["requests"])
            connections = int(fields["connections"])
            durations: tuple[int, ...] = ()
            duration_sum = 0.0
            if "durations" in fields:
                durations = tuple(int(count) for count in fields["durations"].split(","))
                duration_sum = float(fields.get("duration_sum", "0"))
            body_timeouts = int(fields.get("body_timeouts", "0"))
        except (KeyError, ValueError):
            return None
        if (
            requests < 0
            or connections < 0
            or body_timeouts < 0
            or (durations and (len(durations) != len(DURATION_BUCKETS) + 1 or min(durations) < 0))
        ):
            return None
        return cls(requests, connections, durations, duration_sum, body_timeouts)


class ChannelWriter:
    """The worker's end: best-effort, never blocking."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        os.set_blocking(fd, False)

    def send(self, kind: Kind, detail: str = "") -> None:
        line = f"{kind.value} {detail}".rstrip().replace("\n", " ")[:500] + "\n"
        with contextlib.suppress(BlockingIOError, BrokenPipeError):
            os.write(self.fd, line.encode("ascii", "replace"))


class ChannelReader:
    """The master's end: turns bytes read from one worker's pipe into messages."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._partial = b""
        os.set_blocking(fd, False)

    def read(self) -> tuple[list[tuple[Kind, str]], bool]:
        """Messages available now, and whether the worker closed its end."""
        chunks = []
        closed = False
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            if not data:
                closed = True
                break
            chunks.append(data)
        *lines, self._partial = (self._partial + b"".join(chunks)).split(b"\n")
        messages = []
        for line in lines:
            kind, _, detail = line.decode("ascii", "replace").partition(" ")
            try:
                messages.append((Kind(kind), detail))
            except ValueError:
                continue
        return messages, closed
