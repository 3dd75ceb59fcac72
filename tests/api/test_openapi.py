"""The schema the page's TypeScript types are generated from is the API's own."""

from __future__ import annotations

from pathlib import Path

from backend.openapi import openapi_json

COMMITTED = Path(__file__).resolve().parents[2] / "frontend" / "openapi.json"


def test_committed_schema_matches_the_api() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == openapi_json(), (
        "frontend/openapi.json is stale: run `.venv/bin/python -m backend.openapi > frontend/openapi.json` "
        "then `npm run gen:types` in frontend/"
    )
