"""Searches: run one, read one back."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, Response

from backend.api.deps import CurrentUser, Services
from backend.api.errors import INVALID, UNAUTHENTICATED, erro
from backend.api.guards import TooManySearches, client_address
from backend.schemas import BuscaRequest, BuscaResponse, SearchStatus
from backend.search_pipeline import run_search

router = APIRouter(tags=["busca"])


@router.post(
    "/buscar",
    response_model=BuscaResponse,
    responses={
        **UNAUTHENTICATED,
        409: erro("The search_id already names another search (another request, or another user's)."),
        413: erro("The body is larger than MAX_BODY_BYTES."),
        **INVALID,
        429: erro(
            "Too many searches from this client; try again after Retry-After seconds.",
            headers={"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
        ),
        502: erro("PNCP could not be read for this search."),
    },
)
async def buscar(request: BuscaRequest, services: Services, http: Request, user: CurrentUser) -> Response:
    """Licitações of the chosen UFs and dates that match the sector, best first."""
    wait = await services.rate_limit.seconds_to_wait(client_address(http))
    if wait is not None:
        raise TooManySearches(wait)
    answer = await run_search(request, services)
    # Its licitações as the pipeline wrote them once: FastAPI's own path (a dict, then json.dumps)
    # costs ~5x the CPU for a thousand licitações.
    return Response(answer.json_bytes(), media_type="application/json")


@router.get(
    "/buscar/{search_id}/status",
    response_model=SearchStatus,
    responses={**UNAUTHENTICATED, 404: erro("No such search, or it expired."), **INVALID},
)
async def status(search_id: UUID, services: Services, user: CurrentUser) -> SearchStatus:
    stored = await services.store.get(search_id)
    if stored is None:
        raise HTTPException(status_code=404, detail="Busca não encontrada ou expirada.")
    outcome = stored.outcome
    return SearchStatus(
        search_id=outcome.search_id,
        llm_status=outcome.llm_status,
        excel_status=outcome.excel_status,
        resumo=outcome.resumo,
        excel_url=outcome.excel_url,
        excel_error=outcome.excel_error,
        erro=outcome.erro,
        created_at=stored.created_at,
        total_filtrado=outcome.total_filtrado,
        ufs_com_falha=stored.ufs_com_falha,
        fonte=stored.fonte,
        atualizado_em=stored.atualizado_em,
    )
