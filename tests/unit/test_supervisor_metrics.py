"""The Prometheus exposition text, rendered from any source shaped like the master."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from asgi_master.channel import DURATION_BUCKETS, ChannelReader, WorkerStats
from asgi_master.config import Config
from asgi_master.supervisor.generations import Deployment, Generations
from asgi_master.supervisor.handle import WorkerHandle, WorkerState
from asgi_master.supervisor.metrics import Totals, render


@dataclass
class Source:
    """Not a master: just what ``render`` reads."""

    workers: Mapping[int, WorkerHandle]
    target: int = 2
    totals: Totals = field(default_factory=Totals)
    generations: Generations = field(
        default_factory=lambda: Generations(Deployment(Config(app="a:b"), None))
    )


def handle(slot: int, pid: int, stats: WorkerStats) -> WorkerHandle:
    # a real pipe end; nothing is read from it
    read_fd, write_fd = os.pipe()
    os.close(write_fd)
    worker = WorkerHandle(
        slot=slot,
        pid=pid,
        channel=ChannelReader(read_fd),
        generation=1,
        started_at=0.0,
        state=WorkerState.READY,
        stats=stats,
    )
    return worker


def value(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not rendered"
    return float(match.group(1))


def test_requests_and_histogram_sum_live_workers_and_the_exited_ones():
    histogram = tuple([1] + [0] * len(DURATION_BUCKETS))
    totals = Totals(requests=10)
    totals.add(WorkerStats(requests=0, connections=0, durations=histogram, duration_sum=0.001))
    workers = {
        os.getpid(): handle(1, os.getpid(), WorkerStats(3, 1, histogram, 0.002)),
        os.getppid(): handle(2, os.getppid(), WorkerStats(4, 0, histogram, 0.003)),
    }
    text = render(Source(workers=workers, totals=totals))
    try:
        assert value(text, "asgi_master_requests_total") == 17
        assert value(text, 'asgi_master_request_duration_seconds_bucket{le="0.005"}') == 3
        assert value(text, 'asgi_master_request_duration_seconds_bucket{le="+Inf"}') == 3
        assert value(text, "asgi_master_request_duration_seconds_sum") == 0.006
        assert value(text, 'asgi_master_workers{state="ready"}') == 2
        assert (
            value(text, f'asgi_master_worker_requests_total{{slot="1",pid="{os.getpid()}"}}') == 3
        )
        assert value(text, "asgi_master_generation") == 1
        assert value(text, "asgi_master_workers_target") == 2
    finally:
        for worker in workers.values():
            os.close(worker.channel.fd)


def test_every_sample_has_help_and_type():
    text = render(Source(workers={}))
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    for line in text.splitlines():
        if not line.startswith("#"):
            name = re.split(r"[{ ]", line, maxsplit=1)[0]
            assert re.sub(r"_(bucket|sum|count)$", "", name) in names or name in names, line
