"""The operations page, over a real server: closed without the token, and showing the workers,
the jobs and a failed job with its message."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import httpx

from backend.codes import now_brasilia
from tests.fakes import supabase_storage as storage_fake
from tests.servers import queue_healthy, running_server, server_env, wait_for

TOKEN = "ops-token-for-tests"


def test_ops_page_needs_its_token_and_shows_a_failed_job_with_its_message(tmp_path: Path, redis_url: str) -> None:
    today = now_brasilia().date()
    body = {"search_id": str(uuid4()), "ufs": ["SP"], "data_inicial": str(today - timedelta(days=10)),
            "data_final": str(today), "setor_id": "alimentos"}
    with storage_fake.FakeSupabaseStorage(key="service-role") as storage:
        storage.script([storage_fake.server_error(503)] * 2, op="upload")  # both attempts fail
        env = server_env(tmp_path, redis_url, OPS_TOKEN=TOKEN, SUPABASE_URL=storage.url,
                         SUPABASE_SERVICE_ROLE_KEY="service-role", JOB_MAX_TRIES="2", JOB_RETRY_BACKOFF="0.1",
                         WORKER_HEALTH_INTERVAL="1", WEB_CONCURRENCY="2")
        with running_server(env, tmp_path / "server.log", gunicorn=True) as server:
            wait_for(lambda: queue_healthy(server), 10, "the embedded workers")
            assert httpx.get(f"{server.url}/ops").status_code == 401
            assert httpx.get(f"{server.url}/ops", params={"token": "wrong"}).status_code == 401
            assert httpx.get(f"{server.url}/ops/data", headers={"Authorization": "Bearer wrong"}).status_code == 401

            assert httpx.post(f"{server.url}/v1/buscar", json=body, timeout=60).json()["processamento"] == "fila"

            def failed_report() -> dict | None:
                data = httpx.get(f"{server.url}/ops/data", headers={"Authorization": f"Bearer {TOKEN}"}).json()
                excel = [j for j in data["jobs"] if j["job_id"] == f"excel:{body['search_id']}"]
                return data if len(excel) == 2 and len(data["workers"]) == 2 else None

            data = wait_for(failed_report, 30, "both attempts of the report on the page")
            page = httpx.get(f"{server.url}/ops", params={"token": TOKEN})
    excel = [j for j in data["jobs"] if j["job_id"] == f"excel:{body['search_id']}"]
    assert [(j["attempt"], j["outcome"]) for j in excel] == [(2, "fallback"), (1, "retried")]
    assert excel[0]["result"] == "failed" and "HTTP 503" in excel[0]["error"]  # given up, in words
    assert "503" in excel[1]["error"]
    assert {w["mode"] for w in data["workers"]} == {"embedded"} and all(w["running"] for w in data["workers"])
    # No OPENAI_API_KEY here: the summary comes from the data, which the page calls a fallback.
    assert any(j["job_id"] == f"llm:{body['search_id']}" and j["outcome"] == "fallback" for j in data["jobs"])
    assert data["queue_depth"] is not None
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert f"excel:{body['search_id']}" in page.text and "HTTP 503" in page.text
    assert "Workers vivos" in page.text and TOKEN not in page.text
    assert data["index"]["status"] == "off" and "Desligado (INDEX_DAYS=0)" in page.text
    assert data["pncp_pacer"]["shared"] is True and data["pncp_pacer"]["paused_until"] is None
    assert "1000 consultas/s, compartilhado pelo cluster" in page.text


def test_ops_page_does_not_exist_without_a_token_configured(tmp_path: Path, redis_url: str) -> None:
    with running_server(server_env(tmp_path, redis_url), tmp_path / "server.log") as server:
        assert httpx.get(f"{server.url}/ops", params={"token": "anything"}).status_code == 404
