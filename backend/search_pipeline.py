"""One search, stage by stage: validate, fetch, normalise, filter, rank, persist, summary, Excel.

The pipeline decides; the adapters it is handed (`Services`) do the I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID, uuid4

import anyio
import orjson

from backend import keys, reports
from backend.adapters.auth import LOCAL_USER, User
from backend.codes import latest_publication_day, now_brasilia, today_brasilia
from backend.domain.filtering import Criteria, filter_and_rank, match_known, rank
from backend.domain.matching import TermMatcher, mentions_sector, split_terms
from backend.domain.plans import Plan, Quota, beyond_plan, plan_of
from backend.domain.sectors import Sector
from backend.domain.summary import gerar_resumo_fallback
from backend.index.plan import ABERTAS_HORIZON
from backend.index.search import UFsRead
from backend.pncp.client import PROPOSTA_PATH, PUBLICACAO_PATH, UFResult, describe_failure
from backend.pncp.records import normalize_records
from backend.progress import events
from backend.runtime import metrics
from backend.runtime.logs import log_context
from backend.schemas import LICITACOES, BuscaRequest, BuscaResponse, FalhaUF, Fonte, Licitacao
from backend.services import Services
from backend.store.search_cache import StoredSearch

logger = logging.getLogger(__name__)


class SearchRejected(Exception):
    """The request is well formed but cannot be searched (e.g. an unknown sector)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


class SearchIdTaken(Exception):
    """The `search_id` names a search of another request, or of another user: nothing of it may change."""

    def __init__(self, search_id: UUID, *, other_user: bool = False) -> None:
        whose = "outra busca" if other_user else "outra busca, com outros parâmetros"
        self.message = (f"O search_id {search_id} já pertence a {whose}; "
                        "gere um novo search_id para esta (a página gera um a cada busca).")
        super().__init__(self.message)


class NotInPlan(Exception):
    """The user's plan does not allow this search (none left this month, too many UFs, too long a
    period); `message` says which limit, for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SearchFailed(Exception):
    """The search itself could not be done; `message` is for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(slots=True)
class SearchContext:
    """State of one search as it moves through the stages."""

    search_id: UUID
    request: BuscaRequest
    sector: Sector
    user: User = LOCAL_USER
    plan: Plan | None = None  # the user's plan; None: no plan limits (AUTH_MODE=off)
    counted: bool = False  # counted against the user's quota (given back if the service fails it)
    timings_ms: dict[str, float] = field(default_factory=dict)
    results_json: bytes = b"[]"  # the licitações found, written once: stored, queued and answered as such

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - started
            self.timings_ms[name] = round(seconds * 1000, 1)
            metrics.STAGE_SECONDS.labels(name).observe(seconds)


def criteria_for(request: BuscaRequest, sector: Sector, now: datetime | None = None) -> Criteria:
    """The request's filters; the sector's value range applies when the user gives none.
    "abertas": any publication date, open now (`now`: Brasília time), nearest closing first."""
    own_range = request.valor_minimo is not None or request.valor_maximo is not None
    first, last = (None, None) if request.abertas else request.period
    return Criteria(
        ufs=frozenset(request.ufs),
        modalidades=frozenset(request.modalidades_efetivas),
        data_inicial=first,
        data_final=last,
        now=now or now_brasilia(),
        valor_minimo=request.valor_minimo if own_range else sector.valor_minimo,
        valor_maximo=request.valor_maximo if own_range else sector.valor_maximo,
        somente_abertas=request.somente_abertas or request.abertas,
        terms=TermMatcher.build(split_terms(request.termos_busca)),
        nearest_closing_first=request.abertas,
    )


@dataclass(slots=True)
class Found:
    """Stage 2's outcome, however it was read: counts, where it came from, what went wrong."""

    total_raw: int
    failures: list[FalhaUF]
    notes: list[str]
    fonte: Fonte
    atualizado_em: datetime | None


def _truncation_note(uf: str, modalidades: list[int], max_pages: int, *, abertas: bool = False) -> str:
    refine = "escolha menos modalidades" if abertas else "refine o período"
    return (f"{uf}: havia mais de {max_pages * 50} publicações por modalidade "
            f"({', '.join(map(str, modalidades))}); {refine} para ver todas.")


