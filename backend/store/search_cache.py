"""Stored searches: results and, later, the outcomes of their summary and Excel jobs.

One code path for SQLite (default) and PostgreSQL through SQLAlchemy Core. The schema comes
from the migrations (`backend/migrations`), run at startup; the table below is the code's view
of it. Payloads are JSON text so both databases store them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from backend.codes import Clock, system_clock
from backend.schemas import LICITACOES, FalhaUF, Licitacao, ResumoLicitacoes
from backend.store.schema import upgrade_database

_FALHAS = TypeAdapter(list[FalhaUF])
LOCAL_OWNER = "local"  # the one user of AUTH_MODE=off (`LOCAL_USER`), and of the searches made before accounts
_TEXTS = TypeAdapter(list[str])

metadata = sa.MetaData()

# What this release reads and writes. A column added here needs a migration adding it, nullable or
# with a default: the previous release keeps running on the migrated table during a deploy.
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
    sa.Column("results_at", sa.DateTime(timezone=True)),
    # Outcomes of the summary and Excel stages, each with the moment it was settled.
    sa.Column("llm_status", sa.String(16), nullable=False),
    sa.Column("resumo_json", sa.Text),
    sa.Column("resumo_at", sa.DateTime(timezone=True)),
    sa.Column("excel_status", sa.String(16), nullable=False),
    sa.Column("excel_url", sa.Text),
    sa.Column("excel_error", sa.Text),
    sa.Column("excel_at", sa.DateTime(timezone=True)),
    # Who is producing each output, and until when (a lease): the inline path, a job or the
    # recovery of stalled searches; one producer at a time, never two results.
    sa.Column("llm_owner", sa.String(16)),
    sa.Column("llm_lease_until", sa.DateTime(timezone=True)),
    sa.Column("excel_owner", sa.String(16)),
    sa.Column("excel_lease_until", sa.DateTime(timezone=True)),
    # When `complete` was announced: once per search, whichever producer settles it last.
    sa.Column("completed_at", sa.DateTime(timezone=True)),
    # Set when the search itself failed (no results at all).
    sa.Column("erro", sa.Text),
    sa.Column("erro_at", sa.DateTime(timezone=True)),
    # Where the results came from ("indice", "pncp", "misto") and when the oldest data read was fetched.
    sa.Column("fonte", sa.String(8)),
    sa.Column("atualizado_em", sa.DateTime(timezone=True)),
    # Who made it (Supabase's user id; "local" with AUTH_MODE=off) and under which plan (None: none).
    sa.Column("owner", sa.String(64), nullable=False, server_default=LOCAL_OWNER),
    sa.Column("plano", sa.String(32)),
)
sa.Index("ix_search_cache_owner", search_cache.c.owner, search_cache.c.created_at)

# One row, made by migration 0002: the identity of the database, with no URL or password in it.
smartlic_database = sa.Table(
    "smartlic_database",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

_OUTCOME_COLUMNS = [
    search_cache.c.search_id, search_cache.c.total_filtrado, search_cache.c.results_at,
    search_cache.c.llm_status, search_cache.c.resumo_json, search_cache.c.resumo_at,
    search_cache.c.excel_status, search_cache.c.excel_url, search_cache.c.excel_error, search_cache.c.excel_at,
    search_cache.c.erro, search_cache.c.erro_at, search_cache.c.updated_at, search_cache.c.owner,
    search_cache.c.plano,
]


Output = Literal["llm", "excel"]


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    """Where a search stands, without its results: what progress streams and polling read."""

    search_id: UUID
    total_filtrado: int
    results_at: datetime | None
    llm_status: str
    resumo: ResumoLicitacoes | None
    resumo_at: datetime | None
    excel_status: str
    excel_url: str | None
    excel_error: str | None
    excel_at: datetime | None
    erro: str | None
    erro_at: datetime | None
    updated_at: datetime | None = None  # the last sign of life of whoever works on it
    owner: str = LOCAL_OWNER
    plano: str | None = None  # the plan it was made under; None: no plan (AUTH_MODE=off)

    @property
    def searching(self) -> bool:
        """Begun, and neither answered nor failed yet."""
        return self.results_at is None and self.erro is None

    @property
    def settled(self) -> bool:
        return self.erro is not None or (self.llm_status != "processing" and self.excel_status != "processing")


@dataclass(frozen=True, slots=True)
class SearchListed:
    """A search as "Minhas buscas" lists it."""

    search_id: UUID
    created_at: datetime
    request: dict[str, Any]
    setor_id: str
    total_filtrado: int
    llm_status: str
    excel_status: str


@dataclass(frozen=True, slots=True)
class StoredSearch:
    outcome: SearchOutcome
    created_at: datetime
    request: dict[str, Any]
    setor_id: str
    total_raw: int
    licitacoes: list[Licitacao]
    ufs_com_falha: list[FalhaUF]
    avisos: list[str]
    fonte: str | None = None
    atualizado_em: datetime | None = None


def async_database_url(url: str) -> str:
    """`sqlite:///x.db` / `postgresql://...` as SQLAlchemy async URLs (aiosqlite, asyncpg)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"DATABASE_URL is not a URL: {url!r}")
    drivers = {"sqlite": "sqlite+aiosqlite", "postgres": "postgresql+asyncpg", "postgresql": "postgresql+asyncpg"}
    return f"{drivers.get(scheme, scheme)}://{rest}"


