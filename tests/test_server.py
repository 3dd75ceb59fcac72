"""The real server as ops run it: ./start.sh web (gunicorn, two uvicorn worker processes)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx

from backend.codes import now_brasilia
from tests.servers import running_server


def test_gunicorn_serves_searches_from_both_processes(tmp_path: Path, redis_url: str) -> None:
    env = {
        "WEB_CONCURRENCY": "2",
        "PNCP_BASE_URL": "demo",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'smartlic.db'}",
        "STORAGE_DIR": str(tmp_path / "files"),
        "REDIS_URL": redis_url,
    }
    with running_server(env, tmp_path / "server.log", gunicorn=True) as server:
        today = now_brasilia().date()
        body = {"ufs": ["SP", "MG", "BA"], "data_inicial": str(today - timedelta(days=10)),
                "data_final": str(today), "setor_id": "alimentos"}
        answer = httpx.post(f"{server.url}/v1/buscar", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        result = answer.json()
        assert result["total_filtrado"] > 0 and result["excel_status"] == "ready"
        # Fresh connections land on either process; each must read the search and its report.
        for _ in range(12):
            with httpx.Client(base_url=server.url, timeout=10) as fresh:
                status = fresh.get(f"/v1/buscar/{result['search_id']}/status")
                assert status.status_code == 200
                assert status.json()["total_filtrado"] == result["total_filtrado"]
                assert fresh.get(result["excel_url"]).status_code == 200  # one signing key for both
        booted = [line for line in server.log().splitlines() if "Booting worker with pid" in line]
        assert len(booted) == 2, booted
    assert server.process.returncode == 0
