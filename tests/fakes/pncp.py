"""A PNCP double over real HTTP, for client tests and benchmarks.

    with FakePNCP() as fake:                      # uvicorn on a free 127.0.0.1 port
        fake.script([rate_limited(retry_after=1), db_error_500()], uf="SP", pagina=2)
        fake.latency = 0.05                        # every request
        ... httpx.AsyncClient(base_url=fake.base_url) ...
        assert [r.status for r in fake.requests] == [...]

It serves `/v1/contratacoes/publicacao` (records by publication date),
`/v1/contratacoes/atualizacao` (records by update date: `dataAtualizacaoGlobal`, else
`dataAtualizacao`) and `/v1/contratacoes/proposta` (divulgada records whose proposal period is
open now and closes by `dataFinal`, whatever their publication date; 422 for a past `dataFinal`).
By default all three answer from the demo records of `backend.pncp.demo` (same validation,
pagination, 204, 400 and 422 as the demo app: the code is shared); `set_records([...])` serves a
fixed list instead, on the three endpoints, each by its own rule, so calling it again with a
modified record (say revogada, with a new `dataAtualizacaoGlobal`) is how a test makes a record
change. `/proposta` tells "now" by `now_brasilia()`, or by the `now` clock given. Scripted
responses are consumed in order, one per matching request; requests no script matches are
served normally. Everything here is thread-safe: tests run in the main thread while uvicorn
serves from its own.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.codes import now_brasilia
from backend.pncp import demo as pncp_demo
from tests.fakes.server import LocalDouble, ServerThread

RATE_LIMIT_HTML = """<html>
<head>
    <meta charset="UTF-8">
    <title>Limite de Requisições Excedido</title>
</head>
<body>
    <h2>Limite de requisições excedido</h2>

    <p>Você excedeu o número de requisições permitidas. Aguarde alguns instantes e tente novamente.</p>
</body>
</html>
"""

MAINTENANCE_HTML = """<!DOCTYPE html>
<html lang="pt-br">
<head><meta charset="UTF-8"><title>Portal em manutenção</title></head>
<body><h1>Portal Nacional de Contratações Públicas</h1>
<p>O sistema está em manutenção programada. Tente novamente mais tarde.</p></body>
</html>
"""

DB_ERROR_TEXT = "Erro na comunicação com o banco de dados."


# ------------------------------------------------------------------------------------------
# What a script can hold
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Canned:
    """A fixed answer: status, raw body, content type and extra headers."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    kind: str = "canned"
    after: float = 0.0  # seconds to wait before answering (real 500s take ~30 s)


@dataclass(frozen=True, slots=True)
class Delay:
    """Wait `seconds`, then serve the request normally (a slow page)."""

    seconds: float
    kind: str = "delay"


@dataclass(frozen=True, slots=True)
class Hang:
    """Wait `seconds` (long: meant to outlast the client's timeout), then serve normally.

    The wait ends early when the client disconnects or the fake stops.
    """

    seconds: float = 60.0
    kind: str = "hang"


@dataclass(frozen=True, slots=True)
class Hold:
    """Wait until `released` is set (by the test), then serve normally: a UF that answers only
    once the test has seen what it wanted meanwhile. Ends early like `Hang`."""

    released: threading.Event
    kind: str = "hold"


Scripted = Canned | Delay | Hang | Hold
_SCRIPTED = (Canned, Delay, Hang, Hold)


def no_content() -> Canned:
    """HTTP 204 with an empty body: PNCP's answer for a window without records."""
    return Canned(204, kind="204")


def rate_limited(retry_after: int | float | str | None = None, *, after: float = 0.0) -> Canned:
    """HTTP 429 as PNCP serves it: an HTML page; `Retry-After` only when given."""
    headers = (("Retry-After", str(retry_after)),) if retry_after is not None else ()
    return Canned(429, RATE_LIMIT_HTML.encode("utf-8"), "text/html; charset=UTF-8", headers, kind="429", after=after)


def db_error_500(*, after: float = 0.0) -> Canned:
    """HTTP 500 whose body is a bare string yet labelled application/json, as PNCP does."""
    return Canned(500, DB_ERROR_TEXT.encode("utf-8"), "application/json", kind="500-text", after=after)


def server_error(
    status: int = 500, message: str = "Failed to obtain JDBC Connection", *, after: float = 0.0
) -> Canned:
    """HTTP 5xx with a Spring Boot JSON error body."""
    reasons = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
    body = {
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "status": status,
        "error": reasons.get(status, "Error"),
        "message": message,
        "path": pncp_demo.PUBLICACAO_PATH,
    }
    return Canned(status, json.dumps(body).encode("utf-8"), "application/json", kind=f"{status}-json", after=after)


