"""Background jobs on ARQ: the queue client, the two jobs, stalled-search recovery and the worker.

The jobs are called as ARQ calls them (a ctx dict with the services, the attempt and the job id)
against a real Redis, a real SQLite database and the local HTTP doubles of the LLM and of
Supabase Storage. Nothing of the project is mocked.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID, uuid4

import httpx
import openpyxl
import pytest
import sqlalchemy as sa
from arq import Retry
from redis.asyncio import Redis

from backend import keys
from backend.adapters import live_workers
from backend.adapters.queue_client import JobQueue, get_arq_pool, licitacoes_payload
from backend.codes import now_brasilia, today_brasilia
from backend.domain.plans import EXCEL_NOT_IN_PLAN, month_of
from backend.jobs import history
from backend.jobs.cron import recover_stalled_searches
from backend.jobs.tasks import excel_generation_job, llm_summary_job
from backend.jobs.workers import EmbeddedWorker, separate_worker_settings
from backend.pncp.records import to_licitacao
from backend.reports import NO_PLAN_QUOTA, SearchNotFound
from backend.schemas import Licitacao
from backend.services import Services, open_services
from backend.store.search_cache import search_cache
from tests.conftest import free_port
from tests.fakes import openai_server as openai_fake
from tests.fakes import supabase_storage as storage_fake
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.supabase_storage import FakeSupabaseStorage
from tests.records import pncp_record
from tests.servers import ROOT, eventually

KEY = "service-role-key-for-tests"
SECTOR = "Vestuário e uniformes"  # the name of sector "vestuario"
CACHED_FOR = 1.0  # seconds: "is_queue_available ... cached for a second"


def search_request() -> dict[str, Any]:
    """A search of the ten days up to today, Brasília's day when the test runs."""
    today = now_brasilia().date()
    return {"ufs": ["SP", "RJ"], "data_inicial": str(today - timedelta(days=10)), "data_final": str(today),
            "setor_id": "vestuario"}


LLM_TEXT = {
    "resumo_executivo": "Três oportunidades de uniformes em SP e RJ.",
    "destaques": ["Uniformes escolares em Campinas: R$ 120.000,00"],
    "alerta_urgencia": None,
}


# --- helpers ----------------------------------------------------------------------------------


class Clock:
    """A monotonic clock the test moves by hand, for `JobQueue(clock=...)`."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def _no_real_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read the environment too: a developer's key must never reach these tests."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.fixture
def llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key="sk-test") as fake:
        yield fake


@pytest.fixture
def supabase() -> Iterator[FakeSupabaseStorage]:
    with FakeSupabaseStorage(key=KEY) as fake:
        yield fake


@pytest.fixture
async def raw_redis(redis_url: str) -> AsyncIterator[Redis]:
    """A plain client of the private Redis, to look at what the code under test wrote."""
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def licitacoes() -> list[Licitacao]:
    """The same three licitações at every call of a day (published two days ago at 09:00, Brasília):
    a test compares what it stored with what it made again."""
    at = datetime.combine(now_brasilia().date() - timedelta(days=2), datetime.min.time()) + timedelta(hours=9)
    records = [
        pncp_record("Aquisição de uniformes escolares", uf="SP", valor=120_000.0, sequencial=1, publicado=at),
        pncp_record("Aquisição de camisetas e bermudas", uf="RJ", valor=30_000.0, sequencial=2, municipio="Niterói",
                    publicado=at),
        pncp_record("Aquisição de jalecos", uf="SP", valor=None, sequencial=3, publicado=at),
    ]
    items = [to_licitacao(record) for record in records]
    assert all(item is not None for item in items)
    return items  # type: ignore[return-value]


async def saved_search(services: Services, items: list[Licitacao] | None = None) -> UUID:
    """A search whose results are stored and whose summary and report are still processing."""
    sid = uuid4()
    await services.store.save_results(
        sid, request=search_request(), setor_id="vestuario", total_raw=40,
        licitacoes=licitacoes() if items is None else items, ufs_com_falha=[], avisos=[],
    )
    return sid


def job_argument(items: list[Licitacao]) -> list[dict[str, Any]]:
    """`licitacoes` as a job receives it."""
    return [item.model_dump(mode="json") for item in items]


def job_ctx(services: Services, job_try: int = 1, job_id: str = "job") -> dict[str, Any]:
    return {"services": services, "job_try": job_try, "job_id": job_id}


async def run_llm(services: Services, sid: UUID, job_try: int = 1) -> str:
    return await llm_summary_job(
        job_ctx(services, job_try, keys.llm_job(str(sid))), str(sid), job_argument(licitacoes()), SECTOR
    )


async def run_excel(services: Services, sid: UUID, job_try: int = 1, quota: dict[str, Any] | None = None) -> str:
    return await excel_generation_job(
        job_ctx(services, job_try, keys.excel_job(str(sid))), str(sid), job_argument(licitacoes()),
        {"excel": True} if quota is None else quota,
    )


async def events(services: Services, sid: UUID) -> list[Any]:
    return [stored.event for stored in await services.progress.read(str(sid), (0, 0))]


async def stages(services: Services, sid: UUID) -> list[str]:
    return [event.stage for event in await events(services, sid)]


async def live_here(services: Services) -> int:
    """Live workers that read this test's database."""
    return (await live_workers.census(services.redis, services.database_id)).same_database


async def healthy(client: httpx.AsyncClient) -> bool:
    return (await client.get("/v1/health")).json()["queue"] == "healthy"


async def settled_status(client: httpx.AsyncClient, sid: UUID | str) -> dict[str, Any] | None:
    """The search's status once neither its summary nor its report is processing, else None."""
    status = (await client.get(f"/v1/buscar/{sid}/status")).json()
    return None if "processing" in (status["llm_status"], status["excel_status"]) else status


async def age_search(services: Services, sid: UUID, minutes: float = 10) -> None:
    """Moves the moment the results were saved into the past, as if the search ran long ago."""
    long_ago = datetime.now(UTC) - timedelta(minutes=minutes)
    async with services.store._engine.begin() as conn:
        await conn.execute(
            sa.update(search_cache).where(search_cache.c.search_id == str(sid)).values(results_at=long_ago)
        )