def select_licitacoes(records: list[dict[str, Any]], sector: Sector, criteria: Criteria) -> list[Licitacao]:
    """Stages 3-5 over live records: normalise and dedupe, keep what fits the sector and the criteria, rank."""
    licitacoes = normalize_records(records, objeto_may_match=partial(mentions_sector, rules=sector.rules))
    return filter_and_rank(licitacoes, sector.rules, criteria)


def select_candidates(read: UFsRead, sector: Sector, criteria: Criteria) -> list[Licitacao]:
    """Stages 4-5 over the index's candidates (normalised already, their sector keywords found
    when they were written, unless the sector's keywords changed since)."""
    if read.known is None:
        return filter_and_rank(read.candidates, sector.rules, criteria)
    known = zip(read.candidates, read.known, strict=True)
    kept = [lic for lic in (match_known(c, why, criteria) for c, why in known) if lic is not None]
    return rank(kept, nearest_closing_first=criteria.nearest_closing_first)


class Selection:
    """Stages 3-5 UF by UF, as each UF's data comes in: its best matches go out at once
    (`partial_results`, with its `fetching` event), and the final ranking merges them all.
    Matching a UF's records costs the same as matching them with everyone's, so the answer
    costs no more for having been shown early."""

    def __init__(self, ufs: list[str], criteria: Criteria,
                 emit: Callable[[list[events.ProgressEvent]], Awaitable[list[str]]], attempts: int) -> None:
        self._ufs = ufs
        self._criteria = criteria
        self._emit = emit
        self._attempts = attempts
        self._kept: dict[str, list[Licitacao]] = {}

    async def add(self, counts: dict[str, int], select: Callable[[], list[Licitacao]],
                  errors: dict[str, list[str]], *, ahead: bool = True) -> None:
        """These UFs are read (`counts`: their publications); `select` gives their matches, ranked
        (CPU work: run in a thread). `ahead` False: the answer follows at once (the index covered
        the whole search, nothing is read from PNCP), so only `fetching` goes out."""
        matched = await anyio.to_thread.run_sync(select)
        by_uf: dict[str, list[Licitacao]] = {uf: [] for uf in counts}
        for licitacao in matched:
            by_uf.setdefault(licitacao.uf, []).append(licitacao)
        batch = []
        for uf, count in counts.items():
            self._kept[uf] = best = by_uf[uf]
            done, total = len(self._kept), len(self._ufs)
            falha = (describe_failure(uf, errors[uf], partial=count > 0, attempts=self._attempts)
                     if errors.get(uf) else None)
            batch.append(events.fetching_event(uf, done, total, count))
            if ahead:
                batch.append(events.partial_results_event(uf, done, total, best, len(best), falha))
        await self._emit(batch)

    def final(self) -> tuple[list[Licitacao], bytes]:
        """Every UF's matches in one ranking, and written as JSON."""
        seen: set[str] = set()
        merged = []
        for kept in self._kept.values():
            for licitacao in kept:
                if licitacao.codigo_pncp not in seen:
                    seen.add(licitacao.codigo_pncp)
                    merged.append(licitacao)
        ranked = rank(merged, nearest_closing_first=self._criteria.nearest_closing_first)
        return ranked, LICITACOES.dump_json(ranked)


SEARCH_SIGN_OF_LIFE = 10.0  # seconds between a running search's signs of life in its stored row
SEARCH_SILENT_FOR = timedelta(seconds=60)  # no sign of life for this long: its process died
REPOST_POLL_SECONDS = 0.25  # how often a re-post of a running search looks whether it is answered


