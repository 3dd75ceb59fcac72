"""Every route, with requests drawn from its own OpenAPI schema (schemathesis, hypothesis) and
sent to a real server: valid ones, and ones that break the schema. Nothing may answer 5xx, and
every 4xx must say what was wrong in words a person can read."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from backend.openapi import openapi_schema
from tests.servers import Server, running_server, server_env

schema = schemathesis.openapi.from_dict(openapi_schema())
# Valid requests and requests that break the schema (wrong types, missing fields, bad UUIDs).
schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE], deterministic=True
)

READABLE = {"mensagem", "detail"}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("fuzz")
    # Small searches (demo PNCP, at most 62 UF-days), so hundreds of them stay quick.
    env = server_env(tmp, redis_url, MAX_UF_DAYS="62", SSE_WAIT_FOR_SEARCH="0")
    with running_server(env, tmp / "server.log") as server:
        yield server
    assert "Traceback" not in server.log(), server.log()[-3000:]


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_route_fails_and_every_refusal_explains_itself(case: schemathesis.Case, fuzz_server: Server) -> None:
    response = case.call(base_url=fuzz_server.url, timeout=60)
    assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.text[:500])
    if 400 <= response.status_code < 500:
        body = response.json()
        assert isinstance(body, dict) and READABLE & body.keys(), response.text[:500]
        message = body.get("mensagem") or body.get("detail")
        assert message, response.text[:500]


def test_the_schema_covers_every_route() -> None:
    found = [result.ok() for result in schema.get_all_operations()]
    operations = {f"{op.method.upper()} {op.path}" for op in found}
    assert {"POST /v1/buscar", "GET /v1/buscar/{search_id}/status", "GET /v1/buscar-progress/{search_id}",
            "GET /v1/arquivos/{name}", "GET /v1/setores", "GET /v1/health"} <= operations, operations
