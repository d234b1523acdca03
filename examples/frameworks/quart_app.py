"""Quart under asgi-master: startup hook, JSON, streaming, send_file, WebSocket echo."""

from collections.abc import AsyncIterator
from typing import Any

from quart import Quart, Response, send_file, websocket

from . import CHUNKS, STATIC_FILE

app = Quart(__name__)


@app.before_serving
async def startup() -> None:  # runs on lifespan.startup
    app.config["STARTED"] = "lifespan startup ran"


@app.get("/json")
async def json_endpoint() -> dict[str, Any]:
    return {"framework": "quart", "started": app.config["STARTED"]}


@app.get("/stream")
async def stream() -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(CHUNKS):
            yield f"chunk {i}\n".encode()

    return Response(chunks(), mimetype="text/plain")


@app.get("/file")
async def file() -> Response:
    return await send_file(STATIC_FILE, mimetype="text/plain")


@app.websocket("/ws")
async def echo() -> None:
    while True:
        await websocket.send(await websocket.receive())