async def run_search(request: BuscaRequest, services: Services, user: User = LOCAL_USER) -> BuscaResponse:
    """`user`'s whole search, inline: stages 1-7, with progress events; returns the final answer.

    A `search_id` names one search: posted again by its user with the same request, the stored
    search is answered as it stands (once answered, if it is still running), nothing read, queued
    or counted again. With accounts, a search the user's plan allows counts against their quota
    when it starts (`NotInPlan` otherwise), and no more of their searches run at once than the
    plan allows (`SearchesAtOnce`)."""
    sector = services.sectors.get(request.setor_id)
    if sector is None:
        raise SearchRejected("setor_id", f"setor desconhecido: {request.setor_id!r}. Consulte GET /v1/setores.")
    _check_period(request, services.settings.max_uf_days, latest_publication_day(services.clock))
    plan = plan_for(services, user)
    if plan is not None:
        _check_plan(request, plan)
    ctx = SearchContext(search_id=request.search_id or uuid4(), request=request, sector=sector, user=user, plan=plan)
    with log_context(search_id=str(ctx.search_id)):
        async with _running(ctx, services):
            stored = await _take_search_id(ctx, services)
            if stored is not None:
                logger.info("search %s posted again with the same request: answering the stored search",
                            ctx.search_id)
                return stored_answer(stored, sector, now_brasilia(services.clock))
            await _count(ctx, services)
            async with _signs_of_life(ctx, services):
                return await _run(ctx, services)


def plan_for(services: Services, user: User) -> Plan | None:
    """The user's plan (their token's `app_metadata.plan`); None with AUTH_MODE=off, which has none."""
    return None if services.tokens is None else plan_of(services.plans, user.app_metadata)


def _check_plan(request: BuscaRequest, plan: Plan) -> None:
    days = None if request.abertas else (request.period[1] - request.period[0]).days + 1
    refused = beyond_plan(plan, len(request.ufs), days)
    if refused is not None:
        raise NotInPlan(refused)


def _running(ctx: SearchContext, services: Services) -> contextlib.AbstractAsyncContextManager[None]:
    """A place among the user's searches at once, while this one runs (no limit without a plan)."""
    if ctx.plan is None:
        return contextlib.nullcontext()
    return services.running.hold(ctx.user.id, str(ctx.search_id), limit=ctx.plan.buscas_simultaneas)


async def _count(ctx: SearchContext, services: Services) -> None:
    """Counts the search against the user's quota; over it, the id is freed and `NotInPlan` raised."""
    if ctx.plan is None:
        return
    today = today_brasilia(services.clock)
    if await services.usage.take(ctx.search_id, ctx.user.id, ctx.plan, today) is None:
        await services.store.release(ctx.search_id)
        raise NotInPlan(Quota.on(today, ctx.plan, ctx.plan.buscas_mes).exhausted())
    ctx.counted = True


def _check_period(request: BuscaRequest, max_uf_days: int, latest: date) -> None:
    """No day after `latest` (nothing is published before its day begins in Brasília), and
    at most `max_uf_days` UF-days in one search."""
    if request.abertas:
        days = 1
    else:
        first, last = request.period
        if last > latest:
            raise SearchRejected(
                "data_final", f"a data final ({last.strftime('%d/%m/%Y')}) ainda não chegou no horário de Brasília: "
                f"use até {latest.strftime('%d/%m/%Y')}.",
            )
        days = (last - first).days + 1
    size = len(request.ufs) * days
    if size > max_uf_days:
        raise SearchRejected(
            "ufs", f"busca grande demais: {len(request.ufs)} UFs x {days} dias = {size}, e o limite é {max_uf_days}. "
            "Escolha menos UFs ou um período menor.",
        )


async def _take_search_id(ctx: SearchContext, services: Services) -> StoredSearch | None:
    """None when this request is to run the search (its id was free, or the process running it
    died); else the stored search of the same request, once it has its answer. Another request
    under the same id: `SearchIdTaken`."""
    store, request, plan = services.store, ctx.request.model_dump(mode="json"), ctx.plan
    while not await store.begin(ctx.search_id, request=request, setor_id=ctx.sector.id, owner=ctx.user.id,
                                plano=plan and plan.id, keep_for=plan and plan.historico):
        stored = await store.get(ctx.search_id)
        if stored is None:
            continue  # it expired in between: take the id again
        if stored.outcome.owner != ctx.user.id:
            raise SearchIdTaken(ctx.search_id, other_user=True)
        if _without_id(stored.request) != _without_id(request):
            raise SearchIdTaken(ctx.search_id)
        outcome = stored.outcome
        if outcome.searching:
            logger.info("search %s posted again while it runs: waiting for its answer", ctx.search_id)
        while outcome is not None and outcome.searching:
            if await store.take_over(ctx.search_id, silent_for=SEARCH_SILENT_FOR):
                return None
            await anyio.sleep(REPOST_POLL_SECONDS)
            outcome = await store.get_outcome(ctx.search_id)
        if outcome is None:
            continue
        if outcome.erro is not None:
            raise SearchFailed(outcome.erro)
        if outcome is not stored.outcome:
            stored = await store.get(ctx.search_id)
        if stored is not None:
            return stored
    return None


