"""The AI arbiter's side of the index: the objetos its rules left in doubt and no verdict decided
yet, the verdicts (one per distinct normalised objeto, kept for good: every publication of that
text, now or later, gets it), and the tokens spent each Brasília day."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from backend.codes import Clock, system_clock, today_brasilia
from backend.store.publications import (
    PublicationStore,
    arbitro_gasto,
    arbitro_veredito,
    arbitro_veredito_setor,
    pncp_duvida,
    pncp_publicacao,
    pncp_publicacao_setor,
)


@dataclass(frozen=True, slots=True)
class Doubt:
    """An objeto some sector's rules doubt about, and the key its verdict is kept by."""

    chave: str
    objeto: str


@dataclass(frozen=True, slots=True)
class Spend:
    tokens: int = 0
    calls: int = 0


@dataclass(frozen=True, slots=True)
class ArbiterCounts:
    decided: int  # objetos with a verdict
    pending: int  # objetos in doubt without one
    by_ai: int  # publications in a sector by a verdict


class VerdictStore:
    def __init__(self, engine: AsyncEngine, publications: PublicationStore, clock: Clock = system_clock) -> None:
        self._engine = engine
        self._publications = publications
        self._clock = clock
        self._insert = (postgresql if engine.dialect.name == "postgresql" else sqlite).insert

    async def pending(self, limit: int, *, skip: Collection[str] = ()) -> list[Doubt]:
        """Objetos in doubt with no verdict yet, those of the latest days first (what searches
        read most), each once; `skip`: keys to leave out (the model failed on them lately)."""
        d, v, p = pncp_duvida.c, arbitro_veredito.c, pncp_publicacao.c
        query = (sa.select(d.chave, sa.func.min(d.codigo_pncp))
                 .select_from(pncp_duvida.outerjoin(arbitro_veredito, v.chave == d.chave))
                 .where(v.chave.is_(None))
                 .group_by(d.chave).order_by(sa.func.max(d.dia).desc(), d.chave).limit(limit + len(skip)))
        async with self._engine.connect() as conn:
            rows = [(chave, codigo) for chave, codigo in (await conn.execute(query)).all() if chave not in skip][:limit]
            if not rows:
                return []
            texts = dict((await conn.execute(sa.select(p.codigo_pncp, p.licitacao_json).where(
                p.codigo_pncp.in_([codigo for _, codigo in rows])))).all())
        return [Doubt(chave, orjson.loads(texts[codigo])["objeto"]) for chave, codigo in rows if codigo in texts]

    async def save(self, verdicts: Mapping[str, list[str]], *, model: str, tokens: int) -> int:
        """Keeps the verdicts (objeto key -> the sectors it belongs to) and puts every publication
        in doubt of those objetos in the sectors named; counts `tokens` as spent today (Brasília).
        Returns the publications put in a sector. A verdict already kept is kept as it was."""
        each = tokens // max(len(verdicts), 1)
        now = self._clock()
        async with self._engine.begin() as conn:
            await self._spend(conn, today_brasilia(self._clock), tokens)
            if not verdicts:
                return 0
            await conn.execute(self._insert(arbitro_veredito).on_conflict_do_nothing(), [
                {"chave": chave, "modelo": model[:128], "tokens": each, "decidido_em": now} for chave in verdicts])
            sectors = [{"chave": chave, "setor_id": setor} for chave, setores in verdicts.items() for setor in setores]
            if sectors:
                await conn.execute(self._insert(arbitro_veredito_setor).on_conflict_do_nothing(), sectors)
            applied = await conn.execute(self._publications.verdicts_applied(pncp_duvida.c.chave.in_(list(verdicts))))
        return applied.rowcount or 0

    async def spend(self, tokens: int) -> None:
        """Counts a call that decided nothing (it failed after the server billed it) as spent today."""
        async with self._engine.begin() as conn:
            await self._spend(conn, today_brasilia(self._clock), tokens)

    async def _spend(self, conn: AsyncConnection, day: date, tokens: int) -> None:
        statement = self._insert(arbitro_gasto).values(dia=day, tokens=tokens, chamadas=1)
        g = arbitro_gasto.c
        await conn.execute(statement.on_conflict_do_update(
            index_elements=[g.dia], set_={"tokens": g.tokens + statement.excluded.tokens, "chamadas": g.chamadas + 1}))

    async def spent(self, day: date) -> Spend:
        """Tokens and calls of the arbiter on a Brasília day, for the whole cluster."""
        g = arbitro_gasto.c
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(g.tokens, g.chamadas).where(g.dia == day))).first()
        return Spend(row.tokens, row.chamadas) if row else Spend()

    async def counts(self) -> ArbiterCounts:
        d, v, s = pncp_duvida.c, arbitro_veredito.c, pncp_publicacao_setor.c
        undecided = (sa.select(sa.func.count(sa.distinct(d.chave)))
                     .select_from(pncp_duvida.outerjoin(arbitro_veredito, v.chave == d.chave)).where(v.chave.is_(None)))
        async with self._engine.connect() as conn:
            decided = (await conn.execute(sa.select(sa.func.count()).select_from(arbitro_veredito))).scalar_one()
            pending = (await conn.execute(undecided)).scalar_one()
            by_ai = (await conn.execute(sa.select(sa.func.count()).select_from(pncp_publicacao_setor)
                                        .where(s.classificacao == "ia"))).scalar_one()
        return ArbiterCounts(int(decided), int(pending), int(by_ai))
