"""HTTP routes: parse, call, shape the answer."""

__all__ = ["metrics", "ops", "router"]

from fastapi import APIRouter

from backend.api import arquivos, busca, conta, health, metrics, ops, progresso, setores

router = APIRouter(prefix="/v1")
router.include_router(busca.router)
router.include_router(progresso.router)
router.include_router(arquivos.router)
router.include_router(setores.router)
router.include_router(conta.router)
router.include_router(health.router)