# --- the queue client ---------------------------------------------------------------------------


async def test_arq_pool_enqueues_into_the_configured_redis(make_settings, raw_redis) -> None:
    settings = make_settings()
    pool = get_arq_pool(settings)
    try:
        queue = JobQueue(pool, "test-database")
        assert await queue.enqueue_job("llm_summary_job", "abc", [], SECTOR, job_id=keys.llm_job("abc")) is True
        assert await queue.queue_depth() == 1
    finally:
        await pool.aclose()
    # Another client of the private Redis sees the job in the queue's sorted set.
    assert await raw_redis.zrange(keys.QUEUE, 0, -1) == [b"llm:abc"]
    assert await raw_redis.exists("arq:queue") == 0  # ARQ's default queue name is not used


async def test_job_payload_is_json_not_pickle(make_settings, raw_redis) -> None:
    async with open_services(make_settings()) as services:
        sid = str(uuid4())
        payload = licitacoes_payload(licitacoes())
        assert await services.queue.enqueue_job("llm_summary_job", sid, payload, SECTOR, job_id=keys.llm_job(sid))
    raw = await raw_redis.get(f"arq:job:{keys.llm_job(sid)}")
    assert raw is not None and not raw.startswith(b"\x80")  # no pickle protocol header
    job = json.loads(raw)
    assert job["f"] == "llm_summary_job"
    assert job["a"] == [sid, job_argument(licitacoes()), SECTOR]
    assert job["a"][1][0]["objeto"] == "Aquisição de uniformes escolares"  # non-ASCII text kept as is
    assert [Licitacao.model_validate(item) for item in job["a"][1]] == licitacoes()


async def test_same_job_id_is_queued_once(make_settings, raw_redis) -> None:
    async with open_services(make_settings()) as services:
        sid = str(uuid4())
        first = await services.queue.enqueue_job("excel_generation_job", sid, [], {"excel": True},
                                                 job_id=keys.excel_job(sid))
        second = await services.queue.enqueue_job("excel_generation_job", sid, [], {"excel": False},
                                                  job_id=keys.excel_job(sid))
        assert (first, second) == (True, True)  # a duplicate is a no-op, not a failure
        assert await services.queue.queue_depth() == 1
    job = json.loads(await raw_redis.get(f"arq:job:{keys.excel_job(sid)}"))
    assert job["a"][2] == {"excel": True}  # the first enqueue's payload is the one kept


async def test_queue_needs_a_live_worker_of_this_database_and_caches_the_answer(make_settings, raw_redis) -> None:
    clock = Clock()
    async with open_services(make_settings()) as services:
        queue = JobQueue(services.queue.pool, services.database_id, clock=clock)
        assert await raw_redis.ping()
        assert await queue.is_queue_available() is False  # Redis answers, but no worker

        await live_workers.heartbeat(raw_redis, services.database_id, {"mode": "separate"}, interval=5)
        clock.advance(CACHED_FOR * 0.75)
        assert await queue.is_queue_available() is False  # the cached answer, within its second
        clock.advance(CACHED_FOR * 0.25)
        assert await queue.is_queue_available() is True  # the second is up: asked again

        await live_workers.leave(raw_redis, services.database_id)
        clock.advance(CACHED_FOR * 0.75)
        assert await queue.is_queue_available() is True  # still the cached answer
        clock.advance(CACHED_FOR * 0.25)
        assert await queue.is_queue_available() is False


async def test_a_worker_of_another_database_does_not_make_the_queue_available(make_settings, raw_redis) -> None:
    async with open_services(make_settings()) as services:
        await live_workers.heartbeat(raw_redis, "another-database", {"mode": "separate"}, interval=5)
        assert await services.queue.is_queue_available() is False
        assert await services.queue.census() == live_workers.Census(same_database=0, other_databases=1)


async def test_a_slow_reply_does_not_make_the_queue_unavailable(make_settings, raw_redis) -> None:
    """Redis replying late (here: paused for 0.6 s) is not evidence that the queue is gone."""
    clock = Clock()
    async with open_services(make_settings()) as services:
        queue = JobQueue(services.queue.pool, services.database_id, clock=clock)
        await live_workers.heartbeat(raw_redis, services.database_id, {"mode": "separate"}, interval=5)
        assert await queue.is_queue_available() is True
        clock.advance(CACHED_FOR)  # past the cached answer: the next call asks the paused Redis
        await raw_redis.execute_command("CLIENT", "PAUSE", 600, "ALL")
        started = time.monotonic()
        assert await queue.is_queue_available() is True
        assert time.monotonic() - started < 0.5  # the search did not wait for the late reply
    async with open_services(make_settings()) as services:  # a process that never had an answer
        await raw_redis.ping()  # answered once the first pause is over
        await raw_redis.execute_command("CLIENT", "PAUSE", 600, "ALL")
        assert await services.queue.is_queue_available() is False