def _without_id(request: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in request.items() if name != "search_id"}


@asynccontextmanager
async def _signs_of_life(ctx: SearchContext, services: Services) -> AsyncIterator[None]:
    """Marks the stored row alive while the search runs, so a re-post waits for it instead of
    taking it over (`SEARCH_SILENT_FOR`)."""

    async def beat() -> None:
        while True:
            await anyio.sleep(SEARCH_SIGN_OF_LIFE)
            try:
                await services.store.still_searching(ctx.search_id)
            except Exception:  # the database is away: the search itself will say so
                logger.warning("search %s: could not record a sign of life", ctx.search_id)

    beating = asyncio.create_task(beat(), name=f"search {ctx.search_id} alive")
    try:
        yield
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating


def stored_answer(stored: StoredSearch, sector: Sector, now: datetime) -> BuscaResponse:
    """A stored search's answer as it stands at `now` (Brasília): results, statuses, summary and link."""
    outcome = stored.outcome
    pending = outcome.llm_status == "processing" or outcome.excel_status == "processing"
    return BuscaResponse(
        search_id=outcome.search_id,
        modo=stored.request.get("modo", "publicacao"),
        licitacoes=stored.licitacoes,
        total_raw=stored.total_raw,
        total_filtrado=outcome.total_filtrado,
        ufs_com_falha=stored.ufs_com_falha,
        avisos=stored.avisos,
        resumo=outcome.resumo or gerar_resumo_fallback(stored.licitacoes, sector.nome, now=now),
        llm_status=outcome.llm_status,  # type: ignore[arg-type]
        excel_status=outcome.excel_status,  # type: ignore[arg-type]
        excel_url=outcome.excel_url,
        excel_error=outcome.excel_error,
        processamento="fila" if pending else "inline",
        fonte=stored.fonte,  # type: ignore[arg-type]
        atualizado_em=stored.atualizado_em,
    )


async def _run(ctx: SearchContext, services: Services) -> BuscaResponse:
    await services.progress.emit(str(ctx.search_id), events.connecting_event(ctx.sector.nome, ctx.request.ufs))
    started = time.perf_counter()
    try:
        answer = await _find_licitacoes(ctx, services)
    except SearchFailed as failure:
        await _record_failure(ctx, services, failure.message)
        raise
    except Exception:
        await _record_failure(ctx, services, "Erro interno ao fazer a busca. Tente novamente em instantes.")
        raise
    await _produce_reports(ctx, services, answer)
    logger.info("search answered (%s)", answer.processamento, extra={
        "duration_s": round(time.perf_counter() - started, 3), "total_filtrado": answer.total_filtrado,
        "processamento": answer.processamento,
    })
    return answer


async def _record_failure(ctx: SearchContext, services: Services, message: str) -> None:
    """Tells the user why, on every process, and gives the search back to their quota (the
    service failed it); a failure to record it must not hide the first one."""
    try:
        await services.store.save_failure(
            ctx.search_id, request=ctx.request.model_dump(mode="json"), setor_id=ctx.sector.id, erro=message
        )
    except Exception:
        logger.exception("search %s: could not record its failure", ctx.search_id)
    if ctx.counted:
        try:
            await services.usage.give_back(ctx.search_id)
        except Exception:
            logger.exception("search %s: could not give it back to its user's quota", ctx.search_id)
    await services.progress.emit(str(ctx.search_id), events.error_event(message))


