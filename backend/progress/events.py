"""The vocabulary of a search's progress: its stages, their events, event ids, and the events
rebuilt from a stored search.

Event ids have Redis Stream's shape, `<milliseconds>-<sequence>`, whichever store made them, so
one cursor (`Last-Event-ID`) orders events from Redis, from memory and those derived from the
persisted search row alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from backend.schemas import Licitacao, ProgressEvent, ResumoLicitacoes
from backend.store.search_cache import SearchOutcome

__all__ = ["ONCE_STAGES", "STAGES", "TERMINAL_STAGES", "ProgressEvent", "Stage", "StoredEvent"]


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage of a search's progress and the `progress` its events carry.

    A stage whose progress moves (`fetching`, one event per UF read) goes from `progress` to
    `progress_max`; every other stage has one value (`progress_max` None).
    """

    name: str
    progress: int
    progress_max: int | None = None
    once: bool = False  # sent at most once per search; a repeat is a replay
    terminal: bool = False  # the last event of a search's stream

    def progress_at(self, done: int, total: int) -> int:
        """The progress after `done` of the stage's `total` steps (its start when total is 0)."""
        if self.progress_max is None:
            return self.progress
        return self.progress + round((self.progress_max - self.progress) * done / max(total, 1))


# Every stage, in the order a search goes through them (`error` may cut in at any point); the
# page gets this table too (`backend/page_codes.py`), so names and values are a contract.
STAGES: tuple[Stage, ...] = (
    CONNECTING := Stage("connecting", 5),
    FETCHING := Stage("fetching", 10, 55),  # 10 the fetch starts, 55 the last UF is in
    PARTIAL_RESULTS := Stage("partial_results", 10, 55),  # a UF's best matches, with its fetching event
    FILTERING := Stage("filtering", 60),
    RESULTS_READY := Stage("results_ready", 70, once=True),
    LLM_READY := Stage("llm_ready", 85, once=True),
    EXCEL_READY := Stage("excel_ready", 98, once=True),
    EXCEL_FAILED := Stage("excel_failed", 98, once=True),
    COMPLETE := Stage("complete", 100, once=True, terminal=True),
    ERROR := Stage("error", -1, once=True, terminal=True),
)

TERMINAL_STAGES = frozenset(stage.name for stage in STAGES if stage.terminal)
ONCE_STAGES = frozenset(stage.name for stage in STAGES if stage.once)


def parse_event_id(value: str | None) -> tuple[int, int]:
    """`"1732800000000-3"` -> (1732800000000, 3); anything unreadable means "from the start"."""
    if not value:
        return (0, 0)
    millis, _, seq = value.strip().partition("-")
    try:
        return (int(millis), int(seq or 0))
    except ValueError:
        return (0, 0)


def format_event_id(event_id: tuple[int, int]) -> str:
    return f"{event_id[0]}-{event_id[1]}"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: tuple[int, int]
    event: ProgressEvent
    raw: str | None = None  # the event as stored (Redis), sent as it is instead of written again

    def json(self) -> str:
        return self.raw if self.raw is not None else self.event.model_dump_json()


def _event_id_at(moment: datetime) -> tuple[int, int]:
    return (int(moment.timestamp() * 1000), 0)


def derived_events(outcome: SearchOutcome) -> list[StoredEvent]:
    """The settled stages of a search, rebuilt from its persisted row.

    What a process that did not run the search (and shares no Redis with the one that did) can
    still tell its client. Ids come from the moments the outcomes were saved, in the same
    `<ms>-<seq>` shape as live events, so a `Last-Event-ID` cursor applies to both.
    """
    events: list[StoredEvent] = []
    if outcome.erro is not None and outcome.erro_at is not None:
        return [StoredEvent(_event_id_at(outcome.erro_at), error_event(outcome.erro))]
    if outcome.results_at is not None:
        events.append(StoredEvent(_event_id_at(outcome.results_at), results_ready_event(outcome.total_filtrado)))
    if outcome.resumo is not None and outcome.resumo_at is not None:
        events.append(StoredEvent(_event_id_at(outcome.resumo_at), llm_ready_event(outcome.resumo)))
    if outcome.excel_status != "processing" and outcome.excel_at is not None:
        excel = excel_event(outcome.excel_status, outcome.excel_url, outcome.excel_error)
        if excel is not None:
            events.append(StoredEvent(_event_id_at(outcome.excel_at), excel))
    events.sort(key=lambda e: e.id)
    if outcome.settled and events:
        last = events[-1].id
        events.append(StoredEvent((last[0], last[1] + 1), complete_event()))
    return events


