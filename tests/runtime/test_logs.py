"""Logs: one JSON object per line with LOG_FORMAT=json, each line of a search or a job carrying
its search_id (and job id, attempt, duration); readable lines otherwise."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import httpx

from backend.codes import now_brasilia
from backend.runtime.logs import configure_logging
from tests.servers import queue_healthy, running_server, server_env, wait_for


def search_body() -> dict:
    today = now_brasilia().date()
    return {"search_id": str(uuid4()), "ufs": ["SP"], "data_inicial": str(today - timedelta(days=10)),
            "data_final": str(today), "setor_id": "alimentos"}


def settled(url: str, search_id: str) -> bool:
    status = httpx.get(f"{url}/v1/buscar/{search_id}/status").json()
    return "processing" not in (status["llm_status"], status["excel_status"])


def attempt_lines(log: str, search_id: str) -> list[dict]:
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("search_id") == search_id and "job_id" in line and "duration_s" in line]


def test_json_logs_follow_a_search_through_its_jobs(tmp_path: Path, redis_url: str) -> None:
    body = search_body()
    with running_server(server_env(tmp_path, redis_url, LOG_FORMAT="json"), tmp_path / "server.log") as server:
        wait_for(lambda: queue_healthy(server), 10, "the embedded worker")
        assert httpx.post(f"{server.url}/v1/buscar", json=body, timeout=60).json()["processamento"] == "fila"
        wait_for(lambda: settled(server.url, body["search_id"]), 30, "the search to settle")
        # Each job's attempt line is written just after it saves its output: wait for both.
        wait_for(lambda: len(attempt_lines(server.log(), body["search_id"])) == 2, 10, "both attempt lines")
        log = server.log()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "logger", "pid", "message"} <= line.keys() for line in lines)
    mine = [line for line in lines if line.get("search_id") == body["search_id"]]
    answered = [line for line in mine if line["message"].startswith("search answered")]
    assert len(answered) == 1 and answered[0]["duration_s"] > 0 and answered[0]["processamento"] == "fila"
    attempts = {line["job_id"]: line for line in mine if "job_id" in line and "duration_s" in line}
    assert set(attempts) == {f"llm:{body['search_id']}", f"excel:{body['search_id']}"}
    assert all(line["attempt"] == 1 and line["outcome"] in ("succeeded", "fallback") for line in attempts.values())


def test_plain_logs_by_default(tmp_path: Path, redis_url: str) -> None:
    with running_server(server_env(tmp_path, redis_url), tmp_path / "server.log") as server:
        assert httpx.post(f"{server.url}/v1/buscar", json=search_body(), timeout=60).status_code == 200
        log = server.log()
    assert "INFO backend.search_pipeline: search answered" in log
    assert not any(line.startswith("{") for line in log.splitlines())


def test_access_lines_never_show_an_access_token() -> None:
    configure_logging("plain")
    access = logging.getLogger("uvicorn.access")
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    keep = Keep()
    access.addHandler(keep)
    level, access.level = access.level, logging.INFO  # an in-process double's uvicorn may have raised it
    try:  # as uvicorn logs a request: client, method, path with its query, HTTP version, status
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET",
                    "/v1/buscar-progress/abc?access_token=eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln&x=1", "1.1", 200)
    finally:
        access.removeHandler(keep)
        access.setLevel(level)
    assert seen == ['127.0.0.1:5000 - "GET /v1/buscar-progress/abc?access_token=***&x=1 HTTP/1.1" 200']
