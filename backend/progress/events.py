"""The vocabulary of a search's progress: its stages, their events, event ids, and the events
rebuilt from a stored search.

Event ids have Redis Stream's shape, `<milliseconds>-<sequence>`, whichever store made them, so
one cursor (`Last-Event-ID`) orders events from Redis, from memory and those derived from the
persisted search row alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from backend.schemas import ProgressEvent, ResumoLicitacoes
from backend.store.search_cache import SearchOutcome

__all__ = ["ONCE_STAGES", "TERMINAL_STAGES", "ProgressEvent", "StoredEvent"]

TERMINAL_STAGES = frozenset({"complete", "error"})
ONCE_STAGES = frozenset({"results_ready", "llm_ready", "excel_ready", "excel_failed", "complete", "error"})


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
    return ProgressEvent(stage="connecting", progress=5, message=f"Buscando licitações de {sector_name}",
                         detail={"ufs": ufs})


def fetching_event(uf: str, done: int, total: int, items: int) -> ProgressEvent:
    """One UF read: progress from 10 (the fetch starts) to 55 (the last UF is in)."""
    return ProgressEvent(
        stage="fetching", progress=10 + round(45 * done / max(total, 1)),
        message=f"{uf}: {items} publicações lidas ({done} de {total} UFs)",
        detail={"uf": uf, "ufs_done": done, "ufs_total": total, "items": items},
    )


def filtering_event(total_raw: int, sector_name: str) -> ProgressEvent:
    return ProgressEvent(stage="filtering", progress=60,
                         message=f"Filtrando {total_raw} publicações pelo setor {sector_name}")


def error_event(message: str) -> ProgressEvent:
    return ProgressEvent(stage="error", progress=-1, message=message, detail={"message": message})


def results_ready_event(total_filtrado: int) -> ProgressEvent:
    message = f"{total_filtrado} licitação(ões) encontrada(s)"
    return ProgressEvent(stage="results_ready", progress=70, message=message, detail={"total_filtrado": total_filtrado})


def llm_ready_event(resumo: ResumoLicitacoes) -> ProgressEvent:
    return ProgressEvent(
        stage="llm_ready", progress=85, message="Resumo pronto", detail={"resumo": resumo.model_dump(mode="json")}
    )


def excel_event(status: str, url: str | None, error: str | None) -> ProgressEvent | None:
    """`excel_ready` or `excel_failed`; None for a report that was not asked for (skipped)."""
    if status == "ready":
        return ProgressEvent(
            stage="excel_ready", progress=98, message="Planilha pronta para download", detail={"download_url": url}
        )
    if status == "failed":
        message = error or "Não foi possível gerar a planilha."
        return ProgressEvent(stage="excel_failed", progress=98, message=message, detail={"error": message})
    return None


def complete_event() -> ProgressEvent:
    return ProgressEvent(stage="complete", progress=100, message="Busca concluída")


