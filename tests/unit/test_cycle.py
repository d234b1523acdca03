"""The protocol-agnostic ASGI request cycle, against a stream that records what it is asked to
do: message order, the error policy, the request body, flow control. Nothing here is HTTP/1.1:
the same cycle serves every protocol's streams."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable, Sequence
from typing import Any

import pytest

from asgi_master.worker.asgi import ASGIMessageError, ClientDisconnected, ResponseError
from asgi_master.worker.cycle import RequestCycle, ResponseState


class RecordingStream:
    """A ``Stream`` (worker/stream.py) that records each call; ``fail`` makes one refuse."""

    def __init__(self, fail: str | None = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.write_paused = False
        self.fail = fail
        self.gone = False
        self.drained: asyncio.Event | None = None

    def _record(self, *call: Any) -> None:
        if call[0] == self.fail:
            raise ResponseError(f"{call[0]} refused by the stream")
        self.calls.append(call)

    def early_hint(self, links: Sequence[bytes]) -> None:
        self._record("early_hint", list(links))

    def start(self, status: int, headers: Iterable[Iterable[bytes]], trailers: bool) -> None:
        self._record("start", status, list(headers), trailers)

    def body(self, data: bytes, more: bool) -> None:
        self._record("body", data, more)

    def trailers(self, headers: Iterable[Iterable[bytes]], more: bool) -> None:
        self._record("trailers", list(headers), more)

    async def file(self, fd: int, size: int) -> None:
        self._record("file", os.pread(fd, size, 0), size)

    def send_continue(self) -> None:
        self._record("send_continue")

    def body_consumed(self, size: int) -> None:
        self._record("body_consumed", size)

    def complete(self) -> None:
        self._record("complete")

    def refuse(self, status: int, body: bytes, content_type: bytes) -> None:
        self._record("refuse", status, body, content_type)

    def abort(self, reason: str) -> None:
        self._record("abort")

    async def drain(self) -> None:
        self.calls.append(("drain",))
        assert self.drained is not None
        await self.drained.wait()
        if self.gone:
            raise ClientDisconnected("gone")


class Owner:
    """What a cycle needs of its worker (``cycle.CycleOwner``)."""

    def __init__(self, debug: bool = False) -> None:
        self.loop = asyncio.get_running_loop()
        self.tasks: set[asyncio.Task[None]] = set()
        self.debug = debug


SCOPE = {"type": "http", "method": "GET", "path": "/x", "headers": []}
START = {"type": "http.response.start", "status": 200, "headers": [(b"a", b"1")]}


def cycle_of(stream: RecordingStream, *, body: bool = False, debug: bool = False):
    return RequestCycle(dict(SCOPE), stream, Owner(debug), body)


async def run_app(app, stream: RecordingStream, **options: Any) -> RequestCycle:
    cycle = cycle_of(stream, **options)
    cycle.task = asyncio.get_running_loop().create_task(cycle.run(app))
    cycle._owner.tasks.add(cycle.task)
    await cycle.task
    return cycle


def calls_of(app, **options: Any) -> list[tuple[Any, ...]]:
    async def main() -> list[tuple[Any, ...]]:
        stream = RecordingStream()
        await run_app(app, stream, **options)
        return stream.calls

    return asyncio.run(main())


# -- message order ------------------------------------------------------------------------


def test_start_then_body_go_to_the_stream_then_complete():
    async def app(scope, receive, send):
        await send(START)
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.body", "body": b"b"})

    assert calls_of(app) == [
        ("start", 200, [(b"a", b"1")], False),
        ("body", b"a", True),
        ("body", b"b", False),
        ("complete",),
    ]


def test_a_finished_cycle_removes_its_own_task():
    async def app(scope, receive, send):
        await send(START)
        await send({"type": "http.response.body"})

    async def main():
        cycle = await run_app(app, RecordingStream())
        assert cycle.task not in cycle._owner.tasks and cycle.state is ResponseState.COMPLETE

    asyncio.run(main())


@pytest.mark.parametrize(
    ("messages", "error", "end"),
    [
        (
            [{"type": "http.response.body"}],
            "'http.response.body' message while the response is awaiting http.response.start",
            "refuse",
        ),
        (
            [START, START],
            "'http.response.start' message while the response is awaiting the first",
            "refuse",
        ),
        ([START, {"type": "http.response.trailers"}], "'http.response.trailers' message", "refuse"),
        (
            [START, {"type": "http.response.body"}, {"type": "http.response.body"}],
            "'http.response.body' message while the response is complete",
            "complete",  # the response went out whole before the stray message
        ),
        ([{"type": "http.response.bogus"}], "'http.response.bogus' message", "refuse"),
        ([{"status": 200}], "has no 'type'", "refuse"),
        ([{"type": "http.response.start"}], "without a 'status'", "refuse"),
        (
            [START, {"type": "http.response.body", "body": "text"}],
            "must be bytes, not str",
            "refuse",
        ),
        ([START, {"type": "http.response.pathsend", "path": "rel"}], "absolute path", "refuse"),
        ([START, {"type": "http.response.pathsend", "path": "/no/such"}], "cannot open", "refuse"),
        (
            [START, {"type": "http.response.early_hint", "links": []}],
            "early_hint' message",
            "refuse",
        ),
    ],
)
def test_a_message_out_of_order_or_malformed_is_refused_naming_it(messages, error, end):
    raised: list[BaseException] = []

    async def app(scope, receive, send):
        try:
            for message in messages:
                await send(message)
        except ASGIMessageError as exc:
            raised.append(exc)
            raise

    calls = calls_of(app)
    assert len(raised) == 1 and error in str(raised[0])
    assert calls[-1][0] == end


def test_the_streams_refusal_reaches_the_app_as_an_asgi_message_error_naming_the_message():
    async def main():
        stream = RecordingStream(fail="start")
        cycle = cycle_of(stream)
        with pytest.raises(ASGIMessageError, match=r"http.response.start: start refused"):
            await cycle.send(START)
        assert cycle.state is ResponseState.AWAIT_START

    asyncio.run(main())


def test_bytearray_and_memoryview_bodies_are_taken_as_bytes():
    async def app(scope, receive, send):
        await send(START)
        await send({"type": "http.response.body", "body": bytearray(b"a"), "more_body": True})
        await send({"type": "http.response.body", "body": memoryview(b"b")})

    calls = calls_of(app)
    assert [c[1] for c in calls if c[0] == "body"] == [b"a", b"b"]
    assert all(type(c[1]) is bytes for c in calls if c[0] == "body")


def test_early_hints_come_before_the_start_only():
    async def app(scope, receive, send):
        await send({"type": "http.response.early_hint", "links": [b"</a.css>; rel=preload"]})
        await send(START)
        await send({"type": "http.response.body"})

    assert calls_of(app)[0] == ("early_hint", [b"</a.css>; rel=preload"])


def test_trailers_announced_in_the_start_follow_the_body_and_end_the_response():
    async def app(scope, receive, send):
        await send({**START, "trailers": True})
        await send({"type": "http.response.body", "body": b"x"})
        await send(
            {"type": "http.response.trailers", "headers": [(b"t", b"1")], "more_trailers": True}
        )
        await send({"type": "http.response.trailers", "headers": [(b"u", b"2")]})

    assert calls_of(app)[1:] == [
        ("body", b"x", False),
        ("trailers", [(b"t", b"1")], True),
        ("trailers", [(b"u", b"2")], False),
        ("complete",),
    ]


def test_pathsend_hands_the_open_file_and_its_size_to_the_stream(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"file body")

    async def app(scope, receive, send):
        await send(START)
        await send({"type": "http.response.pathsend", "path": str(path)})

    assert calls_of(app)[1:] == [("file", b"file body", 9), ("complete",)]


def test_a_file_the_stream_refuses_is_an_asgi_message_error_and_the_file_is_closed(tmp_path):
    # (the second ``except ... as exc`` of _on_pathsend: mypyc once typed it as the first's)
    path = tmp_path / "f.bin"
    path.write_bytes(b"file body")
    raised: list[BaseException] = []

    async def app(scope, receive, send):
        await send(START)
        try:
            await send({"type": "http.response.pathsend", "path": str(path)})
        except ASGIMessageError as exc:
            raised.append(exc)
            raise

    fds_before = len(os.listdir("/proc/self/fd"))
    stream = RecordingStream(fail="file")
    asyncio.run(run_app(app, stream))
    calls = stream.calls
    assert [type(exc) for exc in raised] == [ASGIMessageError]
    assert "http.response.pathsend: file refused by the stream" in str(raised[0])
    assert calls[-1][0] == "refuse"
    assert len(os.listdir("/proc/self/fd")) == fds_before


# -- the error policy ---------------------------------------------------------------------


@pytest.mark.parametrize("when", ["before start", "after start"])
def test_a_failure_before_any_body_gets_a_clean_500(when, caplog):
    async def app(scope, receive, send):
        if when == "after start":
            await send(START)
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="asgi_master.error"):
        calls = calls_of(app)
    assert calls[-1] == ("refuse", 500, b"Internal Server Error\n", b"text/plain; charset=utf-8")
    assert "Exception in ASGI app" in caplog.text and "GET /x" in caplog.text


def test_a_failure_after_part_of_the_body_aborts_the_stream():
    async def app(scope, receive, send):
        await send(START)
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        raise RuntimeError("mid-stream")

    assert calls_of(app)[-1] == ("abort",)


def test_a_failure_after_the_response_was_complete_is_only_logged(caplog):
    async def app(scope, receive, send):
        await send(START)
        await send({"type": "http.response.body", "body": b"whole"})
        raise RuntimeError("after the end")

    with caplog.at_level(logging.ERROR, logger="asgi_master.error"):
        calls = calls_of(app)
    assert calls[-1] == ("complete",)  # no refuse, no abort: the response went out whole
    assert "after the end" in caplog.text


@pytest.mark.parametrize(("sent", "last"), [([], "refuse"), ([START], "refuse")])
def test_an_app_that_returns_without_finishing_gets_a_500(sent, last, caplog):
    async def app(scope, receive, send):
        for message in sent:
            await send(message)

    with caplog.at_level(logging.ERROR, logger="asgi_master.error"):
        calls = calls_of(app)
    assert calls[-1][0] == last and calls[-1][1] == 500
    assert "ASGI app returned with the response awaiting" in caplog.text


def test_an_app_that_returns_mid_stream_is_aborted():
    async def app(scope, receive, send):
        await send(START)
        await send({"type": "http.response.body", "body": b"a", "more_body": True})

    assert calls_of(app)[-1] == ("abort",)


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [(b"text/html", b"text/html; charset=utf-8"), (b"*/*", b"text/plain; charset=utf-8")],
)
def test_debug_puts_the_traceback_in_the_500(accept, content_type):
    async def app(scope, receive, send):
        raise ValueError("shown to the developer")

    async def main():
        stream = RecordingStream()
        cycle = RequestCycle(
            {**SCOPE, "headers": [(b"accept", accept)]}, stream, Owner(True), False
        )
        await cycle.run(app)
        return stream.calls

    [refusal] = asyncio.run(main())
    assert refusal[0] == "refuse" and refusal[3] == content_type
    assert b"ValueError: shown to the developer" in refusal[2]


def test_a_disconnected_client_makes_send_raise_and_the_end_an_abort():
    async def main():
        stream = RecordingStream()
        cycle = cycle_of(stream)
        await cycle.send(START)
        cycle.disconnect()
        with pytest.raises(ClientDisconnected):
            await cycle.send({"type": "http.response.body"})
        assert await cycle.receive() == {"type": "http.disconnect"}

    asyncio.run(main())


# -- the request body ---------------------------------------------------------------------


def test_body_pieces_reach_receive_joined_then_the_disconnect_after_the_response():
    async def main():
        stream = RecordingStream()
        cycle = cycle_of(stream, body=True)
        cycle.add_body(b"ab")
        cycle.add_body(b"cd")
        assert cycle.body_buffered == 4
        assert await cycle.receive() == {"type": "http.request", "body": b"abcd", "more_body": True}
        cycle.add_body(b"e")
        cycle.end_body()
        assert await cycle.receive() == {"type": "http.request", "body": b"e", "more_body": False}
        assert [c for c in stream.calls if c[0] == "body_consumed"] == [
            ("body_consumed", 4),
            ("body_consumed", 1),
        ]
        await cycle.send(START)
        await cycle.send({"type": "http.response.body"})
        assert await cycle.receive() == {"type": "http.disconnect"}

    asyncio.run(main())


def test_a_single_body_piece_is_handed_over_uncopied():
    async def main():
        cycle = cycle_of(RecordingStream(), body=True)
        piece = b"x" * 1000
        cycle.add_body(piece)
        cycle.end_body()
        assert (await cycle.receive())["body"] is piece

    asyncio.run(main())


def test_a_request_without_body_reads_as_one_empty_final_part():
    async def main():
        cycle = cycle_of(RecordingStream())
        assert await cycle.receive() == {"type": "http.request", "body": b"", "more_body": False}

    asyncio.run(main())


def test_receive_waits_for_the_body_and_wakes_when_it_comes():
    async def main():
        cycle = cycle_of(RecordingStream(), body=True)
        waiting = asyncio.ensure_future(cycle.receive())
        await asyncio.sleep(0)
        assert not waiting.done()
        cycle.add_body(b"late")
        cycle.end_body()
        assert (await waiting)["body"] == b"late"

    asyncio.run(main())


def test_receive_waiting_wakes_with_the_disconnect():
    async def main():
        cycle = cycle_of(RecordingStream(), body=True)
        waiting = asyncio.ensure_future(cycle.receive())
        await asyncio.sleep(0)
        cycle.disconnect()
        assert await waiting == {"type": "http.disconnect"}

    asyncio.run(main())


def test_the_first_receive_before_the_start_asks_for_100_continue_once():
    async def main():
        stream = RecordingStream()
        cycle = cycle_of(stream, body=True)
        cycle.add_body(b"a")
        await cycle.receive()
        cycle.add_body(b"b")
        cycle.end_body()
        await cycle.receive()
        assert stream.calls.count(("send_continue",)) == 1
        stream2 = RecordingStream()
        cycle2 = cycle_of(stream2, body=True)
        cycle2.end_body()
        await cycle2.send(START)
        await cycle2.receive()  # the response started: no interim response any more
        assert ("send_continue",) not in stream2.calls

    asyncio.run(main())


def test_body_arriving_after_the_response_is_dropped():
    async def main():
        cycle = cycle_of(RecordingStream(), body=True)
        await cycle.send(START)
        await cycle.send({"type": "http.response.body"})
        cycle.add_body(b"late")
        assert cycle.body_buffered == 0

    asyncio.run(main())


# -- write flow control -------------------------------------------------------------------


def test_send_waits_while_the_stream_is_paused():
    async def main():
        stream = RecordingStream()
        stream.drained = asyncio.Event()
        cycle = cycle_of(stream)
        stream.write_paused = True
        sending = asyncio.ensure_future(cycle.send(START))
        await asyncio.sleep(0)
        assert not sending.done() and stream.calls[-1] == ("drain",)
        stream.drained.set()
        await sending

    asyncio.run(main())


def test_a_peer_gone_while_send_waits_raises_client_disconnected():
    async def main():
        stream = RecordingStream()
        stream.drained = asyncio.Event()
        stream.write_paused = True
        stream.gone = True
        stream.drained.set()
        with pytest.raises(ClientDisconnected):
            await cycle_of(stream).send(START)

    asyncio.run(main())
