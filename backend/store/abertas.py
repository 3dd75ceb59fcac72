"""What PNCP lists as open for proposals now (`/v1/contratacoes/proposta`), kept in the index.

A read of `/proposta` (one modalidade, every UF or one) lists the licitações taking proposals
now, whatever their publication date. Their content goes into `pncp_publicacao` like any
publication; which ones that read listed goes into `pncp_aberta`, under the read (`leitura`:
NATIONAL or the UF). A complete read replaces its list, so what closed early, was revoked or
suspended leaves it; what closes leaves it by its closing date (`data_encerramento`, Brasília
wall-clock time, as PNCP sends it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.store.publications import (
    _BATCH,
    Candidate,
    IndexedPublication,
    _of_ufs,
    pncp_aberta,
    pncp_aberta_leitura,
    pncp_publicacao,
    pncp_publicacao_setor,
    read_recorded,
)
from backend.store.search_cache import as_utc

Sources = Mapping[int, Sequence[str]]  # modalidade -> the reads (NATIONAL or UFs) whose lists a search uses


@dataclass(frozen=True, slots=True)
class OpenReadState:
    modalidade_id: int
    uf: str  # NATIONAL: every UF
    completo: bool
    lido_em: datetime | None
    registros: int = 0  # what its last read listed


class OpenTenderStore:
    """Reads and writes `pncp_aberta` and `pncp_aberta_leitura`, on the index's engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = (postgresql if engine.dialect.name == "postgresql" else sqlite).insert

    async def mark_read(self, modalidade_id: int, uf: str, *, started_at: datetime, complete: bool,
                        records: int, error: str | None = None) -> None:
        """Records a read begun at `started_at`; an incomplete one never undoes a complete one."""
        statement = self._insert(pncp_aberta_leitura).values(
            modalidade_id=modalidade_id, uf=uf, completo=complete, lido_em=started_at if complete else None,
            tentado_em=started_at, registros=records, erro=error,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[pncp_aberta_leitura.c.modalidade_id, pncp_aberta_leitura.c.uf],
            set_=read_recorded(statement.excluded, complete=complete))
        async with self._engine.begin() as conn:
            await conn.execute(statement)

    async def list_open(self, leitura: str, modalidade_id: int, rows: Sequence[IndexedPublication], *,
                        complete: bool) -> None:
        """What the read `leitura` of `modalidade_id` listed; a complete read's list replaces
        the previous one (an incomplete one only adds)."""
        members = {r.codigo_pncp: r for r in rows if r.data_encerramento is not None}
        values = [{"leitura": leitura, "codigo_pncp": r.codigo_pncp, "modalidade_id": r.modalidade_id, "uf": r.uf,
                   "data_encerramento": r.data_encerramento} for _, r in sorted(members.items())]
        a = pncp_aberta.c
        statement = self._insert(pncp_aberta)
        statement = statement.on_conflict_do_update(
            index_elements=[a.leitura, a.codigo_pncp],
            set_={"modalidade_id": statement.excluded.modalidade_id, "uf": statement.excluded.uf,
                  "data_encerramento": statement.excluded.data_encerramento})
        async with self._engine.begin() as conn:
            if complete:
                stored = set((await conn.execute(sa.select(a.codigo_pncp).where(
                    a.leitura == leitura, a.modalidade_id == modalidade_id))).scalars())
                gone = sorted(stored - members.keys())
                for start in range(0, len(gone), _BATCH):
                    await conn.execute(sa.delete(pncp_aberta).where(
                        a.leitura == leitura, a.codigo_pncp.in_(gone[start:start + _BATCH])))
            for start in range(0, len(values), _BATCH):
                await conn.execute(statement, values[start:start + _BATCH])

    async def read_states(self, modalidades: Sequence[int]) -> list[OpenReadState]:
        c = pncp_aberta_leitura.c
        query = sa.select(c.modalidade_id, c.uf, c.completo, c.lido_em, c.registros).where(
            c.modalidade_id.in_(list(modalidades)))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [OpenReadState(r.modalidade_id, r.uf, bool(r.completo), as_utc(r.lido_em), r.registros) for r in rows]

    async def counts_by_uf(self, ufs: Sequence[str], sources: Sources, now: datetime) -> dict[str, int]:
        """Licitações open after `now` (Brasília) in these lists, per UF (UFs without any left out)."""
        a = pncp_aberta.c
        query = sa.select(a.uf, sa.func.count()).where(*_open_in(sources, ufs, now)).group_by(a.uf)
        async with self._engine.connect() as conn:
            return {uf: int(n) for uf, n in (await conn.execute(query)).all()}

    async def candidates(self, setor_id: str | None, ufs: Sequence[str], sources: Sources,
                         now: datetime) -> list[Candidate]:
        """The stored `Licitacao` JSON of the open licitações in the sector, with its terms found
        in each and why it is there (`Candidate`); every open one, with neither, when `setor_id`
        is None."""
        a, p, s = pncp_aberta.c, pncp_publicacao.c, pncp_publicacao_setor.c
        joined = pncp_aberta.join(pncp_publicacao, a.codigo_pncp == p.codigo_pncp)
        if setor_id is None:
            query = sa.select(p.licitacao_json, sa.null(), sa.null()).select_from(joined)
        else:
            query = sa.select(p.licitacao_json, s.palavras, s.classificacao).select_from(joined.join(
                pncp_publicacao_setor, sa.and_(s.codigo_pncp == p.codigo_pncp, s.setor_id == setor_id)))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.where(*_open_in(sources, ufs, now)))).all()
        return [Candidate(*row) for row in rows]

    async def prune(self, now: datetime) -> int:
        """Forgets what closed; returns how many listings were removed."""
        async with self._engine.begin() as conn:
            result = await conn.execute(sa.delete(pncp_aberta).where(pncp_aberta.c.data_encerramento <= now))
        return result.rowcount or 0


def _open_in(sources: Sources, ufs: Sequence[str], now: datetime) -> list[sa.ColumnElement[bool]]:
    a = pncp_aberta.c
    chosen = [sa.and_(a.modalidade_id == modalidade, a.leitura.in_(list(reads)))
              for modalidade, reads in sources.items() if reads]
    return [sa.or_(*chosen) if chosen else sa.false(), _of_ufs(a.uf, ufs), a.data_encerramento > now]
