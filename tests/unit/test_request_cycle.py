"""The ASGI request cycle over an in-memory link: errors, ordering, keep-alive, continue."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.unit.memlink import Link

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


async def hello(scope, receive, send):
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": b"hi " + scope["path"].encode()})


def run(coro):
    return asyncio.run(coro)


def test_keep_alive_serves_requests_in_order_on_one_connection():
    async def main():
        link = Link(hello)
        link.send(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n")
        await link.settle()
        link.send(b"GET /three HTTP/1.1\r\nHost: x\r\n\r\n")
        await link.settle()
        bodies = [body for _, body in link.responses()]
        assert bodies == [b"hi /one", b"hi /two", b"hi /three"]
        assert not link.transport.closed

    run(main())


def test_pipelined_requests_run_one_after_another():
    order = []

    async def app(scope, receive, send):
        order.append(("start", scope["path"]))
        await asyncio.sleep(0.01 if scope["path"] == "/slow" else 0)
        order.append(("end", scope["path"]))
        await hello(scope, receive, send)

    async def main():
        link = Link(app)
        link.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
        await link.settle()
        assert order == [("start", "/slow"), ("end", "/slow"), ("start", "/fast"), ("end", "/fast")]
        assert [b for _, b in link.responses()] == [b"hi /slow", b"hi /fast"]

    run(main())


@pytest.mark.parametrize(
    "path",
    [
        "/raise",
        "/raise-after-start",
        "/return",
        "/start-return",
        "/body-first",
        "/start-twice",
        "/unknown",
        "/bad-body",
    ],
)
def test_app_failures_before_the_first_body_give_a_clean_500(path, caplog):
    async def app(scope, receive, send):
        start = {"type": "http.response.start", "status": 200, "headers": []}
        if path == "/raise":
            raise RuntimeError("boom")
        if path in ("/raise-after-start", "/start-return", "/start-twice", "/bad-body"):
            await send(start)
        if path == "/raise-after-start":
            raise RuntimeError("boom after start")
        if path == "/body-first":
            await send({"type": "http.response.body", "body": b"x"})
        if path == "/start-twice":
            await send(start)
        if path == "/unknown":
            await send({"type": "http.response.bogus"})
        if path == "/bad-body":
            await send({"type": "http.response.body", "body": "text, not bytes"})

    async def main():
        link = Link(app)
        link.send(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await link.settle()
        [(response, body)] = link.responses()
        assert response.status_code == 500
        assert body == b"Internal Server Error\n"
        assert link.transport.closed

    with caplog.at_level(logging.ERROR, logger="asgi_master.error"):
        run(main())
    assert caplog.records, "the failure must be logged"


def test_invalid_message_log_names_the_state_and_the_message(caplog):
    async def app(scope, receive, send):
        await send({"type": "http.response.body", "body": b"x"})

    async def main():
        link = Link(app)
        link.send(GET)
        await link.settle()

    with caplog.at_level(logging.ERROR, logger="asgi_master.error"):
        run(main())
    text = caplog.text
    assert (
        "unexpected 'http.response.body' message while the response is awaiting "
        "http.response.start" in text
    )


def test_failure_after_headers_were_sent_closes_without_a_second_response():
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        raise RuntimeError("mid-stream")

    async def main():
        link = Link(app)
        link.send(GET)
        await link.settle()
        assert link.transport.closed
        wire = bytes(link.transport.data)
        assert wire.startswith(b"HTTP/1.1 200 OK") and b"500" not in wire
        assert not wire.endswith(b"0\r\n\r\n")  # the body was never terminated

    run(main())


def test_headers_are_not_written_until_the_first_body_part():
    gate = asyncio.Event

    async def main():
        opened = gate()
        seen = []

        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": 200, "headers": []})
            seen.append(bytes(link.transport.data))
            await opened.wait()
            await send({"type": "http.response.body", "body": b"late"})

        link = Link(app)
        link.send(GET)
        await link.settle(wait=False)
        assert seen == [b""]
        opened.set()
        await link.settle()
        [(response, body)] = link.responses()
        assert (response.status_code, body) == (200, b"late")

    run(main())


def test_request_body_is_streamed_to_the_app_then_disconnect_after_response():
    received = []

    async def app(scope, receive, send):
        while True:
            message = await receive()
            received.append(message)
            if not message.get("more_body"):
                break
        await hello(scope, receive, send)
        received.append(await receive())

    async def main():
        link = Link(app)
        link.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc")
        await link.settle(wait=False)
        link.send(b"def")
        await link.settle()
        body = b"".join(m.get("body", b"") for m in received)
        assert body == b"abcdef"
        assert received[-1] == {"type": "http.disconnect"}

    run(main())


def test_chunked_body_streams_to_the_app_uncopied_and_the_next_request_follows():
    received = []

    async def app(scope, receive, send):
        while True:
            message = await receive()
            received.append((scope["path"], message))
            if not message.get("more_body"):
                break
        await hello(scope, receive, send)

    async def main():
        link = Link(app)
        link.send(b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\na\r\n01234")
        await link.settle(wait=False)
        piece = b"56789"
        link.send(piece)
        await link.settle(wait=False)
        assert received[-1][1]["body"] is piece  # chunk data arriving alone is not copied
        link.send(b"\r\n0\r\nX-Checksum: 1\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        await link.settle()
        assert b"".join(m.get("body", b"") for path, m in received if path == "/up") == (
            b"0123456789"
        )
        assert [body for _, body in link.responses()] == [b"hi /up", b"hi /next"]
        assert link.protocol.conn.used_h11 == 0

    run(main())


def test_100_continue_is_sent_only_when_the_app_reads_the_body():
    async def reads(scope, receive, send):
        await receive()
        await hello(scope, receive, send)

    async def main():
        request = b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
        link = Link(hello)
        link.send(request)
        await link.settle()
        assert not bytes(link.transport.data).startswith(b"HTTP/1.1 100")
        link = Link(reads)
        link.send(request)
        await link.settle(wait=False)
        assert bytes(link.transport.data) == b"HTTP/1.1 100 Continue\r\n\r\n"
        link.send(b"ok")
        await link.settle()
        assert b"HTTP/1.1 200 OK" in bytes(link.transport.data)

    run(main())


def test_http10_expect_and_upgrade_are_ignored():
    # RFC 9110 10.1.1 and 7.8: no 100 goes to an HTTP/1.0 client, and its Upgrade is no upgrade
    scopes = []

    async def reads(scope, receive, send):
        scopes.append(scope)
        await receive()
        await hello(scope, receive, send)

    async def main():
        link = Link(reads)
        link.send(b"POST /up HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        await link.settle(wait=False)
        assert bytes(link.transport.data) == b""
        link.send(b"ok")
        await link.settle()
        assert bytes(link.transport.data).startswith(b"HTTP/1.1 200 OK")
        link = Link(reads)
        link.send(
            b"GET /ws HTTP/1.0\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            b"\r\n"
        )
        await link.settle()
        assert bytes(link.transport.data).startswith(b"HTTP/1.1 200 OK")

    run(main())
    assert [scope["type"] for scope in scopes] == ["http", "http"]


def test_scope_has_decoded_path_raw_path_query_and_root_path():
    scopes = []

    async def app(scope, receive, send):
        scopes.append(scope)
        await hello(scope, receive, send)

    async def main():
        link = Link(app, root_path="/api")
        link.send(b"GET /caf%C3%A9/x%2Fy?q=1&r=%20 HTTP/1.1\r\nHost: x\r\nX-Up: V\r\n\r\n")
        await link.settle()

    run(main())
    [scope] = scopes
    assert scope["type"] == "http" and scope["method"] == "GET"
    assert scope["path"] == "/api/café/x/y"
    assert scope["raw_path"] == b"/api/caf%C3%A9/x%2Fy"
    assert scope["query_string"] == b"q=1&r=%20"
    assert scope["root_path"] == "/api"
    assert scope["headers"] == [(b"host", b"x"), (b"x-up", b"V")]
    assert scope["http_version"] == "1.1" and scope["scheme"] == "http"
    assert scope["asgi"]["version"] == "3.0"


def test_each_request_gets_its_own_copy_of_the_lifespan_state():
    states = []

    async def app(scope, receive, send):
        scope["state"]["mutated"] = True
        states.append(scope["state"])
        await hello(scope, receive, send)

    async def main():
        link = Link(app, state={"db": "pool"})
        link.send(GET + GET)
        await link.settle()
        assert link.ctx.state == {"db": "pool"}

    run(main())
    assert len(states) == 2 and states[0] is not states[1]
    assert states[0]["db"] == "pool"


def test_malformed_request_gets_400_and_the_connection_closes():
    async def main():
        link = Link(hello)
        link.send(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n")
        await link.settle()
        assert link.transport.closed
        assert bytes(link.transport.data).startswith(b"HTTP/1.1 400 Bad Request\r\n")

    run(main())


def test_head_request_gets_headers_without_body():
    async def main():
        link = Link(hello)
        link.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        await link.settle()
        [(response, body)] = link.responses(method=b"HEAD")
        assert response.status_code == 200 and body == b""
        assert dict(response.headers)[b"content-length"] == b"4"

    run(main())


def test_response_before_the_body_is_read_closes_the_connection():
    async def main():
        link = Link(hello)
        link.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial")
        await link.settle()
        [(response, _)] = link.responses()
        assert dict(response.headers)[b"connection"] == b"close"
        assert link.transport.closed

    run(main())


def test_half_close_after_a_request_closes_once_the_response_is_sent():
    async def slow(scope, receive, send):
        await asyncio.sleep(0.01)
        await hello(scope, receive, send)

    async def main():
        link = Link(slow)
        link.send(GET)
        link.protocol.eof_received()
        await link.settle()
        [(response, _)] = link.responses()
        assert response.status_code == 200
        assert link.transport.closed

    run(main())


def test_an_app_failing_after_its_whole_response_leaves_the_connection_serving(caplog):
    async def app(scope, receive, send):
        await hello(scope, receive, send)
        if scope["path"] == "/fails-after":
            raise RuntimeError("after the response")

    async def main():
        link = Link(app)
        link.send(
            b"GET /fails-after HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        await link.settle()
        assert [body for _, body in link.responses()] == [b"hi /fails-after", b"hi /next"]
        assert not link.transport.closed

    with caplog.at_level(logging.ERROR, logger="asgi_master.error"):
        run(main())
    assert "after the response" in caplog.text
