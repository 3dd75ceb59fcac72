"""Live progress of a search over Server-Sent Events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, FastAPI, Header, HTTPException, Query, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from backend.api.deps import Services, StreamUser
from backend.api.errors import INVALID, UNAUTHENTICATED, erro
from backend.progress.events import derived_events, format_event_id, parse_event_id
from backend.progress.follow import follow, wait_for_search
from backend.runtime import metrics
from backend.schemas import ProgressEvent

router = APIRouter(tags=["busca"])

HEARTBEAT_SECONDS = 15
MAX_CONNECTION_SECONDS = 300.0  # then the browser reconnects with Last-Event-ID
RECONNECT_MS = 2000

PROGRESS_EVENT = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "The stream entry id, for Last-Event-ID."},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {"$ref": "#/components/schemas/ProgressEvent"},
        },
    },
    "required": ["data"],
}
"""One message of the stream (the Open API 3.2 way, FastAPI's own for its SSE routes)."""


def document_events(app: FastAPI) -> None:
    """Puts `ProgressEvent`, which `PROGRESS_EVENT` refers to, among the OpenAPI document's schemas
    (so among the page's generated types): no route's JSON body or answer is one, so FastAPI alone
    would leave it out."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()  # FastAPI's, made once and kept
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        if "ProgressEvent" not in schemas:
            schemas["ProgressEvent"] = ProgressEvent.model_json_schema(
                mode="serialization", ref_template="#/components/schemas/{model}"
            )
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend it


@router.get(
    "/buscar-progress/{search_id}",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "Server-Sent Events, until the search completes or fails (or after "
                           f"{MAX_CONNECTION_SECONDS:.0f} s: reconnect with Last-Event-ID).",
            "content": {"text/event-stream": {"itemSchema": PROGRESS_EVENT}},
        },
        204: {"description": "Unknown or expired search, or nothing left to send."},
        404: erro("Another user's search."),
        **UNAUTHENTICATED,
        **INVALID,
    },
)
async def buscar_progress(
    search_id: UUID,
    services: Services,
    user: StreamUser,
    last_event_id: Annotated[str | None, Query(description="Resume after this event id.")] = None,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> Response:
    """Every event of the search the client has not seen yet, then live ones until it completes."""
    cursor = parse_event_id(last_event_id_header or last_event_id)
    # The page opens the stream just before it posts the search: give the search time to appear.
    outcome = await wait_for_search(services.progress, services.store, search_id,
                                    services.settings.sse_wait_for_search)
    if outcome is None:
        return Response(status_code=204)
    if outcome.owner != user.id:
        raise HTTPException(status_code=404, detail="Busca não encontrada ou expirada.")
    if outcome.settled:
        events = derived_events(outcome)
        if events and events[-1].id <= cursor:
            return Response(status_code=204)  # the client saw the end; 204 stops EventSource retrying

    async def stream() -> AsyncIterator[ServerSentEvent]:
        metrics.SSE_CLIENTS.inc()
        try:
            async for stored in follow(
                services.progress, services.store, search_id, cursor, max_seconds=MAX_CONNECTION_SECONDS
            ):
                yield ServerSentEvent(data=stored.json(), id=format_event_id(stored.id))
        finally:
            metrics.SSE_CLIENTS.dec()

    return EventSourceResponse(
        stream(),
        ping=HEARTBEAT_SECONDS,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
