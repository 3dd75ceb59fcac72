"""Schema migrations on real SQLite files and a real PostgreSQL: stored data survives every release."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
import sqlalchemy as sa

from backend.config import Settings
from backend.pncp.records import to_licitacao
from backend.schemas import LICITACOES, ResumoLicitacoes
from backend.store.publications import (
    arbitro_gasto,
    arbitro_veredito,
    arbitro_veredito_setor,
    pncp_aberta,
    pncp_aberta_leitura,
    pncp_duvida,
    pncp_fatia,
    pncp_ingestao,
    pncp_publicacao,
    pncp_publicacao_setor,
    pncp_setor_versao,
)
from backend.store.schema import PREVIOUS_RELEASE_COLUMNS, VERSION_TABLE, SchemaError
from backend.store.search_cache import SearchCache, database_engine, search_cache, smartlic_database
from backend.store.usage import busca_contada, uso_mensal
from tests.records import pncp_record
from tests.servers import ROOT, running_servers, server_env

HEAD = "0006"
INDEX_TABLE_OBJECTS = (pncp_publicacao, pncp_publicacao_setor, pncp_setor_versao, pncp_fatia, pncp_ingestao,
                       pncp_aberta, pncp_aberta_leitura, pncp_duvida, arbitro_veredito, arbitro_veredito_setor,
                       arbitro_gasto, uso_mensal, busca_contada)
INDEX_TABLES = {table.name for table in INDEX_TABLE_OBJECTS}

# search_cache as the release before migrations made it (SQLAlchemy's CreateTable of its table).
PREVIOUS_RELEASE_DDL = """
CREATE TABLE search_cache (
    search_id VARCHAR(36) NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    expires_at {ts} NOT NULL,
    request_json TEXT NOT NULL,
    setor_id VARCHAR(64) NOT NULL,
    total_raw INTEGER NOT NULL,
    total_filtrado INTEGER NOT NULL,
    licitacoes_json TEXT NOT NULL,
    ufs_com_falha_json TEXT NOT NULL,
    avisos_json TEXT NOT NULL,
    results_at {ts},
    llm_status VARCHAR(16) NOT NULL,
    resumo_json TEXT,
    resumo_at {ts},
    excel_status VARCHAR(16) NOT NULL,
    excel_url TEXT,
    excel_error TEXT,
    excel_at {ts},
    llm_owner VARCHAR(16),
    llm_lease_until {ts},
    excel_owner VARCHAR(16),
    excel_lease_until {ts},
    completed_at {ts},
    erro TEXT,
    erro_at {ts},
    PRIMARY KEY (search_id)
)
"""
PREVIOUS_RELEASE_INDEX = "CREATE INDEX ix_search_cache_expires_at ON search_cache (expires_at)"
TIMESTAMP = {"sqlite": "DATETIME", "postgresql": "TIMESTAMP WITH TIME ZONE"}

PREVIOUS_RELEASE_ROW = sa.text(
    "INSERT INTO search_cache (search_id, created_at, updated_at, expires_at, request_json, setor_id, total_raw,"
    " total_filtrado, licitacoes_json, ufs_com_falha_json, avisos_json, results_at, llm_status, resumo_json,"
    " resumo_at, excel_status, excel_url, excel_at, completed_at)"
    " VALUES (:search_id, :now, :now, :expires, :request_json, 'vestuario', 7, 2, :licitacoes_json, '[]',"
    " '[\"nota\"]', :now, 'ready', :resumo_json, :now, 'ready', 'https://x/y.xlsx', :now, :now)"
).bindparams(
    sa.bindparam("now", type_=sa.DateTime(timezone=True)), sa.bindparam("expires", type_=sa.DateTime(timezone=True))
)
# Made once: the records' dates follow the clock.
SAVED = [to_licitacao(pncp_record(f"Aquisição de uniformes lote {i}", valor=1000.0 * (i + 1))) for i in range(2)]
RESUMO = ResumoLicitacoes(resumo_executivo="Texto", total_oportunidades=2, valor_total=3000.0, destaques=["a"])


async def _execute(url: str, *statements: str | sa.Executable, **params: Any) -> None:
    engine = database_engine(url)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(sa.text(statement) if isinstance(statement, str) else statement, params)
    finally:
        await engine.dispose()


async def _fetch(url: str, query: str) -> list[tuple[Any, ...]]:
    engine = database_engine(url)
    try:
        async with engine.connect() as conn:
            return [tuple(row) for row in await conn.execute(sa.text(query))]
    finally:
        await engine.dispose()


async def _tables(url: str) -> dict[str, list[dict[str, Any]]]:
    """Each table's reflected columns (name, type, nullable), to compare shapes across databases."""
    engine = database_engine(url)

    def reflect(sync: sa.Connection) -> dict[str, list[dict[str, Any]]]:
        inspector = sa.inspect(sync)
        return {
            table: [{"name": c["name"], "type": str(c["type"]), "nullable": c["nullable"]}
                    for c in inspector.get_columns(table)]
            for table in inspector.get_table_names()
        }

    try:
        async with engine.connect() as conn:
            return await conn.run_sync(reflect)
    finally:
        await engine.dispose()


