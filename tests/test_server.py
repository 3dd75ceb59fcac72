"""The real server as ops run it: ./start.sh web (gunicorn, two uvicorn worker processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import httpx

from backend.codes import now_brasilia
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]


def test_gunicorn_serves_searches_from_both_processes(tmp_path: Path, redis_url: str) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "PNCP_BASE_URL": "demo",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'smartlic.db'}",
        "REDIS_URL": redis_url,
    }
    log = (tmp_path / "server.log").open("w+")
    server = subprocess.Popen(["./start.sh", "web"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/v1/health", timeout=2).json()["status"] == "ok":
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, "server exited"
            assert time.monotonic() < deadline, "server did not become healthy"
            time.sleep(0.2)

        today = now_brasilia().date()
        body = {"ufs": ["SP", "MG", "BA"], "data_inicial": str(today - timedelta(days=10)),
                "data_final": str(today), "setor_id": "alimentos"}
        with httpx.Client(base_url=base, timeout=30) as client:
            answer = client.post("/v1/buscar", json=body)
            assert answer.status_code == 200, answer.text
            result = answer.json()
            assert result["total_filtrado"] > 0
            # Fresh connections land on either process; each must read the stored search.
            for _ in range(12):
                with httpx.Client(base_url=base, timeout=10) as fresh:
                    status = fresh.get(f"/v1/buscar/{result['search_id']}/status")
                assert status.status_code == 200
                assert status.json()["total_filtrado"] == result["total_filtrado"]
        log.seek(0)
        booted = [line for line in log.read().splitlines() if "Booting worker with pid" in line]
        assert len(booted) == 2, booted
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=40) == 0
        log.close()
