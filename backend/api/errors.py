"""Errors as JSON a person can read, in Portuguese, one entry per bad field."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from backend.search_pipeline import SearchFailed, SearchRejected

logger = logging.getLogger(__name__)

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


async def _search_failed(_: Request, exc: SearchFailed) -> JSONResponse:
    return JSONResponse(status_code=502, content={"detail": exc.message, "mensagem": exc.message})


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    message = "Erro interno inesperado. Tente novamente; se persistir, avise o suporte."
    return JSONResponse(status_code=500, content={"detail": message, "mensagem": message})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(SearchRejected, _search_rejected)  # type: ignore[arg-type]
    app.add_exception_handler(SearchFailed, _search_failed)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
