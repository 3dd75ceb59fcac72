"""search_cache against both databases it supports: SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
import sqlalchemy as sa

from backend.pncp.records import to_licitacao
from backend.schemas import FalhaUF, ResumoLicitacoes
from backend.store.schema import SchemaError
from backend.store.search_cache import SearchCache, async_database_url, search_cache, smartlic_database
from tests.conftest import free_port
from tests.records import pncp_record


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SearchCache]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cache.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")  # a database of its own per test
    cache = SearchCache.from_url(url, ttl=timedelta(hours=1))
    await cache.migrate()
    await cache.migrate()  # idempotent at every startup
    yield cache
    await cache.close()


def _licitacoes(n: int):
    return [to_licitacao(pncp_record(f"Aquisição de uniformes lote {i}", valor=1000.0 * (i + 1))) for i in range(n)]


async def test_saved_search_reads_back_identically(store: SearchCache) -> None:
    search_id = uuid4()
    licitacoes = _licitacoes(3)
    falhas = [FalhaUF(uf="RJ", mensagem="RJ: o PNCP está com erro interno (HTTP 500)")]
    await store.save_results(
        search_id,
        request={"ufs": ["SP", "RJ"], "setor_id": "vestuario"},
        setor_id="vestuario",
        total_raw=10,
        licitacoes=licitacoes,
        ufs_com_falha=falhas,
        avisos=["nota"],
    )
    stored = await store.get(search_id)
    assert stored is not None
    assert stored.outcome.search_id == search_id
    assert stored.licitacoes == licitacoes
    assert stored.total_raw == 10 and stored.outcome.total_filtrado == 3
    assert (stored.outcome.llm_status, stored.outcome.excel_status) == ("processing", "processing")
    assert not stored.outcome.settled
    assert stored.ufs_com_falha == falhas
    assert stored.avisos == ["nota"]
    assert stored.request == {"ufs": ["SP", "RJ"], "setor_id": "vestuario"}
    assert stored.created_at.tzinfo is not None


async def test_saving_again_replaces_and_keeps_one_row(store: SearchCache) -> None:
    search_id = uuid4()
    common = dict(request={}, setor_id="vestuario", total_raw=5, ufs_com_falha=[], avisos=[])
    await store.save_results(search_id, licitacoes=_licitacoes(2), **common)
    first = await store.get(search_id)
    await store.save_results(search_id, licitacoes=_licitacoes(4), **common)
    second = await store.get(search_id)
    assert second is not None and first is not None
    assert second.outcome.total_filtrado == 4
    assert second.created_at == first.created_at
    async with store._engine.connect() as conn:
        count = await conn.scalar(sa.select(sa.func.count()).select_from(search_cache))
    assert count == 1


async def test_unknown_search_is_none(store: SearchCache) -> None:
    assert await store.get(uuid4()) is None
    assert await store.get_outcome(uuid4()) is None


async def test_outcomes_settle_the_search(store: SearchCache) -> None:
    search_id = uuid4()
    await store.save_results(
        search_id, request={}, setor_id="x", total_raw=1, licitacoes=_licitacoes(1), ufs_com_falha=[], avisos=[]
    )
    resumo = ResumoLicitacoes(resumo_executivo="Texto", total_oportunidades=1, valor_total=1000.0, destaques=["a"])
    await store.save_resumo(search_id, resumo)
    await store.save_resumo(search_id, resumo)  # a job run twice leaves the same row
    outcome = await store.get_outcome(search_id)
    assert outcome.llm_status == "ready" and outcome.resumo == resumo and outcome.resumo_at is not None
    assert not outcome.settled
    await store.save_excel(search_id, status="failed", error="Não foi possível gerar a planilha")
    outcome = await store.get_outcome(search_id)
    assert (outcome.excel_status, outcome.excel_url, outcome.excel_error) == (
        "failed", None, "Não foi possível gerar a planilha"
    )
    assert outcome.settled and outcome.excel_at >= outcome.results_at
    await store.save_excel(search_id, status="ready", url="https://x/y.xlsx")
    outcome = await store.get_outcome(search_id)
    assert (outcome.excel_status, outcome.excel_url, outcome.excel_error) == ("ready", "https://x/y.xlsx", None)


async def test_failed_search_is_settled_with_its_reason(store: SearchCache) -> None:
    search_id = uuid4()
    await store.save_failure(search_id, request={"ufs": ["AC"]}, setor_id="x", erro="O PNCP não respondeu")
    outcome = await store.get_outcome(search_id)
    assert outcome.erro == "O PNCP não respondeu" and outcome.settled and outcome.results_at is None


async def test_table_of_an_unknown_shape_is_refused_not_recreated(store: SearchCache) -> None:
    """Formerly dropped and recreated; now the table is kept and the service does not start."""
    async with store._engine.begin() as conn:
        await conn.execute(sa.text("DROP TABLE smartlic_alembic_version"))
        await conn.execute(sa.text("DROP TABLE smartlic_database"))
        await conn.run_sync(lambda sync: search_cache.drop(sync))
        await conn.execute(sa.text("CREATE TABLE search_cache (search_id VARCHAR(36) PRIMARY KEY, old TEXT)"))
        await conn.execute(sa.text("INSERT INTO search_cache VALUES ('kept', 'old row')"))
    with pytest.raises(SchemaError, match="search_cache"):
        await store.migrate()
    async with store._engine.connect() as conn:
        assert (await conn.execute(sa.text("SELECT search_id, old FROM search_cache"))).all() == [("kept", "old row")]


async def test_expired_search_is_gone_and_cleaned(store: SearchCache) -> None:
    expired = SearchCache(store._engine, ttl=timedelta(seconds=-1))
    search_id = uuid4()
    await expired.save_results(
        search_id, request={}, setor_id="x", total_raw=0, licitacoes=[], ufs_com_falha=[], avisos=[]
    )
    assert await store.get(search_id) is None
    assert await store.delete_expired() == 1


async def test_ping_answers_and_a_database_that_is_gone_raises(store: SearchCache) -> None:
    await store.ping()
    gone = SearchCache.from_url(f"postgresql://postgres@127.0.0.1:{free_port()}/gone")
    try:
        with pytest.raises(OSError):  # refused: nothing listens there
            await gone.ping()
    finally:
        await gone.close()


def test_database_urls_map_to_async_drivers() -> None:
    assert async_database_url("sqlite:///./var/x.db") == "sqlite+aiosqlite:///./var/x.db"
    assert async_database_url("postgresql://u@h:5432/d") == "postgresql+asyncpg://u@h:5432/d"
    assert async_database_url("postgres://u@h/d") == "postgresql+asyncpg://u@h/d"
    with pytest.raises(ValueError):
        async_database_url("not a url")


def _migrate(url: str) -> None:
    async def migrate() -> None:
        cache = SearchCache.from_url(url)
        await cache.migrate()
        await cache.close()

    asyncio.run(migrate())


async def _identities(url: str) -> list[str]:
    cache = SearchCache.from_url(url)
    try:
        async with cache._engine.connect() as conn:
            return list((await conn.execute(sa.select(smartlic_database.c.id))).scalars())
    finally:
        await cache.close()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_processes_starting_together_create_the_schema_once(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}" if database == "sqlite" else request.getfixturevalue("fresh_postgres_url")
    processes = [multiprocessing.get_context("spawn").Process(target=_migrate, args=(url,)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    assert len(asyncio.run(_identities(url))) == 1


async def test_a_search_id_is_begun_once_until_its_search_expires_or_goes_silent(store: SearchCache) -> None:
    search_id, request = uuid4(), {"ufs": ["SP"], "setor_id": "vestuario"}
    assert await store.begin(search_id, request=request, setor_id="vestuario")
    assert not await store.begin(search_id, request=request, setor_id="vestuario")  # one search per id
    begun = await store.get_outcome(search_id)
    assert begun is not None and begun.searching and not begun.settled
    assert not await store.take_over(search_id, silent_for=timedelta(minutes=1))  # alive: nobody takes it

    later = datetime.now(UTC) + timedelta(minutes=2)  # the same database, read two minutes on
    after_silence = SearchCache(store.engine, ttl=timedelta(hours=1), clock=lambda: later)
    assert await after_silence.take_over(search_id, silent_for=timedelta(minutes=1))
    assert not await after_silence.take_over(search_id, silent_for=timedelta(minutes=1))  # taken once

    await store.save_results(search_id, request=request, setor_id="vestuario", total_raw=0, licitacoes=[],
                             ufs_com_falha=[], avisos=[])
    answered = await store.get_outcome(search_id)
    assert answered is not None and not answered.searching
    assert not await after_silence.take_over(search_id, silent_for=timedelta(minutes=1))  # answered: kept

    expired = SearchCache(store.engine, ttl=timedelta(hours=1), clock=lambda: later + timedelta(hours=2))
    assert await expired.begin(search_id, request={"ufs": ["RJ"]}, setor_id="alimentos")  # its id is free again
    assert (await expired.get_request(search_id)) == ({"ufs": ["RJ"]}, "alimentos")
