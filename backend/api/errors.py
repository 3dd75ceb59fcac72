"""Errors as JSON a person can read, in Portuguese, one entry per bad field."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.utils import is_body_allowed_for_status_code
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from backend.adapters import refusals
from backend.adapters.auth import AuthError
from backend.adapters.running import SearchesAtOnce
from backend.api.guards import TooManySearches, client_address, too_many, too_many_searches
from backend.codes import today_brasilia
from backend.runtime import metrics
from backend.search_pipeline import NotInPlan, SearchFailed, SearchIdTaken, SearchRejected

logger = logging.getLogger(__name__)

SEARCHES_AT_ONCE_RETRY = 5  # seconds: about what a search takes to answer, which frees its place


class CampoInvalido(BaseModel):
    campo: str = Field(description="The field, as the request names it ('ufs', 'modalidades.1', 'search_id'); "
                                   "'corpo' for the body as a whole.")
    msg: str = Field(description="What is wrong with it, in Portuguese.")


class ErroDeValidacao(BaseModel):
    """A 422: the request, or one of its fields, is not what the API takes."""

    detail: list[CampoInvalido] = Field(description="One entry per bad field.")
    mensagem: str = Field(description="Every problem in one line, for a person.")


class Erro(BaseModel):
    """Every other error answer."""

    detail: str = Field(description="What went wrong, in Portuguese.")
    mensagem: str = Field(description="The same, for a person (every error answer of the API has it).")


def erro(description: str, **extra: Any) -> dict[str, Any]:
    """An error answer for a route's `responses=`: an `Erro` body (plus, e.g., `headers`)."""
    return {"model": Erro, "description": description, **extra}


INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ErroDeValidacao, "description": "A bad field or parameter: one entry per problem."},
}
"""The 422 every route with a parameter or a body can give, in place of FastAPI's `HTTPValidationError`."""

UNAUTHENTICATED: dict[int | str, dict[str, Any]] = {
    401: erro("AUTH_MODE=supabase: no access token, or an expired or bad one; sign in again.",
              headers={"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}),
    503: erro("AUTH_MODE=supabase: the project's keys could not be read to check the token; try again shortly."),
}


UNEXPECTED: dict[int | str, dict[str, Any]] = {
    500: erro("An unexpected error (logged); the answer carries no detail of it."),
}

_TYPE_MESSAGES = {
    "missing": "campo obrigatório.",
    "extra_forbidden": "campo não reconhecido.",
    "json_invalid": "o corpo da requisição não é um JSON válido.",
    "model_attributes_type": "o corpo da requisição deve ser um objeto JSON.",
    "dict_type": "deve ser um objeto JSON.",
    "list_type": "deve ser uma lista.",
    "string_type": "deve ser um texto.",
    "bool_type": "deve ser true ou false.",
    "bool_parsing": "deve ser true ou false.",
    "int_type": "deve ser um número inteiro.",
    "int_parsing": "deve ser um número inteiro.",
    "int_from_float": "deve ser um número inteiro.",
    "float_type": "deve ser um número.",
    "float_parsing": "deve ser um número.",
    "finite_number": "deve ser um número finito.",
}


def _message(error: dict[str, Any]) -> str:
    kind: str = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in _TYPE_MESSAGES:
        return _TYPE_MESSAGES[kind]
    if kind.startswith("date"):
        return "data inválida: use o formato AAAA-MM-DD."
    if kind.startswith("uuid"):
        return "deve ser um UUID, como 3f2b8c1e-6a4d-4e8f-9b1a-2c3d4e5f6a7b."
    if kind == "too_short":
        return f"informe ao menos {ctx.get('min_length')} item(ns)."
    if kind == "too_long":
        return f"no máximo {ctx.get('max_length')} item(ns) ou caracteres."
    if kind == "greater_than_equal":
        return f"deve ser maior ou igual a {ctx.get('ge')}."
    if kind == "less_than_equal":
        return f"deve ser menor ou igual a {ctx.get('le')}."
    if kind in ("literal_error", "enum"):
        return f"deve ser um destes valores: {ctx.get('expected')}."
    return str(error["msg"])


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "path", "query")]
    return ".".join(parts) or "corpo"


def _unprocessable(problems: list[tuple[str, str]]) -> JSONResponse:
    detail = [{"campo": campo, "msg": msg} for campo, msg in problems]
    summary = "; ".join(f"{campo}: {msg}" for campo, msg in problems)
    return JSONResponse(status_code=422, content={"detail": detail, "mensagem": summary})


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    return _unprocessable([(_field(e["loc"]), _message(e)) for e in exc.errors()])


async def _search_rejected(_: Request, exc: SearchRejected) -> JSONResponse:
    return _unprocessable([(exc.field, exc.message)])


def _said(status: int, message: str) -> JSONResponse:
    """An error told in one sentence: the `Erro` body."""
    return JSONResponse(status_code=status, content={"detail": message, "mensagem": message})


async def _search_failed(_: Request, exc: SearchFailed) -> JSONResponse:
    return _said(502, exc.message)


async def _search_id_taken(_: Request, exc: SearchIdTaken) -> JSONResponse:
    return _said(409, exc.message)


async def _not_in_plan(_: Request, exc: NotInPlan) -> JSONResponse:
    return _said(403, exc.message)


async def _searches_at_once(_: Request, exc: SearchesAtOnce) -> JSONResponse:
    return too_many(SEARCHES_AT_ONCE_RETRY, exc.message)


async def _not_signed_in(request: Request, exc: AuthError) -> JSONResponse:
    """401, counted by reason; refused requests are also limited per address, as searches without
    sign-in are, so guessing tokens is as slow as searching."""
    metrics.AUTH_REFUSED.labels(exc.reason).inc()
    services = request.state.services
    await refusals.count(services.redis, today_brasilia(services.clock), exc.reason)
    wait = await services.rate_limit.seconds_to_wait(client_address(request))
    if wait is not None:
        return too_many_searches(request, TooManySearches(wait))
    answer = _said(401, exc.detail)
    answer.headers["WWW-Authenticate"] = "Bearer"
    return answer


async def _http_error(_: Request, exc: HTTPException) -> Response:
    """FastAPI's own answer (404 of an unknown search, 405, ...), with the `mensagem` every error has."""
    if not is_body_allowed_for_status_code(exc.status_code):
        return Response(status_code=exc.status_code, headers=exc.headers)
    content = {"detail": exc.detail}
    if isinstance(exc.detail, str):
        content["mensagem"] = exc.detail
    return JSONResponse(status_code=exc.status_code, content=content, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return _said(500, "Erro interno inesperado. Tente novamente; se persistir, avise o suporte.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(SearchRejected, _search_rejected)  # type: ignore[arg-type]
    app.add_exception_handler(SearchFailed, _search_failed)  # type: ignore[arg-type]
    app.add_exception_handler(SearchIdTaken, _search_id_taken)  # type: ignore[arg-type]
    app.add_exception_handler(AuthError, _not_signed_in)  # type: ignore[arg-type]
    app.add_exception_handler(NotInPlan, _not_in_plan)  # type: ignore[arg-type]
    app.add_exception_handler(SearchesAtOnce, _searches_at_once)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
