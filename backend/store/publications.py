"""The local index of PNCP: publications, the slices of PNCP they came from, and sector matches.

A slice is one modalidade on one day, for every UF at once (`uf == ""`) or for one UF. A slice
read completely (every page answered) is `completo`; a search may then answer from the rows
alone. Rows are facts and stay whatever the slice's state: a slice read in part still gave
them.

`pncp_publicacao_setor` holds, for each sector whose keywords an objeto mentions (exclusions
applied), the columns a search narrows by, so a search reads its candidates through one index
range and its cost grows with its results, not with the rows of its period.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.codes import UFS, Clock, system_clock
from backend.store.search_cache import as_utc, metadata

NATIONAL = ""  # the uf of a slice read for every UF at once
LAST_PASS = "ultima_passada"  # pncp_ingestao key: the ingestion's latest pass, as JSON
_BATCH = 500  # rows per statement: SQLite allows 32,766 parameters, PostgreSQL 65,535

pncp_publicacao = sa.Table(
    "pncp_publicacao",
    metadata,
    sa.Column("codigo_pncp", sa.String(64), primary_key=True),
    sa.Column("dia", sa.Date, nullable=False),
    sa.Column("modalidade_id", sa.Integer, nullable=False),
    sa.Column("uf", sa.String(2), nullable=False),
    sa.Column("situacao_id", sa.Integer, nullable=False),
    sa.Column("data_encerramento", sa.DateTime),
    sa.Column("valor_estimado", sa.Float),
    sa.Column("atualizado_pncp", sa.String(32), nullable=False),
    sa.Column("licitacao_json", sa.Text, nullable=False),
    sa.Column("escrito_em", sa.DateTime(timezone=True), nullable=False),
)

def _in_sector() -> list[sa.Column[Any]]:
    """A publication's place in a sector (a match or a doubt): the columns a search narrows by,
    and the sector's terms found (a JSON list)."""
    return [
        sa.Column("setor_id", sa.String(64), primary_key=True),
        sa.Column("codigo_pncp", sa.String(64), primary_key=True),
        sa.Column("dia", sa.Date, nullable=False),
        sa.Column("uf", sa.String(2), nullable=False),
        sa.Column("modalidade_id", sa.Integer, nullable=False),
        sa.Column("palavras", sa.Text, nullable=False),
    ]


pncp_publicacao_setor = sa.Table(
    "pncp_publicacao_setor",
    metadata,
    *_in_sector(),
    sa.Column("classificacao", sa.String(8), nullable=False, server_default="palavras"),  # or "ia"
)

# The sectors whose rules found a publication worth a closer reading (`backend.index.arbiter`),
# with the hash of its normalised objeto (`chave`): one verdict serves every publication of that text.
pncp_duvida = sa.Table("pncp_duvida", metadata, *_in_sector(), sa.Column("chave", sa.String(32), nullable=False))

# The arbiter's verdicts, one per distinct normalised objeto (`chave`), and the sectors each names.
arbitro_veredito = sa.Table(
    "arbitro_veredito",
    metadata,
    sa.Column("chave", sa.String(32), primary_key=True),
    sa.Column("modelo", sa.String(128), nullable=False),
    sa.Column("tokens", sa.Integer, nullable=False),
    sa.Column("decidido_em", sa.DateTime(timezone=True), nullable=False),
)

arbitro_veredito_setor = sa.Table(
    "arbitro_veredito_setor",
    metadata,
    sa.Column("chave", sa.String(32), primary_key=True),
    sa.Column("setor_id", sa.String(64), primary_key=True),
)

# Tokens the arbiter spent per Brasília day: its daily budget is the whole cluster's.
arbitro_gasto = sa.Table(
    "arbitro_gasto",
    metadata,
    sa.Column("dia", sa.Date, primary_key=True),
    sa.Column("tokens", sa.Integer, nullable=False),
    sa.Column("chamadas", sa.Integer, nullable=False),
)

