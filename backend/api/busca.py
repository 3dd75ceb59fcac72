"""Searches: run one, read one back."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, Response

from backend.adapters.auth import User
from backend.api.deps import CurrentUser, Services
from backend.api.errors import INVALID, UNAUTHENTICATED, erro
from backend.api.guards import TooManySearches, client_address
from backend.codes import now_brasilia
from backend.schemas import BuscaRequest, BuscaResponse, SearchStatus
from backend.search_pipeline import run_search, stored_answer
from backend.store.search_cache import StoredSearch

router = APIRouter(tags=["busca"])


@router.post(
    "/buscar",
    response_model=BuscaResponse,
    responses={
        **UNAUTHENTICATED,
        403: erro("AUTH_MODE=supabase: no search left this month, or the plan does not allow this search (too many "
                  "UFs, too long a period); `detail` names the limit and when the searches renew."),
        409: erro("The search_id already names another search (another request, or another user's)."),
        413: erro("The body is larger than MAX_BODY_BYTES."),
        **INVALID,
        429: erro(
            "Too many searches from this client (this user, when signed in) in a minute, or more of the user's "
            "searches at once than their plan allows; try again after Retry-After seconds.",
            headers={"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
        ),
        502: erro("PNCP could not be read for this search."),
    },
)
async def buscar(request: BuscaRequest, services: Services, http: Request, user: CurrentUser) -> Response:
    """Licitações of the chosen UFs and dates that match the sector, best first."""
    # Signed-in users are counted each on their own, wherever they come from; without sign-in, each address.
    client = f"user:{user.id}" if services.tokens is not None else client_address(http)
    wait = await services.rate_limit.seconds_to_wait(client)
    if wait is not None:
        raise TooManySearches(wait)
    answer = await run_search(request, services, user)
    # Its licitações as the pipeline wrote them once: FastAPI's own path (a dict, then json.dumps)
    # costs ~5x the CPU for a thousand licitações.
    return Response(answer.json_bytes(), media_type="application/json")


@router.get(
    "/buscar/{search_id}/status",
    response_model=SearchStatus,
    responses={**UNAUTHENTICATED, 404: erro("No such search, or it expired."), **INVALID},
)
async def status(search_id: UUID, services: Services, user: CurrentUser) -> SearchStatus:
    stored = await _own_search(services, search_id, user)
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


@router.get(
    "/buscar/{search_id}",
    response_model=BuscaResponse,
    responses={**UNAUTHENTICATED, 404: erro("No such search of this user, or it expired."), **INVALID},
)
async def reopen(search_id: UUID, services: Services, user: CurrentUser) -> Response:
    """One of the user's searches as it stands, as `POST /v1/buscar` answered it: its licitações,
    summary and statuses, with a fresh link to its report ("Minhas buscas")."""
    stored = await _own_search(services, search_id, user)
    sector = services.sectors.get(stored.setor_id)
    if sector is None:
        raise HTTPException(status_code=404, detail="O setor desta busca não existe mais.")
    answer = stored_answer(stored, sector, now_brasilia(services.clock))
    if answer.excel_status == "ready":
        answer.excel_url = await services.storage.link(search_id) or answer.excel_url
    return Response(answer.json_bytes(), media_type="application/json")


async def _own_search(services: Services, search_id: UUID, user: User) -> StoredSearch:
    """The user's stored search; 404 for another user's, as for one that does not exist."""
    stored = await services.store.get(search_id)
    if stored is None or stored.outcome.owner != user.id:
        raise HTTPException(status_code=404, detail="Busca não encontrada ou expirada.")
    return stored
