"""The labelled objetos that measure the sectors' matching, and the measure.

`tests/domain/data/relevance/` holds objetos written in PNCP's style, each labelled with the sectors
whose suppliers would want to see the tender (`setores`), those for which it is borderline
(`limitrofe`: scored neither way) and the kind of difficulty it poses (`classe`). `tuning/` is what
the rules are improved against; `held_out/` is never tuned on: it says how well they generalise.
The labels follow the sector descriptions, never the keywords.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DATA = Path(__file__).parent / "domain" / "data" / "relevance"
PARTS = ("tuning", "held_out")
LEVELS_FILE = DATA / "levels.yaml"
CLASSES = ("direto", "item", "forma", "generica", "exclusao", "erro", "nenhum")


@dataclass(frozen=True, slots=True)
class Labelled:
    objeto: str
    setores: frozenset[str]
    limitrofe: frozenset[str]
    classe: str
    source: str  # the file it comes from


def load(part: str) -> list[Labelled]:
    items = []
    for path in sorted((DATA / part).glob("*.yaml")):
        for raw in yaml.safe_load(path.read_text(encoding="utf-8"))["itens"]:
            items.append(Labelled(raw["objeto"], frozenset(raw["setores"]), frozenset(raw.get("limitrofe") or ()),
                                  raw.get("classe", "-"), path.name))
    return items


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    false_positives: list[str] = field(default_factory=list)
    false_negatives: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def add(self, other: Score) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn


# What a classifier says of an objeto: the sectors it puts it in.
Classifier = Callable[[str], Iterable[str]]


def score(items: list[Labelled], sectors: Iterable[str], classify: Classifier) -> dict[str, Score]:
    """Per sector, and "geral" for all of them together (micro average)."""
    scores = {sector: Score() for sector in sectors}
    for item in items:
        predicted = set(classify(item.objeto))
        for sector, s in scores.items():
            if sector in item.limitrofe:
                continue
            said, wanted = sector in predicted, sector in item.setores
            if said and wanted:
                s.tp += 1
            elif said:
                s.fp += 1
                s.false_positives.append(item.objeto)
            elif wanted:
                s.fn += 1
                s.false_negatives.append(item.objeto)
    overall = Score()
    for s in scores.values():
        overall.add(s)
    scores["geral"] = overall
    return scores


def by_class(items: list[Labelled], sectors: Iterable[str], classify: Classifier) -> dict[str, float]:
    """The share of objetos of each class whose sectors are all exactly right (borderline aside)."""
    known = set(sectors)
    right: dict[str, list[bool]] = {}
    for item in items:
        predicted = set(classify(item.objeto)) & known
        ok = predicted - item.limitrofe == set(item.setores) - item.limitrofe
        right.setdefault(item.classe, []).append(ok)
    return {c: sum(v) / len(v) for c, v in right.items()}


def read_levels() -> dict[str, dict[str, dict[str, float]]]:
    """part -> sector -> {"precisao", "recall"}: what the rules reached, the floor of the test."""
    return yaml.safe_load(LEVELS_FILE.read_text(encoding="utf-8"))


def write_levels(levels: Mapping[str, Mapping[str, Score]]) -> None:
    floor = {part: {sector: {"precisao": _down(s.precision), "recall": _down(s.recall)}
                    for sector, s in scores.items()} for part, scores in levels.items()}
    header = ("# The precision and recall the rules alone reached on each part of the labelled set,\n"
              "# rounded down: tests/domain/test_relevance.py fails when a sector falls below them.\n"
              "# Written by `python -m bench.relevance --save-levels` after an improvement.\n")
    LEVELS_FILE.write_text(header + yaml.safe_dump(floor, sort_keys=False), encoding="utf-8")


def _down(value: float) -> float:
    return int(value * 100) / 100