pncp_setor_versao = sa.Table(
    "pncp_setor_versao",
    metadata,
    sa.Column("setor_id", sa.String(64), primary_key=True),
    sa.Column("assinatura", sa.String(64), nullable=False),
    sa.Column("atualizado_em", sa.DateTime(timezone=True), nullable=False),
)

def _read_state() -> list[sa.Column[Any]]:
    """How a read of PNCP went: complete or not, when its last complete read began, when it was
    last tried, the rows it gave, why it was not complete (`read_recorded` updates them)."""
    return [
        sa.Column("completo", sa.Boolean, nullable=False),
        sa.Column("lido_em", sa.DateTime(timezone=True)),
        sa.Column("tentado_em", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registros", sa.Integer, nullable=False),
        sa.Column("erro", sa.Text),
    ]


pncp_fatia = sa.Table(
    "pncp_fatia",
    metadata,
    sa.Column("modalidade_id", sa.Integer, primary_key=True),
    sa.Column("dia", sa.Date, primary_key=True),
    sa.Column("uf", sa.String(2), primary_key=True),
    *_read_state(),
)

# What one read of `/proposta` (open for proposals now) listed: `leitura` is the read, NATIONAL
# or a UF; the licitações themselves are rows of pncp_publicacao (see backend.store.abertas).
pncp_aberta = sa.Table(
    "pncp_aberta",
    metadata,
    sa.Column("leitura", sa.String(2), primary_key=True),
    sa.Column("codigo_pncp", sa.String(64), primary_key=True),
    sa.Column("modalidade_id", sa.Integer, nullable=False),
    sa.Column("uf", sa.String(2), nullable=False),
    sa.Column("data_encerramento", sa.DateTime, nullable=False),
)

pncp_aberta_leitura = sa.Table(
    "pncp_aberta_leitura",
    metadata,
    sa.Column("modalidade_id", sa.Integer, primary_key=True),
    sa.Column("uf", sa.String(2), primary_key=True),
    *_read_state(),
)

pncp_ingestao = sa.Table(
    "pncp_ingestao",
    metadata,
    sa.Column("chave", sa.String(64), primary_key=True),
    sa.Column("valor", sa.Text, nullable=False),
    sa.Column("atualizado_em", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True, slots=True)
class IndexedPublication:
    """One publication as the index stores it: the answer's `Licitacao` as JSON, and what
    searches narrow by, computed once when it is written."""

    codigo_pncp: str
    dia: date
    modalidade_id: int
    uf: str
    situacao_id: int
    data_encerramento: datetime | None
    valor_estimado: float | None
    atualizado_pncp: str  # PNCP's dataAtualizacaoGlobal: the latest copy wins
    licitacao_json: str
    setores: dict[str, list[str]]  # sector id -> its keywords the objeto has (the sectors it belongs to)
    chave: str = ""  # the hash of its normalised objeto: what the arbiter's verdicts are kept by
    duvidas: dict[str, list[str]] = field(default_factory=dict)  # sector id -> why its rules doubt


class Candidate(NamedTuple):
    """A publication a search reads from the index: its `Licitacao` JSON, the sector's terms
    found in it (a JSON list) and why it is in the sector; the last two None when the search
    reads every publication (the sector's matches are being recomputed)."""

    licitacao_json: str
    palavras: str | None
    classificacao: str | None


# A sector's reading of a stored publication: its terms found, its doubts, its objeto's `chave`.
Judged = tuple[list[str], list[str], str]


@dataclass(frozen=True, slots=True)
class Slice:
    modalidade_id: int
    dia: date
    uf: str = NATIONAL


@dataclass(frozen=True, slots=True)
class SliceState:
    slice: Slice
    completo: bool
    lido_em: datetime | None
    registros: int


class PublicationStore:
    """Reads and writes the index tables, on the engine of the search cache."""

    def __init__(self, engine: AsyncEngine, clock: Clock = system_clock) -> None:
        self._engine = engine
        self._clock = clock
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._insert = dialect.insert

    # --- writing ---------------------------------------------------------------------------

    async def write(self, publications: Iterable[IndexedPublication]) -> int:
        """Stores publications (a newer copy of a row replaces it; an older one is ignored) and
        the sector matches of the copies kept. Returns how many were given.

        Rows go in key order, so two writers of overlapping rows lock them in the same order
        (PostgreSQL would otherwise find a deadlock between them)."""
        latest: dict[str, IndexedPublication] = {}
        for publication in publications:
            kept = latest.get(publication.codigo_pncp)
            if kept is None or publication.atualizado_pncp >= kept.atualizado_pncp:
                latest[publication.codigo_pncp] = publication
        rows = [latest[codigo] for codigo in sorted(latest)]
        now = self._clock()
        p = pncp_publicacao.c
        for start in range(0, len(rows), _BATCH):
            batch = rows[start:start + _BATCH]
            async with self._engine.begin() as conn:
                await conn.execute(self._upsert_publications(), [_publication_row(pub, now) for pub in batch])
                stored = dict((await conn.execute(
                    sa.select(p.codigo_pncp, p.atualizado_pncp).where(p.codigo_pncp.in_([b.codigo_pncp for b in batch]))
                )).all())
                current = [pub for pub in batch if stored.get(pub.codigo_pncp) == pub.atualizado_pncp]
                if not current:
                    continue
                codes = [pub.codigo_pncp for pub in current]
                for table in (pncp_publicacao_setor, pncp_duvida):
                    await conn.execute(sa.delete(table).where(table.c.codigo_pncp.in_(codes)))
                matches = [_match_row(pub, setor, palavras)
                           for pub in current for setor, palavras in pub.setores.items()]
                if matches:
                    await conn.execute(sa.insert(pncp_publicacao_setor), matches)
                doubts = [_doubt_row(pub, setor, palavras)
                          for pub in current for setor, palavras in pub.duvidas.items()]
                if doubts:
                    await conn.execute(sa.insert(pncp_duvida), doubts)
                    await conn.execute(self.verdicts_applied(pncp_duvida.c.codigo_pncp.in_(codes)))
        return len(rows)

    def verdicts_applied(self, which: sa.ColumnElement[bool]) -> Any:
        """The statement that puts `which` doubtful publications in the sectors the arbiter's
        verdict on their objeto names (`classificacao` "ia"), where their terms did not already."""
        d, v = pncp_duvida.c, arbitro_veredito_setor.c
        chosen = (sa.select(d.setor_id, d.codigo_pncp, d.dia, d.uf, d.modalidade_id, sa.literal("[]"), sa.literal("ia"))
                  .select_from(pncp_duvida.join(arbitro_veredito_setor,
                                                sa.and_(v.chave == d.chave, v.setor_id == d.setor_id)))
                  .where(which))
        columns = ["setor_id", "codigo_pncp", "dia", "uf", "modalidade_id", "palavras", "classificacao"]
        return self._insert(pncp_publicacao_setor).from_select(columns, chosen).on_conflict_do_nothing()

    async def keep_only(self, modalidade_id: int, first: date, last: date, uf: str, codigos: set[str]) -> int:
        """After a complete read of these slices: removes the rows PNCP no longer lists in them."""
        p = pncp_publicacao.c
        where = [p.modalidade_id == modalidade_id, p.dia.between(first, last)]
        if uf != NATIONAL:
            where.append(p.uf == uf)
        async with self._engine.begin() as conn:
            stored = set((await conn.execute(sa.select(p.codigo_pncp).where(*where))).scalars())
            gone = sorted(stored - codigos)
            for start in range(0, len(gone), _BATCH):
                chunk = gone[start:start + _BATCH]
                for table in (pncp_publicacao_setor, pncp_duvida, pncp_publicacao):
                    await conn.execute(sa.delete(table).where(table.c.codigo_pncp.in_(chunk)))
        return len(gone)

    def _upsert_publications(self) -> Any:
        table = pncp_publicacao
        statement = self._insert(table)
        updated = {c.name: statement.excluded[c.name] for c in table.c if c.name != "codigo_pncp"}
        return statement.on_conflict_do_update(
            index_elements=[table.c.codigo_pncp],
            set_=updated,
            where=statement.excluded.atualizado_pncp >= table.c.atualizado_pncp,
        )

    async def mark_read(self, slices: Sequence[Slice], *, started_at: datetime, complete: bool,
                        records: int, error: str | None = None) -> None:
        """Records a read of these slices, begun at `started_at`. An incomplete read never undoes
        an earlier complete one."""
        each = records if len(slices) == 1 else 0  # a range read does not know its days' counts
        rows = [{
            "modalidade_id": s.modalidade_id, "dia": s.dia, "uf": s.uf, "completo": complete,
            "lido_em": started_at if complete else None, "tentado_em": started_at, "registros": each, "erro": error,
        } for s in slices]
        statement = self._insert(pncp_fatia)
        statement = statement.on_conflict_do_update(
            index_elements=[pncp_fatia.c.modalidade_id, pncp_fatia.c.dia, pncp_fatia.c.uf],
            set_=read_recorded(statement.excluded, complete=complete),
        )
        for start in range(0, len(rows), _BATCH):
            async with self._engine.begin() as conn:
                await conn.execute(statement, rows[start:start + _BATCH])

    # --- reading ---------------------------------------------------------------------------

    async def slice_states(self, modalidades: Iterable[int], first: date, last: date) -> list[SliceState]:
        """Every slice recorded for these modalidades and days, national and per UF."""
        c = pncp_fatia.c
        query = sa.select(c.modalidade_id, c.dia, c.uf, c.completo, c.lido_em, c.registros).where(
            c.modalidade_id.in_(list(modalidades)), c.dia.between(first, last)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [SliceState(Slice(r.modalidade_id, r.dia, r.uf), bool(r.completo), as_utc(r.lido_em), r.registros)
                for r in rows]

    async def candidates(self, setor_id: str | None, ufs: Sequence[str], modalidades: Sequence[int],
                         first: date, last: date) -> list[Candidate]:
        """The stored `Licitacao` JSON of the period's publications in the sector, with the
        sector's keywords found in each (a JSON list) and why it is there ("palavras" or "ia");
        every publication of the period, with neither, when `setor_id` is None."""
        p = pncp_publicacao.c
        if setor_id is None:
            query = sa.select(p.licitacao_json, sa.null(), sa.null()).where(
                p.dia.between(first, last), _of_ufs(p.uf, ufs), p.modalidade_id.in_(list(modalidades))
            )
        else:
            s = pncp_publicacao_setor.c
            query = (
                sa.select(p.licitacao_json, s.palavras, s.classificacao)
                .select_from(pncp_publicacao_setor.join(pncp_publicacao, s.codigo_pncp == p.codigo_pncp))
                .where(s.setor_id == setor_id, s.dia.between(first, last), _of_ufs(s.uf, ufs),
                       s.modalidade_id.in_(list(modalidades)))
            )
        async with self._engine.connect() as conn:
            return [Candidate(*row) for row in (await conn.execute(query)).all()]

    async def counts_by_uf(self, ufs: Sequence[str], modalidades: Sequence[int], first: date,
                           last: date) -> dict[str, int]:
        """Publications of the period, UFs and modalidades (what a live read would have given),
        per UF (UFs without publications left out)."""
        p = pncp_publicacao.c
        query = (sa.select(p.uf, sa.func.count())
                 .where(p.dia.between(first, last), _of_ufs(p.uf, ufs), p.modalidade_id.in_(list(modalidades)))
                 .group_by(p.uf))
        async with self._engine.connect() as conn:
            return {uf: int(n) for uf, n in (await conn.execute(query)).all()}

    async def records(self) -> int:
        """Publications in the index."""
        async with self._engine.connect() as conn:
            return int((await conn.execute(sa.select(sa.func.count()).select_from(pncp_publicacao))).scalar_one())

    async def volumes(self, first: date, last: date) -> dict[tuple[str, int], int]:
        """Publications per (uf, modalidade) in the period: what plans the cheapest reads."""
        p = pncp_publicacao.c
        query = (sa.select(p.uf, p.modalidade_id, sa.func.count())
                 .where(p.dia.between(first, last)).group_by(p.uf, p.modalidade_id))
        async with self._engine.connect() as conn:
            return {(r[0], r[1]): int(r[2]) for r in (await conn.execute(query)).all()}

    # --- sectors ---------------------------------------------------------------------------

    async def sector_signatures(self) -> dict[str, str]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(sa.select(pncp_setor_versao.c.setor_id, pncp_setor_versao.c.assinatura))).all()
        return {r[0]: r[1] for r in rows}

    async def rematch_sector(self, setor_id: str, signature: str, read: Callable[[list[str]], Awaitable[list[Judged]]],
                             *, batch: int = 2_000) -> int:
        """Recomputes one sector's matches and doubts over every stored publication (its terms
        changed), without asking PNCP again, and applies the arbiter's verdicts to the doubts.
        `read` gives, for a batch of stored `Licitacao` JSON texts, the sector's reading of each:
        (its terms found, its doubts). Returns the matches made by terms."""
        p = pncp_publicacao.c
        async with self._engine.begin() as conn:  # without a signature, searches read every row meanwhile
            await conn.execute(sa.delete(pncp_setor_versao).where(pncp_setor_versao.c.setor_id == setor_id))
            for table in (pncp_publicacao_setor, pncp_duvida):
                await conn.execute(sa.delete(table).where(table.c.setor_id == setor_id))
        made, after = 0, ""
        while True:
            query = (sa.select(p.codigo_pncp, p.dia, p.uf, p.modalidade_id, p.licitacao_json)
                     .where(p.codigo_pncp > after).order_by(p.codigo_pncp).limit(batch))
            async with self._engine.connect() as conn:
                rows = (await conn.execute(query)).all()
            if not rows:
                break
            judged = await read([r.licitacao_json for r in rows])
            where = {"setor_id": setor_id}
            matches = [{**where, **_placed_row(r), "palavras": _words(found)}
                       for r, (found, _, _) in zip(rows, judged, strict=True) if found]
            doubts = [{**where, **_placed_row(r), "chave": chave, "palavras": _words(doubtful)}
                      for r, (found, doubtful, chave) in zip(rows, judged, strict=True) if doubtful and not found]
            async with self._engine.begin() as conn:  # a write meanwhile may have matched some already
                if matches:
                    await conn.execute(self._insert(pncp_publicacao_setor).on_conflict_do_nothing(), matches)
                if doubts:
                    await conn.execute(self._insert(pncp_duvida).on_conflict_do_nothing(), doubts)
                    await conn.execute(self.verdicts_applied(sa.and_(
                        pncp_duvida.c.setor_id == setor_id,
                        pncp_duvida.c.codigo_pncp.in_([d["codigo_pncp"] for d in doubts]))))
            made += len(matches)
            after = rows[-1].codigo_pncp
        await self.set_sector_signature(setor_id, signature)
        return made

    async def set_sector_signature(self, setor_id: str, signature: str) -> None:
        statement = self._insert(pncp_setor_versao).values(
            setor_id=setor_id, assinatura=signature, atualizado_em=self._clock()
        )
        statement = statement.on_conflict_do_update(
            index_elements=[pncp_setor_versao.c.setor_id],
            set_={"assinatura": statement.excluded.assinatura, "atualizado_em": statement.excluded.atualizado_em},
        )
        async with self._engine.begin() as conn:
            await conn.execute(statement)

    # --- upkeep ----------------------------------------------------------------------------

    async def prune(self, *, before: date, read_before: datetime, now: datetime) -> int:
        """Removes publications of days before `before` that no slice read since `read_before`
        still holds (a search that read a day outside the window keeps it for a while) and that
        are not open for proposals (`/proposta` listed them, closing after `now`, Brasília), and
        the slices they came from. Returns the publications removed."""
        f, p, a = pncp_fatia.c, pncp_publicacao.c, pncp_aberta.c
        recent = sa.or_(f.lido_em >= read_before, f.tentado_em >= read_before)  # read, or being read
        kept_days = sa.select(f.dia).where(f.dia < before, recent)
        open_now = sa.select(a.codigo_pncp).where(a.data_encerramento > now)
        async with self._engine.begin() as conn:
            old = sa.and_(p.dia < before, p.dia.not_in(kept_days), p.codigo_pncp.not_in(open_now))
            for table in (pncp_publicacao_setor, pncp_duvida):
                c = table.c
                await conn.execute(sa.delete(table).where(
                    c.dia < before, c.dia.not_in(kept_days), c.codigo_pncp.not_in(open_now)))
            removed = (await conn.execute(sa.delete(pncp_publicacao).where(old))).rowcount or 0
            await conn.execute(sa.delete(pncp_fatia).where(f.dia < before, sa.not_(f.dia.in_(kept_days))))
        return removed

    async def last_pass(self) -> dict[str, Any] | None:
        """What the ingestion's latest pass did (written by `backend.index.ingestion`)."""
        raw = await self.get_state(LAST_PASS)
        return json.loads(raw) if raw else None

    async def get_state(self, chave: str) -> str | None:
        async with self._engine.connect() as conn:
            return (await conn.execute(
                sa.select(pncp_ingestao.c.valor).where(pncp_ingestao.c.chave == chave))).scalar_one_or_none()

    async def set_state(self, chave: str, valor: str) -> None:
        statement = self._insert(pncp_ingestao).values(chave=chave, valor=valor, atualizado_em=self._clock())
        statement = statement.on_conflict_do_update(
            index_elements=[pncp_ingestao.c.chave],
            set_={"valor": statement.excluded.valor, "atualizado_em": statement.excluded.atualizado_em},
        )
        async with self._engine.begin() as conn:
            await conn.execute(statement)


def read_recorded(excluded: Any, *, complete: bool) -> dict[str, Any]:
    """What a new read changes in the stored state of a read (a slice, a list of what is open):
    a complete one replaces it; an incomplete one only says it was tried, and why it failed."""
    if complete:
        return {"completo": True, "lido_em": excluded.lido_em, "tentado_em": excluded.tentado_em,
                "registros": excluded.registros, "erro": None}
    return {"tentado_em": excluded.tentado_em, "erro": excluded.erro}


def _of_ufs(column: sa.ColumnElement[str], ufs: Sequence[str]) -> sa.ColumnElement[bool]:
    """`column IN ufs`; for every UF, the cheaper "has a UF" (SQLite tests a 27-item IN on each row:
    4x the time of the whole count)."""
    if set(ufs) >= UFS.keys():
        return column != NATIONAL
    return column.in_(list(ufs))


def _publication_row(p: IndexedPublication, now: datetime) -> dict[str, Any]:
    return {
        "codigo_pncp": p.codigo_pncp, "dia": p.dia, "modalidade_id": p.modalidade_id, "uf": p.uf,
        "situacao_id": p.situacao_id, "data_encerramento": p.data_encerramento, "valor_estimado": p.valor_estimado,
        "atualizado_pncp": p.atualizado_pncp, "licitacao_json": p.licitacao_json, "escrito_em": now,
    }


def _placed_row(p: IndexedPublication | sa.Row[Any]) -> dict[str, Any]:
    """What a match or a doubt is narrowed by, as the publication has it."""
    return {"codigo_pncp": p.codigo_pncp, "dia": p.dia, "uf": p.uf, "modalidade_id": p.modalidade_id}


def _words(words: list[str]) -> str:
    return json.dumps(words, ensure_ascii=False)


def _match_row(p: IndexedPublication, setor_id: str, palavras: list[str]) -> dict[str, Any]:
    return {"setor_id": setor_id, **_placed_row(p), "palavras": _words(palavras)}


def _doubt_row(p: IndexedPublication, setor_id: str, palavras: list[str]) -> dict[str, Any]:
    return {"setor_id": setor_id, **_placed_row(p), "chave": p.chave, "palavras": _words(palavras)}
