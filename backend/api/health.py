"""Liveness and the state of what the service depends on."""

from __future__ import annotations

import logging

import anyio
from fastapi import APIRouter
from pydantic import BaseModel

from backend.api.deps import Services

router = APIRouter(tags=["health"])
logger = logging.getLogger(__name__)

CHECK_TIMEOUT = 2.0


class Health(BaseModel):
    status: str  # "ok" | "degraded"
    database: str  # "ok" | "unavailable"
    redis: str  # "ok" | "unavailable"
    storage: str  # "ok" | "unavailable"


async def _check(name: str, probe) -> str:  # type: ignore[no-untyped-def]
    try:
        with anyio.fail_after(CHECK_TIMEOUT):
            await probe()
    except Exception as exc:  # any failure of a dependency is reported, never raised
        logger.warning("health: %s unavailable: %s", name, type(exc).__name__)
        return "unavailable"
    return "ok"


@router.get("/health", response_model=Health)
async def health(services: Services) -> Health:
    database = await _check("database", services.store.ping)
    redis = await _check("redis", services.redis.ping)
    storage = await _check("storage", services.storage.check)
    degraded = "unavailable" in (database, redis, storage)
    return Health(status="degraded" if degraded else "ok", database=database, redis=redis, storage=storage)
