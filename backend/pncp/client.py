"""PNCP consulta API client: `/v1/contratacoes/publicacao`, `/atualizacao` and `/proposta`,
every page, retried, each request paced by the cluster's `PNCPPacer`.

Error tree (each carries a message a person can read, in Portuguese):

    PNCPError
    ├── PNCPRetryableError      worth another attempt
    │   ├── PNCPRateLimited     HTTP 429 (an HTML page), maybe with Retry-After
    │   ├── PNCPServerError     HTTP 5xx (JSON or a plain string)
    │   ├── PNCPUnreachable     timeout or connection error
    │   └── PNCPInvalidResponse 200 whose body is not PNCP's JSON envelope
    └── PNCPRequestRejected     other 4xx: our request is wrong, retrying will not help

httpx errors are translated here and nowhere else.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from email.utils import parsedate_to_datetime
from typing import Any

import anyio
import httpx
import orjson
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from backend.pncp.ordering import Limiter, OrderedLimiter
from backend.pncp.pacing import Caller, PNCPPacer
from backend.runtime import metrics

PAGE_SIZE = 50  # PNCP refuses larger pages with HTTP 400
READS_CONNECTIONS = 32  # the index reads' shared session: a paced budget keeps far fewer in flight
PUBLICACAO_PATH = "/v1/contratacoes/publicacao"
ATUALIZACAO_PATH = "/v1/contratacoes/atualizacao"
PROPOSTA_PATH = "/v1/contratacoes/proposta"  # open for proposals now, closing by dataFinal (no dataInicial)

# Who is asking PNCP in this task: users' searches go first, the index's ingestion second.
caller: ContextVar[Caller] = ContextVar("pncp_caller", default="search")


class PNCPError(Exception):
    """A PNCP request that did not give records."""

    outcome = "error"  # its label in the PNCP request metrics

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PNCPRetryableError(PNCPError):
    pass


class PNCPRateLimited(PNCPRetryableError):
    outcome = "rate_limited"

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PNCPServerError(PNCPRetryableError):
    outcome = "server_error"


class PNCPUnreachable(PNCPRetryableError):
    outcome = "unreachable"


class PNCPInvalidResponse(PNCPRetryableError):
    outcome = "invalid"


class PNCPRequestRejected(PNCPError):
    outcome = "rejected"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter; a server's Retry-After wins, up to `max_wait`."""

    max_retries: int = 3
    base: float = 1.0
    max_wait: float = 10.0

    def wait(self, attempt: int, error: BaseException | None) -> float:
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_wait)
        ceiling = min(self.base * 2 ** (attempt - 1), self.max_wait)
        return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True, slots=True)
class Page:
    records: list[dict[str, Any]]
    total_pages: int


@dataclass(slots=True)
class Pages:
    """Every page of one query: the records read and, if some page still failed, why."""

    records: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0
    errors: list[str] = field(default_factory=list)
    truncated: bool = False  # pages beyond `max_pages` left unread

    @property
    def complete(self) -> bool:
        return not self.errors and not self.truncated


@dataclass(slots=True)
class UFResult:
    """What one UF gave: its records and, if some request still failed, why."""

    uf: str
    records: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0
    errors: list[str] = field(default_factory=list)
    truncated: list[int] = field(default_factory=list)  # modalidades with pages left unread

    @property
    def failed(self) -> bool:
        return bool(self.errors)


UFDone = Callable[[UFResult], Awaitable[None]]


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


def _page_from_response(response: httpx.Response) -> Page:
    status = response.status_code
    if status == 204:
        return Page([], 0)
    if status == 429:
        raise PNCPRateLimited(
            "o PNCP limitou o número de consultas (HTTP 429)",
            _retry_after_seconds(response.headers.get("Retry-After")),
        )
    if status >= 500:
        raise PNCPServerError(f"o PNCP está com erro interno (HTTP {status})")
    if status != 200:
        raise PNCPRequestRejected(f"o PNCP recusou a consulta (HTTP {status}): {response.text[:200]}")
    try:
        body = orjson.loads(response.content)  # PNCP sends UTF-8; orjson reads it ~3x faster than json
    except ValueError:
        raise PNCPInvalidResponse("o PNCP respondeu algo que não é JSON (página de manutenção?)") from None
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise PNCPInvalidResponse("o PNCP respondeu em um formato inesperado")
    total_pages = body.get("totalPaginas")
    return Page(
        [r for r in body["data"] if isinstance(r, dict)],
        total_pages if isinstance(total_pages, int) and total_pages > 0 else 1,
    )


