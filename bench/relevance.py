"""Precision, recall and F1 of the sectors' matching on the labelled objetos, per sector.

    .venv/bin/python -m bench.relevance [--before REV] [--rules-only | --model M] [--part PART]
                                        [--errors SECTOR] [--save-levels]

Prints, for the tuning part and the held-out part of `tests/domain/data/relevance/` (see
`tests/relevance.py`), each sector's precision, recall and F1 with the rules alone and with rules
+ the AI arbiter, and the share of objetos classified right by kind of difficulty. `--before REV` runs the rules of a git revision
(its `backend/`) on the same objetos in the same run, side by side. `--errors SECTOR` lists the
tuning part's mistakes for a sector (the held-out part's are never listed: it is not tuned on).
Rules + the AI arbiter: the sectors the model names among those whose rules doubt, asked in the
service's batches of the server of OPENAI_BASE_URL / OPENAI_API_KEY (and `--model`), with its
tokens per objeto; without OPENAI_BASE_URL it asks the project's double, which checks the
mechanism only (its answers are no model's); `--rules-only` leaves it out.
`--save-levels` records today's figures as the floor of `tests/domain/test_relevance.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from contextlib import ExitStack

import openai

from backend.adapters.classifier import ClassifyError, SectorBrief, classify
from backend.domain.matching import prepare
from backend.domain.sectors import Sector, every_sector, load_sectors, read_boundaries
from backend.index.arbiter import BATCH
from bench.revision import revision_tree
from tests.fakes.openai_server import FakeOpenAI
from tests.relevance import CLASSES, PARTS, Classifier, Labelled, Score, by_class, load, score, write_levels

# Run in a revision's own tree: its sectors and its matching, whatever their API was then.
_CLASSIFY_AT_REVISION = """
import json, sys
from backend.domain.sectors import load_sectors
try:
    from backend.domain.matching import mentions_sector
except ImportError:
    from backend.domain.filtering import mentions_sector
sectors = load_sectors()
print(json.dumps([[s for s, sector in sectors.items() if mentions_sector(o, sector.rules)]
                  for o in json.load(sys.stdin)]))
