import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
import yaml

from backend.domain.plans import FREE, Quota, beyond_plan, load_plans, month_of, plan_of

PLANS = load_plans()


def test_the_shipped_plans() -> None:
    assert {"free", "trial", "pro"} <= set(PLANS)
    free, pro = PLANS["free"], PLANS["pro"]
    assert (free.nome, free.buscas_mes, free.excel, free.historico_dias) == ("Gratuito", 10, False, 7)
    assert (pro.buscas_mes, pro.excel) == (1000, True)


@pytest.mark.parametrize(("app_metadata", "plan"), [
    ({"plan": "pro"}, "pro"),
    ({"plan": "trial", "provider": "email"}, "trial"),
    ({"plan": "enterprise"}, FREE),  # unknown here
    ({"plan": 3}, FREE),
    ({}, FREE),
    (None, FREE),
])
def test_a_users_plan_is_the_tokens_or_free(app_metadata: dict | None, plan: str) -> None:
    assert plan_of(PLANS, app_metadata).id == plan


@pytest.mark.parametrize(("day", "first", "renews"), [
    (date(2026, 12, 7), date(2026, 12, 1), date(2027, 1, 1)),
    (date(2026, 12, 31), date(2026, 12, 1), date(2027, 1, 1)),
    (date(2027, 1, 1), date(2027, 1, 1), date(2027, 2, 1)),
    (date(2028, 2, 29), date(2028, 2, 1), date(2028, 3, 1)),
])
def test_the_month_a_search_counts_in(day: date, first: date, renews: date) -> None:
    assert month_of(day) == (first, renews)


def test_quota_left_and_what_a_person_is_told() -> None:
    quota = Quota(PLANS["free"], usadas=10, renova_em=date(2027, 1, 1))
    assert quota.restantes == 0
    assert quota.exhausted() == "Você usou as 10 buscas do plano Gratuito neste mês; elas renovam em 01/01/2027."
    assert Quota(PLANS["pro"], usadas=3, renova_em=date(2027, 1, 1)).info() == {
        "plano": "pro", "excel": True, "usadas": 3, "restantes": 997, "renova_em": "2027-01-01"}
    assert Quota(PLANS["free"], usadas=12, renova_em=date(2027, 1, 1)).restantes == 0  # never below zero


def test_what_a_plan_does_not_allow() -> None:
    free = PLANS["free"]
    assert beyond_plan(free, ufs=27, days=30) is None
    assert beyond_plan(free, ufs=27, days=None) is None  # "abertas agora": no period
    assert beyond_plan(free, ufs=27, days=31) == "O plano Gratuito permite períodos de até 30 dias; este tem 31."
    small = replace(free, max_ufs=5)
    assert beyond_plan(small, ufs=6, days=10) == "O plano Gratuito permite até 5 UFs por busca; esta pede 6."


GOOD = {"id": FREE, "nome": "Gratuito", "buscas_mes": 10, "excel": False, "max_ufs": 27, "max_dias": 30,
        "buscas_simultaneas": 1, "historico_dias": 7}


@pytest.mark.parametrize(("plans", "error"), [
    ([{**GOOD, "id": "pro"}], "no plan 'free'"),
    ([GOOD, GOOD], "plan 'free' is listed twice"),
    ([{**GOOD, "buscas_mes": 0}], "buscas_mes must be a whole number"),
    ([{**GOOD, "excel": "no"}], "excel must be true or false"),
    ([{k: v for k, v in GOOD.items() if k != "historico_dias"}], "missing ['historico_dias']"),
    ([{**GOOD, "cor": "azul"}], "unknown ['cor']"),
])
def test_a_badly_written_plans_file_is_refused(tmp_path: Path, plans: list[dict], error: str) -> None:
    path = tmp_path / "plans.yaml"
    path.write_text(yaml.safe_dump({"planos": plans}), encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(error)):
        load_plans(path)


def test_a_well_written_plans_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "plans.yaml"
    path.write_text(yaml.safe_dump({"planos": [GOOD]}), encoding="utf-8")
    assert load_plans(path)[FREE].buscas_mes == 10
