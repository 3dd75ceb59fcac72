"""Business sectors a search can target: `sectors.yaml`, and each one's terms in `lexicons/<id>.yaml`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

import yaml

from backend.domain.matching import SectorLists, SectorRules, SectorsRules, sectors_typos

SECTORS_FILE = Path(__file__).with_name("sectors.yaml")
_LISTS = tuple(f.name for f in fields(SectorLists))


@dataclass(frozen=True, slots=True, eq=False)
class Sector:
    id: str
    nome: str
    descricao: str
    termos: SectorLists
    valor_minimo: float | None
    valor_maximo: float | None
    rules: SectorRules


def read_terms(path: Path) -> SectorLists:
    """A sector's term lists (`lexicons/<id>.yaml`)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = set(raw) - set(_LISTS)
    if unknown:
        raise ValueError(f"{path.name}: unknown lists {sorted(unknown)}")
    return SectorLists(**{name: tuple(str(term) for term in raw.get(name) or ()) for name in _LISTS})


def load_sectors(path: Path = SECTORS_FILE) -> dict[str, Sector]:
    """Sectors by id, with their matchers compiled once per version of the files (about a second
    of CPU: call it off the event loop)."""
    lexicons = sorted((path.parent / "lexicons").glob("*.yaml"))
    versions = tuple((p.name, p.stat().st_mtime_ns) for p in (path, *lexicons))
    return dict(_load_sectors(path, versions))


@lru_cache(maxsize=4)
def _load_sectors(path: Path, versions: tuple[tuple[str, int], ...]) -> dict[str, Sector]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = raw["setores"]
    ids = [entry["id"] for entry in entries]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate sector id in {path.name}: {sorted({i for i in ids if ids.count(i) > 1})}")
    lists = {entry["id"]: read_terms(path.parent / "lexicons" / f"{entry['id']}.yaml") for entry in entries}
    typos = sectors_typos(lists.values())  # the same misspellings forgiven by every sector
    return {
        entry["id"]: Sector(
            id=entry["id"],
            nome=entry["nome"],
            descricao=entry["descricao"],
            termos=lists[entry["id"]],
            valor_minimo=entry.get("valor_minimo"),
            valor_maximo=entry.get("valor_maximo"),
            rules=SectorRules.build(lists[entry["id"]], typos),
        )
        for entry in entries
    }


def read_boundaries(path: Path = SECTORS_FILE) -> tuple[str, ...]:
    """Where each kind of tender belongs (`fronteiras` of `sectors.yaml`), in Portuguese."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return tuple(str(line) for line in raw.get("fronteiras") or ())


@lru_cache(maxsize=8)
def _every_sector(sectors: tuple[Sector, ...]) -> SectorsRules:
    shared = {id(sector.rules.matcher.typos): sector.rules.matcher.typos for sector in sectors}
    typos = next(iter(shared.values())) if len(shared) == 1 else None
    return SectorsRules.build({sector.id: sector.termos for sector in sectors}, typos)


def every_sector(sectors: Mapping[str, Sector]) -> SectorsRules:
    """All the sectors in one matcher (compiled once per set of sectors)."""
    return _every_sector(tuple(sectors.values()))