async def test_refused_redis_makes_the_queue_unavailable_fast(make_settings) -> None:
    settings = make_settings(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    pool = get_arq_pool(settings)
    try:
        queue = JobQueue(pool, "test-database")
        started = time.monotonic()
        assert await queue.is_queue_available() is False
        assert time.monotonic() - started < 1.0
        assert await queue.queue_depth() is None
    finally:
        await pool.aclose()


async def test_enqueue_against_refused_redis_returns_false(make_settings) -> None:
    settings = make_settings(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    pool = get_arq_pool(settings)
    try:
        queue = JobQueue(pool, "test-database")
        started = time.monotonic()
        assert await queue.enqueue_job("llm_summary_job", "x", [], SECTOR, job_id=keys.llm_job("x")) is False
        assert time.monotonic() - started < 2.0
        # The failure is remembered: the next availability check answers without a round trip.
        assert await queue.is_queue_available() is False
    finally:
        await pool.aclose()


async def test_black_holed_redis_costs_at_most_a_fraction_of_a_second(make_settings) -> None:
    with socket.socket() as black_hole:  # accepts connections (backlog) and never answers
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(16)
        port = black_hole.getsockname()[1]
        settings = make_settings(redis_url=f"redis://127.0.0.1:{port}/0")
        pool = get_arq_pool(settings)
        clock = Clock()
        try:
            queue = JobQueue(pool, "test-database", clock=clock)
            started = time.monotonic()
            assert await queue.is_queue_available() is False
            assert time.monotonic() - started < 1.0
            clock.advance(CACHED_FOR)  # past the cache: the next call asks the black hole again
            started = time.monotonic()
            assert await queue.is_queue_available() is False
            assert time.monotonic() - started < 1.0
            # Enqueueing gives up too (bounded at about a second), answering False.
            started = time.monotonic()
            assert await queue.enqueue_job("llm_summary_job", "x", [], SECTOR, job_id=keys.llm_job("x")) is False
            assert time.monotonic() - started < 3.0
        finally:
            await pool.aclose()


def test_the_ticket_names_are_module_attributes_built_from_the_environment(redis_url) -> None:
    """`backend.job_queue` as operators and scripts use it, imported in a fresh interpreter."""
    script = """
import json, backend.job_queue as q
from backend import keys
from backend.adapters import queue_client
from backend.jobs import options, tasks
w = q.WorkerSettings
functions = {f.name: f for f in w.functions}
print(json.dumps({
    "attribute": "WorkerSettings" in vars(q),
    "callables": [callable(q.get_arq_pool), callable(q.enqueue_job), callable(q.is_queue_available)],
    "queue": w.queue_name == keys.QUEUE, "interval": w.health_check_interval,
    "codec": [w.job_serializer is queue_client.dumps, w.job_deserializer is queue_client.loads],
    "job_timeout": w.job_timeout, "margin": tasks.ARQ_TIMEOUT_MARGIN, "extra": options.EXTRA_ARQ_TRIES,
    "tries": functions["llm_summary_job"].max_tries, "llm_timeout": functions["llm_summary_job"].timeout_s,
    "excel_timeout": functions["excel_generation_job"].timeout_s,
    "crons": sorted(c.name for c in w.cron_jobs),
    "port": q.get_arq_pool().connection_pool.connection_kwargs["port"],
}))
"""
    env = {**os.environ, "REDIS_URL": redis_url, "WORKER_HEALTH_INTERVAL": "7", "JOB_MAX_TRIES": "4",
           "LLM_JOB_TIMEOUT": "12", "EXCEL_JOB_TIMEOUT": "40"}
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    margin = found["margin"]
    assert found["attribute"] is True and found["callables"] == [True, True, True]
    assert found["queue"] is True and found["interval"] == 7 and found["codec"] == [True, True]
    assert found["excel_timeout"] == 40 + margin and found["job_timeout"] == 40 + margin
    assert found["tries"] == 4 + found["extra"] and found["llm_timeout"] == 12 + margin
    assert found["crons"] == ["cleanup_expired_searches", "keep_arbiter_running", "keep_index_fresh",
                              "recover_stalled_searches"]
    assert found["port"] == int(redis_url.rsplit(":", 1)[1].split("/")[0])


async def test_arq_builds_a_separate_worker_on_the_redis_of_redis_url(monkeypatch, redis_url) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    from arq.worker import create_worker

    worker = create_worker(separate_worker_settings(), handle_signals=False)
    try:
        assert worker.queue_name == keys.QUEUE and worker.health_check_key == keys.WORKER_HEALTH
        assert await worker.pool.ping() is True
    finally:
        await worker.pool.aclose()


async def test_the_module_functions_use_the_queue_of_the_open_services(make_settings, raw_redis) -> None:
    from backend import job_queue

    with pytest.raises(RuntimeError, match="no services are open"):
        await job_queue.is_queue_available()
    async with open_services(make_settings()) as services:
        await live_workers.heartbeat(raw_redis, services.database_id, {"mode": "separate"}, interval=5)
        assert await job_queue.is_queue_available() is True
        sid = str(uuid4())
        assert await job_queue.enqueue_job("excel_generation_job", sid, [], {"excel": False},
                                           job_id=keys.excel_job(sid)) is True
    assert await raw_redis.zrange(keys.QUEUE, 0, -1) == [keys.excel_job(sid).encode()]


async def test_separate_worker_runs_queued_jobs(monkeypatch, redis_url, tmp_path, make_settings) -> None:
    """`arq backend.job_queue.WorkerSettings`, in burst mode: opens its services from the environment."""
    database_url = f"sqlite:///{tmp_path / 'smartlic.db'}"
    for name, value in {
        "REDIS_URL": redis_url, "DATABASE_URL": database_url, "STORAGE_DIR": str(tmp_path / "files"),
        "PNCP_BASE_URL": "demo", "EMBEDDED_WORKER": "false",
    }.items():
        monkeypatch.setenv(name, value)
    from arq.worker import create_worker

    async with open_services(make_settings()) as services:  # the same database and Redis
        sid = await saved_search(services)
        payload = licitacoes_payload(licitacoes())
        assert await services.queue.enqueue_job("llm_summary_job", str(sid), payload, SECTOR,
                                                job_id=keys.llm_job(str(sid)))
        assert await services.queue.enqueue_job("excel_generation_job", str(sid), payload, {"excel": True},
                                                job_id=keys.excel_job(str(sid)))
        worker = create_worker(separate_worker_settings(), handle_signals=False, burst=True, poll_delay=0.05)
        try:
            await asyncio.wait_for(worker.main(), timeout=30)
        finally:
            await worker.close()
        assert worker.jobs_failed == 0 and worker.jobs_complete >= 2  # (a recovery cron run may count too)
        outcome = await services.store.get_outcome(sid)
        assert (outcome.llm_status, outcome.excel_status) == ("ready", "ready")
        assert outcome.resumo is not None and outcome.resumo.origem == "fallback"
        assert (tmp_path / "files" / f"{sid}.xlsx").is_file()
        assert (await stages(services, sid))[-1] == "complete"


# --- the summary job ----------------------------------------------------------------------------


async def test_llm_job_saves_the_models_summary_and_completes_with_the_report(make_settings, llm) -> None:
    llm.script(openai_fake.answer({**LLM_TEXT, "total_oportunidades": 99}))
    settings = make_settings(openai_api_key="sk-test", openai_base_url=llm.base_url, llm_model="modelo-local")
    async with open_services(settings) as services:
        sid = await saved_search(services)
        assert await run_llm(services, sid) == "llm"

        outcome = await services.store.get_outcome(sid)
        assert outcome.llm_status == "ready" and outcome.resumo_at is not None
        resumo = outcome.resumo
        assert resumo.origem == "llm"
        assert resumo.resumo_executivo == LLM_TEXT["resumo_executivo"]
        assert (resumo.total_oportunidades, resumo.valor_total) == (3, 150_000.0)  # from the data, not the model
        [ready] = await events(services, sid)
        assert (ready.stage, ready.progress) == ("llm_ready", 85)
        assert ready.detail["resumo"] == resumo.model_dump(mode="json")
        assert outcome.excel_status == "processing"  # no "complete" while the report is pending

        assert await run_excel(services, sid) == "ready"
        assert await stages(services, sid) == ["llm_ready", "excel_ready", "complete"]
    [request] = llm.requests
    assert request.model == "modelo-local" and request.authorization == "Bearer sk-test"
    assert "Vestuário" in request.system_prompt


async def test_llm_job_without_api_key_uses_the_fallback_without_network(make_settings, llm) -> None:
    async with open_services(make_settings(openai_base_url=llm.base_url)) as services:
        assert services.llm is None
        sid = await saved_search(services)
        assert await run_llm(services, sid) == "fallback"
        outcome = await services.store.get_outcome(sid)
    assert outcome.llm_status == "ready"
    assert outcome.resumo.origem == "fallback"
    assert (outcome.resumo.total_oportunidades, outcome.resumo.valor_total) == (3, 150_000.0)
    assert SECTOR in outcome.resumo.resumo_executivo
    assert llm.requests == []


@pytest.mark.parametrize("failure", [openai_fake.server_error(500), openai_fake.invalid_json()],
                         ids=["server-error", "invalid-json"])
async def test_llm_failure_before_the_last_attempt_retries_with_backoff(make_settings, llm, failure) -> None:
    llm.script([failure, failure])
    settings = make_settings(openai_api_key="sk-test", openai_base_url=llm.base_url,
                             job_max_tries=3, job_retry_backoff=1.5)
    async with open_services(settings) as services:
        sid = await saved_search(services)
        with pytest.raises(Retry) as first:
            await run_llm(services, sid, job_try=1)
        with pytest.raises(Retry) as second:
            await run_llm(services, sid, job_try=2)  # the retried job holds its own lease again
        assert (first.value.defer_score, second.value.defer_score) == (1500, 3000)
        outcome = await services.store.get_outcome(sid)
        assert (outcome.llm_status, outcome.resumo) == ("processing", None)
        assert await stages(services, sid) == []
    assert len(llm.requests) == 2


async def test_llm_failure_on_the_last_attempt_persists_the_fallback(make_settings, llm) -> None:
    llm.script(openai_fake.server_error(503))
    settings = make_settings(openai_api_key="sk-test", openai_base_url=llm.base_url, job_max_tries=3)
    async with open_services(settings) as services:
        sid = await saved_search(services)
        assert await run_llm(services, sid, job_try=3) == "fallback"
        outcome = await services.store.get_outcome(sid)
        [ready] = await events(services, sid)
    assert outcome.llm_status == "ready"
    assert outcome.resumo is not None and outcome.resumo.origem == "fallback"
    assert outcome.resumo.total_oportunidades == 3
    assert ready.stage == "llm_ready" and ready.detail["resumo"]["origem"] == "fallback"
    assert len(llm.requests) == 1


async def test_slow_llm_hits_the_job_timeout(make_settings, llm) -> None:
    llm.script([openai_fake.slow(10), openai_fake.slow(10)])
    settings = make_settings(openai_api_key="sk-test", openai_base_url=llm.base_url,
                             llm_job_timeout=0.5, job_max_tries=2)
    async with open_services(settings) as services:
        sid = await saved_search(services)
        started = time.monotonic()
        with pytest.raises(Retry):
            await run_llm(services, sid, job_try=1)
        assert time.monotonic() - started < 3.0
        assert (await services.store.get_outcome(sid)).llm_status == "processing"

        started = time.monotonic()
        assert await run_llm(services, sid, job_try=2) == "fallback"
        assert time.monotonic() - started < 3.0
        outcome = await services.store.get_outcome(sid)
    assert outcome.llm_status == "ready" and outcome.resumo.origem == "fallback"


async def test_llm_job_run_again_after_success_changes_nothing(make_settings, llm) -> None:
    llm.script([openai_fake.answer(LLM_TEXT), openai_fake.answer({**LLM_TEXT, "resumo_executivo": "Outro texto."})])
    settings = make_settings(openai_api_key="sk-test", openai_base_url=llm.base_url)
    async with open_services(settings) as services:
        sid = await saved_search(services)
        assert await run_llm(services, sid) == "llm"
        before = await services.store.get_outcome(sid)
        assert await run_llm(services, sid, job_try=2) == "already settled"
        assert await services.store.get_outcome(sid) == before
        assert await stages(services, sid) == ["llm_ready"]
    assert len(llm.requests) == 1


async def test_llm_job_leaves_a_summary_claimed_inline_alone(make_settings, llm) -> None:
    settings = make_settings(openai_api_key="sk-test", openai_base_url=llm.base_url)
    async with open_services(settings) as services:
        sid = await saved_search(services)
        assert await services.store.claim(sid, "llm", "inline", 60)
        assert await run_llm(services, sid) == "already settled"
        outcome = await services.store.get_outcome(sid)
        assert (outcome.llm_status, outcome.resumo, outcome.resumo_at) == ("processing", None, None)
        assert await stages(services, sid) == []
    assert llm.requests == []


async def test_llm_job_takes_over_when_the_other_owners_lease_expired(make_settings, llm) -> None:
    settings = make_settings(openai_api_key="sk-test", openai_base_url=llm.base_url)
    async with open_services(settings) as services:
        sid = await saved_search(services)
        assert await services.store.claim(sid, "llm", "inline", -1)  # a lease already over: its owner died
        assert await run_llm(services, sid) == "llm"
        assert (await services.store.get_outcome(sid)).llm_status == "ready"


# --- the Excel job ------------------------------------------------------------------------------


async def test_excel_job_stores_the_report_locally_behind_a_signed_link(make_settings) -> None:
    settings = make_settings()
    async with open_services(settings) as services:
        sid = await saved_search(services)
        assert await run_excel(services, sid) == "ready"
        outcome = await services.store.get_outcome(sid)
        assert outcome.excel_status == "ready" and outcome.excel_error is None and outcome.excel_at is not None
        url = urlsplit(outcome.excel_url)
        assert url.path == f"/v1/arquivos/{sid}.xlsx"
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = services.storage.verify(f"{sid}.xlsx", query["expira"], query["token"])  # the link is genuine
        assert path == settings.storage_dir / f"{sid}.xlsx" and path.is_file()
        [ready] = await events(services, sid)
        assert (ready.stage, ready.detail) == ("excel_ready", {"download_url": outcome.excel_url})
    workbook = openpyxl.load_workbook(BytesIO(path.read_bytes()), read_only=True)
    cells = [str(c) for row in workbook["Licitações"].iter_rows(values_only=True) for c in row if c is not None]
    assert "Aquisição de uniformes escolares" in cells and "Aquisição de jalecos" in cells
    resumo = [str(c) for row in workbook["Resumo"].iter_rows(values_only=True) for c in row if c is not None]
    assert SECTOR in resumo  # the search's parameters, read back from the stored request
    workbook.close()


async def test_excel_job_uploads_to_supabase_behind_a_signed_url(make_settings, supabase) -> None:
    settings = make_settings(supabase_url=supabase.url, supabase_service_role_key=KEY, signed_url_ttl=600)
    async with open_services(settings) as services:
        sid = await saved_search(services)
        assert await run_excel(services, sid) == "ready"
        outcome = await services.store.get_outcome(sid)
    assert outcome.excel_status == "ready"
    assert outcome.excel_url.startswith(f"{supabase.url}/storage/v1/object/sign/excel-reports/excel/{sid}.xlsx")
    stored = supabase.get("excel-reports", f"excel/{sid}.xlsx")
    assert stored is not None and stored.data.startswith(b"PK")
    async with httpx.AsyncClient() as client:
        download = await client.get(outcome.excel_url)
    assert download.status_code == 200 and download.content == stored.data


async def test_excel_upload_failure_retries_then_fails_with_a_readable_message(make_settings, supabase) -> None:
    supabase.script([storage_fake.server_error(500)] * 3, op="upload")
    settings = make_settings(supabase_url=supabase.url, supabase_service_role_key=KEY,
                             job_max_tries=3, job_retry_backoff=0.5)
    async with open_services(settings) as services:
        sid = await saved_search(services)
        for attempt, defer_ms in ((1, 500), (2, 1000)):
            with pytest.raises(Retry) as retry:
                await run_excel(services, sid, job_try=attempt)
            assert retry.value.defer_score == defer_ms
            assert (await services.store.get_outcome(sid)).excel_status == "processing"
        assert await stages(services, sid) == []

        assert await run_excel(services, sid, job_try=3) == "failed"
        outcome = await services.store.get_outcome(sid)
        [failed] = await events(services, sid)
    assert (outcome.excel_status, outcome.excel_url) == ("failed", None)
    assert outcome.excel_error.startswith("Não foi possível gerar a planilha")
    assert "HTTP 500" in outcome.excel_error and "Os resultados da busca continuam disponíveis" in outcome.excel_error
    assert KEY not in outcome.excel_error
    assert (failed.stage, failed.detail) == ("excel_failed", {"error": outcome.excel_error})
    assert [r.op for r in supabase.requests] == ["upload"] * 3


async def test_slow_storage_hits_the_excel_timeout(make_settings, supabase) -> None:
    supabase.script([storage_fake.slow(3), storage_fake.slow(3)], op="upload")
    settings = make_settings(supabase_url=supabase.url, supabase_service_role_key=KEY, storage_timeout=10,
                             excel_job_timeout=0.5, job_max_tries=2)
    async with open_services(settings) as services:
        sid = await saved_search(services)
        started = time.monotonic()
        with pytest.raises(Retry):
            await run_excel(services, sid, job_try=1)
        assert time.monotonic() - started < 2.5

        started = time.monotonic()
        assert await run_excel(services, sid, job_try=2) == "failed"
        assert time.monotonic() - started < 2.5
        outcome = await services.store.get_outcome(sid)
    assert outcome.excel_status == "failed"
    assert "tempo limite" in outcome.excel_error
    assert [r.op for r in supabase.requests] == ["upload", "upload"]  # no signed link was asked for


async def test_plan_without_reports_skips_the_excel_and_completes(make_settings) -> None:
    settings = make_settings()
    async with open_services(settings) as services:
        sid = await saved_search(services)
        assert await run_excel(services, sid, quota={"excel": False}) == "skipped"
        outcome = await services.store.get_outcome(sid)
        assert (outcome.excel_status, outcome.excel_url, outcome.excel_error) == ("skipped", None, EXCEL_NOT_IN_PLAN)
        assert await stages(services, sid) == []  # skipped announces nothing; the summary is pending

        assert await run_llm(services, sid) == "fallback"
        assert await stages(services, sid) == ["llm_ready", "complete"]
        assert (await services.store.get_outcome(sid)).settled
    assert not (settings.storage_dir / f"{sid}.xlsx").exists()


# --- recovery of stalled searches ---------------------------------------------------------------


async def test_recovery_finishes_searches_whose_jobs_were_lost(make_settings) -> None:
    settings = make_settings()
    stalled_after = timedelta(seconds=settings.stalled_search_seconds)
    async with open_services(settings) as services:
        lost = await saved_search(services)  # saved long ago, nobody ever claimed its outputs
        await age_search(services, lost)
        expired = await saved_search(services)  # a job claimed it and died long ago
        await age_search(services, expired)
        assert await services.store.claim(expired, "excel", "queue", -settings.stalled_search_seconds - 60)
        busy = await saved_search(services)  # old, but a job holds a live lease on both outputs
        await age_search(services, busy)
        assert await services.store.claim(busy, "llm", "queue", 300)
        assert await services.store.claim(busy, "excel", "queue", 300)
        fresh = await saved_search(services)  # its jobs may still be queued

        assert set(await services.store.stalled(stalled_after)) == {lost, expired}
        assert set(await services.store.stalled(timedelta(seconds=-5))) == {lost, expired, fresh}

        assert await recover_stalled_searches({"services": services}) == 2
        for sid in (lost, expired):
            outcome = await services.store.get_outcome(sid)
            assert (outcome.llm_status, outcome.excel_status) == ("ready", "ready")
            assert outcome.resumo.origem == "fallback" and outcome.resumo.total_oportunidades == 3
            assert (settings.storage_dir / f"{sid}.xlsx").is_file()
            assert await stages(services, sid) == ["llm_ready", "excel_ready", "complete"]
        for sid in (busy, fresh):
            outcome = await services.store.get_outcome(sid)
            assert (outcome.llm_status, outcome.excel_status) == ("processing", "processing")
            assert await stages(services, sid) == []

        assert await services.store.stalled(stalled_after) == []
        assert await recover_stalled_searches({"services": services}) == 0


async def test_recovery_finishes_only_the_output_still_missing(make_settings) -> None:
    settings = make_settings()
    stalled_after = timedelta(seconds=settings.stalled_search_seconds)
    async with open_services(settings) as services:
        sid = await saved_search(services)
        assert await run_excel(services, sid, quota={"excel": False}) == "skipped"
        await age_search(services, sid)
        assert await services.store.stalled(stalled_after) == [sid]
        assert await recover_stalled_searches({"services": services}) == 1
        outcome = await services.store.get_outcome(sid)
        assert (outcome.llm_status, outcome.excel_status) == ("ready", "skipped")
        assert await stages(services, sid) == ["llm_ready", "complete"]


async def test_a_job_whose_search_is_not_in_this_database_fails_and_says_why(make_settings, caplog) -> None:
    async with open_services(make_settings()) as services:
        sid = uuid4()  # queued by a web process on another database: this one never saw it
        for run in (run_llm, run_excel):
            with pytest.raises(SearchNotFound):
                await run(services, sid)
        entries = await history.latest_attempts(services.redis)
    assert [(e["job"], e["outcome"]) for e in entries] == [("excel", "failed"), ("llm", "failed")]
    assert all("is not in this worker's database" in e["error"] for e in entries)
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 2 and all("DATABASE_URL the same as the web service's" in m for m in errors)


def _resumo_sheet(path: Any) -> list[str]:
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        return [str(c) for row in workbook["Resumo"].iter_rows(values_only=True) for c in row if c is not None]
    finally:
        workbook.close()


async def test_the_summary_job_queues_the_report_which_carries_the_llms_summary(make_settings, llm, raw_redis) -> None:
    llm.script(openai_fake.answer(LLM_TEXT))
    settings = make_settings(openai_api_key="sk-test", openai_base_url=llm.base_url)
    async with open_services(settings) as services:
        sid = await saved_search(services)
        assert await run_llm(services, sid) == "llm"
        # Queued by the summary's attempt, with the search's licitações: no report waits in a slot.
        job = json.loads(await raw_redis.get(f"arq:job:{keys.excel_job(str(sid))}"))
        assert job["f"] == "excel_generation_job" and job["a"] == [str(sid), job_argument(licitacoes()), NO_PLAN_QUOTA]
        assert await raw_redis.zscore(keys.QUEUE, keys.excel_job(str(sid))) is not None
        assert await run_excel(services, sid) == "ready"
        assert await stages(services, sid) == ["llm_ready", "excel_ready", "complete"]
    assert LLM_TEXT["resumo_executivo"] in _resumo_sheet(settings.storage_dir / f"{sid}.xlsx")


async def test_the_report_job_gets_the_plan_and_count_of_the_searchs_user(make_settings, raw_redis) -> None:
    """`quota_info` from the plan the search was made under and its user's searches this month."""
    settings = make_settings()
    async with open_services(settings) as services:
        plan, sid = services.plans["free"], uuid4()
        today = today_brasilia(services.clock)
        assert await services.store.begin(sid, request=search_request(), setor_id="vestuario", owner="ana",
                                          plano="free", keep_for=plan.historico)
        assert await services.usage.take(sid, "ana", plan, today) == 1
        await saved_search_again(services, sid)
        assert await run_llm(services, sid) == "fallback"
        job = json.loads(await raw_redis.get(f"arq:job:{keys.excel_job(str(sid))}"))
        renews = month_of(today)[1].isoformat()
        assert job["a"][2] == {"plano": "free", "excel": False, "usadas": 1, "restantes": 9, "renova_em": renews}
        assert await run_excel(services, sid, quota=job["a"][2]) == "skipped"
        outcome = await services.store.get_outcome(sid)
        assert (outcome.excel_status, outcome.excel_error, outcome.owner) == ("skipped", EXCEL_NOT_IN_PLAN, "ana")
        assert await stages(services, sid) == ["llm_ready", "complete"]  # the page reads why from the status


async def test_a_failed_summary_attempt_queues_the_report_at_once(make_settings, llm, raw_redis) -> None:
    """The LLM did not answer within its attempt: the report does not wait for the retries."""
    llm.script(openai_fake.server_error())
    settings = make_settings(openai_api_key="sk-test", openai_base_url=llm.base_url)
    async with open_services(settings) as services:
        sid = await saved_search(services)
        with pytest.raises(Retry):
            await run_llm(services, sid)
        assert await raw_redis.zscore(keys.QUEUE, keys.excel_job(str(sid))) is not None
        assert await run_excel(services, sid) == "ready"
        assert (await services.store.get_outcome(sid)).llm_status == "processing"  # its retry is to come
    sheet = _resumo_sheet(settings.storage_dir / f"{sid}.xlsx")
    assert LLM_TEXT["resumo_executivo"] not in sheet
    assert any("licitaç" in text.lower() for text in sheet)  # the summary computed from the data


async def test_a_web_process_settles_a_search_nobody_finishes_by_its_deadline(make_settings, client_for) -> None:
    """No worker reads this database: past its deadline the page still ends, with what the data gives."""
    settings = make_settings(stalled_search_seconds=1)  # deadline: 2 s
    async with client_for(settings) as client:
        async with open_services(settings) as other:  # the same database, as a second process
            sid = await saved_search(other)
        status = await eventually(lambda: settled_status(client, sid), timeout=15, step=0.2, what="the deadline")
    assert status["llm_status"] == "ready" and status["resumo"]["origem"] == "fallback"
    assert status["excel_status"] == "failed" and "a tempo" in status["excel_error"]


async def test_a_busy_event_loop_still_queues_searches(make_settings, client_for) -> None:
    """Searches arriving while the web process's event loop is kept busy (blocking slices of 0.25 s)."""
    async with client_for(make_settings(embedded_worker=True)) as client:
        await eventually(lambda: healthy(client), timeout=10, what="the worker's first heartbeat")

        async def keep_busy() -> None:
            while True:
                time.sleep(0.25)  # noqa: ASYNC251 - the point: the loop is blocked
                await asyncio.sleep(0.01)  # a sleep: the loop runs for a moment between the blocked slices

        async def search(delay: float) -> str:
            await asyncio.sleep(delay)  # a sleep: arrivals spread over 4 s, across expiries of the cache
            body = {**search_request(), "ufs": ["SP"], "search_id": str(uuid4())}
            return (await client.post("/v1/buscar", json=body)).json()["processamento"]

        busy = asyncio.create_task(keep_busy())
        try:
            modes = await asyncio.gather(*(search(0.4 * i) for i in range(10)))  # over 4 s: the cache expires
        finally:
            busy.cancel()
    assert modes == ["fila"] * 10


# --- the embedded worker ------------------------------------------------------------------------


async def test_embedded_worker_runs_both_jobs_and_stops_cleanly(make_settings, raw_redis) -> None:
    async with open_services(make_settings()) as services:
        worker = EmbeddedWorker(services)
        worker.start()
        try:
            await eventually(lambda: live_here(services))
            assert worker.state["running"] is True and worker.state["mode"] == "embedded"
            assert await eventually(services.queue.is_queue_available, what="the queue to be available") is True

            sid = await saved_search(services)
            payload = licitacoes_payload(licitacoes())
            assert await services.queue.enqueue_job("llm_summary_job", str(sid), payload, SECTOR,
                                                    job_id=keys.llm_job(str(sid)))
            assert await services.queue.enqueue_job("excel_generation_job", str(sid), payload, {"excel": True},
                                                    job_id=keys.excel_job(str(sid)))

            async def settled() -> Any:
                outcome = await services.store.get_outcome(sid)
                return outcome if outcome.settled else None

            outcome = await eventually(settled, timeout=20)
            assert (outcome.llm_status, outcome.excel_status) == ("ready", "ready")
            assert outcome.resumo.origem == "fallback"
            async def finished() -> list[str] | None:
                names = await stages(services, sid)
                return names if "complete" in names else None

            names = await eventually(finished)
            # Either job may settle first; `complete` is sent once, by whichever settles last.
            assert names[-1] == "complete" and set(names) == {"llm_ready", "excel_ready", "complete"}
            assert names.count("llm_ready") == names.count("excel_ready") == names.count("complete") == 1
            for job_id in (keys.llm_job(str(sid)), keys.excel_job(str(sid))):  # (a cron run may be queued)
                assert await raw_redis.zscore(keys.QUEUE, job_id) is None
        finally:
            await asyncio.wait_for(worker.stop(), timeout=10)
        assert await live_here(services) == 0  # gone at once, not when its entry would lapse
        assert worker.state["running"] is False

        async def unavailable() -> bool:
            return await services.queue.is_queue_available() is False

        await eventually(unavailable, timeout=5, what="the queue to be unavailable")  # once its cached answer lapses


async def test_embedded_worker_starts_a_queued_job_at_once_not_at_its_next_poll(make_settings, raw_redis) -> None:
    # With polls 60 s apart, only the wake-up message can start the job within the 10 s allowed.
    async with open_services(make_settings(worker_poll_delay=60)) as services:
        worker = EmbeddedWorker(services)
        worker.start()
        try:
            await eventually(lambda: live_here(services))  # written by the first poll

            async def listening() -> bool:  # the listener subscribes right after that poll
                return dict(await raw_redis.pubsub_numsub(keys.JOBS_WAKEUP)).get(keys.JOBS_WAKEUP.encode(), 0) > 0

            await eventually(listening, what="the wake-up listener to subscribe")
            sid = await saved_search(services)
            assert await services.queue.enqueue_job("excel_generation_job", str(sid), [], {"excel": False},
                                                    job_id=keys.excel_job(str(sid)))

            async def settled() -> Any:
                outcome = await services.store.get_outcome(sid)
                return outcome.excel_status if outcome.excel_status != "processing" else None

            assert await eventually(settled, timeout=10) == "skipped"
        finally:
            await asyncio.wait_for(worker.stop(), timeout=10)


async def test_app_with_embedded_worker_queues_a_search_and_settles_it(make_settings, client_for, raw_redis) -> None:
    async with client_for(make_settings(embedded_worker=True)) as client:
        # The worker's first heartbeat comes with its first poll.
        await eventually(lambda: healthy(client), timeout=5, what="the worker's first heartbeat")
        search_id = str(uuid4())
        body = {**search_request(), "ufs": ["SP"], "search_id": search_id}
        answer = (await client.post("/v1/buscar", json=body)).json()
        assert answer["processamento"] == "fila"
        assert answer["resumo"]["origem"] == "fallback"  # ready at once; the job's arrives later

        status = await eventually(lambda: settled_status(client, search_id), timeout=20, step=0.1,
                                  what="the search to settle")
        assert (status["llm_status"], status["excel_status"]) == ("ready", "ready")
    assert await raw_redis.zcard(keys.LIVE_WORKERS) == 0  # the lifespan stopped the worker


async def test_embedded_worker_hands_back_a_job_still_running_after_the_drain(make_settings, llm, raw_redis) -> None:
    llm.script(openai_fake.slow(8))
    settings = make_settings(openai_api_key="sk-test", openai_base_url=llm.base_url, llm_job_timeout=10,
                             worker_drain_seconds=0.3)
    async with open_services(settings) as services:
        worker = EmbeddedWorker(services)
        worker.start()
        try:
            await eventually(lambda: live_here(services))
            sid = await saved_search(services)
            assert await services.queue.enqueue_job("llm_summary_job", str(sid), licitacoes_payload(licitacoes()),
                                                    SECTOR, job_id=keys.llm_job(str(sid)))

            async def asked() -> bool:
                return bool(llm.requests)

            await eventually(asked)
            assert worker.state["jobs_in_flight"] == 1
        finally:
            started = time.monotonic()
            await asyncio.wait_for(worker.stop(), timeout=10)
        assert time.monotonic() - started < 3.0  # the drain time, not the job's 8 s
        assert await live_here(services) == 0
        # The job is back in the queue for another worker; the search is still processing.
        assert await raw_redis.zscore(keys.QUEUE, keys.llm_job(str(sid))) is not None
        assert await raw_redis.exists(f"arq:job:{keys.llm_job(str(sid))}") == 1
        assert (await services.store.get_outcome(sid)).llm_status == "processing"


async def test_search_saved_again_with_the_same_id_gets_its_jobs_run_again(make_settings, raw_redis) -> None:
    async with open_services(make_settings()) as services:
        worker = EmbeddedWorker(services)
        worker.start()
        try:
            await eventually(lambda: live_here(services))
            sid = await saved_search(services)
            payload = licitacoes_payload(licitacoes())

            async def enqueue_both() -> None:
                assert await services.queue.enqueue_job("llm_summary_job", str(sid), payload, SECTOR,
                                                        job_id=keys.llm_job(str(sid)))
                assert await services.queue.enqueue_job("excel_generation_job", str(sid), payload, {"excel": True},
                                                        job_id=keys.excel_job(str(sid)))

            async def settled() -> bool:
                return (await services.store.get_outcome(sid)).settled

            await enqueue_both()
            await eventually(settled, timeout=20)
            # The same search again (a client retrying its POST with its own search_id): saved anew, processing.
            await saved_search_again(services, sid)
            assert not await settled()
            await enqueue_both()
            await eventually(settled, timeout=5)  # the first run settled in well under a second
        finally:
            await asyncio.wait_for(worker.stop(), timeout=10)


class SupervisorTime:
    """The embedded worker's supervisor time: each wait is recorded and ends at once, up to
    `waits`; the next one lasts until the worker is stopped. `clock` moves `run_seconds` at
    each reading, so every worker seems to have run that long before it failed."""

    def __init__(self, waits: int, run_seconds: float = 0.0) -> None:
        self.waited: list[float] = []
        self.waits = waits
        self.run_seconds = run_seconds
        self.now = 0.0
        self.waiting_for_good = asyncio.Event()

    def clock(self) -> float:
        self.now += self.run_seconds
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waited.append(seconds)
        if len(self.waited) > self.waits:
            self.waiting_for_good.set()
            await asyncio.Event().wait()  # until the supervisor is cancelled


async def test_embedded_worker_without_redis_restarts_with_growing_backoff_and_stops_at_once(make_settings) -> None:
    supervisor = SupervisorTime(waits=7)
    async with open_services(make_settings(redis_url=f"redis://127.0.0.1:{free_port()}/0")) as services:
        worker = EmbeddedWorker(services, clock=supervisor.clock, sleep=supervisor.sleep)
        worker.start()
        # Every attempt fails at once (connection refused); each wait is twice the last, up to 30 s.
        await asyncio.wait_for(supervisor.waiting_for_good.wait(), timeout=10)  # the eighth wait
        assert supervisor.waited == [1, 2, 4, 8, 16, 30, 30, 30]
        assert worker.restarts == 7 and worker.state["restarts"] == 7
        assert worker.state["running"] is False
        started = time.monotonic()
        await asyncio.wait_for(worker.stop(), timeout=10)  # in the middle of a wait
        assert time.monotonic() - started < 3.0
        assert worker.state["running"] is False


async def test_embedded_worker_that_ran_a_while_is_restarted_after_the_shortest_wait(make_settings) -> None:
    supervisor = SupervisorTime(waits=3, run_seconds=61)  # each worker ran for over a minute before it failed
    async with open_services(make_settings(redis_url=f"redis://127.0.0.1:{free_port()}/0")) as services:
        worker = EmbeddedWorker(services, clock=supervisor.clock, sleep=supervisor.sleep)
        worker.start()
        await asyncio.wait_for(supervisor.waiting_for_good.wait(), timeout=10)  # the fourth wait
        assert supervisor.waited == [1, 1, 1, 1]  # the backoff starts over: not 2, 4, 8
        await asyncio.wait_for(worker.stop(), timeout=10)


async def saved_search_again(services: Services, sid: UUID) -> None:
    await services.store.save_results(
        sid, request=search_request(), setor_id="vestuario", total_raw=40, licitacoes=licitacoes(),
        ufs_com_falha=[], avisos=[],
    )
