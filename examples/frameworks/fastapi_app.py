"""FastAPI under asgi-master: lifespan state, JSON, streaming, FileResponse, WebSocket echo."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, StreamingResponse

from . import CHUNKS, STATIC_FILE


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    yield {"started": "lifespan startup ran"}


app = FastAPI(lifespan=lifespan)


@app.get("/json")
async def json_endpoint(request: Request) -> dict[str, Any]:
    return {"framework": "fastapi", "started": request.state.started}


@app.get("/stream")
async def stream() -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(CHUNKS):
            yield f"chunk {i}\n".encode()

    return StreamingResponse(chunks(), media_type="text/plain")


@app.get("/file")
async def file() -> FileResponse:
    return FileResponse(STATIC_FILE, media_type="text/plain")


@app.websocket("/ws")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass
