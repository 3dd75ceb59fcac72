"""Which licitações a search shows: the sector's reading of the objeto (`matching`), the user's
criteria, and the ranking. Pure functions over data."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from backend.codes import SITUACAO_DIVULGADA
from backend.domain.matching import SectorRules, TermMatcher, Text, prepare, sector_keywords
from backend.schemas import Classificacao, Licitacao

NO_TERMS = TermMatcher.build(())  # a search without termos_busca


@dataclass(frozen=True, slots=True)
class Criteria:
    """What the user asked for, beyond the sector."""

    ufs: frozenset[str]
    modalidades: frozenset[int]
    data_inicial: date | None  # None with data_final: any publication date (modo "abertas")
    data_final: date | None
    now: datetime  # Brasília wall-clock time, for somente_abertas
    valor_minimo: float | None = None
    valor_maximo: float | None = None
    somente_abertas: bool = True
    terms: TermMatcher = NO_TERMS
    nearest_closing_first: bool = False  # the order of "abertas": what closes first, first


def is_open(licitacao: Licitacao, now: datetime) -> bool:
    """Still taking proposals: published (not revoked, annulled or suspended) and closing ahead."""
    return (
        licitacao.situacao_id == SITUACAO_DIVULGADA
        and licitacao.data_encerramento is not None
        and licitacao.data_encerramento > now
    )


def value_in_range(valor: float | None, minimo: float | None, maximo: float | None) -> bool:
    """A confidential budget (no value) is never ruled out by a value range."""
    if valor is None:
        return True
    return (minimo is None or valor >= minimo) and (maximo is None or valor <= maximo)


def match_licitacao(licitacao: Licitacao, rules: SectorRules, criteria: Criteria) -> Licitacao | None:
    """The licitação with its matched keywords and relevance, or None when it does not fit."""
    if not _meets_criteria(licitacao, criteria):
        return None
    text = prepare(licitacao.objeto)
    return _scored(licitacao, sector_keywords(text, rules), criteria, text)


class Known(NamedTuple):
    """Why an indexed licitação is in the sector, found when it was written: the sector's terms in
    its objeto, and "palavras" (they matched) or "ia" (the arbiter put it in, with no terms)."""

    keywords: list[str]
    classificacao: Classificacao = "palavras"


def match_known(licitacao: Licitacao, known: Known, criteria: Criteria) -> Licitacao | None:
    """`match_licitacao` for a licitação whose sector reading was found before (when it was
    indexed): the same answer without reading its objeto again, unless the user's own terms ask
    for it."""
    if not _meets_criteria(licitacao, criteria):
        return None
    return _scored(licitacao, known.keywords, criteria, None, known.classificacao)


def _meets_criteria(licitacao: Licitacao, criteria: Criteria) -> bool:
    """Every criterion but the text's."""
    if licitacao.uf not in criteria.ufs or licitacao.modalidade_id not in criteria.modalidades:
        return False
    published = licitacao.data_publicacao
    if (published is not None and criteria.data_inicial is not None and criteria.data_final is not None
            and not (criteria.data_inicial <= published.date() <= criteria.data_final)):
        return False
    if not value_in_range(licitacao.valor_estimado, criteria.valor_minimo, criteria.valor_maximo):
        return False
    return not (criteria.somente_abertas and not is_open(licitacao, criteria.now))


# A licitação the arbiter put in the sector ranks below every one its terms put there.
AI_RELEVANCE = 0.5


def _scored(licitacao: Licitacao, keywords: list[str], criteria: Criteria, text: Text | None,
            classificacao: Classificacao = "palavras") -> Licitacao | None:
    by_ai = classificacao == "ia"
    if not keywords and not by_ai:
        return None
    user_terms: list[str] = []
    if criteria.terms.terms:
        user_terms = criteria.terms.find(text if text is not None else prepare(licitacao.objeto))
        if not user_terms:
            return None
    relevance = (AI_RELEVANCE if by_ai else float(len(keywords))) + 2 * len(user_terms)
    return licitacao.model_copy(update={"palavras_encontradas": keywords + user_terms, "relevancia": relevance,
                                        "classificacao": classificacao})


def rank(licitacoes: Sequence[Licitacao], *, nearest_closing_first: bool = False) -> list[Licitacao]:
    """Most relevant first; among equals the largest value, then the nearest closing date.
    `nearest_closing_first`: what closes first, first (then the most relevant)."""
    if nearest_closing_first:
        return sorted(licitacoes, key=lambda lic: (
            lic.data_encerramento or datetime.max, -lic.relevancia, -(lic.valor_estimado or 0.0), lic.codigo_pncp))
    return sorted(
        licitacoes,
        key=lambda lic: (
            -lic.relevancia,
            -(lic.valor_estimado or 0.0),
            lic.data_encerramento or datetime.max,
        ),
    )


def filter_and_rank(licitacoes: Iterable[Licitacao], rules: SectorRules, criteria: Criteria) -> list[Licitacao]:
    kept = (match_licitacao(lic, rules, criteria) for lic in licitacoes)
    return rank([lic for lic in kept if lic is not None], nearest_closing_first=criteria.nearest_closing_first)
