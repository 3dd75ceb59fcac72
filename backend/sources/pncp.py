"""PNCP consulta API client: `GET /v1/contratacoes/publicacao`, every page, retried.

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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from email.utils import parsedate_to_datetime
from typing import Any

import anyio
import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

PAGE_SIZE = 50  # PNCP refuses larger pages with HTTP 400
PUBLICACAO_PATH = "/v1/contratacoes/publicacao"


class PNCPError(Exception):
    """A PNCP request that did not give records."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PNCPRetryableError(PNCPError):
    pass


class PNCPRateLimited(PNCPRetryableError):
    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PNCPServerError(PNCPRetryableError):
    pass


class PNCPUnreachable(PNCPRetryableError):
    pass


class PNCPInvalidResponse(PNCPRetryableError):
    pass


class PNCPRequestRejected(PNCPError):
    pass


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
        body = response.json()
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
    """Reads publicações from PNCP. Built once per process; safe to share between searches."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        retry: RetryPolicy = RetryPolicy(),
        concurrency: int = 8,
        max_pages: int = 40,
    ) -> None:
        self._http = http
        self._retry = retry
        self._concurrency = concurrency
        self._max_pages = max_pages

    @classmethod
    def create(
        cls,
        base_url: str,
        *,
        timeout: float,
        retry: RetryPolicy,
        concurrency: int,
        max_pages: int,
        max_connections: int = 128,
    ) -> PNCPClient:
        """A client for `base_url`, or for the built-in demo data when it is "demo".

        `concurrency` bounds one search; `max_connections` the whole process, so it must leave
        room for every search a process serves at once (15 searches x 8 = 120)."""
        transport: httpx.AsyncBaseTransport | None = None
        if base_url.strip().lower() == "demo":
            from backend.sources import pncp_demo  # only demo runs need it

            base_url, transport = pncp_demo.DEMO_BASE_URL, pncp_demo.demo_transport()
        http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            headers={"Accept": "application/json", "User-Agent": "SmartLic-search/1.0"},
        )
        return cls(http, retry=retry, concurrency=concurrency, max_pages=max_pages)

    @property
    def max_pages(self) -> int:
        return self._max_pages

    @property
    def attempts(self) -> int:
        return self._retry.max_retries + 1

    async def aclose(self) -> None:
        await self._http.aclose()

    async def fetch_page(self, uf: str, modalidade: int, data_inicial: date, data_final: date, pagina: int) -> Page:
        """One page, retried on 429, 5xx, timeouts, connection errors and non-JSON answers."""
        params = {
            "dataInicial": data_inicial.strftime("%Y%m%d"),
            "dataFinal": data_final.strftime("%Y%m%d"),
            "codigoModalidadeContratacao": modalidade,
            "uf": uf,
            "pagina": pagina,
            "tamanhoPagina": PAGE_SIZE,
        }
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retry.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception_type(PNCPRetryableError),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._get(params)
        raise AssertionError("unreachable: tenacity reraises the last error")

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return self._retry.wait(state.attempt_number, error)

    async def _get(self, params: dict[str, Any]) -> Page:
        try:
            response = await self._http.get(PUBLICACAO_PATH, params=params)
        except httpx.TimeoutException:
            raise PNCPUnreachable(
                f"o PNCP não respondeu em {self._http.timeout.read:.0f} s"
            ) from None
        except httpx.TransportError as exc:
            raise PNCPUnreachable(f"não foi possível conectar ao PNCP ({type(exc).__name__})") from None
        return _page_from_response(response)

    async def fetch_ufs(
        self,
        ufs: Sequence[str],
        modalidades: Sequence[int],
        data_inicial: date,
        data_final: date,
        on_uf_done: UFDone | None = None,
    ) -> list[UFResult]:
        """Every page of every UF x modalidade, at most `concurrency` requests at a time.

        A failure stays inside its UF: the other UFs' records still come back.
        """
        limiter = anyio.Semaphore(self._concurrency)
        results = {uf: UFResult(uf) for uf in ufs}

        async def fetch_uf(uf: str) -> None:
            async with anyio.create_task_group() as tg:
                for modalidade in modalidades:
                    tg.start_soon(self._fetch_modalidade, results[uf], modalidade, data_inicial, data_final, limiter)
            if on_uf_done is not None:
                await on_uf_done(results[uf])

        async with anyio.create_task_group() as tg:
            for uf in ufs:
                tg.start_soon(fetch_uf, uf)
        return [results[uf] for uf in ufs]

    async def _fetch_modalidade(
        self, result: UFResult, modalidade: int, data_inicial: date, data_final: date, limiter: anyio.Semaphore
    ) -> None:
        async def page(pagina: int) -> Page | None:
            try:
                async with limiter:
                    fetched = await self.fetch_page(result.uf, modalidade, data_inicial, data_final, pagina)
            except PNCPError as exc:
                result.errors.append(f"modalidade {modalidade}, página {pagina}: {exc.message}")
                return None
            result.pages += 1
            result.records.extend(fetched.records)
            return fetched

        first = await page(1)
        if first is None or first.total_pages <= 1:
            return
        last = min(first.total_pages, self._max_pages)
        if last < first.total_pages:
            result.truncated.append(modalidade)
        async with anyio.create_task_group() as tg:
            for pagina in range(2, last + 1):
                tg.start_soon(page, pagina)


def describe_failure(result: UFResult, attempts: int) -> str:
    """One readable line on why a UF is incomplete."""
    first = result.errors[0]
    more = len(result.errors) - 1
    extra = f" (e mais {more} consulta{'s' if more > 1 else ''} com falha)" if more else ""
    got = "sem resultados" if not result.records else "resultados parciais"
    return (
        f"{result.uf}: {first}{extra}, após {attempts} tentativa{'s' if attempts > 1 else ''}; "
        f"{got} para esta UF."
    )

