"""Unit tests of the pure filtering and ranking functions."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from backend.domain.filtering import (
    Criteria,
    Known,
    filter_and_rank,
    is_open,
    match_known,
    match_licitacao,
    rank,
    value_in_range,
)
from backend.domain.matching import SectorLists, SectorRules, TermMatcher, prepare, sector_keywords, split_terms
from backend.schemas import Licitacao

NOW = datetime(2025, 3, 10, 12, 0)  # Brasília wall-clock time, naive like PNCP's dates


def make_licitacao(
    objeto: str = "Aquisição de uniformes escolares",
    *,
    codigo: str = "12345678000190-1-000001/2025",
    uf: str = "SP",
    modalidade_id: int = 6,
    valor: float | None = 100_000.0,
    publicacao: datetime | None = datetime(2025, 3, 1, 9, 0),
    encerramento: datetime | None = datetime(2025, 3, 20, 10, 0),
    situacao_id: int = 1,
    relevancia: float = 0.0,
) -> Licitacao:
    return Licitacao(
        codigo_pncp=codigo,
        objeto=objeto,
        orgao="Município de Exemplo",
        uf=uf,
        municipio="Exemplo",
        valor_estimado=valor,
        modalidade="Pregão - Eletrônico",
        modalidade_id=modalidade_id,
        data_publicacao=publicacao,
        data_encerramento=encerramento,
        situacao="Divulgada no PNCP" if situacao_id == 1 else "Revogada",
        situacao_id=situacao_id,
        link="https://pncp.gov.br/app/editais/12345678000190/2025/1",
        relevancia=relevancia,
    )


def make_criteria(**overrides: object) -> Criteria:
    values: dict[str, object] = {
        "ufs": frozenset({"SP", "RJ"}),
        "modalidades": frozenset({6, 7}),
        "data_inicial": date(2025, 3, 1),
        "data_final": date(2025, 3, 31),
        "now": NOW,
    }
    values.update(overrides)
    return Criteria(**values)  # type: ignore[arg-type]


RULES = SectorRules.build(SectorLists(
    palavras_chave=("uniforme", "camiseta", "meia", "jaleco"),
    exclusoes=("meia-entrada", "meio-fio"),
))


# --- value_in_range --------------------------------------------------------------------------


def test_confidential_value_passes_any_range() -> None:
    assert value_in_range(None, 1_000, 2_000)
    assert value_in_range(None, None, None)


@pytest.mark.parametrize(
    ("valor", "minimo", "maximo", "expected"),
    [
        (1_000.0, 1_000, 2_000, True),  # bounds are inclusive
        (2_000.0, 1_000, 2_000, True),
        (999.99, 1_000, 2_000, False),
        (2_000.01, 1_000, 2_000, False),
        (5.0, None, 10, True),
        (50.0, None, 10, False),
        (5.0, 10, None, False),
        (1e9, 10, None, True),
        (0.0, None, None, True),
    ],
)
def test_value_in_range(valor: float, minimo: float | None, maximo: float | None, expected: bool) -> None:
    assert value_in_range(valor, minimo, maximo) is expected


# --- is_open ---------------------------------------------------------------------------------


def test_open_when_published_and_closing_later_in_brasilia_time() -> None:
    assert is_open(make_licitacao(encerramento=datetime(2025, 3, 10, 12, 1)), NOW)


@pytest.mark.parametrize("situacao_id", [2, 3, 4])
def test_revoked_annulled_or_suspended_is_closed(situacao_id: int) -> None:
    assert not is_open(make_licitacao(situacao_id=situacao_id, encerramento=datetime(2030, 1, 1)), NOW)


def test_without_closing_date_is_closed() -> None:
    assert not is_open(make_licitacao(encerramento=None), NOW)


def test_closing_now_or_earlier_is_closed() -> None:
    assert not is_open(make_licitacao(encerramento=NOW), NOW)
    assert not is_open(make_licitacao(encerramento=datetime(2025, 3, 10, 11, 59)), NOW)


def test_closing_date_is_compared_as_naive_brasilia_wall_clock() -> None:
    # 14:00 in Brasília is 17:00 UTC: at 15:00 Brasília it is over, whatever the UTC reading.
    lic = make_licitacao(encerramento=datetime(2025, 3, 10, 14, 0))
    assert is_open(lic, datetime(2025, 3, 10, 13, 59))
    assert not is_open(lic, datetime(2025, 3, 10, 15, 0))


# --- match_licitacao -------------------------------------------------------------------------


def test_match_records_keywords_and_relevance() -> None:
    lic = make_licitacao("Aquisição de UNIFORMES: camisetas e meias")
    matched = match_licitacao(lic, RULES, make_criteria())
    assert matched is not None
    assert matched.palavras_encontradas == ["uniforme", "camiseta", "meia"]
    assert matched.relevancia == 3.0
    assert lic.palavras_encontradas == []  # the input is left untouched


def test_no_keyword_no_match() -> None:
    assert match_licitacao(make_licitacao("Pavimentação asfáltica"), RULES, make_criteria()) is None


def test_exclusion_wins_over_keywords() -> None:
    lic = make_licitacao("Venda de meia-entrada e camisetas do evento")
    assert match_licitacao(lic, RULES, make_criteria()) is None


def test_user_terms_must_match_together_with_the_sector() -> None:
    criteria = make_criteria(terms=TermMatcher.build(split_terms("avental, touca")))
    both = match_licitacao(make_licitacao("Aquisição de uniformes, camisetas e aventais"), RULES, criteria)
    assert both is not None
    assert both.palavras_encontradas == ["uniforme", "camiseta", "avental"]
    assert both.relevancia == 2 + 2 * 1  # a user term weighs twice a sector keyword
    only_sector = make_licitacao("Aquisição de uniformes e camisetas")
    assert match_licitacao(only_sector, RULES, criteria) is None
    only_term = make_licitacao("Aquisição de aventais de chumbo")
    assert match_licitacao(only_term, RULES, criteria) is None


def test_uf_and_modalidade_filters() -> None:
    criteria = make_criteria()
    assert match_licitacao(make_licitacao(uf="MG"), RULES, criteria) is None
    assert match_licitacao(make_licitacao(modalidade_id=8), RULES, criteria) is None
    assert match_licitacao(make_licitacao(uf="RJ", modalidade_id=7), RULES, criteria) is not None


def test_publication_date_filter_is_inclusive_and_ignores_missing_dates() -> None:
    criteria = make_criteria()
    assert match_licitacao(make_licitacao(publicacao=datetime(2025, 2, 28, 23, 59)), RULES, criteria) is None
    assert match_licitacao(make_licitacao(publicacao=datetime(2025, 4, 1, 0, 0)), RULES, criteria) is None
    assert match_licitacao(make_licitacao(publicacao=datetime(2025, 3, 1, 0, 0)), RULES, criteria) is not None
    assert match_licitacao(make_licitacao(publicacao=datetime(2025, 3, 31, 23, 59)), RULES, criteria) is not None
    assert match_licitacao(make_licitacao(publicacao=None), RULES, criteria) is not None


def test_value_filter_keeps_confidential_budgets() -> None:
    criteria = make_criteria(valor_minimo=50_000, valor_maximo=200_000)
    assert match_licitacao(make_licitacao(valor=10_000), RULES, criteria) is None
    assert match_licitacao(make_licitacao(valor=100_000), RULES, criteria) is not None
    assert match_licitacao(make_licitacao(valor=None), RULES, criteria) is not None


def test_somente_abertas_drops_closed_records_unless_disabled() -> None:
    closed = make_licitacao(encerramento=datetime(2025, 3, 9, 18, 0))
    assert match_licitacao(closed, RULES, make_criteria()) is None
    assert match_licitacao(closed, RULES, make_criteria(somente_abertas=False)) is not None


# --- rank ------------------------------------------------------------------------------------


def test_rank_by_relevance_then_value_then_nearest_closing_date() -> None:
    a = make_licitacao(codigo="a", relevancia=1, valor=900_000)
    b = make_licitacao(codigo="b", relevancia=3, valor=10)
    c = make_licitacao(codigo="c", relevancia=1, valor=None, encerramento=datetime(2025, 3, 11))
    d = make_licitacao(codigo="d", relevancia=1, valor=None, encerramento=datetime(2025, 3, 12))
    e = make_licitacao(codigo="e", relevancia=1, valor=None, encerramento=None)
    f = make_licitacao(codigo="f", relevancia=1, valor=1_000)
    ranked = rank([e, d, a, c, f, b])
    assert [lic.codigo_pncp for lic in ranked] == ["b", "a", "f", "c", "d", "e"]


def test_filter_and_rank_keeps_matches_best_first() -> None:
    records = [
        make_licitacao("Aquisição de camisetas", codigo="one", valor=5_000),
        make_licitacao("Pavimentação de vias", codigo="none"),
        make_licitacao("Uniformes: camisetas, meias e jalecos", codigo="many", valor=1_000),
        make_licitacao("Aquisição de uniformes", codigo="big", valor=90_000),
    ]
    ranked = filter_and_rank(records, RULES, make_criteria())
    assert [lic.codigo_pncp for lic in ranked] == ["many", "big", "one"]
    assert ranked[0].relevancia == 4.0


@pytest.mark.parametrize("criteria", [
    make_criteria(),
    make_criteria(terms=TermMatcher.build(["escolar"])),
    make_criteria(somente_abertas=False, valor_minimo=50_000.0),
    make_criteria(ufs=frozenset({"RJ"})),
], ids=["plain", "user terms", "value range, closed too", "another uf"])
def test_keywords_found_when_indexed_give_the_same_match_as_reading_the_text(criteria: Criteria) -> None:
    licitacoes = [
        make_licitacao("Aquisição de uniformes escolares e camisetas"),
        make_licitacao("Aquisição de jalecos", valor=10_000.0, codigo="b"),
        make_licitacao("Meias escolares", encerramento=datetime(2025, 3, 1, 10, 0), codigo="c"),
        make_licitacao("Camisetas e meia-entrada para o evento", codigo="d"),  # an exclusion
        make_licitacao("Serviços de limpeza", codigo="e"),
    ]
    indexed = [sector_keywords(prepare(lic.objeto), RULES) for lic in licitacoes]
    assert indexed[-2:] == [[], []]
    known = [match_known(lic, Known(words), criteria) for lic, words in zip(licitacoes, indexed, strict=True)]
    assert known == [match_licitacao(lic, RULES, criteria) for lic in licitacoes]
    assert any(k is not None for k in known) == ("SP" in criteria.ufs)
