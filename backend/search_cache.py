"""Stored searches: results and, later, the outcomes of their summary and Excel jobs.

One code path for SQLite (default) and PostgreSQL through SQLAlchemy Core; the schema is
created at startup. Payloads are JSON text so both databases store them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from backend.schemas import FalhaUF, Licitacao

_LICITACOES = TypeAdapter(list[Licitacao])
_FALHAS = TypeAdapter(list[FalhaUF])
_TEXTS = TypeAdapter(list[str])

metadata = sa.MetaData()

search_cache = sa.Table(
    "search_cache",
    metadata,
    sa.Column("search_id", sa.String(36), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("request_json", sa.Text, nullable=False),
    sa.Column("setor_id", sa.String(64), nullable=False),
    sa.Column("total_raw", sa.Integer, nullable=False),
    sa.Column("total_filtrado", sa.Integer, nullable=False),
    sa.Column("licitacoes_json", sa.Text, nullable=False),
    sa.Column("ufs_com_falha_json", sa.Text, nullable=False),
    sa.Column("avisos_json", sa.Text, nullable=False),
    # Outcomes of the summary and Excel stages.
    sa.Column("llm_status", sa.String(16)),
    sa.Column("resumo_json", sa.Text),
    sa.Column("excel_status", sa.String(16)),
    sa.Column("excel_url", sa.Text),
    sa.Column("excel_error", sa.Text),
)


@dataclass(frozen=True, slots=True)
class StoredSearch:
    search_id: UUID
    created_at: datetime
    request: dict[str, Any]
    setor_id: str
    total_raw: int
    total_filtrado: int
    licitacoes: list[Licitacao]
    ufs_com_falha: list[FalhaUF]
    avisos: list[str]


def async_database_url(url: str) -> str:
    """`sqlite:///x.db` / `postgresql://...` as SQLAlchemy async URLs (aiosqlite, asyncpg)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"DATABASE_URL is not a URL: {url!r}")
    drivers = {"sqlite": "sqlite+aiosqlite", "postgres": "postgresql+asyncpg", "postgresql": "postgresql+asyncpg"}
    return f"{drivers.get(scheme, scheme)}://{rest}"


class SearchCache:
    """Reads and writes `search_cache` rows."""

    def __init__(self, engine: AsyncEngine, *, ttl: timedelta) -> None:
        self._engine = engine
        self._ttl = ttl
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._insert = dialect.insert

    @classmethod
    def from_url(cls, url: str, *, ttl: timedelta = timedelta(hours=24)) -> SearchCache:
        async_url = async_database_url(url)
        if async_url.startswith("sqlite"):
            engine = create_async_engine(async_url, connect_args={"timeout": 15})
            sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            engine = create_async_engine(async_url, pool_size=5, max_overflow=5, pool_pre_ping=True)
        return cls(engine, ttl=ttl)

    async def create_schema(self) -> None:
        """Creates missing tables. Web processes start together: one losing the race retries."""
        for attempt in (1, 2):
            try:
                async with self._engine.begin() as conn:
                    await conn.run_sync(metadata.create_all)
                return
            except sa.exc.DBAPIError:
                if attempt == 2:
                    raise

    async def close(self) -> None:
        await self._engine.dispose()

    async def ping(self) -> None:
        """Raises when the database cannot answer."""
        async with self._engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def save_results(
        self,
        search_id: UUID,
        *,
        request: dict[str, Any],
        setor_id: str,
        total_raw: int,
        licitacoes: list[Licitacao],
        ufs_com_falha: list[FalhaUF],
        avisos: list[str],
    ) -> None:
        """Stores a search's results; saving the same search again replaces them."""
        now = datetime.now(UTC)
        row = {
            "search_id": str(search_id),
            "created_at": now,
            "updated_at": now,
            "expires_at": now + self._ttl,
            "request_json": _json(request),
            "setor_id": setor_id,
            "total_raw": total_raw,
            "total_filtrado": len(licitacoes),
            "licitacoes_json": _LICITACOES.dump_json(licitacoes).decode(),
            "ufs_com_falha_json": _FALHAS.dump_json(ufs_com_falha).decode(),
            "avisos_json": _TEXTS.dump_json(avisos).decode(),
        }
        statement = self._insert(search_cache).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=[search_cache.c.search_id],
            set_={k: statement.excluded[k] for k in row if k not in ("search_id", "created_at")},
        )
        async with self._engine.begin() as conn:
            await conn.execute(statement)

    async def get(self, search_id: UUID) -> StoredSearch | None:
        """The search, or None when unknown or expired."""
        query = sa.select(search_cache).where(
            search_cache.c.search_id == str(search_id),
            search_cache.c.expires_at > datetime.now(UTC),
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            return None
        return StoredSearch(
            search_id=UUID(row["search_id"]),
            created_at=_aware(row["created_at"]),
            request=TypeAdapter(dict[str, Any]).validate_json(row["request_json"]),
            setor_id=row["setor_id"],
            total_raw=row["total_raw"],
            total_filtrado=row["total_filtrado"],
            licitacoes=_LICITACOES.validate_json(row["licitacoes_json"]),
            ufs_com_falha=_FALHAS.validate_json(row["ufs_com_falha_json"]),
            avisos=_TEXTS.validate_json(row["avisos_json"]),
        )

    async def delete_expired(self) -> int:
        """Removes searches past their expiry; returns how many."""
        async with self._engine.begin() as conn:
            result = await conn.execute(sa.delete(search_cache).where(search_cache.c.expires_at <= datetime.now(UTC)))
        return result.rowcount or 0


def _json(value: Any) -> str:
    return TypeAdapter(Any).dump_json(value).decode()


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets several web processes read while one writes; busy_timeout waits instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()
