"""Starlette under asgi-master: lifespan state, JSON, streaming, FileResponse, WebSocket echo."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from . import CHUNKS, STATIC_FILE


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    yield {"started": "lifespan startup ran"}  # becomes request.state


async def json_endpoint(request: Request) -> JSONResponse:
    return JSONResponse({"framework": "starlette", "started": request.state.started})


async def stream(request: Request) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(CHUNKS):
            yield f"chunk {i}\n".encode()

    return StreamingResponse(chunks(), media_type="text/plain")


async def file(request: Request) -> FileResponse:
    return FileResponse(STATIC_FILE, media_type="text/plain")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text)


app = Starlette(
    lifespan=lifespan,
    routes=[
        Route("/json", json_endpoint),
        Route("/stream", stream),
        Route("/file", file),
        WebSocketRoute("/ws", echo),
    ],
)
