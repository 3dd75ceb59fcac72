"""Plans a user can have (`plans.yaml`), what each allows, and the month a user's searches count in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

PLANS_FILE = Path(__file__).with_name("plans.yaml")
FREE = "free"  # the plan of users without one, or with one this service does not know


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    nome: str
    buscas_mes: int
    excel: bool
    max_ufs: int
    max_dias: int
    buscas_simultaneas: int
    historico_dias: int

    @property
    def historico(self) -> timedelta:
        """How long its searches stay in "Minhas buscas"."""
        return timedelta(days=self.historico_dias)


_FIELDS = {f.name: f.type for f in fields(Plan)}


def load_plans(path: Path = PLANS_FILE) -> dict[str, Plan]:
    """Plans by id; a file without a `free` plan, or with a plan badly written, is refused."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    plans: dict[str, Plan] = {}
    for entry in raw.get("planos") or ():
        plan = _plan(entry, path.name)
        if plan.id in plans:
            raise ValueError(f"{path.name}: plan {plan.id!r} is listed twice")
        plans[plan.id] = plan
    if FREE not in plans:
        raise ValueError(f"{path.name}: no plan {FREE!r}, the plan of users without one")
    return plans


def _plan(entry: Mapping[str, Any], source: str) -> Plan:
    missing = set(_FIELDS) - set(entry)
    unknown = set(entry) - set(_FIELDS)
    if missing or unknown:
        raise ValueError(f"{source}: plan {entry.get('id')!r}: missing {sorted(missing)}, unknown {sorted(unknown)}")
    for name, kind in _FIELDS.items():
        value = entry[name]
        if kind == "int" and (type(value) is not int or value < 1):
            raise ValueError(f"{source}: plan {entry['id']!r}: {name} must be a whole number of at least 1")
        if kind == "bool" and type(value) is not bool:
            raise ValueError(f"{source}: plan {entry['id']!r}: {name} must be true or false")
    return Plan(**{name: entry[name] if _FIELDS[name] != "str" else str(entry[name]) for name in _FIELDS})


def plan_named(plans: Mapping[str, Plan], plan_id: object) -> Plan:
    """The plan `plan_id` names; `free` when it names none this service knows."""
    return plans.get(plan_id, plans[FREE]) if isinstance(plan_id, str) else plans[FREE]


def plan_of(plans: Mapping[str, Plan], app_metadata: Mapping[str, Any] | None) -> Plan:
    """The plan an access token's `app_metadata` names (`plan_named`)."""
    return plan_named(plans, (app_metadata or {}).get("plan"))


def month_of(day: date) -> tuple[date, date]:
    """The calendar month a Brasília day counts in: its first day, and the day the quota renews."""
    first = day.replace(day=1)
    renews = first.replace(year=first.year + 1, month=1) if first.month == 12 else first.replace(month=first.month + 1)
    return first, renews


@dataclass(frozen=True, slots=True)
class Quota:
    """A user's searches this month under their plan."""

    plan: Plan
    usadas: int
    renova_em: date

    @classmethod
    def on(cls, day: date, plan: Plan, usadas: int) -> Quota:
        """The quota of the month of the Brasília `day`."""
        return cls(plan, usadas, month_of(day)[1])

    @property
    def restantes(self) -> int:
        return max(0, self.plan.buscas_mes - self.usadas)

    def info(self) -> dict[str, Any]:
        """`quota_info` of the report job."""
        return {"plano": self.plan.id, "excel": self.plan.excel, "usadas": self.usadas,
                "restantes": self.restantes, "renova_em": self.renova_em.isoformat()}

    def exhausted(self) -> str:
        """What a person is told when no search is left this month."""
        return (f"Você usou as {self.plan.buscas_mes} buscas do plano {self.plan.nome} neste mês; "
                f"elas renovam em {self.renova_em:%d/%m/%Y}.")


def beyond_plan(plan: Plan, ufs: int, days: int | None) -> str | None:
    """Why the plan does not allow a search of `ufs` UFs over `days` days (None: any period, as
    "abertas agora"), or None when it does."""
    if ufs > plan.max_ufs:
        return f"O plano {plan.nome} permite até {plan.max_ufs} UFs por busca; esta pede {ufs}."
    if days is not None and days > plan.max_dias:
        return f"O plano {plan.nome} permite períodos de até {plan.max_dias} dias; este tem {days}."
    return None


EXCEL_NOT_IN_PLAN = "A planilha faz parte do plano Pro."
