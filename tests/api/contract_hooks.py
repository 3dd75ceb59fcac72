"""Schemathesis hooks for `test_openapi_contract.py` (loaded by its CLI through SCHEMATHESIS_HOOKS).

The schema of `POST /v1/buscar` says everything JSON Schema can say about a search; what it cannot
say is each request's relation to something else: one date to the other, to today and to the first
day of the PNCP, one value
to the other, the sector to GET /v1/setores, the size of the search to the server's MAX_UF_DAYS.
Requests that Schemathesis draws as valid are made to keep those rules too (everything else drawn
is left as is), so a valid request the server refuses is a real mismatch of the document. The
server's answers to requests that break those rules are tested in `test_api.py`.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from typing import Any

import schemathesis

from backend.codes import BRASILIA
from backend.domain.sectors import load_sectors
from backend.schemas import PNCP_FIRST_DAY

SECTORS = sorted(load_sectors())
MAX_UF_DAYS = int(os.environ.get("CONTRACT_MAX_UF_DAYS", "1000"))


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
    """Right before each request, in every phase (stateful steps fill bodies after generation hooks)."""
    operation = context.operation
    if (
        operation is not None
        and operation.label == "POST /v1/buscar"
        and case.meta is not None
        and case.meta.generation.mode.is_positive
        and isinstance(case.body, dict)
    ):
        case.body.update(searchable(case.body))


def searchable(body: dict[str, Any]) -> dict[str, Any]:
    """`body` (valid by the schema) with a known sector, a period the server takes and values in order."""
    body = dict(body)
    if body.get("setor_id") not in SECTORS:
        body["setor_id"] = SECTORS[len(str(body.get("setor_id"))) % len(SECTORS)]
    dates = [body.get(name) for name in ("data_inicial", "data_final")]
    # Dates the schema itself calls valid (modo "publicacao" needs both): what it says alone is tested.
    if body.get("modo", "publicacao") == "publicacao" and all(isinstance(day, str) for day in dates):
        ufs = len(set(body.get("ufs") or ())) or 1
        first, last = sorted(max(date.fromisoformat(day), PNCP_FIRST_DAY) for day in dates)
        last = min(last, datetime.now(BRASILIA).date())
        first = min(first, last)
        first = last - timedelta(days=min((last - first).days, MAX_UF_DAYS // ufs - 1))
        body["data_inicial"], body["data_final"] = first.isoformat(), last.isoformat()
    low, high = body.get("valor_minimo"), body.get("valor_maximo")
    if low is not None and high is not None and low > high:
        body["valor_minimo"], body["valor_maximo"] = high, low
    return body
