"""Searches: run one, read one back."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, HTTPException

from backend.api.deps import Services
from backend.schemas import BuscaRequest, BuscaResponse, SearchStatus
from backend.search_pipeline import run_search

router = APIRouter(tags=["busca"])


@router.post("/buscar", response_model=BuscaResponse)
async def buscar(request: BuscaRequest, services: Services) -> BuscaResponse:
    """Licitações of the chosen UFs and dates that match the sector, best first."""
    return await run_search(request, services)


@router.get("/buscar/{search_id}/status", response_model=SearchStatus)
async def status(search_id: UUID, services: Services) -> SearchStatus:
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
    )
