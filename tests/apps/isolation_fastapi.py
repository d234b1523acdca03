"""FastAPI with a request-id middleware on a context variable, as apps commonly log with: the
header ``x-found`` says what the middleware found before setting its own value."""

import contextvars

from fastapi import FastAPI, Request

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

app = FastAPI()


@app.middleware("http")
async def assign_request_id(request: Request, call_next):  # type: ignore[no-untyped-def]
    found = request_id.get()
    request_id.set(request.url.path)
    response = await call_next(request)
    response.headers["x-found"] = str(found)
    return response


@app.post("/upload/{name}")
async def upload(name: str, request: Request) -> dict[str, object]:
    body = await request.body()
    return {"name": name, "size": len(body), "seen": request_id.get()}


@app.get("/item/{name}")
async def item(name: str) -> dict[str, object]:
    return {"name": name, "seen": request_id.get()}
