"""Which terms an objeto mentions, and whether they put it in a sector.

Pure functions over data. Terms are compared word by word through `words.key`, so every form of a
word counts ("odontológico" finds "ODONTOLOGIA"); a term of several words matches when its words
(the joining "de", "para"... aside) stand side by side or one word apart, in any order ("toalha
de papel" finds "PAPEL TOALHA" and "toalha interfolhada de papel"); a phrase in double quotes
needs its words side by side, in order; a long word misspelt by one letter ("MEDICMENTOS") still
counts; a trailing "*" matches any ending ("informátic*").

A sector reads an objeto in this order (see `SectorRules`): an exclusion rules it out; phrases to
ignore hide their words ("carro de curativos" holds no "carro"); one keyword puts it in; a generic
word ("veículo", "refeição") puts it in only beside a context word or another generic one, and
alone leaves it undecided (`Reading.doubtful`), for someone who reads better than rules.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from itertools import compress, product
from operator import itemgetter

from backend.domain.words import (
    STOPWORDS,
    TYPO_FROM,
    analyse,
    deletions,
    guard,
    is_form,
    key,
    normalize,
    plurals,
    singular,
)

# Part of every sector's signature: a new way of matching rematches the index as new lists do.
MATCHING_VERSION = 2
# Words that may stand between the words of a term ("toalha interfolhada de papel").
NEAR = 1


@dataclass(slots=True)
class Text:
    """An objeto prepared once for every matcher: its words, their singulars and keys, and the
    places of the words that may be typos."""

    normalized: str
    words: list[str]
    singulars: tuple[str, ...]
    keys: tuple[str, ...]
    key_set: set[str] = field(repr=False)
    long: list[int] = field(repr=False)
    _content: list[int] | None = field(default=None, repr=False)
    _places: dict[str, list[int]] | None = field(default=None, repr=False)

    def places(self, word_key: str) -> list[int]:
        """Where words of that key stand."""
        if self._places is None:
            self._places = {}
            for place, k in enumerate(self.keys):
                self._places.setdefault(k, []).append(place)
        return self._places.get(word_key, [])

    def content(self, place: int) -> int:
        """The place of a word among the words that are not joining words (-1 for a joining word)."""
        if self._content is None:
            count, content = 0, []
            for word in self.words:
                if word in STOPWORDS:
                    content.append(-1)
                else:
                    content.append(count)
                    count += 1
            self._content = content
        return self._content[place]


def prepare(objeto: str) -> Text:
    normalized = normalize(objeto)
    words = normalized.split()
    return _text(normalized, words, list(map(analyse, words)))


def _text(normalized: str, words: list[str], analysed: list[tuple[str, str, bool]]) -> Text:
    if not words:
        return Text(normalized, [], (), (), set(), [])
    singulars, keys, longs = zip(*analysed, strict=True)
    return Text(normalized, words, singulars, keys, set(keys), list(compress(range(len(words)), longs)))


def objeto_key(text: Text) -> str:
    """What the AI arbiter's verdicts are kept by: the hash of the normalised objeto, the same
    for every publication of the same text whatever its accents, case or punctuation."""
    return hashlib.blake2b(text.normalized.encode(), digest_size=16).hexdigest()


_KEY = itemgetter(1)
_MAY_BE_TYPO = itemgetter(2)


@dataclass(frozen=True, slots=True)
class _Word:
    key: str
    one: str  # the word in the singular (a prefix term's word: the prefix)
    guard: str  # what a text's word, in the singular, starts with
    forms: frozenset[str] | None  # a phrase's word: only these ("kit", "kits"), no typo
    prefix: bool  # any word starting with `one`


@dataclass(frozen=True, slots=True)
class _Term:
    words: tuple[_Word, ...]
    near: int  # words that may stand between its words
    phrase: bool  # its words side by side, in order
    anchor: int = 0  # the word looked up (its rarest); the others are checked beside it
    needs: frozenset[str] = frozenset()  # its words' keys: all in the text (or misspelt), or no need to look closer


def _term(term: str, *, exact: bool) -> _Term:
    """A term as written in a list. In double quotes, `"kit escolar"`, or when `exact`: a phrase,
    its words (joining words included) side by side, in order, each as written or in the plural.
    Otherwise its words but joining words, in any order, within `NEAR` words of each other, in
    any of their forms. A trailing "*" matches any ending ("informátic*")."""
    text = term.strip()
    if len(text) > 2 and text[0] == text[-1] == '"':
        text, exact = text[1:-1], True
    star = text.rstrip().endswith("*")
    words = normalize(text.rstrip().rstrip("*")).split()
    if not exact:
        words = [w for w in words if w not in STOPWORDS]
    if not words:
        raise ValueError(f"empty term: {term!r}")
    parts = [_Word(key(w), singular(w), guard(w), plurals(w) if exact else None, False) for w in words]
    if star:
        parts[-1] = _Word("", words[-1], words[-1], None, True)
    needs = frozenset(part.key for part in parts if not part.prefix)
    return _Term(tuple(parts), 0 if exact else NEAR, exact, needs=needs)


# Words of nearly every objeto ("AQUISIÇÃO DE ... para atender a Secretaria Municipal"), or of
# many ("rede municipal de ensino", "unidades de saúde"): a term is looked up by another of its
# words when it has one, so that fewer objetos are worth a closer look.
_BOILERPLATE = frozenset(key(w) for w in (
    "aquisicao contratacao empresa especializada prestacao servico fornecimento registro preco futura "
    "eventual material municipal municipio secretaria atender uso publico geral conforme demanda "
    "manutencao equipamento tipo unidade diversos escolar aluno rede ensino saude hospitalar sistema "
    "locacao instalacao gestao preventiva corretiva alimentacao produto seguranca transporte agua "
    "basico eletrico eletronico veiculo").split())


def _with_anchor(term: _Term, terms_of: dict[str, int], looked_up: frozenset[str]) -> _Term:
    """The term looked up by one word: one looked up for a term of one word already, when there
    are such (`looked_up`: "uniforme escolar" by "uniforme", so that no more texts are worth a
    closer look for it), else its word in the fewest terms
    ("hospitalar" rather than "material"); never a joining word of a phrase, nor a prefix when
    the term has anything else."""
    candidates = [wi for wi, w in enumerate(term.words) if not w.prefix and w.one not in STOPWORDS]
    if not candidates:
        candidates = [wi for wi, w in enumerate(term.words) if not w.prefix] or [0]
    anchor = min(candidates, key=lambda wi: (term.words[wi].key not in looked_up, term.words[wi].key in _BOILERPLATE,
                                             terms_of.get(term.words[wi].key, 0), -len(term.words[wi].one)))
    return replace(term, anchor=anchor)


@dataclass(frozen=True, slots=True)
class Found:
    """A term found in a text: its index in the matcher's list and the places of its words, or
    `near`: its words are all there, but too far apart to be sure (`places` empty)."""

    term: int
    places: tuple[int, ...]
    near: bool = False


@dataclass(frozen=True, slots=True)
class TermMatcher:
    """Finds which of a list of terms occur in a prepared text.

    A dict from every word key of the terms to the (term, word) pairs it stands for: a text costs
    one lookup per word whatever the number of terms.
    """

    terms: tuple[str, ...]
    _terms: tuple[_Term, ...]
    _by_key: dict[str, tuple[tuple[_Word, tuple[int, ...]], ...]]  # an anchor's key -> its words, their terms
    _leading: frozenset[str]  # the keys of the anchors of the terms that lead
    _prefixes: tuple[tuple[str, int], ...]  # (start, term) of anchors ending in "*"
    _prefix_regex: re.Pattern[str] | None
    _typos: Typos

    @classmethod
    def build(cls, terms: Iterable[str], *, exact: bool = False, typos: bool = True) -> TermMatcher:
        """A matcher of distinct terms (blank ones left out)."""
        unique = tuple(dict.fromkeys(t.strip() for t in terms if t and t.strip()))
        return cls.compile([(t, exact, typos, True) for t in unique])

    @classmethod
    def compile(cls, terms: Iterable[tuple[str, bool, bool, bool]], typos: Typos | None = None,
                *, quick_test: bool = True) -> TermMatcher:
        """A matcher of (term, exact, typos forgiven, leads) as given, repeated terms included:
        the lists of several sectors, or of several roles, in one. A term that leads can be found
        alone; the others (context words, phrases to ignore) only matter beside one that leads,
        so `may_find` does not look for them. `typos`: the misspellings to forgive, when shared
        by several matchers (every sector's), else those of these terms. `quick_test` False: a
        matcher never asked `may_find` (every sector at once, for the index), whose terms are
        then each looked up by their rarest word, whatever the others'."""
        listed = tuple(terms)
        parsed = [_term(t, exact=exact) for t, exact, _, _ in listed]
        terms_of: dict[str, int] = {}
        for term in parsed:
            for word_key in {w.key for w in term.words if not w.prefix}:
                terms_of[word_key] = terms_of.get(word_key, 0) + 1
        alone = frozenset(t.words[0].key for t, (_, _, _, leads) in zip(parsed, listed, strict=True)
                          if len(t.words) == 1 and leads and not t.words[0].prefix) if quick_test else frozenset()
        parsed = [_with_anchor(term, terms_of, alone if leads else frozenset())
                  for term, (_, _, _, leads) in zip(parsed, listed, strict=True)]
        by_key: dict[str, dict[_Word, list[int]]] = {}
        prefixes: list[tuple[str, int]] = []
        forgiven: list[str] = []
        leading: set[str] = set()
        for ti, term in enumerate(parsed):
            anchor = term.words[term.anchor]
            if anchor.prefix:
                prefixes.append((anchor.one, ti))
            else:
                by_key.setdefault(anchor.key, {}).setdefault(anchor, []).append(ti)
                if listed[ti][3]:
                    leading.add(anchor.key)
            if listed[ti][2]:
                forgiven.extend(word.one for word in term.words if word.forms is None and not word.prefix)
        regex = (re.compile(r"\b(?:" + "|".join(re.escape(p) for p, _ in prefixes) + ")")
                 if prefixes else None)
        return cls(tuple(t for t, _, _, _ in listed), tuple(parsed),
                   {k: tuple((word, tuple(tis)) for word, tis in words.items()) for k, words in by_key.items()},
                   frozenset(leading), tuple(prefixes), regex,
                   typos if typos is not None else Typos.of(forgiven, terms_of))

    @property
    def typos(self) -> Typos:
        return self._typos

    # --- finding ---------------------------------------------------------------------------

    def find(self, text: Text) -> list[str]:
        """Distinct terms found, in order of first appearance; a term found inside a longer one
        found too is left out ("papel" inside "papel higiênico")."""
        return list(dict.fromkeys(self.terms[f.term] for f in outermost(self.found(text))))

    def any(self, text: Text) -> bool:
        return any(not f.near for f in self.found(text))

    def may_find(self, normalized: str, analysed: list[tuple[str, str, bool]]) -> bool:
        """A quick test, in C: False when no term that leads can be in the text (no key of its
        anchor, no word that may be a typo, no prefix); most objetos of a search stop here."""
        return (not self._leading.isdisjoint(map(_KEY, analysed))
                or bool(self._typos.index) and any(map(_MAY_BE_TYPO, analysed)) and self._typo_leads(analysed)
                or self._prefix_regex is not None and self._prefix_regex.search(normalized) is not None)

    def _typo_leads(self, analysed: list[tuple[str, str, bool]]) -> bool:
        """A word of the text misspells the anchor of a term that leads (each word's answer cached)."""
        meant = self._typos.meant
        return any(may and (word := meant(one)) is not None and key(word) in self._leading
                   for one, _, may in analysed)

    def found(self, text: Text) -> list[Found]:
        """Every term found (and near miss), in order of its first word."""
        typos = self._typos_in(text)
        anchored = self._anchored(text, typos)
        if not anchored:
            return []
        found: list[Found] = []
        for ti, anchors in anchored.items():
            term = self._terms[ti]
            if len(term.words) == 1:
                found.append(Found(ti, (anchors[0],)))
            elif term.phrase:
                if term.needs <= text.key_set and (places := _phrase_at(anchors, term, text)) is not None:
                    found.append(Found(ti, places))
            elif typos or term.needs <= text.key_set:
                words = [anchors if wi == term.anchor else _places_of(word, text, typos)
                         for wi, word in enumerate(term.words)]
                if all(words):
                    places = _placed(words, term, text)
                    found.append(Found(ti, places) if places is not None else Found(ti, (), near=True))
        # In order of the first word; at one place, the longest term first, then by name: the same
        # order however the terms were compiled (one sector, or every sector at once).
        found.sort(key=lambda f: (min(f.places, default=len(text.words)), -len(f.places), self.terms[f.term]))
        return found

    def _anchored(self, text: Text, typos: dict[int, str]) -> dict[int, list[int]]:
        """term -> places in the text where its anchor word stands."""
        anchored: dict[int, list[int]] = {}
        by_key = self._by_key
        for word_key in by_key.keys() & text.key_set:
            places = text.places(word_key)
            for word, tis in by_key[word_key]:
                fitting = _fitting(word, text, places)
                if fitting:
                    for ti in tis:
                        anchored[ti] = fitting
        for place, meant in typos.items():
            for word, tis in by_key.get(key(meant), ()):
                if _is_form_of(meant, word):
                    for ti in tis:
                        anchored.setdefault(ti, []).append(place)
        if self._prefix_regex is not None and self._prefix_regex.search(text.normalized) is not None:
            for start, ti in self._prefixes:
                places = [place for place, word in enumerate(text.words) if word.startswith(start)]
                if places:
                    anchored[ti] = places
        return anchored

    def _typos_in(self, text: Text) -> dict[int, str]:
        """place -> the term word (singular) the text's word there misspells."""
        if not self._typos.index:
            return {}
        typos = {}
        for place in text.long:
            if text.keys[place] not in self._typos.spelt and (meant := self._typos.meant(text.singulars[place])) is not None:
                typos[place] = meant
        return typos


@dataclass(frozen=True, slots=True)
class Typos:
    """The misspellings forgiven: a text's word (in the singular, no word of Portuguese) is taken
    for the term word it misspells by one letter (left out, added, changed, or two side by side
    swapped), when exactly one term word fits and both start alike (clerks rarely miss a word's
    first letters; other words often differ there). One index serves every sector's matchers:
    they then forgive the same misspellings, whether they read one sector or all at once."""

    index: dict[str, str]  # a long term word, or it with one letter left out -> that word
    spelt: frozenset[str]  # the keys of every word of every term: never a misspelling
    corrected: dict[str, str | None] = field(default_factory=dict)  # cache of `meant`

    @classmethod
    def of(cls, words: Iterable[str], spelt: Iterable[str]) -> Typos:
        """For these term words (in the singular; those shorter than `TYPO_FROM` are left out),
        among terms whose words have the keys `spelt`."""
        fits: dict[str, set[str]] = {}
        for word in set(words):
            if len(word) >= TYPO_FROM:
                for variant in {word} | deletions(word):
                    fits.setdefault(variant, set()).add(word)
        return cls({variant: next(iter(words)) for variant, words in fits.items() if len(words) == 1},
                   frozenset(spelt))

    def meant(self, one: str) -> str | None:
        try:
            return self.corrected[one]
        except KeyError:
            pass
        found = self.index.get(one)
        if found is None:
            candidates = {self.index[v] for v in deletions(one) if v in self.index}
            found = candidates.pop() if len(candidates) == 1 else None
        if found is not None and (found == one or not one.startswith(found[:2])):
            found = None
        if len(self.corrected) > 100_000:
            self.corrected.clear()
        self.corrected[one] = found
        return found


def _fitting(word: _Word, text: Text, places: list[int]) -> list[int]:
    """Those of `places` (where the text's words share `word`'s key) holding a form of `word`."""
    if word.forms is not None:
        return [p for p in places if text.words[p] in word.forms]
    return [p for p in places if _is_form_of(text.singulars[p], word) and text.words[p] not in STOPWORDS]


def _is_form_of(one: str, word: _Word) -> bool:
    """Whether a word (in the singular) is a form of a term's word, as the loose terms see it."""
    return word.forms is None and not word.prefix and one.startswith(word.guard) and is_form(one, word.one)


def _places_of(word: _Word, text: Text, typos: dict[int, str]) -> list[int]:
    """Where a (non-anchor) word of a term stands in the text, in any form or misspelt."""
    if word.prefix:
        return [place for place, w in enumerate(text.words) if w.startswith(word.one)]
    places = _fitting(word, text, text.places(word.key)) if word.key in text.key_set else []
    return places + [place for place, meant in typos.items() if _is_form_of(meant, word)]


def _placed(words: list[list[int]], term: _Term, text: Text) -> tuple[int, ...] | None:
    """Places, one per word of the term, all different and within the term's reach of each other,
    counted in words that are not joining words; None if there are none."""
    count = len(term.words)
    span = count - 1 + term.near
    for places in product(*words):
        if len(set(places)) == count and text.content(max(places)) - text.content(min(places)) <= span:
            return places
    return None


def _phrase_at(anchors: list[int], term: _Term, text: Text) -> tuple[int, ...] | None:
    """The places of the phrase's words, side by side and in order around one of the places of
    its anchor word; None if none fits."""
    count, words = len(term.words), text.words
    for place in sorted(anchors):
        start = place - term.anchor
        if start >= 0 and start + count <= len(words) and all(
                words[start + wi].startswith(word.one) if word.prefix else words[start + wi] in word.forms
                for wi, word in enumerate(term.words)):
            return tuple(range(start, start + count))
    return None


def split_terms(text: str | None) -> list[str]:
    """User terms separated by commas or semicolons ("jaleco, avental"); a term with no letter
    or digit ("!!!", "*") has nothing to look for and is left out."""
    if not text:
        return []
    return [t.strip() for t in re.split(r"[,;\n]", text) if normalize(t)]


def outermost(found: Iterable[Found]) -> list[Found]:
    """The terms found, but those whose words all belong to a longer term found too."""
    sure = [f for f in found if not f.near]
    if len(sure) < 2:
        return sure
    covered = [set(f.places) for f in sure]
    return [f for f, mine in zip(sure, covered, strict=True) if not any(other > mine for other in covered)]


class Role(enum.IntEnum):
    """What a term of a sector's lists does (see `SectorRules`)."""

    KEYWORD = 0
    GENERIC = 1
    CONTEXT = 2
    IGNORED = 3
    EXCLUSION = 4


@dataclass(frozen=True, slots=True)
class Reading:
    """What a sector's rules say of an objeto: `found`, the terms that put it in the sector (none:
    not in it); `doubtful`, when not in it, the terms that make it worth a closer reading."""

    found: list[str]
    doubtful: list[str]


NOT_IN = Reading([], [])


@dataclass(frozen=True, slots=True)
class SectorLists:
    """A sector's terms, as listed (see backend/domain/sectors.yaml)."""

    palavras_chave: tuple[str, ...]
    genericas: tuple[str, ...] = ()
    contexto: tuple[str, ...] = ()
    ignorar: tuple[str, ...] = ()
    exclusoes: tuple[str, ...] = ()

    def tagged(self) -> list[tuple[str, Role]]:
        lists = (self.palavras_chave, self.genericas, self.contexto, self.ignorar, self.exclusoes)
        return [(term.strip(), role) for role, terms in zip(Role, lists, strict=True)
                for term in dict.fromkeys(terms) if term and term.strip()]


def _compiled(tagged: list[tuple[str, Role]], typos: Typos | None, *, quick_test: bool = True) -> TermMatcher:
    """Keywords and generic words are matched loosely and forgive typos; context words too, but
    spelt right; phrases to ignore and exclusions are phrases."""
    return TermMatcher.compile(
        ((term, role >= Role.IGNORED, role <= Role.GENERIC, role <= Role.GENERIC) for term, role in tagged), typos,
        quick_test=quick_test)


def sectors_typos(sectors: Iterable[SectorLists]) -> Typos:
    """The misspellings every sector's matchers forgive: those of their keywords and generic words,
    a word of any term of any sector being no misspelling."""
    return _compiled([tagged for lists in sectors for tagged in lists.tagged()], None).typos


def _read(found: list[Found], terms: tuple[str, ...], roles: list[Role], *, doubts: bool) -> Reading:
    """A sector's reading from what its matcher found.

    An exclusion rules the objeto out; phrases to ignore hide their words; one keyword puts it
    in; a generic word does beside a context word or another generic one, and alone leaves it
    doubtful, as do keywords whose words stand too far apart."""
    if any(roles[f.term] is Role.EXCLUSION and not f.near for f in found):
        return NOT_IN
    hidden = {p for f in found if roles[f.term] is Role.IGNORED for p in f.places}
    kept = [f for f in found if not hidden.intersection(f.places) and roles[f.term] is not Role.IGNORED]
    sure = outermost(kept)
    by_role: dict[Role, list[str]] = {}
    for f in sure:
        words = by_role.setdefault(roles[f.term], [])
        if terms[f.term] not in words:
            words.append(terms[f.term])
    if Role.KEYWORD in by_role:
        return Reading(by_role[Role.KEYWORD], [])
    generic = by_role.get(Role.GENERIC, [])
    generic_places = {f.places for f in sure if roles[f.term] is Role.GENERIC}  # two terms, one word: one
    if generic and (Role.CONTEXT in by_role or len(generic_places) > 1):
        return Reading(generic + by_role.get(Role.CONTEXT, []), [])
    if not doubts:
        return NOT_IN
    if generic:
        return Reading([], generic)
    near = [terms[f.term] for f in kept if f.near and roles[f.term] is Role.KEYWORD]
    return Reading([], list(dict.fromkeys(near)))


@dataclass(frozen=True, slots=True)
class SectorRules:
    """A sector compiled for matching: all its lists in one matcher, each term with its role."""

    lists: SectorLists
    matcher: TermMatcher
    roles: list[Role]

    @classmethod
    def build(cls, lists: SectorLists, typos: Typos | None = None) -> SectorRules:
        tagged = lists.tagged()
        return cls(lists, _compiled(tagged, typos), [role for _, role in tagged])

    def read(self, text: Text, *, doubts: bool = True) -> Reading:
        """`doubts=False`: only whether the objeto is in the sector (`doubtful` left empty)."""
        found = self.matcher.found(text)
        return _read(found, self.matcher.terms, self.roles, doubts=doubts) if found else NOT_IN


@dataclass(frozen=True, slots=True)
class SectorsRules:
    """Every sector in one matcher: what the index reads each publication with, once."""

    matcher: TermMatcher
    sector_of: list[str]  # per term of the matcher
    roles: list[Role]

    @classmethod
    def build(cls, sectors: Mapping[str, SectorLists], typos: Typos | None = None) -> SectorsRules:
        tagged = [(sid, term, role) for sid, lists in sectors.items() for term, role in lists.tagged()]
        matcher = _compiled([(term, role) for _, term, role in tagged], typos, quick_test=False)
        return cls(matcher, [sid for sid, _, _ in tagged], [role for _, _, role in tagged])

    def read(self, text: Text, *, doubts: bool = True) -> dict[str, Reading]:
        """The reading of each sector that found something (the others: `NOT_IN`)."""
        by_sector: dict[str, list[Found]] = {}
        for f in self.matcher.found(text):
            by_sector.setdefault(self.sector_of[f.term], []).append(f)
        return {sid: _read(found, self.matcher.terms, self.roles, doubts=doubts) for sid, found in by_sector.items()}


def sector_keywords(text: Text, rules: SectorRules) -> list[str]:
    """The terms that put the objeto in the sector, none when it is not in it."""
    return rules.read(text, doubts=False).found


def mentions_sector(objeto: str, rules: SectorRules) -> bool:
    """The text test alone: the cheapest test to run first."""
    normalized = normalize(objeto)
    words = normalized.split()
    analysed = list(map(analyse, words))
    if not rules.matcher.may_find(normalized, analysed):
        return False
    return bool(rules.read(_text(normalized, words, analysed), doubts=False).found)
