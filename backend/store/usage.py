"""Searches counted against each user's monthly quota (migration 0006), SQLite and PostgreSQL alike.

A search counts once, when it is accepted: `take` checks the quota and counts in one
conditional UPDATE, so of twenty requests at once with five searches left exactly five pass,
whichever process serves them. `give_back` undoes the count of a search that failed for the
service's fault.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.codes import Clock, system_clock
from backend.domain.plans import Plan, month_of, plan_named
from backend.store.search_cache import metadata

uso_mensal = sa.Table(
    "uso_mensal",
    metadata,
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("mes", sa.Date, primary_key=True),  # the first day of the Brasília month
    sa.Column("plano", sa.String(32), nullable=False),  # the plan of the user's last search
    sa.Column("buscas", sa.Integer, nullable=False),
)

busca_contada = sa.Table(
    "busca_contada",
    metadata,
    sa.Column("search_id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("plano", sa.String(32), nullable=False),
    sa.Column("mes", sa.Date, nullable=False),
    sa.Column("dia", sa.Date, nullable=False, index=True),
    sa.Column("contada_em", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True, slots=True)
class UsageToday:
    """Searches counted by plan, on a Brasília day and in its month, and users with none left."""

    hoje: dict[str, int]
    mes: dict[str, int]
    no_limite: int


class Usage:
    def __init__(self, engine: AsyncEngine, *, clock: Clock = system_clock) -> None:
        self._engine = engine
        self._clock = clock
        self._insert = (postgresql if engine.dialect.name == "postgresql" else sqlite).insert

    async def used(self, user_id: str, day: date) -> int:
        """The searches `user_id` made in the month of `day`."""
        c = uso_mensal.c
        query = sa.select(c.buscas).where(c.user_id == user_id, c.mes == month_of(day)[0])
        async with self._engine.connect() as conn:
            return (await conn.execute(query)).scalar() or 0

    async def take(self, search_id: UUID, user_id: str, plan: Plan, day: date) -> int | None:
        """Counts the search `search_id` in the month of `day`: the searches used, this one
        included, or None when the plan has none left (nothing counted)."""
        mes = month_of(day)[0]
        c = uso_mensal.c
        first = self._insert(uso_mensal).values(user_id=user_id, mes=mes, plano=plan.id, buscas=0)
        count = (
            sa.update(uso_mensal)
            .where(c.user_id == user_id, c.mes == mes, c.buscas < plan.buscas_mes)
            .values(buscas=c.buscas + 1, plano=plan.id)
            .returning(c.buscas)
        )
        record = self._insert(busca_contada).values(
            search_id=str(search_id), user_id=user_id, plano=plan.id, mes=mes, dia=day, contada_em=self._clock()
        )
        record = record.on_conflict_do_update(  # an id used again once its search expired
            index_elements=[busca_contada.c.search_id],
            set_={name: record.excluded[name] for name in ("user_id", "plano", "mes", "dia", "contada_em")},
        )
        async with self._engine.begin() as conn:
            # Writes first: SQLite takes its write lock here, so the check below sees every count before it.
            await conn.execute(first.on_conflict_do_nothing(index_elements=[c.user_id, c.mes]))
            used = (await conn.execute(count)).scalar()
            if used is None:
                return None
            await conn.execute(record)
        return used

    async def give_back(self, search_id: UUID) -> bool:
        """Uncounts a search that failed for the service's fault; True when it was counted."""
        b, c = busca_contada.c, uso_mensal.c
        async with self._engine.begin() as conn:
            row = (await conn.execute(
                sa.delete(busca_contada).where(b.search_id == str(search_id)).returning(b.user_id, b.mes)
            )).first()
            if row is None:
                return False
            await conn.execute(
                sa.update(uso_mensal).where(c.user_id == row.user_id, c.mes == row.mes, c.buscas > 0)
                .values(buscas=c.buscas - 1)
            )
        return True

    async def today(self, day: date, plans: Mapping[str, Plan]) -> UsageToday:
        """What /ops and /metrics show of the quota: searches by plan on `day` and in its month,
        and how many users used every search of their plan this month."""
        b, c = busca_contada.c, uso_mensal.c
        mes = month_of(day)[0]
        by_plan = sa.select(b.plano, b.dia, sa.func.count()).where(b.mes == mes).group_by(b.plano, b.dia)
        async with self._engine.connect() as conn:
            counted = (await conn.execute(by_plan)).all()
            users = (await conn.execute(sa.select(c.plano, c.buscas).where(c.mes == mes))).all()
        hoje: Counter[str] = Counter()
        mes_: Counter[str] = Counter()
        for plano, dia, n in counted:
            mes_[plano] += n
            if dia == day:
                hoje[plano] += n
        no_limite = sum(1 for plano, buscas in users if buscas >= plan_named(plans, plano).buscas_mes)
        return UsageToday(hoje=dict(hoje), mes=dict(mes_), no_limite=no_limite)
