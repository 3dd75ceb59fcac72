"""Which licitações belong to a sector: text normalisation, term matching, filters, ranking.

Pure functions over data. Matching is accent- and case-insensitive, on whole words, and knows
Portuguese plurals, so the keyword "colchão" finds "COLCHÕES" and "papel" finds "papéis" but
"mesa" never finds "mesada". Exclusions are checked first: one exclusion rejects the record.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from backend.codes import SITUACAO_DIVULGADA
from backend.schemas import Licitacao

_NON_WORD = re.compile(r"[^a-z0-9]+")


def normalize(text: str) -> str:
    """Lower-case ASCII words separated by single spaces ("Aquisição de Pães" -> "aquisicao de paes")."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    ascii_text = decomposed.encode("ascii", "ignore").decode("ascii")
    return _NON_WORD.sub(" ", ascii_text).strip()


def word_forms(word: str) -> list[str]:
    """The word and its Portuguese plural forms, normalised; short words stay as they are."""
    if len(word) <= 2:
        return [word]
    forms = {word}
    if word.endswith("ao"):
        forms.update({word[:-2] + "oes", word[:-2] + "aes", word + "s"})
    elif word.endswith("il"):
        forms.update({word[:-1] + "s", word[:-2] + "eis"})
    elif word.endswith(("al", "el", "ol", "ul")):
        forms.add(word[:-1] + "is")
    elif word.endswith("m"):
        forms.add(word[:-1] + "ns")
    elif word.endswith("r"):
        # "computadores"; loanwords take a bare -s ("toners", "scanners").
        forms.update({word + "es", word + "s"})
    elif word.endswith(("z", "s")):
        forms.add(word + "es")
    elif word.endswith(("ch", "sh")):
        forms.update({word + "es", word + "s"})  # "switches", "switchs"
    else:
        forms.add(word + "s")
    # Longest first, so an alternation prefers "cadeiras" over "cadeira".
    return sorted(forms, key=len, reverse=True)


def _term_pattern(term: str) -> str:
    """Regex for one term: each word in any of its forms; a trailing '*' matches a prefix."""
    words = normalize(term.rstrip("*")).split()
    if not words:
        raise ValueError(f"empty term: {term!r}")
    if term.rstrip().endswith("*"):
        parts = ["(?:" + "|".join(map(re.escape, word_forms(w))) + ")" for w in words[:-1]]
        parts.append(re.escape(words[-1]) + r"[a-z0-9]*")
    else:
        parts = ["(?:" + "|".join(map(re.escape, word_forms(w))) + ")" for w in words]
    return r" ".join(parts)


@dataclass(frozen=True, slots=True)
class TermMatcher:
    """Finds which of a list of terms occur in a normalised text."""

    terms: tuple[str, ...]
    _regex: re.Pattern[str] | None

    @classmethod
    def build(cls, terms: Iterable[str]) -> TermMatcher:
        unique = tuple(dict.fromkeys(t.strip() for t in terms if t and t.strip()))
        if not unique:
            return cls((), None)
        # One capturing group per term, longest terms first so phrases win over their words.
        order = sorted(range(len(unique)), key=lambda i: len(unique[i]), reverse=True)
        ordered = tuple(unique[i] for i in order)
        body = "|".join(f"({_term_pattern(t)})" for t in ordered)
        return cls(ordered, re.compile(rf"\b(?:{body})\b"))

    def find(self, normalized_text: str) -> list[str]:
        """Distinct terms found, in order of first appearance."""
        if self._regex is None:
            return []
        found: dict[str, None] = {}
        for match in self._regex.finditer(normalized_text):
            found[self.terms[match.lastindex - 1]] = None  # type: ignore[operator]
        return list(found)

    def any(self, normalized_text: str) -> bool:
        return self._regex is not None and self._regex.search(normalized_text) is not None


def split_terms(text: str | None) -> list[str]:
    """User terms separated by commas or semicolons ("jaleco, avental")."""
    if not text:
        return []
    return [t.strip() for t in re.split(r"[,;\n]", text) if t.strip()]


@dataclass(frozen=True, slots=True)
class SectorRules:
    """A sector compiled for matching."""

    keywords: TermMatcher
    exclusions: TermMatcher


@dataclass(frozen=True, slots=True)
class Criteria:
    """What the user asked for, beyond the sector."""

    ufs: frozenset[str]
    modalidades: frozenset[int]
    data_inicial: date
    data_final: date
    now: datetime  # Brasília wall-clock time, for somente_abertas
    valor_minimo: float | None = None
    valor_maximo: float | None = None
    somente_abertas: bool = True
    terms: TermMatcher = TermMatcher((), None)


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
    if licitacao.uf not in criteria.ufs or licitacao.modalidade_id not in criteria.modalidades:
        return None
    published = licitacao.data_publicacao
    if published is not None and not (criteria.data_inicial <= published.date() <= criteria.data_final):
        return None
    if not value_in_range(licitacao.valor_estimado, criteria.valor_minimo, criteria.valor_maximo):
        return None
    if criteria.somente_abertas and not is_open(licitacao, criteria.now):
        return None
    text = normalize(licitacao.objeto)
    if rules.exclusions.any(text):
        return None
    keywords = rules.keywords.find(text)
    if not keywords:
        return None
    user_terms: list[str] = []
    if criteria.terms.terms:
        user_terms = criteria.terms.find(text)
        if not user_terms:
            return None
    relevance = float(len(keywords) + 2 * len(user_terms))
    return licitacao.model_copy(update={"palavras_encontradas": keywords + user_terms, "relevancia": relevance})


def rank(licitacoes: Sequence[Licitacao]) -> list[Licitacao]:
    """Most relevant first; among equals the largest value, then the nearest closing date."""
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
    return rank([lic for lic in kept if lic is not None])