def connecting_event(sector_name: str, ufs: list[str]) -> ProgressEvent:
    return ProgressEvent(stage=CONNECTING.name, progress=CONNECTING.progress,
                         message=f"Buscando licitações de {sector_name}", detail={"ufs": ufs})


def fetching_event(uf: str, done: int, total: int, items: int) -> ProgressEvent:
    """One UF read: progress through `FETCHING`'s range, from its start to the last UF in."""
    return ProgressEvent(
        stage=FETCHING.name, progress=FETCHING.progress_at(done, total),
        message=f"{uf}: {items} publicações lidas ({done} de {total} UFs)",
        detail={"uf": uf, "ufs_done": done, "ufs_total": total, "items": items},
    )


PARTIAL_MAX = 50  # licitações of one UF in its partial_results event: its best, before the final ranking


def partial_results_event(uf: str, done: int, total: int, best: Sequence[Licitacao], matches: int,
                          falha: str | None = None) -> ProgressEvent:
    """A UF's slices are read: its `PARTIAL_MAX` best matches (`best`, ranked), how many it has,
    and why it is incomplete when it is (`falha`), so the page can show them before the answer."""
    shown = best[:PARTIAL_MAX]
    message = f"{uf}: {matches} licitação(ões) encontrada(s)" + (f" ({falha})" if falha else "")
    return ProgressEvent(
        stage=PARTIAL_RESULTS.name, progress=PARTIAL_RESULTS.progress_at(done, total), message=message,
        detail={"uf": uf, "licitacoes": list(shown), "total": matches, "falha": falha},  # written in one pass
    )


def filtering_event(total_raw: int, sector_name: str) -> ProgressEvent:
    return ProgressEvent(stage=FILTERING.name, progress=FILTERING.progress,
                         message=f"Filtrando {total_raw} publicações pelo setor {sector_name}")


def error_event(message: str) -> ProgressEvent:
    return ProgressEvent(stage=ERROR.name, progress=ERROR.progress, message=message, detail={"message": message})


def results_ready_event(total_filtrado: int) -> ProgressEvent:
    message = f"{total_filtrado} licitação(ões) encontrada(s)"
    return ProgressEvent(stage=RESULTS_READY.name, progress=RESULTS_READY.progress, message=message,
                         detail={"total_filtrado": total_filtrado})


def llm_ready_event(resumo: ResumoLicitacoes) -> ProgressEvent:
    return ProgressEvent(
        stage=LLM_READY.name, progress=LLM_READY.progress, message="Resumo pronto",
        detail={"resumo": resumo.model_dump(mode="json")},
    )


def excel_event(status: str, url: str | None, error: str | None) -> ProgressEvent | None:
    """`excel_ready` or `excel_failed`; None for a report that was not asked for (skipped)."""
    if status == "ready":
        return ProgressEvent(
            stage=EXCEL_READY.name, progress=EXCEL_READY.progress, message="Planilha pronta para download",
            detail={"download_url": url},
        )
    if status == "failed":
        message = error or "Não foi possível gerar a planilha."
        return ProgressEvent(stage=EXCEL_FAILED.name, progress=EXCEL_FAILED.progress, message=message,
                             detail={"error": message})
    return None


def complete_event() -> ProgressEvent:
    return ProgressEvent(stage=COMPLETE.name, progress=COMPLETE.progress, message="Busca concluída")


