"""Sectors a search can target."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import Services
from backend.schemas import Setor

router = APIRouter(tags=["setores"])


@router.get("/setores", response_model=list[Setor])
async def setores(services: Services) -> list[Setor]:
    return [Setor(id=s.id, nome=s.nome, descricao=s.descricao) for s in services.sectors.values()]