async def _find_licitacoes(ctx: SearchContext, services: Services) -> BuscaResponse:
    """Stages 1-5 and persistence: the answer the user could see at once."""
    request, sector = ctx.request, ctx.sector
    emit = partial(services.progress.emit, str(ctx.search_id))
    criteria = criteria_for(request, sector, now_brasilia(services.clock))
    selection = Selection(request.ufs, criteria, partial(services.progress.emit_many, str(ctx.search_id)),
                          services.pncp.attempts)

    with ctx.stage("fetch"):
        found = await (_from_index if services.index is not None else _from_pncp)(ctx, services, selection, criteria)
    if len(found.failures) == len(request.ufs) and not found.total_raw:
        raise SearchFailed(
            "O PNCP não respondeu para nenhuma das UFs escolhidas. Tente novamente em alguns minutos. "
            + " ".join(f.mensagem for f in found.failures)
        )

    await emit(events.filtering_event(found.total_raw, sector.nome))
    with ctx.stage("filter"):
        matched, ctx.results_json = await anyio.to_thread.run_sync(selection.final)
    with ctx.stage("persist"):
        await services.store.save_results(
            ctx.search_id,
            request=request.model_dump(mode="json"),
            setor_id=sector.id,
            total_raw=found.total_raw,
            licitacoes=matched,
            ufs_com_falha=found.failures,
            avisos=found.notes,
            fonte=found.fonte,
            atualizado_em=found.atualizado_em,
            licitacoes_json=ctx.results_json,
        )
    await emit(events.results_ready_event(len(matched)))
    logger.info(
        "search %s: %d raw (%s), %d kept, %d UFs failed, timings %s",
        ctx.search_id, found.total_raw, found.fonte, len(matched), len(found.failures), ctx.timings_ms,
    )
    return BuscaResponse(
        search_id=ctx.search_id,
        modo=request.modo,
        licitacoes=matched,
        total_raw=found.total_raw,
        total_filtrado=len(matched),
        ufs_com_falha=found.failures,
        avisos=found.notes,
        llm_status="processing",
        excel_status="processing",
        tempos_ms=ctx.timings_ms,
        fonte=found.fonte,
        atualizado_em=found.atualizado_em,
    ).with_licitacoes_json(ctx.results_json)


async def _from_index(ctx: SearchContext, services: Services, selection: Selection, criteria: Criteria) -> Found:
    """Covered slices from the index; missing ones read from PNCP once, into the index, first."""
    assert services.index is not None
    request, sector = ctx.request, ctx.sector

    async def on_read(read: UFsRead) -> None:
        await selection.add(read.counts, partial(select_candidates, read, sector, criteria), read.errors,
                            ahead=read.ahead)

    if request.abertas:
        gathered = await services.index.gather_open(request.ufs, request.modalidades_efetivas, sector, on_read)
    else:
        first, last = request.period
        gathered = await services.index.gather(request.ufs, request.modalidades_efetivas, first, last, sector,
                                               on_read)
    attempts = services.pncp.attempts
    failures = [FalhaUF(uf=uf, mensagem=describe_failure(uf, errors, partial=gathered.partial[uf], attempts=attempts))
                for uf, errors in gathered.errors.items()]
    notes = [_truncation_note(uf, modalidades, services.pncp.max_pages, abertas=request.abertas)
             for uf, modalidades in gathered.truncated.items()]
    return Found(total_raw=gathered.total_raw, failures=failures, notes=notes, fonte=gathered.fonte,
                 atualizado_em=gathered.atualizado_em)


