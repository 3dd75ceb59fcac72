"""The OpenAPI document says what the API does: Schemathesis reads the real server's
`/openapi.json` and checks a few hundred requests against its answers, with every check it has
(`--checks all`): each status, content type, header and body an answer gives is documented, each
request the document calls valid is taken and each it calls invalid is refused, and nothing answers
5xx. A route that drifts from its document fails here.

Schemathesis runs as its own command, as someone checking the service from outside would run it;
its report is the failure message. `contract_hooks.py` keeps the requests it draws as valid within
the rules JSON Schema cannot say (dates against today, the sector's id, the search's size).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs  # Schemathesis' own validator
import pytest

from backend.codes import now_brasilia
from tests.servers import ROOT, Server, running_server, server_env

# Small searches (demo PNCP, at most 54 UF-days, read live), so hundreds of them stay quick.
MAX_UF_DAYS = "54"
EXAMPLES = 25  # per route and phase: about 550 requests in all, under half a minute
SEED = 20260518  # the same requests every run; change it to explore others
BUDGET_SECONDS = 100


@pytest.fixture(scope="module")
def contract_server(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("contract")
    env = server_env(
        tmp, redis_url,
        MAX_UF_DAYS=MAX_UF_DAYS,
        SSE_WAIT_FOR_SEARCH="0",  # a progress stream of an unknown search answers 204 at once
        # No worker: every search settles (summary, report) before its answer, so any progress
        # stream Schemathesis opens replays a finished search and ends.
        EMBEDDED_WORKER="false",
    )
    with running_server(env, tmp / "server.log") as server:
        yield server
    assert "Traceback" not in server.log(), server.log()[-3000:]


def test_every_answer_is_the_one_the_document_gives(contract_server: Server, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text("[cache]\nenabled = false\n")  # nothing kept between runs, nothing written in the repository
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config),
        "run", f"{contract_server.url}/openapi.json",
        "--checks", "all",
        "--max-examples", str(EXAMPLES),
        "--seed", str(SEED),
        "--generation-database", "none",
        "--request-timeout", "30",
        "--max-failures", "20",
        "--workers", "1",
        "--no-color",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.api.contract_hooks", "CONTRACT_MAX_UF_DAYS": MAX_UF_DAYS,
           "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=BUDGET_SECONDS)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-12_000:]
    assert "Tested: " in report and " generated" in report, report[-3000:]
    print(report[report.find("SUMMARY") - 40:], f"({time.monotonic() - started:.1f} s)")


def _valid_by_document(document: dict[str, Any], name: str, value: Any) -> bool:
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True).is_valid(value)


def _search(**overrides: Any) -> dict[str, Any]:
    today = now_brasilia().date()
    body = {"ufs": ["SP"], "data_inicial": str(today - timedelta(days=2)), "data_final": str(today),
            "setor_id": "vestuario"}
    return {**body, **overrides}


@pytest.mark.parametrize(
    ("overrides", "accepted"),
    [
        ({"ufs": [""]}, False),  # the mismatch the issue found: valid by the schema, refused by the server
        ({"ufs": ["sp"]}, False),  # only the codes as the schema lists them: nothing guessed
        ({"ufs": [" SP"]}, False),
        ({"ufs": ["SP", "SP"]}, True),  # counted once
        ({"modalidades": [6.0]}, True),  # a whole number, as JSON counts them
        ({"modalidades": ["6"]}, False),
        ({"modalidades": [14]}, False),
        ({"modalidades": []}, False),
        ({"somente_abertas": "true"}, False),
        ({"valor_minimo": "10"}, False),
        ({"data_inicial": 0}, False),  # pydantic alone read it as a Unix time
        ({"data_inicial": None}, False),  # modo "publicacao" needs both dates
        ({"modo": "abertas", "data_inicial": None, "data_final": None}, True),
        ({"termos_busca": "x" * 501}, False),
        ({"termos_busca": "!!!"}, True),  # nothing to look for: ignored (it was a 500)
    ],
)
def test_the_document_and_the_server_agree_on_what_is_a_search(
    contract_server: Server, overrides: dict[str, Any], accepted: bool
) -> None:
    document = httpx.get(f"{contract_server.url}/openapi.json", timeout=10).json()
    body = _search(**overrides)
    assert _valid_by_document(document, "BuscaRequest", body) is accepted
    response = httpx.post(f"{contract_server.url}/v1/buscar", json=body, timeout=60)
    if accepted:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 422, response.text
        assert _valid_by_document(document, "ErroDeValidacao", response.json()), response.text