"""


def rules_classifier(sectors: dict[str, Sector]) -> Classifier:
    def classify(objeto: str) -> list[str]:
        text = prepare(objeto)
        return [sid for sid, sector in sectors.items() if sector.rules.read(text).found]
    return classify


def arbiter_classifier(sectors: dict[str, Sector], objetos: list[str], *, model: str) -> tuple[Classifier, str]:
    """Rules + arbiter: the rules' sectors, plus those the model names among the sectors whose rules
    doubt (what the service's arbiter does). The model is the OpenAI-compatible server of
    OPENAI_BASE_URL / OPENAI_API_KEY, or the project's double, which checks the mechanism only."""
    rules = every_sector(sectors)
    readings = {o: rules.read(prepare(o)) for o in objetos}
    doubtful = sorted(o for o, r in readings.items() if any(x.doubtful for x in r.values()))
    briefs = [SectorBrief(s.id, s.nome, " ".join(s.descricao.split())) for s in sectors.values()]
    verdicts, tokens = asyncio.run(_ask(doubtful, briefs, read_boundaries(), model=model))
    per_objeto = tokens / len(doubtful) if doubtful else 0.0
    server = os.environ.get("OPENAI_BASE_URL") or "o dublê do projeto: só confere o mecanismo"
    note = (f"árbitro ({model} em {server}): "
            f"{len(doubtful)} objetos em dúvida de {len(objetos)}, {tokens} tokens, {per_objeto:.0f} por objeto, "
            f"{sum(v is None for v in verdicts.values())} sem resposta")

    def classify(objeto: str) -> list[str]:
        reading = readings[objeto]
        found = [sid for sid, r in reading.items() if r.found]
        said = verdicts.get(objeto) or []
        return found + [sid for sid in said if reading.get(sid) is not None and reading[sid].doubtful]
    return classify, note


async def _ask(objetos: list[str], briefs: list[SectorBrief], boundaries: tuple[str, ...], *,
               model: str) -> tuple[dict[str, list[str] | None], int]:
    with ExitStack() as stack:
        base_url, api_key = os.environ.get("OPENAI_BASE_URL"), os.environ.get("OPENAI_API_KEY")
        if not base_url:
            fake = stack.enter_context(FakeOpenAI())
            base_url, api_key = fake.base_url, "sk-double"
        client = openai.AsyncOpenAI(api_key=api_key or "sk-none", base_url=base_url, max_retries=0)
        verdicts: dict[str, list[str] | None] = {}
        tokens = 0
        try:
            for start in range(0, len(objetos), BATCH):
                batch = objetos[start:start + BATCH]
                try:
                    answer = await classify(batch, briefs, boundaries, client=client, model=model, timeout=60)
                except ClassifyError as exc:
                    print(f"  lote {start // BATCH + 1}: {exc}")
                    continue
                tokens += answer.tokens
                verdicts.update(zip(batch, answer.setores, strict=True))
        finally:
            await client.close()
    return verdicts, tokens


def revision_classifier(revision: str, objetos: list[str]) -> Classifier:
    """The sectors each objeto gets from the rules of `revision`, computed in one child process."""
    with revision_tree(revision) as tree:
        done = subprocess.run([sys.executable, "-c", _CLASSIFY_AT_REVISION], cwd=tree, check=True,
                              input=json.dumps(objetos), capture_output=True, text=True)
    answers = dict(zip(objetos, json.loads(done.stdout), strict=True))
    return answers.__getitem__


def _table(title: str, columns: dict[str, dict[str, Score]]) -> None:
    names = list(columns)
    print(f"\n{title}")
    print(f"{'setor':<21}" + "".join(f"{name:>27}" for name in names))
    print(f"{'':<21}" + "".join(f"{'P':>9}{'R':>9}{'F1':>9}" for _ in names) + f"{'positivos':>11}")
    for sector in next(iter(columns.values())):
        cells = "".join(f"{c[sector].precision:>9.3f}{c[sector].recall:>9.3f}{c[sector].f1:>9.3f}"
                        for c in columns.values())
        first = columns[names[0]][sector]
        print(f"{sector:<21}{cells}{first.tp + first.fn:>11}")


def _classes(items: list[Labelled], sectors: list[str], columns: dict[str, Classifier]) -> None:
    shares = {name: by_class(items, sectors, classify) for name, classify in columns.items()}
    counts = {c: sum(1 for i in items if i.classe == c) for c in CLASSES}
    width = {name: max(14, len(name) + 2) for name in columns}
    print(f"{'  certos por classe':<21}" + "".join(f"{name:>{width[name]}}" for name in columns) + f"{'objetos':>9}")
    for c in CLASSES:
        if counts[c]:
            print(f"  {c:<19}" + "".join(f"{shares[name][c]:>{width[name]}.3f}" for name in columns)
                  + f"{counts[c]:>9}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", metavar="REV", help="also run the rules of this git revision")
    parser.add_argument("--errors", metavar="SECTOR", help="list the tuning part's mistakes for a sector")
    parser.add_argument("--part", choices=PARTS, help="only this part of the labelled set")
    parser.add_argument("--rules-only", action="store_true",
                        help="leave out rules + AI arbiter (OPENAI_BASE_URL/OPENAI_API_KEY, else the project's double)")
    parser.add_argument("--model", default=os.environ.get("LLM_MODEL", "gpt-4.1-nano"))
    parser.add_argument("--save-levels", action="store_true", help="record today's figures as the test's floor")
    args = parser.parse_args()

    sectors = load_sectors()
    parts = {part: load(part) for part in PARTS if args.part in (None, part)}
    started = time.perf_counter()
    classifiers: dict[str, Classifier] = {"regras": rules_classifier(sectors)}
    if args.before:
        objetos = sorted({i.objeto for items in parts.values() for i in items})
        classifiers = {f"regras {args.before}": revision_classifier(args.before, objetos), **classifiers}
    if not args.rules_only:
        objetos = sorted({i.objeto for items in parts.values() for i in items})
        classifiers["regras + árbitro"], note = arbiter_classifier(sectors, objetos, model=args.model)
        print(note)
    print(f"{sum(map(len, parts.values()))} objetos rotulados: "
          + ", ".join(f"{part} {len(items)}" for part, items in parts.items()))
    levels = {}
    for part, items in parts.items():
        columns = {name: score(items, sectors, classify) for name, classify in classifiers.items()}
        _table(f"{part} ({len(items)} objetos)", columns)
        _classes(items, list(sectors), classifiers)
        levels[part] = columns["regras"]
    print(f"\n({time.perf_counter() - started:.1f} s)")
    if args.errors and "tuning" in levels:
        mistakes = levels["tuning"][args.errors]
        print(f"\n{args.errors}: {len(mistakes.false_positives)} falsos positivos, "
              f"{len(mistakes.false_negatives)} falsos negativos (tuning)")
        for objeto in mistakes.false_positives:
            print(f"  FP  {objeto}")
        for objeto in mistakes.false_negatives:
            print(f"  FN  {objeto}")
    if args.save_levels and len(levels) == len(PARTS):
        write_levels(levels)
        print("níveis gravados")


if __name__ == "__main__":
    main()
