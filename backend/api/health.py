"""Liveness and the state of what the service depends on."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

import anyio
from fastapi import APIRouter
from pydantic import BaseModel, Field

from backend.api.deps import Services, Worker
from backend.index.status import index_health
from backend.services import Services as AppServices

router = APIRouter(tags=["health"])
logger = logging.getLogger(__name__)

CHECK_TIMEOUT = 2.0


class WorkerState(BaseModel):
    mode: str = Field(description="'embedded' (in this web process) or 'separate' (EMBEDDED_WORKER=false).")
    running: bool = Field(description="This process's embedded worker is polling the queue.")
    jobs_in_flight: int = 0
    max_jobs: int
    restarts: int = 0


class LiveWorkers(BaseModel):
    same_database: int = Field(description="Live workers that read this process's database: they run its jobs.")
    other_database: int = Field(
        description="Live workers that read another database: their DATABASE_URL differs from this process's."
    )


class IndexState(BaseModel):
    status: Literal["ready", "warming", "off"] = Field(
        description="ready: every slice of the last INDEX_DAYS days read completely and today's refreshed "
        "within two refresh periods; warming: still filling or refreshing; off: INDEX_DAYS=0."
    )
    days_ready: int = Field(description="Days of the window whose every indexed modalidade was read completely.")
    records: int = Field(description="Publications in the index.")
    refreshed_at: datetime | None = Field(description="The oldest read of today's slices; null until all are read.")


class Health(BaseModel):
    status: str  # "ok" | "degraded"
    queue: str  # "healthy": Redis answers and some worker's heartbeat is fresh | "unavailable"
    jobs_queued: int | None = Field(default=None, description="Jobs waiting in the queue; null without Redis.")
    redis: str  # "ok" | "unavailable"
    worker: WorkerState
    database: str  # "ok" | "unavailable"
    storage: str  # "ok" | "unavailable"
    live_workers: LiveWorkers | None = Field(default=None, description="Null without Redis.")
    index: IndexState | None = Field(default=None, description="The local PNCP index; null when the database fails.")
    avisos: list[str] = Field(
        default_factory=list,
        description="For the people who run it, in words: what is wrong, and how it runs (sign-in off).",
    )


AUTH_OFF = "AUTH_MODE=off: sem login; todos usam um usuário local, sem limites de plano."


async def _check(name: str, probe) -> str:  # type: ignore[no-untyped-def]
    try:
        with anyio.fail_after(CHECK_TIMEOUT):
            await probe()
    except Exception as exc:  # any failure of a dependency is reported, never raised
        logger.warning("health: %s unavailable: %s", name, type(exc).__name__)
        return "unavailable"
    return "ok"


@router.get("/health", response_model=Health)
async def health(services: Services, embedded: Worker) -> Health:
    database = await _check("database", services.store.ping)
    redis = await _check("redis", services.redis.ping)
    storage = await _check("storage", services.storage.check)
    queue = "healthy" if await services.queue.is_queue_available() else "unavailable"
    if embedded is not None:
        worker = WorkerState(**embedded.state)
    else:
        worker = WorkerState(mode="separate", running=False, max_jobs=services.settings.worker_max_jobs)
    census = await services.queue.census()
    problems = []
    if census is not None and census.other_databases:
        problems.append(
            f"{census.other_databases} worker(s) vivo(s) usam outro banco de dados (DATABASE_URL diferente do "
            f"serviço web); {census.same_database} usam este. Os jobs só são enfileirados para workers deste banco."
        )
    index = await _index_state(services) if database == "ok" else None
    # Without a queue the service still answers (inline); it is degraded, not down.
    degraded = "unavailable" in (database, redis, storage, queue) or bool(problems)
    notes = [] if services.settings.auth_on else [AUTH_OFF]  # said, but nothing is wrong
    return Health(
        status="degraded" if degraded else "ok",
        queue=queue, jobs_queued=await services.queue.queue_depth(),
        redis=redis, worker=worker, database=database, storage=storage,
        live_workers=None if census is None else LiveWorkers(
            same_database=census.same_database, other_database=census.other_databases
        ),
        index=index,
        avisos=problems + notes,
    )


async def _index_state(services: AppServices) -> IndexState | None:
    settings = services.settings
    try:
        with anyio.fail_after(CHECK_TIMEOUT):
            state = await index_health(services.publications, index_days=settings.index_days,
                                       modalidades=settings.indexed_modalidades,
                                       refresh_seconds=settings.index_refresh_seconds, clock=services.clock)
    except Exception as exc:  # reported as unknown, never raised
        logger.warning("health: index state unknown: %s", type(exc).__name__)
        return None
    return IndexState(status=state.status, days_ready=state.days_ready, records=state.records,
                      refreshed_at=state.refreshed_at)
