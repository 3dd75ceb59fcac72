"""The database schema, by Alembic migration (`backend/migrations`), never by dropping a table.

Every process calls `upgrade_database` at startup, under a lock, so processes starting together
migrate once. A database made by the release before migrations is adopted (stamped 0001, rows
kept); a table of one of our names that our migrations did not make stops the service and stays
untouched; a database a newer release already migrated is left as it is, because migrations only
add (nullable columns, columns with defaults, tables), so this release still works on it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sys
from collections.abc import AsyncIterator, Collection, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import anyio
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Not Alembic's default `alembic_version`: the database may be shared with another app's migrations.
VERSION_TABLE = "smartlic_alembic_version"
# Starts the line that stops a process on a foreign table, as `smartlic: configuration error: ` a wrong setting's.
ERROR_PREFIX = "smartlic: database error: "
# Key of the pg_advisory_xact_lock held by the migrating transaction: b"SmartLic" as a bigint.
PG_LOCK_KEY = 0x536D6172744C6963

# search_cache as the release before migrations created it at startup; 0001 creates the same table.
PREVIOUS_RELEASE_COLUMNS = frozenset({
    "search_id", "created_at", "updated_at", "expires_at", "request_json", "setor_id", "total_raw",
    "total_filtrado", "licitacoes_json", "ufs_com_falha_json", "avisos_json", "results_at",
    "llm_status", "resumo_json", "resumo_at", "excel_status", "excel_url", "excel_error", "excel_at",
    "llm_owner", "llm_lease_until", "excel_owner", "excel_lease_until", "completed_at", "erro", "erro_at",
})

# Each table our migrations create: the revision that creates it, and its columns then.
_CREATED_BY: dict[str, tuple[str, frozenset[str]]] = {
    "search_cache": ("0001", PREVIOUS_RELEASE_COLUMNS),
    "smartlic_database": ("0002", frozenset({"id", "created_at"})),
    "pncp_publicacao": ("0003", frozenset({
        "codigo_pncp", "dia", "modalidade_id", "uf", "situacao_id", "data_encerramento", "valor_estimado",
        "atualizado_pncp", "licitacao_json", "escrito_em",
    })),
    "pncp_publicacao_setor": ("0003", frozenset({"setor_id", "codigo_pncp", "dia", "uf", "modalidade_id", "palavras"})),
    "pncp_setor_versao": ("0003", frozenset({"setor_id", "assinatura", "atualizado_em"})),
    "pncp_fatia": ("0003", frozenset({
        "modalidade_id", "dia", "uf", "completo", "lido_em", "tentado_em", "registros", "erro",
    })),
    "pncp_ingestao": ("0003", frozenset({"chave", "valor", "atualizado_em"})),
    "pncp_aberta": ("0004", frozenset({"leitura", "codigo_pncp", "modalidade_id", "uf", "data_encerramento"})),
    "pncp_aberta_leitura": ("0004", frozenset({
        "modalidade_id", "uf", "completo", "lido_em", "tentado_em", "registros", "erro",
    })),
    "pncp_duvida": ("0005", frozenset({"setor_id", "codigo_pncp", "chave", "dia", "uf", "modalidade_id", "palavras"})),
    "arbitro_veredito": ("0005", frozenset({"chave", "modelo", "tokens", "decidido_em"})),
    "arbitro_veredito_setor": ("0005", frozenset({"chave", "setor_id"})),
    "arbitro_gasto": ("0005", frozenset({"dia", "tokens", "chamadas"})),
    "uso_mensal": ("0006", frozenset({"user_id", "mes", "plano", "buscas"})),
    "busca_contada": ("0006", frozenset({"search_id", "user_id", "plano", "mes", "dia", "contada_em"})),
}


class SchemaError(RuntimeError):
    """A table with one of our names that our migrations did not make: the service must not start."""


@contextmanager
def stop_on_schema_error() -> Iterator[None]:
    """Ends the process on a SchemaError with its one line on stderr and exit status 2, as a wrong setting
    does: the operator needs the line, and a traceback around it would bury it."""
    try:
        yield
    except SchemaError as error:
        sys.stderr.write(f"{ERROR_PREFIX}{error}\n")
        sys.stderr.flush()
        raise SystemExit(2) from None


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """Alembic's configuration without alembic.ini, which the service does not need (nor ship)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade_database(engine: AsyncEngine) -> None:
    """Brings the database to the newest schema this release knows; raises SchemaError for a foreign table."""
    async with migration_transaction(engine) as conn:
        await conn.run_sync(_upgrade)


