"""Which licitações belong to a sector: text normalisation, term matching, filters, ranking.

Pure functions over data. Matching is accent- and case-insensitive, on whole words, and knows
Portuguese plurals, so the keyword "colchão" finds "COLCHÕES" and "papel" finds "papéis" but
"mesa" never finds "mesada". Exclusions are checked first: one exclusion rejects the record.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
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


# A word of a term: the set of its forms, or a prefix (str) for a trailing "*".
_Slot = frozenset[str] | str
_Entry = tuple[str, tuple[_Slot, ...]]  # (term, slots of its second word onwards)


def _slots(term: str) -> tuple[_Slot, ...]:
    words = normalize(term.rstrip("*")).split()
    if not words:
        raise ValueError(f"empty term: {term!r}")
    slots: list[_Slot] = [frozenset(word_forms(w)) for w in words]
    if term.rstrip().endswith("*"):
        slots[-1] = words[-1]
    return tuple(slots)


def _fits(token: str, slot: _Slot) -> bool:
    return token.startswith(slot) if isinstance(slot, str) else token in slot


def _longest_first(entries: Iterable[_Entry]) -> tuple[_Entry, ...]:
    return tuple(sorted(entries, key=lambda entry: -len(entry[1])))


@dataclass(frozen=True, slots=True)
class TermMatcher:
    """Finds which of a list of terms occur in a normalised text.

    Works on the text's words: a dict from every form of a term's first word to the terms that
    start with it, so a text costs one lookup per word whatever the number of terms (a regex
    alternation of a sector's hundreds of forms cost several times more).
    """

    terms: tuple[str, ...]
    _by_first_word: dict[str, tuple[_Entry, ...]]
    _by_prefix: tuple[tuple[str, _Entry], ...]  # terms whose first word ends in "*"
    _prefixes: tuple[str, ...]
    _prefix_regex: re.Pattern[str] | None  # finds a word starting with one of `_prefixes`

    @classmethod
    def build(cls, terms: Iterable[str]) -> TermMatcher:
        unique = tuple(dict.fromkeys(t.strip() for t in terms if t and t.strip()))
        by_first: dict[str, list[_Entry]] = {}
        by_prefix: list[tuple[str, _Entry]] = []
        for term in unique:
            first, *rest = _slots(term)
            entry: _Entry = (term, tuple(rest))
            if isinstance(first, str):
                by_prefix.append((first, entry))
            else:
                for form in first:
                    by_first.setdefault(form, []).append(entry)
        index = {form: _longest_first(entries) for form, entries in by_first.items()}
        prefixes = tuple(prefix for prefix, _ in by_prefix)
        prefix_regex = re.compile(r"\b(?:" + "|".join(map(re.escape, prefixes)) + ")") if prefixes else None
        return cls(unique, index, tuple(by_prefix), prefixes, prefix_regex)

    def _candidates(self, word: str) -> tuple[_Entry, ...]:
        entries = self._by_first_word.get(word, ())
        if self._prefixes and word.startswith(self._prefixes):
            entries = _longest_first(entries + tuple(e for prefix, e in self._by_prefix if word.startswith(prefix)))
        return entries

    def _scan(self, normalized_text: str) -> Iterator[str]:
        """Terms in order of appearance; a phrase found consumes its words (longest wins)."""
        words = normalized_text.split()
        # Most texts contain no term at all: a set test in C rules them out before any loop.
        if self._by_first_word.keys().isdisjoint(words) and not (
            self._prefix_regex and self._prefix_regex.search(normalized_text)
        ):
            return
        i, n = 0, len(words)
        while i < n:
            step = 1
            for term, rest in self._candidates(words[i]):
                if i + len(rest) < n and all(_fits(words[i + 1 + k], slot) for k, slot in enumerate(rest)):
                    yield term
                    step += len(rest)
                    break
            i += step

    def find(self, normalized_text: str) -> list[str]:
        """Distinct terms found, in order of first appearance."""
        return list(dict.fromkeys(self._scan(normalized_text)))

    def any(self, normalized_text: str) -> bool:
        return next(self._scan(normalized_text), None) is not None


def split_terms(text: str | None) -> list[str]:
    """User terms separated by commas or semicolons ("jaleco, avental"); a term with no letter
    or digit ("!!!", "*") has nothing to look for and is left out."""
    if not text:
        return []
    return [t.strip() for t in re.split(r"[,;\n]", text) if normalize(t)]


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
    data_inicial: date | None  # None with data_final: any publication date (modo "abertas")
    data_final: date | None
    now: datetime  # Brasília wall-clock time, for somente_abertas
    valor_minimo: float | None = None
    valor_maximo: float | None = None
    somente_abertas: bool = True
    terms: TermMatcher = TermMatcher.build(())
    nearest_closing_first: bool = False  # the order of "abertas": what closes first, first


def mentions_sector(objeto: str, rules: SectorRules) -> bool:
    """The text test alone: no exclusion and at least one keyword. The cheapest test to run first."""
    text = normalize(objeto)
    return not rules.exclusions.any(text) and rules.keywords.any(text)


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
    text = normalize(licitacao.objeto)
    return _scored(licitacao, sector_keywords(text, rules), criteria, text)


def match_known(licitacao: Licitacao, keywords: list[str], criteria: Criteria) -> Licitacao | None:
    """`match_licitacao` for a licitação whose sector keywords were found before (when it was
    indexed, by `sector_keywords`): the same answer without reading its objeto again, unless the
    user's own terms ask for it."""
    if not _meets_criteria(licitacao, criteria):
        return None
    return _scored(licitacao, keywords, criteria, None)


def sector_keywords(normalized_text: str, rules: SectorRules) -> list[str]:
    """The sector's keywords in a normalised objeto, none when an exclusion is there."""
    return [] if rules.exclusions.any(normalized_text) else rules.keywords.find(normalized_text)


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


def _scored(licitacao: Licitacao, keywords: list[str], criteria: Criteria, text: str | None) -> Licitacao | None:
    if not keywords:
        return None
    user_terms: list[str] = []
    if criteria.terms.terms:
        user_terms = criteria.terms.find(text if text is not None else normalize(licitacao.objeto))
        if not user_terms:
            return None
    relevance = float(len(keywords) + 2 * len(user_terms))
    return licitacao.model_copy(update={"palavras_encontradas": keywords + user_terms, "relevancia": relevance})


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
