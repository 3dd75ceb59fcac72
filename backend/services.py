"""The adapters of one process, built once and closed once.

The web lifespan and a separate worker's startup call the same `open_services`, so both run
the same code with the same kind of objects.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import anyio
import httpx
from openai import AsyncOpenAI
from redis.asyncio import Redis

from backend.adapters import llm
from backend.adapters.auth import TokenVerifier
from backend.adapters.excel_process import ExcelBuilder
from backend.adapters.queue_client import JobQueue, get_arq_pool
from backend.adapters.rate_limit import SearchRateLimit
from backend.adapters.running import RunningSearches
from backend.adapters.storage import ExcelStorage, LocalStorage, SupabaseStorage, signing_key_for
from backend.codes import Clock, system_clock
from backend.config import Settings
from backend.domain.plans import PLANS_FILE, Plan, load_plans
from backend.domain.sectors import Sector, every_sector, load_sectors, read_boundaries
from backend.index.arbiter import Arbiter
from backend.index.ingestion import Ingestion
from backend.index.reads import IndexReads
from backend.index.search import IndexedSearch
from backend.pncp.client import PNCPClient, RetryPolicy
from backend.pncp.pacing import PNCPPacer
from backend.progress.tracker import ProgressTracker
from backend.runtime.memory import keep_memory_trimmed, limit_arenas
from backend.store.abertas import OpenTenderStore
from backend.store.publications import PublicationStore
from backend.store.search_cache import SearchCache
from backend.store.usage import Usage
from backend.store.verdicts import VerdictStore

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Services:
    settings: Settings
    pncp: PNCPClient
    store: SearchCache
    sectors: dict[str, Sector]
    redis: Redis
    progress: ProgressTracker
    storage: ExcelStorage
    excel: ExcelBuilder  # builds reports in child processes
    llm: AsyncOpenAI | None  # None without OPENAI_API_KEY: summaries come from the fallback
    queue: JobQueue
    rate_limit: SearchRateLimit
    database_id: str  # the identity stored in the database: workers advertise it, web processes compare
    publications: PublicationStore  # the local index of PNCP (empty when INDEX_DAYS=0)
    open_tenders: OpenTenderStore  # what PNCP lists as open for proposals, in the index
    index: IndexedSearch | None  # None with INDEX_DAYS=0: searches read PNCP live
    ingestion: Ingestion | None  # keeps the index fresh; runs in one process of the cluster at a time
    verdicts: VerdictStore  # the AI arbiter's verdicts and spending (read by /ops even when off)
    arbiter: Arbiter | None  # None without an index, an LLM or a budget: the rules alone decide
    clock: Clock  # what time it is: every "today" (Brasília's) and every stored moment comes from it
    plans: dict[str, Plan]  # what each plan allows (PLANS_FILE)
    tokens: TokenVerifier | None  # checks Supabase access tokens; None with AUTH_MODE=off
    usage: Usage  # searches counted against each user's monthly quota
    running: RunningSearches  # each user's searches running now, against their plan's limit


_current: Services | None = None


def current() -> Services:
    """The services open in this process (the web lifespan's or a separate worker's)."""
    if _current is None:
        raise RuntimeError("no services are open in this process: call this from the app or a worker's job")
    return _current


@asynccontextmanager
async def open_services(settings: Settings, clock: Clock = system_clock) -> AsyncIterator[Services]:
    global _current
    limit_arenas()
    async with AsyncExitStack() as stack:
        if settings.sqlite_path is not None:
            settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        store = SearchCache.from_url(settings.database_url, ttl=timedelta(hours=settings.search_ttl_hours),
                                    clock=clock)
        stack.push_async_callback(store.close)
        await store.migrate()
        expired = await store.delete_expired()
        if expired:
            logger.info("removed %d expired searches", expired)

        # Short timeouts: a missing Redis must make the service degrade, not hang.
        redis = Redis.from_url(settings.redis_url, socket_connect_timeout=1, socket_timeout=2)
        stack.push_async_callback(redis.aclose)

        pncp = PNCPClient.create(
            settings.pncp_base_url,
            pacer=PNCPPacer.create(settings.pncp_requests_per_second, redis),
            timeout=settings.pncp_timeout,
            retry=RetryPolicy(settings.pncp_max_retries, settings.pncp_backoff_base, settings.pncp_backoff_max),
            concurrency=settings.pncp_concurrency,
            max_connections=settings.pncp_max_connections,
            max_pages=settings.pncp_max_pages,
        )
        stack.push_async_callback(pncp.aclose)

        storage = await _open_storage(settings)
        stack.push_async_callback(storage.aclose)
        plans = await anyio.to_thread.run_sync(load_plans, settings.plans_file or PLANS_FILE)
        tokens = None
        if settings.auth_on:
            auth_http = httpx.AsyncClient(timeout=10)
            stack.push_async_callback(auth_http.aclose)
            tokens = TokenVerifier(
                auth_http, supabase_url=settings.supabase_url, clock=clock,
                jwt_secret=settings.supabase_jwt_secret.get_secret_value() if settings.supabase_jwt_secret else None,
            )

        excel = ExcelBuilder(settings.excel_processes)
        stack.push_async_callback(excel.aclose)

        client = None
        if settings.openai_api_key is not None:
            client = llm.build_client(
                settings.openai_api_key.get_secret_value(), settings.openai_base_url, settings.llm_job_timeout
            )
            stack.push_async_callback(client.close)

        arq_pool = get_arq_pool(settings)
        stack.push_async_callback(arq_pool.aclose)

        # What exists now (modules, sectors, clients) lives as long as the process: leave it out
        # of the garbage collector's full passes, which otherwise walk ~190,000 objects (~100 ms
        # with the event loop stopped) whenever big job payloads trigger one.
        database_id = await store.database_id()
        sectors = await anyio.to_thread.run_sync(load_sectors)  # about a second of CPU
        publications = PublicationStore(store.engine, clock)  # read by /v1/health and /ops even when off
        open_tenders = OpenTenderStore(store.engine)
        index = ingestion = arbiter = None
        verdicts = VerdictStore(store.engine, publications, clock)
        worker_name = f"{socket.gethostname()}:{os.getpid()}"
        lease_seconds = 3 * settings.worker_health_interval  # three missed heartbeats, like a worker's
        queue = JobQueue(arq_pool, database_id)
        if settings.index_on:
            await anyio.to_thread.run_sync(every_sector, sectors)  # the index's matcher, compiled once
            reads = IndexReads(pncp, publications, open_tenders, sectors, redis, clock)
            stack.push_async_callback(reads.aclose)
            index = IndexedSearch(publications, open_tenders, reads, refresh_seconds=settings.index_refresh_seconds,
                                  index_days=settings.index_days, concurrency=settings.pncp_concurrency, clock=clock)
            ingestion = Ingestion(
                store=publications, open_tenders=open_tenders, reads=reads, pncp=pncp, sectors=sectors, redis=redis,
                index_days=settings.index_days, modalidades=settings.indexed_modalidades,
                refresh_seconds=settings.index_refresh_seconds, name=worker_name, lease_seconds=lease_seconds,
                pages_at_once=settings.pncp_concurrency, clock=clock,
            )
            stack.push_async_callback(ingestion.task.aclose)
            if client is not None and settings.llm_classify_daily_tokens > 0:
                arbiter = Arbiter(
                    verdicts=verdicts, sectors=sectors, boundaries=read_boundaries(), client=client,
                    model=settings.llm_model, timeout=settings.llm_job_timeout,
                    daily_tokens=settings.llm_classify_daily_tokens, users_first=queue.users_jobs_waiting,
                    redis=redis, name=worker_name, lease_seconds=lease_seconds, clock=clock,
                )
                stack.push_async_callback(arbiter.task.aclose)
        progress = ProgressTracker(redis)
        stack.push_async_callback(progress.hub.aclose)
        gc.freeze()
        trimmer = asyncio.create_task(keep_memory_trimmed(), name="memory-trimmer")
        stack.push_async_callback(_cancelled, trimmer)
        services = Services(
            settings=settings,
            pncp=pncp,
            store=store,
            sectors=sectors,
            redis=redis,
            progress=progress,
            storage=storage,
            excel=excel,
            llm=client,
            queue=queue,
            rate_limit=SearchRateLimit.create(settings.search_rate_limit, redis),
            database_id=database_id,
            publications=publications,
            open_tenders=open_tenders,
            index=index,
            ingestion=ingestion,
            verdicts=verdicts,
            arbiter=arbiter,
            clock=clock,
            plans=plans,
            tokens=tokens,
            usage=Usage(store.engine, clock=clock),
            running=RunningSearches(redis),
        )
        previous, _current = _current, services
        try:
            yield services
        finally:
            _current = previous


async def _open_storage(settings: Settings) -> ExcelStorage:
    if settings.uses_supabase_storage:
        assert settings.supabase_url is not None and settings.supabase_service_role_key is not None
        return await SupabaseStorage.create(
            settings.supabase_url,
            settings.supabase_service_role_key.get_secret_value(),
            bucket=settings.excel_bucket,
            ttl_seconds=settings.signed_url_ttl,
            timeout=settings.storage_timeout,
        )
    configured = settings.storage_signing_key.get_secret_value() if settings.storage_signing_key else None
    key = await anyio.to_thread.run_sync(signing_key_for, settings.storage_dir, configured)
    return LocalStorage(settings.storage_dir, key, settings.signed_url_ttl)


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