def maintenance_page(status: int = 200) -> Canned:
    """An HTML maintenance page, by default with HTTP 200."""
    return Canned(status, MAINTENANCE_HTML.encode("utf-8"), "text/html; charset=UTF-8", kind="html")


def json_body(payload: Any, status: int = 200) -> Canned:
    """Any JSON payload (e.g. a malformed envelope)."""
    return Canned(status, json.dumps(payload).encode("utf-8"), "application/json", kind="json")


def delay(seconds: float) -> Delay:
    return Delay(seconds)


def hang(seconds: float = 60.0) -> Hang:
    return Hang(seconds)


# ------------------------------------------------------------------------------------------
# What the fake records
# ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class RecordedRequest:
    """One request the fake received. `status` is None while it is being served."""

    params: dict[str, str]
    path: str
    started: float  # time.monotonic() at arrival
    status: int | None = None
    finished: float | None = None
    kind: str = "normal"  # "normal" or the kind of the scripted response used

    @property
    def duration(self) -> float | None:
        return None if self.finished is None else self.finished - self.started

    @property
    def uf(self) -> str | None:
        return (self.params.get("uf") or "").upper() or None

    @property
    def pagina(self) -> int:
        try:
            return int(self.params.get("pagina") or 1)
        except ValueError:
            return 0

    @property
    def modalidade(self) -> int | None:
        try:
            return int(self.params["codigoModalidadeContratacao"])
        except (KeyError, ValueError):
            return None

    @property
    def endpoint(self) -> str:
        """The endpoint asked: "publicacao", "atualizacao", "proposta", or the last segment of another path."""
        return self.path.rstrip("/").rsplit("/", 1)[-1]


@dataclass(slots=True)
class _Script:
    responses: deque[Scripted]
    uf: str | None
    modalidade: int | None
    pagina: int | None
    endpoint: str | None = None

    def matches(self, request: RecordedRequest) -> bool:
        if self.endpoint is not None and request.endpoint != self.endpoint:
            return False
        if self.uf is not None and request.uf != self.uf:
            return False
        if self.modalidade is not None and request.modalidade != self.modalidade:
            return False
        if self.pagina is not None and request.pagina != self.pagina:
            return False
        return True


@dataclass(slots=True)
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    scripts: list[_Script] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0


@dataclass(frozen=True, slots=True)
class _Sources:
    """What each endpoint answers from; replaced whole, so a request never sees half of a change."""

    publicacao: pncp_demo.RecordSource
    atualizacao: pncp_demo.RecordSource
    proposta: pncp_demo.OpenSource


_DEMO_SOURCES = _Sources(pncp_demo.demo_source, pncp_demo.demo_update_source, pncp_demo.demo_open_source)