@asynccontextmanager
async def migration_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction holding the migration lock: one process at a time reads the schema and migrates it."""
    async with _file_lock(_sqlite_lock_path(engine.url)), engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
        elif engine.dialect.name == "sqlite":
            # The sqlite3 driver opens transactions before DML only: without this, DDL would commit
            # statement by statement and a crash could leave a table without its version.
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn


def _upgrade(connection: sa.Connection) -> None:
    config = alembic_config(connection)
    script = ScriptDirectory.from_config(config)
    current = _current_revisions(connection)
    known = {revision.revision for revision in script.walk_revisions()}
    unknown = [revision for revision in current if revision not in known]
    if unknown:
        logger.warning(
            "database schema is at revision %s, unknown to this release (a newer one migrated it): "
            "starting without migrating", ", ".join(unknown),
        )
        return
    if made_by_previous_release(connection):  # the migrations' environment stamps it 0001 first
        logger.info("search_cache was made by the release before migrations: adopting it as 0001, rows kept")
        current = ("0001",)
    pending = [revision.revision for revision in script.iterate_revisions("heads", current or "base")]
    if not pending:
        return
    _refuse_foreign_tables(connection, pending)
    logger.info("migrating the database schema: %s -> %s", ", ".join(current) or "empty", script.get_current_head())
    command.upgrade(config, "heads")


def made_by_previous_release(connection: sa.Connection) -> bool:
    """No version recorded, and a search_cache exactly as the release before migrations made it."""
    return not _current_revisions(connection) and _columns(connection, "search_cache") == PREVIOUS_RELEASE_COLUMNS


def _refuse_foreign_tables(connection: sa.Connection, pending: Collection[str]) -> None:
    """A table that a pending migration must create, already there, belongs to somebody else."""
    for table, (revision, expected) in _CREATED_BY.items():
        found = _columns(connection, table) if revision in pending else None
        if found is not None:
            raise SchemaError(_foreign_table_message(table, found, expected))


def _foreign_table_message(table: str, found: frozenset[str], expected: frozenset[str]) -> str:
    unexpected, missing = sorted(found - expected), sorted(expected - found)
    differences = [f"{label} columns: {', '.join(names)}"
                   for label, names in (("unexpected", unexpected), ("missing", missing)) if names]
    details = "; ".join(differences) or f"its columns match, but {VERSION_TABLE} does not record it"
    return (
        f"table {table} exists in this database but SmartLic's migrations did not make it ({details}); "
        f"not starting, the table is left untouched: point DATABASE_URL at another database or rename that table"
    )


def _current_revisions(connection: sa.Connection) -> tuple[str, ...]:
    """The revisions recorded in the version table (read directly: Alembic's context logs at every call)."""
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return ()
    return tuple(connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())


def _columns(connection: sa.Connection, table: str) -> frozenset[str] | None:
    inspector = sa.inspect(connection)
    if not inspector.has_table(table):
        return None
    return frozenset(column["name"] for column in inspector.get_columns(table))


def _sqlite_lock_path(url: sa.URL) -> Path | None:
    """`<db>.migrate.lock` beside a SQLite file; None for PostgreSQL and in-memory SQLite."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database.startswith("file:") and url.query.get("uri"):
        database = database.removeprefix("file:")
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        return None
    return Path(f"{database}.migrate.lock")


@asynccontextmanager
async def _file_lock(path: Path | None) -> AsyncIterator[None]:
    """An exclusive flock on `path`, waited for in a thread so the event loop keeps running."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        await anyio.to_thread.run_sync(fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the file releases the lock