class PNCPClient:
    """Reads PNCP. Built once per process; safe to share between searches and ingestion.

    Every request waits for its turn from the pacer, which spreads the cluster's PNCP budget
    over every process (searches first); a 429 pauses them all.

    Each search in flight borrows an HTTP session of its own (at most `concurrency`
    connections), returned for the next search with its connections kept alive. One shared
    pool would do the same work worse: httpcore checks every connection of its pool on every
    request, and with 128 connections for 15 searches that checking took most of a process's
    CPU (bench.capacity, 30 concurrent searches). At most `max_connections // concurrency`
    searches of a process fetch at once; the next one waits for a session.
    """

    def __init__(
        self,
        new_session: Callable[[int], httpx.AsyncClient],
        *,
        pacer: PNCPPacer,
        retry: RetryPolicy = RetryPolicy(),
        concurrency: int = 8,
        max_pages: int = 40,
        max_connections: int = 128,
    ) -> None:
        self._new_session = new_session
        self._idle: list[httpx.AsyncClient] = []
        self._opened: list[httpx.AsyncClient] = []
        self._sessions = anyio.Semaphore(max(1, max_connections // concurrency))
        self._reads: httpx.AsyncClient | None = None  # the session of `fetch_all`, shared
        self._pacer = pacer
        self._retry = retry
        self._concurrency = concurrency
        self._max_pages = max_pages

    @classmethod
    def create(
        cls,
        base_url: str,
        *,
        pacer: PNCPPacer,
        timeout: float,
        retry: RetryPolicy,
        concurrency: int,
        max_pages: int,
        max_connections: int = 128,
    ) -> PNCPClient:
        """A client for `base_url`, or for the built-in demo data when it is "demo".

        `concurrency` bounds one search; `max_connections` the whole process, so it must leave
        room for every search a process serves at once (10 searches x 12 = 120)."""
        transport: httpx.AsyncBaseTransport | None = None
        if base_url.strip().lower() == "demo":
            from backend.pncp import demo as pncp_demo  # only demo runs need it

            base_url, transport = pncp_demo.DEMO_BASE_URL, pncp_demo.demo_transport()
        tls = httpx.create_ssl_context()  # one for every session: building one costs ~15 ms

        def new_session(connections: int) -> httpx.AsyncClient:
            return httpx.AsyncClient(
                base_url=base_url.rstrip("/"),
                transport=transport,
                verify=tls,
                timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
                headers={"Accept": "application/json", "User-Agent": "SmartLic-search/1.0"},
            )

        return cls(new_session, pacer=pacer, retry=retry, concurrency=concurrency, max_pages=max_pages,
                   max_connections=max_connections)

    @property
    def max_pages(self) -> int:
        return self._max_pages

    @property
    def attempts(self) -> int:
        return self._retry.max_retries + 1

    @property
    def pacer(self) -> PNCPPacer:
        return self._pacer

    async def aclose(self) -> None:
        for http in self._opened:
            await http.aclose()
        if self._reads is not None:
            await self._reads.aclose()

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[httpx.AsyncClient]:
        async with self._sessions:
            if self._idle:
                http = self._idle.pop()
            else:
                http = self._new_session(self._concurrency)
                self._opened.append(http)
            try:
                yield http
            finally:
                self._idle.append(http)

    async def fetch_page(self, uf: str | None, modalidade: int, data_inicial: date | None, data_final: date,
                         pagina: int, *, path: str = PUBLICACAO_PATH) -> Page:
        """One page, retried on 429, 5xx, timeouts, connection errors and non-JSON answers."""
        async with self._session() as http:
            return await self._fetch_page(http, path, _params(uf, modalidade, data_inicial, data_final), pagina)

    async def _fetch_page(self, http: httpx.AsyncClient, path: str, params: dict[str, Any], pagina: int) -> Page:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retry.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception_type(PNCPRetryableError),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._get(http, path, {**params, "pagina": pagina, "tamanhoPagina": PAGE_SIZE})
        raise AssertionError("unreachable: tenacity reraises the last error")

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return self._retry.wait(state.attempt_number, error)

    async def _get(self, http: httpx.AsyncClient, path: str, params: dict[str, Any]) -> Page:
        who = caller.get()
        waited = await self._pacer.wait_turn(who)
        metrics.PNCP_PACER_WAIT.labels(who).observe(waited)
        try:
            try:
                response = await http.get(path, params=params)
            except httpx.TimeoutException:
                raise PNCPUnreachable(f"o PNCP não respondeu em {http.timeout.read:.0f} s") from None
            except httpx.TransportError as exc:
                raise PNCPUnreachable(f"não foi possível conectar ao PNCP ({type(exc).__name__})") from None
            page = _page_from_response(response)
        except PNCPRateLimited as exc:
            metrics.PNCP_REQUESTS.labels(who, exc.outcome).inc()
            await self._pacer.rate_limited(exc.retry_after)  # the whole cluster slows down, not this search alone
            raise
        except PNCPError as exc:
            metrics.PNCP_REQUESTS.labels(who, exc.outcome).inc()
            raise
        metrics.PNCP_REQUESTS.labels(who, "ok" if page.records else "empty").inc()
        return page

    async def fetch_all(self, modalidade: int, uf: str | None, data_inicial: date | None, data_final: date,
                        *, path: str = PUBLICACAO_PATH, limiter: Limiter | None = None,
                        max_pages: int | None = None) -> Pages:
        """Every page of one query (`uf` None: every UF at once), at most `concurrency` at a time
        (or as many as `limiter` lets a whole search have), up to `max_pages` (PNCP_MAX_PAGES).
        `data_inicial` None: `/proposta`, which takes only the last day.

        The index's reads share one session: the pacer and the limiters bound their requests, so
        its pool stays small, and one search's many reads never hold the sessions others need."""
        if self._reads is None:
            self._reads = self._new_session(READS_CONNECTIONS)
        return await self._pages(self._reads, path, _params(uf, modalidade, data_inicial, data_final),
                                 limiter or OrderedLimiter(self._concurrency), max_pages or self._max_pages)

    async def fetch_ufs(
        self,
        ufs: Sequence[str],
        modalidades: Sequence[int],
        data_inicial: date | None,
        data_final: date,
        on_uf_done: UFDone | None = None,
        *,
        path: str = PUBLICACAO_PATH,
    ) -> list[UFResult]:
        """Every page of every UF x modalidade, at most `concurrency` requests at a time, the
        first UFs' first (so they are done first: `OrderedLimiter`) (`data_inicial` None with
        `PROPOSTA_PATH`: what is open now, closing by `data_final`).

        A failure stays inside its UF: the other UFs' records still come back.
        """
        limiter = OrderedLimiter(self._concurrency)
        rank = {uf: n for n, uf in enumerate(ufs)}
        results = {uf: UFResult(uf) for uf in ufs}

        async def fetch_uf(http: httpx.AsyncClient, uf: str) -> None:
            result = results[uf]

            async def modalidade_pages(modalidade: int) -> None:
                pages = await self._pages(http, path, _params(uf, modalidade, data_inicial, data_final),
                                          limiter.ranked(rank[uf]), self._max_pages)
                result.records.extend(pages.records)
                result.pages += pages.pages
                result.errors.extend(f"modalidade {modalidade}, {error}" for error in pages.errors)
                if pages.truncated:
                    result.truncated.append(modalidade)

            async with anyio.create_task_group() as tg:
                for modalidade in modalidades:
                    tg.start_soon(modalidade_pages, modalidade)
            if on_uf_done is not None:
                await on_uf_done(result)

        async with self._session() as http, anyio.create_task_group() as tg:
            for uf in ufs:
                tg.start_soon(fetch_uf, http, uf)
        return [results[uf] for uf in ufs]

    async def _pages(self, http: httpx.AsyncClient, path: str, params: dict[str, Any],
                     limiter: Limiter, max_pages: int) -> Pages:
        """Page 1, then the others in parallel; a failed page is noted and the others still read.
        Page 1's slot is handed on only once the other pages wait for theirs, so they go before
        the pages of lower-ranked queries (`OrderedLimiter`)."""
        result = Pages()

        async def page(pagina: int) -> Page | None:
            try:
                fetched = await self._fetch_page(http, path, params, pagina)
            except PNCPError as exc:
                result.errors.append(f"página {pagina}: {exc.message}")
                return None
            result.pages += 1
            result.records.extend(fetched.records)
            return fetched

        async def limited(pagina: int) -> None:
            async with limiter:
                await page(pagina)

        async with anyio.create_task_group() as tg:
            async with limiter:
                first = await page(1)
                if first is None or first.total_pages <= 1:
                    return result
                last = min(first.total_pages, max_pages)
                result.truncated = last < first.total_pages
                for pagina in range(2, last + 1):
                    tg.start_soon(limited, pagina)
                await anyio.sleep(0)  # they take their places in the queue before this slot is free
        return result


def _params(uf: str | None, modalidade: int, data_inicial: date | None, data_final: date) -> dict[str, Any]:
    params: dict[str, Any] = {"dataFinal": data_final.strftime("%Y%m%d"), "codigoModalidadeContratacao": modalidade}
    if data_inicial is not None:
        params["dataInicial"] = data_inicial.strftime("%Y%m%d")
    if uf:
        params["uf"] = uf
    return params


def describe_failure(uf: str, errors: Sequence[str], *, partial: bool, attempts: int) -> str:
    """One readable line on why a UF is incomplete (`partial`: some of its records did come)."""
    first = errors[0]
    more = len(errors) - 1
    extra = f" (e mais {more} consulta{'s' if more > 1 else ''} com falha)" if more else ""
    got = "resultados parciais" if partial else "sem resultados"
    return (
        f"{uf}: {first}{extra}, após {attempts} tentativa{'s' if attempts > 1 else ''}; "
        f"{got} para esta UF."
    )
