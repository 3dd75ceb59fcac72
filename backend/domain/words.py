"""Words of procurement Portuguese as the matching compares them.

Pure functions. A text is normalised to lower-case ASCII words (clerks write "AQUISIÇÃO" and
"AQUISICAO" alike); every word then gets a key: its singular, stemmed by Snowball's Portuguese
stemmer when it is long enough for a stem to mean something, so "odontológicos" and
"odontologia", "laboratoriais" and "laboratório" share a key. Short words keep their singular as
their key: Snowball makes "mesa", "mês" and "mesada" one stem, and "farda" and "fardo" another.
"""

from __future__ import annotations

import gzip
import re
import unicodedata
from array import array
from bisect import bisect_left
from functools import cache, lru_cache
from importlib import resources

import snowballstemmer

_NON_WORD = re.compile(r"[^a-z0-9]+")

# Words that join the words of a term ("toalha DE papel") and say nothing of the thing bought.
STOPWORDS = frozenset(
    "a o as os ao aos de da do das dos e em no na nos nas num numa para pra por pelo pela pelos "
    "pelas com sem ou um uma uns umas que p c tipo".split()
)

# A typo is forgiven in words this long only: shorter words are too close to other real words.
TYPO_FROM = 8
# Below this length a stem conflates unrelated words; the singular is key enough.
_STEM_FROM = 6
_STEMMER = snowballstemmer.stemmer("portuguese")


def normalize(text: str) -> str:
    """Lower-case ASCII words separated by single spaces ("Aquisição de Pães" -> "aquisicao de paes")."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    ascii_text = decomposed.encode("ascii", "ignore").decode("ascii")
    return _NON_WORD.sub(" ", ascii_text).strip()


@lru_cache(maxsize=262_144)
def singular(word: str) -> str:
    """The singular of a normalised Portuguese word: "colchoes" -> "colchao", "papeis" -> "papel",
    "itens" -> "item", "computadores" -> "computador", "mesas" -> "mesa". Where the plural does
    not tell ("esteril"/"papel" -> "estereis"/"papeis", "gaze"/"luz" -> "gazes"/"luzes",
    "fuzil"/"lapis" -> "fuzis"/"lapis"), the form that is a word of Portuguese. Words that end
    in -s in the singular ("onibus", "lapis", "tenis") and short words stay as they are."""
    if len(word) <= 3 or not word.endswith("s") or word.endswith("ss"):
        return word
    if word.endswith("us") and word[-3] not in "aeiou":  # "onibus", "virus"; but "pneus", "chapeus"
        return word
    if word.endswith(("oes", "aes")):
        return word[:-3] + "ao"
    if len(word) == 4 and word.endswith("is"):  # "pais", "reis"
        return word[:-1]
    if word.endswith("ais"):
        return word[:-2] + "l"
    if word.endswith("eis"):
        return _the_known(word[:-3] + "el", word[:-3] + "il")
    if word.endswith(("ois", "uis")):
        return word[:-2] + "l"
    if word.endswith("is"):
        return word[:-1] + "l" if known(word[:-1] + "l") else word
    if word.endswith("ns"):  # "itens" -> "item"; but "vans" -> "van"
        return _the_known(word[:-2] + "m", word[:-1])
    if word.endswith("zes"):
        return _the_known(word[:-2], word[:-1])
    if word.endswith("ses"):  # "meses" -> "mes", but "classes" -> "classe"
        return _the_known(word[:-1], word[:-2])
    if word.endswith("res") and word[-4] in "aeiou":  # "computadores"; but "softwares", "tigres"
        return _the_known(word[:-2], word[:-1])
    return word[:-1]


def _the_known(first: str, other: str) -> str:
    """`other` when only it is a word of Portuguese, else `first`."""
    return other if known(other) and not known(first) else first


@lru_cache(maxsize=262_144)
def key(word: str) -> str:
    """What the matching compares a normalised word by: the stem of its singular, or the singular
    itself for a short word or a number."""
    one = singular(word)
    if len(one) < _STEM_FROM or not one.isalpha():
        return one
    stem = _STEMMER.stemWord(one)
    return stem if len(stem) >= 4 else one


@lru_cache(maxsize=262_144)
def analyse(word: str) -> tuple[str, str, bool]:
    """What every word of every objeto needs, at once: its singular, its key, and whether it may
    be a typo (long enough, and no word of Portuguese)."""
    one = singular(word)
    return one, key(word), len(one) >= TYPO_FROM and not known(word) and not known(one)


def guard(word: str) -> str:
    """What a text's word must start with (in the singular) to count as a form of the term's
    `word`, beyond sharing its key: a stem alone would make "medicamento" find "médico". Only the
    last letter may change ("odontologia" -> "odontológico", "elétrico" -> "elétrica"), none of a
    word in -r ("elevador" is no "elevado"). Terms whose words still meet others of their stem
    ("fármaco", "farmácia") are written as phrases in quotes."""
    one = singular(word)
    return one if one.endswith("r") else one[: max(len(key(word)), len(one) - 1)]


def plurals(word: str) -> frozenset[str]:
    """The word and its Portuguese plural forms: what a word of a phrase in quotes finds."""
    forms = {word}
    if len(word) <= 2:
        return frozenset(forms)
    if word.endswith("ao"):
        forms.update({word[:-2] + "oes", word[:-2] + "aes", word + "s"})
    elif word.endswith("il"):
        forms.update({word[:-1] + "s", word[:-2] + "eis"})
    elif word.endswith(("al", "el", "ol", "ul")):
        forms.add(word[:-1] + "is")
    elif word.endswith("m"):
        forms.add(word[:-1] + "ns")
    elif word.endswith(("r", "z", "s")):
        forms.update({word + "es", word + "s"})  # loanwords take a bare -s ("toners")
    else:
        forms.add(word + "s")
    return frozenset(forms)


def is_form(text_word: str, term_word: str) -> bool:
    """Whether a text's word (in the singular) is a form of a term's word (in the singular) whose
    key it shares: at most two letters more ("odontologia" -> "odontologico"), never a longer
    word built on it ("monitor" -> "monitoramento", "alimento" -> "alimentador")."""
    return len(text_word) <= len(term_word) + 2


def known(word: str) -> bool:
    """Whether a normalised word is a word of Portuguese (then never taken for a typo of another:
    "caldeira" is no misspelt "cadeira"). Words of the Portuguese dictionary of pyspellchecker,
    kept as a sorted array of their hashes (3 MB instead of 35 MB of strings; Python's own hash
    of a string, the same for the life of the process, which is as long as the array lives)."""
    hashes = _known_hashes()
    found = bisect_left(hashes, hash(word))
    return found < len(hashes) and hashes[found] == hash(word)


# A word of the dictionary's JSON ({"word": count, ...}, one to a line), once normalised: those
# with a hyphen or an apostrophe are never one word of a normalised text, so they are left out.
_DICTIONARY_WORD = re.compile(r'^"([a-z0-9]+)":', re.MULTILINE)


@cache
def _known_hashes() -> array[int]:
    data = gzip.decompress(resources.files("spellchecker").joinpath("resources/pt.json.gz").read_bytes())
    ascii_text = unicodedata.normalize("NFKD", data.decode().lower()).encode("ascii", "ignore").decode("ascii")
    return array("q", sorted(set(map(hash, _DICTIONARY_WORD.findall(ascii_text)))))


def deletions(word: str) -> set[str]:
    """The word with one letter left out, at each place: what finds a typo at one edit."""
    return {word[:i] + word[i + 1:] for i in range(len(word))}