class FakePNCP(LocalDouble):
    """PNCP's `/v1/contratacoes/publicacao`, `/atualizacao` and `/proposta` served by uvicorn in a
    background thread."""

    def __init__(
        self,
        records: Sequence[Mapping[str, Any]] | None = None,
        *,
        latency: float = 0.0,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        """`now`: the clock `/proposta` answers by (naive Brasília wall-clock time), by default
        `now_brasilia`; a test that needs a fixed moment passes one."""
        self.latency = latency
        self.now: Callable[[], datetime] = now or now_brasilia
        self._state = _State()
        self._sources = _DEMO_SOURCES
        if records is not None:
            self.set_records(records)
        self._server = ServerThread(self._build_app(), type(self).__name__)

    @property
    def base_url(self) -> str:
        """The consulta API root, like https://pncp.gov.br/api/consulta."""
        return f"{self.root_url}/api/consulta"

    # --- what it serves --------------------------------------------------------------------

    def set_records(self, records: Iterable[Mapping[str, Any]] | None) -> None:
        """Serve these records on the three endpoints, filtered by uf and modalidade and each by its
        own rule: the window on the publication date for `/publicacao` and on the update date for
        `/atualizacao` (both in the order given), the open proposal period for `/proposta` (by
        closing moment); None: the demo ones."""
        if records is None:
            self._sources = _DEMO_SOURCES
            return
        fixed = list(records)
        self._sources = _Sources(
            publicacao=pncp_demo.fixed_source(fixed, pncp_demo.publication_day),
            atualizacao=pncp_demo.fixed_source(fixed, pncp_demo.update_day),
            proposta=pncp_demo.fixed_open_source(fixed),
        )

    def script(
        self,
        responses: Scripted | Iterable[Scripted],
        *,
        uf: str | None = None,
        modalidade: int | None = None,
        pagina: int | None = None,
        endpoint: str | None = None,
    ) -> None:
        """Queue responses for the requests that match; one is used per request, in order.

        `endpoint` ("publicacao", "atualizacao" or "proposta") limits them to one endpoint; by
        default any.
        """
        items = [responses] if isinstance(responses, _SCRIPTED) else list(responses)
        for item in items:
            if not isinstance(item, _SCRIPTED):
                raise TypeError(f"not a scripted response: {item!r}")
        with self._state.lock:
            self._state.scripts.append(_Script(deque(items), uf.upper() if uf else None, modalidade, pagina, endpoint))

    @property
    def pending(self) -> int:
        """Scripted responses not used yet."""
        with self._state.lock:
            return sum(len(s.responses) for s in self._state.scripts)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far, in arrival order."""
        with self._state.lock:
            return list(self._state.requests)

    @property
    def max_in_flight(self) -> int:
        """Most requests served at the same time since the last reset."""
        with self._state.lock:
            return self._state.max_in_flight

    def reset(self) -> None:
        """Forget recorded requests and unused scripts."""
        with self._state.lock:
            self._state.requests.clear()
            self._state.scripts.clear()
            self._state.max_in_flight = self._state.in_flight

    # --- serving -----------------------------------------------------------------------------

    def _take_script(self, request: RecordedRequest) -> Scripted | None:
        with self._state.lock:
            for script in self._state.scripts:
                if script.responses and script.matches(request):
                    return script.responses.popleft()
        return None

    async def _sleep(self, seconds: float, request: Request) -> None:
        """Sleep, waking early if the client went away or the fake is stopping."""
        if seconds <= 0.2:
            await asyncio.sleep(max(seconds, 0))
            return
        deadline = time.monotonic() + seconds
        while not self._server.stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            await asyncio.sleep(min(left, 0.05))
            if await request.is_disconnected():
                return

    async def _handle(self, request: Request) -> Response:
        recorded = RecordedRequest(dict(request.query_params), request.url.path, time.monotonic())
        state = self._state
        with state.lock:
            state.requests.append(recorded)
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            response = await self._respond(request, recorded)
            recorded.status = response.status_code
            return response
        finally:
            with state.lock:
                state.in_flight -= 1
                recorded.finished = time.monotonic()

    async def _respond(self, request: Request, recorded: RecordedRequest) -> Response:
        """The answer to one recorded request: latency, then a script or the normal page.

        Subclasses put their own behaviour in front of this (see `tests/fakes/pncp_live.py`).
        """
        if self.latency > 0:
            await self._sleep(self.latency, request)
        scripted = self._take_script(recorded)
        if scripted is not None:
            recorded.kind = scripted.kind
        if isinstance(scripted, (Delay, Hang)):
            await self._sleep(scripted.seconds, request)
        if isinstance(scripted, Hold):
            while not scripted.released.is_set() and not self._server.stopping.is_set():
                await asyncio.sleep(0.05)
                if await request.is_disconnected():
                    break
        if isinstance(scripted, Canned):
            if scripted.after > 0:
                await self._sleep(scripted.after, request)
            return canned_response(scripted)
        return self._page(request, recorded.endpoint)

    def _page(self, request: Request, endpoint: str) -> Response:
        """The normal answer of `endpoint` from the records being served."""
        sources, params, path = self._sources, request.query_params, request.url.path
        if endpoint == "proposta":
            return pncp_demo.proposta_response(params, sources.proposta, path, self.now())
        if endpoint == "atualizacao":
            return pncp_demo.atualizacao_response(params, sources.atualizacao, path)
        return pncp_demo.publicacao_response(params, sources.publicacao, path)

    def _build_app(self) -> Starlette:
        paths = (*pncp_demo.PUBLICACAO_PATHS, *pncp_demo.ATUALIZACAO_PATHS, *pncp_demo.PROPOSTA_PATHS)
        return Starlette(routes=[Route(path, self._handle, methods=["GET"]) for path in paths])


def canned_response(canned: Canned) -> Response:
    """The HTTP response a `Canned` describes."""
    return Response(
        canned.body, status_code=canned.status, headers=dict(canned.headers), media_type=canned.content_type,
    )
