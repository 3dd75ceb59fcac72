"""Prints the API's OpenAPI schema, from which the page's TypeScript types are generated.

    .venv/bin/python -m backend.openapi > frontend/openapi.json
"""

from __future__ import annotations

import json
from typing import Any

from backend.app import create_app
from backend.config import Settings


def openapi_schema() -> dict[str, Any]:
    return create_app(Settings(_env_file=None)).openapi()


def openapi_json() -> str:
    return json.dumps(openapi_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(openapi_json(), end="")
