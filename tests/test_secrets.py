"""Secrets stay secret: a wrong LLM key and a wrong Supabase key make both outputs fail over a
real server, and neither key shows up in its log, its answers or its progress events."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import httpx

from backend.codes import now_brasilia
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.supabase_storage import FakeSupabaseStorage
from tests.servers import queue_healthy, running_server, server_env, wait_for
from tests.sse import collect

OPENAI_KEY = "sk-canary-openai-4f1c9a7e"
SUPABASE_KEY = "canary-service-role-8d2b6e31"
SIGNING_KEY = "canary-signing-key-5a7c0f93"


def test_wrong_keys_fail_readably_and_are_never_shown(tmp_path: Path, redis_url: str) -> None:
    today = now_brasilia().date()
    body = {"search_id": str(uuid4()), "ufs": ["SP"], "data_inicial": str(today - timedelta(days=10)),
            "data_final": str(today), "setor_id": "alimentos"}
    with FakeOpenAI(api_key="sk-the-right-one") as llm, FakeSupabaseStorage(key="the-right-one") as storage:
        env = server_env(tmp_path, redis_url, OPENAI_API_KEY=OPENAI_KEY, OPENAI_BASE_URL=llm.base_url,
                         SUPABASE_URL=storage.url, SUPABASE_SERVICE_ROLE_KEY=SUPABASE_KEY,
                         STORAGE_SIGNING_KEY=SIGNING_KEY, JOB_MAX_TRIES="1")
        with running_server(env, tmp_path / "server.log") as server:
            wait_for(lambda: queue_healthy(server), 10, "the embedded worker")
            answer = httpx.post(f"{server.url}/v1/buscar", json=body, timeout=60)
            _, events = collect(f"{server.url}/v1/buscar-progress/{body['search_id']}", timeout=60)
            status = httpx.get(f"{server.url}/v1/buscar/{body['search_id']}/status", timeout=10)
            health = httpx.get(f"{server.url}/v1/health", timeout=10)
            log = server.log()
    assert llm.requests and all(r.authorization == f"Bearer {OPENAI_KEY}" for r in llm.requests)  # it was used
    final = status.json()
    assert final["resumo"]["origem"] == "fallback"  # the LLM refused the key: the summary from the data
    assert final["excel_status"] == "failed" and final["excel_error"]  # storage refused it: said in words
    shown = [log, answer.text, status.text, health.text, *(str(e) for e in events)]
    for secret in (OPENAI_KEY, SUPABASE_KEY, SIGNING_KEY):
        for text in shown:
            assert secret not in text and secret[-8:] not in text