def database_engine(url: str) -> AsyncEngine:
    """The async engine for DATABASE_URL: SQLite waits for other writers, PostgreSQL checks its connections."""
    async_url = async_database_url(url)
    if async_url.startswith("sqlite"):
        engine = create_async_engine(async_url, connect_args={"timeout": 15})
        sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(async_url, pool_size=5, max_overflow=5, pool_pre_ping=True)


class SearchCache:
    """Reads and writes `search_cache` rows."""

    def __init__(self, engine: AsyncEngine, *, ttl: timedelta, clock: Clock = system_clock) -> None:
        self._engine = engine
        self._ttl = ttl
        self._clock = clock
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._insert = dialect.insert
        self._database_id: str | None = None

    @classmethod
    def from_url(cls, url: str, *, ttl: timedelta = timedelta(hours=24), clock: Clock = system_clock) -> SearchCache:
        return cls(database_engine(url), ttl=ttl, clock=clock)

    @property
    def engine(self) -> AsyncEngine:
        """Shared with the index's tables: one pool of connections per process."""
        return self._engine

    async def migrate(self) -> None:
        """Brings the schema up to this release's migrations; every process runs it at startup.

        Processes starting together take turns on a lock; tables are never dropped. Raises
        `backend.store.schema.SchemaError` when a table of ours belongs to somebody else.
        """
        await upgrade_database(self._engine)

    async def database_id(self) -> str:
        """The identity of the database (migration 0002), read once: it never changes."""
        if self._database_id is None:
            async with self._engine.connect() as conn:
                self._database_id = (await conn.execute(sa.select(smartlic_database.c.id))).scalar_one()
        return self._database_id

    async def close(self) -> None:
        await self._engine.dispose()

    async def ping(self) -> None:
        """Raises when the database cannot answer."""
        async with self._engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def begin(
        self, search_id: UUID, *, request: dict[str, Any], setor_id: str, owner: str = LOCAL_OWNER,
        plano: str | None = None, keep_for: timedelta | None = None,
    ) -> bool:
        """Takes `search_id` for `owner`'s search of `request`: True when it was free (never used,
        or its search expired), atomically, so of two processes given the same id one runs it.
        The row says "searching" until `save_results` or `save_failure`, and is kept `keep_for`
        (the owner's plan's history; the store's TTL when None)."""
        now = self._clock()
        row = self._new_row(search_id, request, setor_id, now, owner=owner, plano=plano,
                            expires_at=now + (keep_for or self._ttl))
        statement = self._insert(search_cache).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=[search_cache.c.search_id],
            set_={k: statement.excluded[k] for k in row if k != "search_id"},
            where=search_cache.c.expires_at <= now,
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(statement)
        return result.rowcount == 1

    async def still_searching(self, search_id: UUID) -> None:
        """A sign of life of the search that began `search_id` (see `take_over`)."""
        statement = sa.update(search_cache).where(*_searching(search_id)).values(updated_at=self._clock())
        async with self._engine.begin() as conn:
            await conn.execute(statement)

    async def take_over(self, search_id: UUID, *, silent_for: timedelta) -> bool:
        """Takes a search still searching whose process gave no sign of life for `silent_for`
        (it died): True for the one caller that may run it again."""
        c = search_cache.c
        now = self._clock()
        statement = (sa.update(search_cache)
                     .where(*_searching(search_id), c.updated_at < now - silent_for)
                     .values(updated_at=now))
        async with self._engine.begin() as conn:
            result = await conn.execute(statement)
        return result.rowcount == 1

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
        fonte: str | None = None,
        atualizado_em: datetime | None = None,
        licitacoes_json: bytes | None = None,
    ) -> None:
        """Stores a search's results, its summary and report still to come (`licitacoes_json`:
        the licitações already written as JSON, if they were).

        Saving the same search again replaces it whole, but for who made it and how long it is kept.
        """
        now = self._clock()
        await self._upsert(self._new_row(
            search_id, request, setor_id, now,
            total_raw=total_raw,
            total_filtrado=len(licitacoes),
            licitacoes_json=(licitacoes_json or LICITACOES.dump_json(licitacoes)).decode(),
            ufs_com_falha_json=_FALHAS.dump_json(ufs_com_falha).decode(),
            avisos_json=_TEXTS.dump_json(avisos).decode(),
            results_at=now,
            fonte=fonte,
            atualizado_em=atualizado_em,
        ))

    async def save_failure(self, search_id: UUID, *, request: dict[str, Any], setor_id: str, erro: str) -> None:
        """Records a search that could not be done, so every process can tell its users why."""
        now = self._clock()
        await self._upsert(self._new_row(
            search_id, request, setor_id, now, llm_status="ready", excel_status="skipped", erro=erro, erro_at=now
        ))

    def _new_row(
        self, search_id: UUID, request: dict[str, Any], setor_id: str, now: datetime, **values: Any
    ) -> dict[str, Any]:
        """Every column of a fresh row: nothing found, nothing settled, unless `values` says so."""
        row: dict[str, Any] = {column: None for column in search_cache.c.keys()}
        row.update(
            search_id=str(search_id), created_at=now, updated_at=now, expires_at=now + self._ttl,
            request_json=_json(request), setor_id=setor_id, total_raw=0, total_filtrado=0,
            licitacoes_json="[]", ufs_com_falha_json="[]", avisos_json="[]",
            llm_status="processing", excel_status="processing", owner=LOCAL_OWNER,
        )
        row.update(values)
        return row

    async def save_resumo(self, search_id: UUID, resumo: ResumoLicitacoes) -> None:
        """The summary is ready; saving it again leaves the same row."""
        now = self._clock()
        await self._update(search_id, llm_status="ready", resumo_json=resumo.model_dump_json(), resumo_at=now)

    async def release(self, search_id: UUID) -> None:
        """Frees the id of a search taken by `begin` that will not run (its user had no search left)."""
        async with self._engine.begin() as conn:
            await conn.execute(sa.delete(search_cache).where(*_searching(search_id)))

    async def owned(self, owner: str, *, offset: int, limit: int) -> tuple[list[SearchListed], int]:
        """`owner`'s searches still kept, newest first (`limit` from `offset`), and how many there are."""
        c, now = search_cache.c, self._clock()
        mine = (c.owner == owner, c.expires_at > now)
        query = (sa.select(c.search_id, c.created_at, c.request_json, c.setor_id, c.total_filtrado, c.llm_status,
                           c.excel_status)
                 .where(*mine).order_by(c.created_at.desc(), c.search_id).offset(offset).limit(limit))
        async with self._engine.connect() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(search_cache).where(*mine))).scalar()
            rows = (await conn.execute(query)).mappings().all()
        listed = [
            SearchListed(
                search_id=UUID(row["search_id"]), created_at=as_utc(row["created_at"]),
                request=TypeAdapter(dict[str, Any]).validate_json(row["request_json"]), setor_id=row["setor_id"],
                total_filtrado=row["total_filtrado"], llm_status=row["llm_status"], excel_status=row["excel_status"],
            )
            for row in rows
        ]
        return listed, total or 0

    async def save_excel(
        self, search_id: UUID, *, status: str, url: str | None = None, error: str | None = None
    ) -> None:
        """The Excel report settled: ready with its link, failed with a readable error, or skipped."""
        now = self._clock()
        await self._update(search_id, excel_status=status, excel_url=url, excel_error=error, excel_at=now)

    async def claim(self, search_id: UUID, output: Output, owner: str, lease_seconds: float) -> bool:
        """Takes the production of `output` ("llm" or "excel") for `lease_seconds`.

        True when `owner` may go on: the output is still processing and nobody else holds a live
        lease. A producer run twice (a retried job) holds its own lease again.
        """
        now = self._clock()
        owner_col = search_cache.c[f"{output}_owner"]
        until_col = search_cache.c[f"{output}_lease_until"]
        statement = (
            sa.update(search_cache)
            .where(
                search_cache.c.search_id == str(search_id),
                search_cache.c[f"{output}_status"] == "processing",
                sa.or_(owner_col.is_(None), owner_col == owner, until_col < now),
            )
            .values({owner_col: owner, until_col: now + timedelta(seconds=lease_seconds)})
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(statement)
        return result.rowcount == 1

    async def mark_completed(self, search_id: UUID) -> bool:
        """True for the one caller that finds the search settled and not yet announced complete."""
        c = search_cache.c
        statement = (
            sa.update(search_cache)
            .where(
                c.search_id == str(search_id),
                c.completed_at.is_(None),
                c.llm_status != "processing",
                c.excel_status != "processing",
            )
            .values(completed_at=self._clock())
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(statement)
        return result.rowcount == 1

    async def stalled(self, older_than: timedelta, limit: int = 20) -> list[UUID]:
        """Searches still processing whose producers left no live lease for `older_than`."""
        now = self._clock()
        cutoff = now - older_than
        c = search_cache.c

        def abandoned(output: str) -> sa.ColumnElement[bool]:
            lease = c[f"{output}_lease_until"]
            return sa.and_(
                c[f"{output}_status"] == "processing",
                sa.or_(sa.and_(lease.is_(None), c.results_at < cutoff), lease < cutoff),
            )

        query = (
            sa.select(c.search_id)
            .where(c.expires_at > now, sa.or_(abandoned("llm"), abandoned("excel")))
            .order_by(c.results_at)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).scalars().all()
        return [UUID(row) for row in rows]

    async def _update(self, search_id: UUID, **values: Any) -> None:
        values["updated_at"] = self._clock()
        statement = sa.update(search_cache).where(search_cache.c.search_id == str(search_id)).values(**values)
        async with self._engine.begin() as conn:
            await conn.execute(statement)

    async def _upsert(self, row: dict[str, Any]) -> None:
        statement = self._insert(search_cache).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=[search_cache.c.search_id],
            set_={k: statement.excluded[k] for k in row if k not in _KEPT_ON_SAVE},
        )
        async with self._engine.begin() as conn:
            await conn.execute(statement)

    async def _row(self, search_id: UUID, columns: list[Any]) -> Any:
        query = sa.select(*columns).where(
            search_cache.c.search_id == str(search_id),
            search_cache.c.expires_at > self._clock(),
        )
        async with self._engine.connect() as conn:
            return (await conn.execute(query)).mappings().first()

    async def get_request(self, search_id: UUID) -> tuple[dict[str, Any], str] | None:
        """The search's request and sector id, or None when unknown or expired."""
        row = await self._row(search_id, [search_cache.c.request_json, search_cache.c.setor_id])
        if row is None:
            return None
        return TypeAdapter(dict[str, Any]).validate_json(row["request_json"]), row["setor_id"]

    async def get_outcome(self, search_id: UUID) -> SearchOutcome | None:
        """Where the search stands (a light read), or None when unknown or expired."""
        row = await self._row(search_id, _OUTCOME_COLUMNS)
        return _outcome(row) if row is not None else None

    async def get(self, search_id: UUID) -> StoredSearch | None:
        """The whole search, results included, or None when unknown or expired."""
        row = await self._row(search_id, list(search_cache.c))
        if row is None:
            return None
        return StoredSearch(
            outcome=_outcome(row),
            created_at=as_utc(row["created_at"]),
            request=TypeAdapter(dict[str, Any]).validate_json(row["request_json"]),
            setor_id=row["setor_id"],
            total_raw=row["total_raw"],
            licitacoes=LICITACOES.validate_json(row["licitacoes_json"]),
            ufs_com_falha=_FALHAS.validate_json(row["ufs_com_falha_json"]),
            avisos=_TEXTS.validate_json(row["avisos_json"]),
            fonte=row["fonte"],
            atualizado_em=as_utc(row["atualizado_em"]),
        )

    async def delete_expired(self) -> int:
        """Removes searches past their expiry; returns how many."""
        async with self._engine.begin() as conn:
            result = await conn.execute(sa.delete(search_cache).where(search_cache.c.expires_at <= self._clock()))
        return result.rowcount or 0


_KEPT_ON_SAVE = ("search_id", "created_at", "owner", "plano", "expires_at")  # set by `begin`


def _searching(search_id: UUID) -> tuple[sa.ColumnElement[bool], ...]:
    """The row of `search_id` while its search runs: begun, neither answered nor failed."""
    c = search_cache.c
    return c.search_id == str(search_id), c.results_at.is_(None), c.erro.is_(None)


def _outcome(row: Any) -> SearchOutcome:
    return SearchOutcome(
        search_id=UUID(row["search_id"]),
        total_filtrado=row["total_filtrado"],
        results_at=as_utc(row["results_at"]),
        llm_status=row["llm_status"],
        resumo=ResumoLicitacoes.model_validate_json(row["resumo_json"]) if row["resumo_json"] else None,
        resumo_at=as_utc(row["resumo_at"]),
        excel_status=row["excel_status"],
        excel_url=row["excel_url"],
        excel_error=row["excel_error"],
        excel_at=as_utc(row["excel_at"]),
        erro=row["erro"],
        erro_at=as_utc(row["erro_at"]),
        updated_at=as_utc(row["updated_at"]),
        owner=row["owner"],
        plano=row["plano"],
    )


def _json(value: Any) -> str:
    return TypeAdapter(Any).dump_json(value).decode()


def as_utc(moment: Any) -> Any:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets several web processes read while one writes; busy_timeout waits instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()