async def _versions_and_identities(url: str) -> tuple[list[str], list[str]]:
    versions = [row[0] for row in await _fetch(url, f"SELECT version_num FROM {VERSION_TABLE}")]
    identities = [row[0] for row in await _fetch(url, "SELECT id FROM smartlic_database")]
    return versions, identities


async def _migrated(url: str) -> SearchCache:
    cache = SearchCache.from_url(url)
    await cache.migrate()
    return cache


def _dialect(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


async def _previous_release_database(url: str) -> list[UUID]:
    """The table as the release before migrations left it, with two searches in it."""
    await _execute(url, PREVIOUS_RELEASE_DDL.format(ts=TIMESTAMP[_dialect(url)]), PREVIOUS_RELEASE_INDEX)
    ids = [uuid4(), uuid4()]
    now = datetime.now(UTC)
    for search_id in ids:
        await _execute(
            url, PREVIOUS_RELEASE_ROW, search_id=str(search_id), now=now, expires=now + timedelta(hours=12),
            request_json='{"ufs": ["SP"], "setor_id": "vestuario"}',
            licitacoes_json=LICITACOES.dump_json(SAVED).decode(), resumo_json=RESUMO.model_dump_json(),
        )
    return ids


async def test_previous_release_database_is_adopted_with_its_rows(database_url: str) -> None:
    ids = await _previous_release_database(database_url)
    cache = await _migrated(database_url)
    try:
        for search_id in ids:
            stored = await cache.get(search_id)
            assert stored is not None
            assert stored.licitacoes == SAVED
            assert stored.request == {"ufs": ["SP"], "setor_id": "vestuario"}
            assert (stored.total_raw, stored.outcome.total_filtrado, stored.avisos) == (7, 2, ["nota"])
            assert stored.outcome.resumo == RESUMO and stored.outcome.excel_url == "https://x/y.xlsx"
            assert stored.outcome.settled
            assert (stored.outcome.owner, stored.outcome.plano) == ("local", None)  # 0006: the local user's
        versions, identities = await _versions_and_identities(database_url)
        assert versions == [HEAD] and len(identities) == 1
        assert await cache.database_id() == identities[0]
    finally:
        await cache.close()


async def test_migration_0001_makes_the_previous_release_table(database_url: str) -> None:
    """Same columns, types, nullability and index as the table the previous release created."""
    await _previous_release_database(database_url)
    previous = (await _tables(database_url))["search_cache"]
    await _execute(database_url, "DROP TABLE search_cache")
    cache = await _migrated(database_url)
    try:
        tables = await _tables(database_url)
        made = tables["search_cache"]
        assert made[:len(previous)] == previous  # 0001; 0003 then adds where a search's data came from
        assert [column["name"] for column in made[len(previous):]] == ["fonte", "atualizado_em", "owner", "plano"]
        assert {column["name"] for column in previous} == PREVIOUS_RELEASE_COLUMNS
        assert set(tables) == {"search_cache", "smartlic_database", VERSION_TABLE, *INDEX_TABLES}
        async with cache._engine.connect() as conn:
            indexes = await conn.run_sync(lambda sync: sa.inspect(sync).get_indexes("search_cache"))
        assert sorted((i["name"], i["column_names"]) for i in indexes) == [
            ("ix_search_cache_expires_at", ["expires_at"]), ("ix_search_cache_owner", ["owner", "created_at"])]
    finally:
        await cache.close()


async def test_the_code_reads_the_tables_of_head(database_url: str) -> None:
    cache = await _migrated(database_url)
    await cache.close()
    tables = await _tables(database_url)
    for table in (search_cache, smartlic_database, *INDEX_TABLE_OBJECTS):
        assert [column["name"] for column in tables[table.name]] == list(table.c.keys())


async def test_migrating_twice_changes_nothing(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    first = await _migrated(database_url)
    identity = await first.database_id()
    await first.close()
    before = await _tables(database_url)
    caplog.clear()  # what the first migration logged (when an earlier test left INFO on)
    with caplog.at_level(logging.INFO):
        second = await _migrated(database_url)  # a restart
    try:
        assert await second.database_id() == identity
        assert await _versions_and_identities(database_url) == ([HEAD], [identity])
        assert await _tables(database_url) == before
        assert not [r for r in caplog.records if r.name.startswith(("alembic", "backend.store.schema"))]
    finally:
        await second.close()


@pytest.mark.parametrize("table, ddl, columns", [
    ("search_cache", "CREATE TABLE search_cache (id INTEGER PRIMARY KEY, owner TEXT, payload TEXT)",
     "unexpected columns: id, owner, payload; missing columns: avisos_json"),
    ("smartlic_database", "CREATE TABLE smartlic_database (id INTEGER PRIMARY KEY, owner TEXT, payload TEXT)",
     "unexpected columns: owner, payload; missing columns: created_at"),
])
async def test_foreign_table_stops_startup_and_stays_untouched(
    database_url: str, table: str, ddl: str, columns: str,
    make_settings: Callable[..., Settings], client_for: Callable[[Settings], Any],
) -> None:
    await _execute(database_url, ddl, f"INSERT INTO {table} (id, owner, payload) VALUES (1, 'another app', 'x')")
    before = await _tables(database_url)
    with pytest.raises(SchemaError) as refused:
        async with client_for(make_settings(database_url=database_url)):
            pass
    message = str(refused.value)
    assert "\n" not in message
    assert f"table {table} exists" in message and columns in message
    assert "point DATABASE_URL at another database or rename that table" in message
    assert await _tables(database_url) == before  # no version table, no other table, same columns
    assert await _fetch(database_url, f"SELECT id, owner, payload FROM {table}") == [(1, "another app", "x")]


async def test_unknown_newer_revision_starts_without_migrating(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    cache = await _migrated(database_url)
    identity = await cache.database_id()
    search_id = uuid4()
    await cache.save_results(
        search_id, request={}, setor_id="x", total_raw=2, licitacoes=SAVED, ufs_com_falha=[], avisos=[]
    )
    await cache.close()
    await _execute(database_url, f"UPDATE {VERSION_TABLE} SET version_num = '0099_from_a_newer_release'")
    before = await _tables(database_url)
    with caplog.at_level(logging.WARNING, logger="backend.store.schema"):
        restarted = await _migrated(database_url)  # the old release restarting during a rolling deploy
    try:
        assert any("0099_from_a_newer_release" in r.getMessage() and r.levelno == logging.WARNING
                   for r in caplog.records)
        assert await _versions_and_identities(database_url) == (["0099_from_a_newer_release"], [identity])
        assert await _tables(database_url) == before
        stored = await restarted.get(search_id)
        assert stored is not None and stored.licitacoes == SAVED
    finally:
        await restarted.close()


async def test_current_code_works_after_a_later_release_adds_a_column(database_url: str) -> None:
    cache = await _migrated(database_url)
    await _execute(database_url, "ALTER TABLE search_cache ADD COLUMN nota_futura TEXT")
    try:
        await cache.migrate()  # at head already: the extra column is no reason to refuse
        search_id = uuid4()
        await cache.save_results(
            search_id, request={"ufs": ["SP"]}, setor_id="x", total_raw=3, licitacoes=SAVED,
            ufs_com_falha=[], avisos=[],
        )
        await cache.save_results(  # saving again replaces the whole row (an upsert naming our columns only)
            search_id, request={"ufs": ["SP"]}, setor_id="x", total_raw=3, licitacoes=SAVED,
            ufs_com_falha=[], avisos=[],
        )
        stored = await cache.get(search_id)
        assert stored is not None and stored.licitacoes == SAVED
        assert await cache.claim(search_id, "llm", "job", 30) is True
        assert await cache.claim(search_id, "llm", "inline", 30) is False
        await cache.save_resumo(search_id, RESUMO)
        await cache.save_excel(search_id, status="skipped")
        outcome = await cache.get_outcome(search_id)
        assert outcome is not None and outcome.resumo == RESUMO and outcome.settled
        assert await cache.mark_completed(search_id) is True
        assert await _fetch(database_url, "SELECT nota_futura FROM search_cache") == [(None,)]
    finally:
        await cache.close()


async def test_alembic_upgrade_head_from_the_command_line(database_url: str, tmp_path: Path) -> None:
    if database_url.startswith("sqlite"):  # in a folder that does not exist yet, as on a first deploy
        database_url = f"sqlite:///{tmp_path / 'new' / 'smartlic.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT, env={**os.environ, "DATABASE_URL": database_url}, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Running upgrade 0001 -> 0002" in done.stderr
    versions, identities = await _versions_and_identities(database_url)
    assert versions == [HEAD] and len(identities) == 1
    before = await _tables(database_url)
    cache = await _migrated(database_url)  # the service's startup afterwards: nothing left to do
    try:
        assert await cache.database_id() == identities[0]
        assert await _versions_and_identities(database_url) == ([HEAD], identities)
        assert await _tables(database_url) == before
    finally:
        await cache.close()


async def test_alembic_upgrade_head_adopts_a_previous_release_database(database_url: str) -> None:
    ids = await _previous_release_database(database_url)
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT, env={**os.environ, "DATABASE_URL": database_url}, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Running upgrade 0001 -> 0002" in done.stderr and "-> 0001," not in done.stderr  # adopted, not made
    versions, identities = await _versions_and_identities(database_url)
    assert versions == [HEAD] and len(identities) == 1
    cache = await _migrated(database_url)
    try:
        assert [(await cache.get(search_id)).licitacoes for search_id in ids] == [SAVED, SAVED]
    finally:
        await cache.close()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_servers_starting_at_once_migrate_once(
    database: str, tmp_path: Path, redis_url: str, request: pytest.FixtureRequest
) -> None:
    extra = {} if database == "sqlite" else {"DATABASE_URL": request.getfixturevalue("fresh_postgres_url")}
    env = server_env(tmp_path, redis_url, **extra)
    with running_servers([env, env], tmp_path) as servers:
        for server in servers:
            health = httpx.get(f"{server.url}/v1/health", timeout=5)
            assert health.status_code == 200 and health.json()["database"] == "ok", server.log()
        versions, identities = asyncio.run(_versions_and_identities(env["DATABASE_URL"]))
    assert versions == [HEAD] and len(identities) == 1


async def test_the_index_keeps_its_sector_matches_through_0005(database_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "0004"],
        cwd=ROOT, env={**os.environ, "DATABASE_URL": database_url}, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    await _execute(database_url, "INSERT INTO pncp_publicacao_setor (setor_id, codigo_pncp, dia, uf, modalidade_id, "
                   "palavras) VALUES ('saude', '1-1-1/2026', '2026-12-01', 'SP', 6, '[\"seringa\"]')")
    cache = await _migrated(database_url)
    try:
        rows = await _fetch(database_url, "SELECT setor_id, palavras, classificacao FROM pncp_publicacao_setor")
        assert rows == [("saude", '["seringa"]', "palavras")]
        assert (await _versions_and_identities(database_url))[0] == [HEAD]
    finally:
        await cache.close()
