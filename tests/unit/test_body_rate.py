"""The slow-body rule (bodyrate.BodyRate) and how the protocol-agnostic request cycle applies
it: only while the app waits in ``receive`` for body that has not come, extended by what has
come, ending the request with a 408 (nothing sent yet) or an abort (the response started).
Time is the cycle's loop clock, which these tests set by hand: nothing waits for real."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import pytest

from asgi_master.channel import WorkerStats
from asgi_master.supervisor.metrics import Totals, render
from asgi_master.worker.asgi import ClientDisconnected
from asgi_master.worker.bodyrate import BodyRate
from asgi_master.worker.cycle import RequestCycle
from tests.unit.test_cycle import START, RecordingStream
from tests.unit.test_supervisor_metrics import Source, handle, value

RULE = BodyRate(timeout=20.0, min_rate=500)


# -- the rule ---------------------------------------------------------------------------


def test_the_rule_allows_the_timeout_plus_a_second_per_min_rate_bytes():
    assert RULE.allowed(0) == 20.0
    assert RULE.allowed(5000) == 30.0
    assert not RULE.overdue(29.9, 5000)
    assert RULE.overdue(30.1, 5000)


def test_a_zero_min_rate_gives_no_extension():
    rule = BodyRate(timeout=20.0, min_rate=0)
    assert rule.allowed(10**9) == 20.0
    assert rule.overdue(20.5, 10**9)


def test_a_zero_timeout_turns_the_rule_off():
    assert not BodyRate(timeout=0.0, min_rate=500).overdue(10**6, 0)


def test_the_slowhttptest_attack_is_overdue_within_a_few_seconds_of_the_timeout():
    # slowhttptest -B: up to 32 bytes every 10 s; after 25 s at most 96 bytes have come
    assert RULE.overdue(25.0, 96)


def test_a_slow_mobile_upload_keeps_well_inside_the_rule():
    # 2 KiB/s (16 kbit/s, worse than a bad 2G uplink) for ten minutes, the app always waiting
    for seconds in range(1, 600):
        assert not RULE.overdue(seconds, 2048 * seconds)
    # and a 30-second stall (a tunnel) after the first megabyte
    assert not RULE.overdue(512 + 30, 1024 * 1024)


# -- the cycle ---------------------------------------------------------------------------


class Clock:
    """A loop as the cycle uses it (futures, and a clock the test moves)."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.now = 1000.0

    def create_future(self) -> asyncio.Future[None]:
        return self.loop.create_future()

    def time(self) -> float:
        return self.now


class Owner:
    """What a cycle needs of its worker (``cycle.CycleOwner``), with the clock above."""

    def __init__(self, rule: BodyRate = RULE) -> None:
        self.clock = Clock()
        self.loop = self.clock
        self.tasks: set[asyncio.Task[None]] = set()
        self.debug = False
        self.body_rate = rule
        self.body_timeouts = 0


SCOPE = {
    "type": "http",
    "method": "POST",
    "path": "/upload",
    "headers": [],
    "client": ("192.0.2.7", 5555),
}


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def started(app: Any, rule: BodyRate = RULE) -> tuple[RequestCycle, RecordingStream, Owner]:
    stream = RecordingStream()
    owner = Owner(rule)
    cycle = RequestCycle(dict(SCOPE), stream, owner, True)  # type: ignore[arg-type]
    cycle.task = asyncio.get_running_loop().create_task(cycle.run(app))
    await settle()
    return cycle, stream, owner


async def read_body(receive: Any, seen: list[dict[str, Any]]) -> None:
    while True:
        message = await receive()
        seen.append(message)
        if message["type"] != "http.request" or not message.get("more_body"):
            return


def test_an_app_waiting_past_the_timeout_gets_a_408_and_a_disconnect(caplog):
    seen: list[dict[str, Any]] = []

    async def app(scope, receive, send):
        await read_body(receive, seen)
        await send(START)  # after the disconnect: raises ClientDisconnected, quietly

    async def main():
        cycle, stream, owner = await started(app)
        owner.clock.now += 19.5
        assert not cycle.enforce_body_rate(owner.clock.now)
        owner.clock.now += 1.0
        assert cycle.enforce_body_rate(owner.clock.now)
        await cycle.task
        return stream, owner

    with caplog.at_level(logging.INFO, logger="asgi_master.error"):
        stream, owner = asyncio.run(main())
    assert stream.calls == [
        ("send_continue",),
        ("refuse", 408, b"Request Timeout\n", b"text/plain; charset=utf-8"),
    ]
    assert seen == [{"type": "http.disconnect"}]
    assert owner.body_timeouts == 1
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "POST /upload from 192.0.2.7:5555: request body too slow: 0 bytes in 20s of the app "
        "waiting (request_body_timeout 20s + 1s per 500 bytes): 408"
    ]


