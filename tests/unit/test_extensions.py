"""ASGI extensions and server-made responses over the in-memory link."""

from __future__ import annotations

import asyncio
import os

import pytest

from tests.unit.memlink import Link

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def run(coro):
    return asyncio.run(coro)


def test_extensions_are_advertised_in_the_scope():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["extensions"])
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body"})

    async def main():
        link = Link(app, extensions={"http.response.trailers": {}})
        link.send(GET)
        await link.settle()

    run(main())
    assert "http.response.trailers" in seen[0]


def test_trailers_follow_the_last_chunk():
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        await send({"type": "http.response.body", "body": b"data"})
        await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc")]})

    async def main():
        link = Link(app)
        link.send(GET)
        await link.settle()
        wire = bytes(link.transport.data)
        assert b"transfer-encoding: chunked" in wire
        assert wire.endswith(b"4\r\ndata\r\n0\r\nx-checksum: abc\r\n\r\n")
        [(_, body)] = link.responses()
        assert body == b"data"

    run(main())


def test_early_hint_goes_out_before_the_response():
    async def app(scope, receive, send):
        await send(
            {"type": "http.response.early_hint", "links": [b"</style.css>; rel=preload; as=style"]}
        )
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"page"})

    async def main():
        link = Link(app)
        link.send(GET)
        await link.settle()
        wire = bytes(link.transport.data)
        assert wire.startswith(
            b"HTTP/1.1 103 Early Hints\r\nlink: </style.css>; "
            b"rel=preload; as=style\r\n\r\nHTTP/1.1 200 OK\r\n"
        )

    run(main())


def test_pathsend_copies_the_file_when_there_is_no_socket(tmp_path):
    data = os.urandom(700_000)
    path = tmp_path / "f.bin"
    path.write_bytes(data)

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.pathsend", "path": str(path)})

    async def main():
        link = Link(app)
        link.send(GET)
        await link.settle()
        [(response, body)] = link.responses()
        assert dict(response.headers)[b"content-length"] == b"700000"
        assert body == data

    run(main())


@pytest.mark.parametrize(
    ("accept", "content_type", "marker"),
    [
        (b"text/html", b"text/html; charset=utf-8", b"<pre>"),
        (b"*/*", b"text/plain; charset=utf-8", b"Traceback"),
    ],
)
def test_debug_mode_shows_the_traceback(accept, content_type, marker):
    async def app(scope, receive, send):
        raise LookupError("the missing <thing>")

    async def main():
        link = Link(app, debug=True)
        link.send(b"GET / HTTP/1.1\r\nHost: x\r\nAccept: " + accept + b"\r\n\r\n")
        await link.settle()
        [(response, body)] = link.responses()
        assert response.status_code == 500
        assert dict(response.headers)[b"content-type"] == content_type
        assert marker in body and b"LookupError" in body
        if marker == b"<pre>":
            assert b"&lt;thing&gt;" in body

    run(main())


def test_without_debug_the_traceback_stays_in_the_log():
    async def app(scope, receive, send):
        raise LookupError("secret detail")

    async def main():
        link = Link(app)
        link.send(GET)
        await link.settle()
        [(_, body)] = link.responses()
        assert body == b"Internal Server Error\n"

    run(main())


def test_request_head_slower_than_the_timeout_gets_408():
    async def main():
        link = Link(lambda *a: None, request_header_timeout=10.0)
        link.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
        assert link.protocol.conn.head_since > 0
        link.protocol.close_if_idle(link.protocol.conn.head_since + 11, 5.0)
        assert bytes(link.transport.data).startswith(b"HTTP/1.1 408 Request Timeout")
        assert link.transport.closed

    run(main())


def test_server_header_can_be_turned_off():
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def main():
        link = Link(app, server_header=False)
        link.send(GET)
        await link.settle()
        assert b"server:" not in bytes(link.transport.data)

    run(main())
