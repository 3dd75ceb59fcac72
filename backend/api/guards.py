"""What protects the API from clients: request body size, browser origins, searches per client."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.config import Settings


class TooManySearches(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def client_address(request: Request) -> str:
    """The caller's IP: behind a proxy (Railway), the one it forwarded, once the server trusts
    it (`FORWARDED_ALLOW_IPS`, read by gunicorn and uvicorn)."""
    return request.client.host if request.client else "unknown"


def too_many_searches(_: Request, exc: TooManySearches) -> JSONResponse:
    return too_many(exc.retry_after, f"Muitas buscas em pouco tempo. Tente novamente em {exc.retry_after} s.")


def too_many(retry_after: int, message: str) -> JSONResponse:
    """A 429: try again after `retry_after` seconds, for the reason `message` gives."""
    return JSONResponse(status_code=429, content={"detail": message, "mensagem": message},
                        headers={"Retry-After": str(retry_after)})


def body_too_large(limit: int) -> JSONResponse:
    message = f"O corpo da requisição passa de {limit:,} bytes.".replace(",", ".")
    return JSONResponse(status_code=413, content={"detail": message, "mensagem": message})


class BodySizeLimit:
    """Refuses bodies over `limit` bytes with 413: at once when Content-Length says so, and while
    reading when it does not (chunked uploads), so a big body is never held in memory."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await body_too_large(self.limit)(scope, receive, send)
            return
        received, refused = 0, False

        async def counted() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    if not refused:
                        refused = True
                        await body_too_large(self.limit)(scope, receive, send)
                    return {"type": "http.disconnect"}  # the app stops reading; its answer is dropped
            return message

        async def unless_refused(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counted, unless_refused)


def install_guards(app: FastAPI, settings: Settings) -> None:
    app.add_exception_handler(TooManySearches, too_many_searches)  # type: ignore[arg-type]
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)
    origins = settings.allowed_origins
    if origins:  # closed by default: no CORS headers at all, so browsers keep other sites out
        app.add_middleware(
            CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"], max_age=600,
        )