def test_body_received_buys_more_waiting():
    async def app(scope, receive, send):
        await read_body(receive, [])

    async def main():
        cycle, _, owner = await started(app)
        owner.clock.now += 10.0
        cycle.add_body(b"x" * 5000)  # 10 s waited; 5000 bytes: 30 s allowed in all
        await settle()
        owner.clock.now += 19.5
        assert not cycle.enforce_body_rate(owner.clock.now)  # 29.5 s waited
        owner.clock.now += 1.0
        assert cycle.enforce_body_rate(owner.clock.now)  # 30.5 s
        await cycle.task

    asyncio.run(main())


def test_time_the_app_spends_not_waiting_in_receive_does_not_count():
    async def main():
        gate = asyncio.Event()

        async def app(scope, receive, send):
            await gate.wait()  # busy elsewhere: the body buffers (flow control)
            await read_body(receive, [])
            await send(START)
            await send({"type": "http.response.body"})

        cycle, stream, owner = await started(app)
        cycle.add_body(b"a" * 100)
        owner.clock.now += 3600.0
        assert not cycle.enforce_body_rate(owner.clock.now)
        gate.set()
        await settle()  # took the buffered part, now waits for the rest
        owner.clock.now += 19.0
        assert not cycle.enforce_body_rate(owner.clock.now)
        cycle.end_body()
        await cycle.task
        return stream

    stream = asyncio.run(main())
    assert stream.calls[-1] == ("complete",)


def test_waiting_for_the_disconnect_after_the_whole_body_does_not_count():
    async def main():
        async def app(scope, receive, send):
            await read_body(receive, [])
            await receive()  # listens for the disconnect, as streaming responses do

        cycle, _, owner = await started(app)
        cycle.add_body(b"done")
        cycle.end_body()
        await settle()
        owner.clock.now += 3600.0
        assert not cycle.enforce_body_rate(owner.clock.now)
        cycle.disconnect()
        await cycle.task

    asyncio.run(main())


def test_a_response_already_streaming_is_cut_off_not_answered(caplog):
    async def main():
        async def app(scope, receive, send):
            await send(START)
            await send({"type": "http.response.body", "body": b"partial", "more_body": True})
            await read_body(receive, [])
            with pytest.raises(ClientDisconnected):
                await send({"type": "http.response.body", "body": b"rest"})

        cycle, stream, owner = await started(app)
        owner.clock.now += 21.0
        assert cycle.enforce_body_rate(owner.clock.now)
        await cycle.task
        return stream, owner

    with caplog.at_level(logging.INFO, logger="asgi_master.error"):
        stream, owner = asyncio.run(main())
    assert stream.calls[-1] == ("abort",)
    assert ("refuse", 408) not in [call[:2] for call in stream.calls]
    assert owner.body_timeouts == 1
    # the stream's abort logs the reason (HTTP/1.1: "Closing connection from ...: ..."), the
    # cycle adds no line of its own
    assert caplog.records == []


def test_a_zero_timeout_never_cuts_a_request_off():
    async def main():
        async def app(scope, receive, send):
            await read_body(receive, [])

        cycle, _, owner = await started(app, BodyRate(0.0, 500))
        owner.clock.now += 10**6
        assert not cycle.enforce_body_rate(owner.clock.now)
        cycle.end_body()
        await cycle.task

    asyncio.run(main())


def test_a_request_without_a_wait_in_progress_is_never_overdue():
    async def main():
        async def app(scope, receive, send):
            await send(START)
            await send({"type": "http.response.body"})

        cycle, _, owner = await started(app)
        await cycle.task
        owner.clock.now += 10**6
        assert not cycle.enforce_body_rate(owner.clock.now)

    asyncio.run(main())


# -- the count, on its way to the metrics endpoint -------------------------------------------


def test_the_count_travels_in_the_stats_line():
    stats = WorkerStats(requests=9, connections=2, body_timeouts=4)
    assert stats.encode() == "requests=9 connections=2 body_timeouts=4"
    assert WorkerStats.decode(stats.encode()) == stats
    # a line without it (none cut off yet) is zero
    assert WorkerStats.decode("requests=9 connections=2") == WorkerStats(9, 2)
    assert WorkerStats.decode("requests=9 connections=2 body_timeouts=-1") is None


def test_the_metrics_count_live_workers_and_exited_ones():
    totals = Totals()
    totals.add(WorkerStats(requests=5, connections=0, body_timeouts=2))  # an exited worker
    workers = {os.getpid(): handle(1, os.getpid(), WorkerStats(3, 1, body_timeouts=5))}
    text = render(Source(workers=workers, totals=totals))
    try:
        assert value(text, "asgi_master_request_body_timeouts_total") == 7
        assert "# TYPE asgi_master_request_body_timeouts_total counter" in text
    finally:
        for worker in workers.values():
            os.close(worker.channel.fd)