async def _from_pncp(ctx: SearchContext, services: Services, selection: Selection, criteria: Criteria) -> Found:
    """Every slice read live (INDEX_DAYS=0); each UF's records matched as it comes and let go
    (PNCP's records weigh ~5 KB each; only the matches go on)."""
    request, sector = ctx.request, ctx.sector
    started = services.clock()
    raw: dict[str, int] = {}

    async def uf_done(result: UFResult) -> None:
        records, result.records = result.records, []
        raw[result.uf] = len(records)
        errors = {result.uf: result.errors} if result.errors else {}
        await selection.add({result.uf: len(records)}, partial(select_licitacoes, records, sector, criteria), errors)

    today = today_brasilia(services.clock)
    if request.abertas:
        first, last, path = None, today + ABERTAS_HORIZON, PROPOSTA_PATH
    else:
        (first, last), path = request.period, PUBLICACAO_PATH
        last = min(last, today)  # a later day has no publication yet
        if first > last:
            await selection.add(dict.fromkeys(request.ufs, 0), list, {}, ahead=False)
            return Found(total_raw=0, failures=[], notes=[], fonte="pncp", atualizado_em=started)
    results = await services.pncp.fetch_ufs(request.ufs, request.modalidades_efetivas, first, last,
                                            on_uf_done=uf_done, path=path)
    attempts = services.pncp.attempts
    failures = [FalhaUF(uf=r.uf, mensagem=describe_failure(r.uf, r.errors, partial=raw.get(r.uf, 0) > 0,
                                                           attempts=attempts)) for r in results if r.failed]
    notes = [_truncation_note(r.uf, r.truncated, services.pncp.max_pages, abertas=request.abertas)
             for r in results if r.truncated]
    return Found(total_raw=sum(raw.values()), failures=failures, notes=notes, fonte="pncp", atualizado_em=started)


async def _produce_reports(ctx: SearchContext, services: Services, answer: BuscaResponse) -> None:
    """Stages 6-7: background jobs when a worker is there, else inline.

    Only the summary's job is queued here; each of its attempts queues the report's, so the
    report carries the LLM's summary. Each output is claimed before it is produced, so a job and
    the inline path never both produce it. A failure here never loses the results already
    stored and answered.
    """
    queued = False
    if await services.queue.is_queue_available():
        with ctx.stage("enqueue"):
            queued = await _enqueue_summary(ctx, services, answer)
        if not queued:
            metrics.INLINE_FALLBACKS.labels("enqueue_failed").inc()
    else:
        metrics.INLINE_FALLBACKS.labels("queue_unavailable").inc()
    metrics.SEARCHES.labels("fila" if queued else "inline").inc()
    if queued:
        answer.processamento = "fila"
        # Ready at once from the data; the LLM's arrives over SSE as llm_ready.
        answer.resumo = gerar_resumo_fallback(answer.licitacoes, ctx.sector.nome, now=now_brasilia(services.clock))
        answer.tempos_ms = ctx.timings_ms
        return
    with ctx.stage("resumo"):
        resumo = await reports.produce_summary(services, ctx.search_id, answer.licitacoes, ctx.sector.nome,
                                               reports.INLINE)
    if resumo is not None:  # (None: a job holds it; its summary comes over SSE)
        answer.resumo, answer.llm_status = resumo, "ready"
    parametros = reports.report_parameters(ctx.request, ctx.sector)
    not_in_plan = None if ctx.plan is None or ctx.plan.excel else reports.NOT_IN_PLAN
    with ctx.stage("excel"):
        outcome = await reports.produce_report(services, ctx.search_id, answer.licitacoes, parametros,
                                               answer.resumo, ctx.sector.nome, reports.INLINE,
                                               settle_with=not_in_plan)
    if outcome is not None:
        answer.excel_status, answer.excel_url, answer.excel_error = outcome.status, outcome.url, outcome.error
    try:  # sent by the producers already, unless the database failed them: the stream must end
        await reports.finish_if_settled(services, ctx.search_id)
    except Exception:
        logger.exception("search %s: could not announce completion", ctx.search_id)
        await services.progress.emit(str(ctx.search_id), events.complete_event())
    answer.tempos_ms = ctx.timings_ms


async def _enqueue_summary(ctx: SearchContext, services: Services, answer: BuscaResponse) -> bool:
    sid = str(ctx.search_id)
    payload = orjson.Fragment(ctx.results_json)  # the licitações as stored: a list of dicts to the job
    return await services.queue.enqueue_job("llm_summary_job", sid, payload, ctx.sector.nome, job_id=keys.llm_job(sid))
