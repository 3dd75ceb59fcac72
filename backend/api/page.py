"""The built search page at `/`, beside the API."""

from __future__ import annotations

from pathlib import Path

from fastapi.staticfiles import StaticFiles
from starlette.routing import Match, Mount
from starlette.types import Scope

API_PREFIX = "/v1/"


class PageMount(Mount):
    """`frontend/dist` at `/`, for every path but the API's.

    A mount at `/` matches every path, ahead of a route that only lacks the method: without this,
    `OPTIONS /v1/buscar` got the static files' 405 saying `Allow: GET, HEAD`, and `GET /v1/buscar`
    their 404, instead of the route's own 405 with `Allow: POST`."""

    def __init__(self, dist: Path) -> None:
        super().__init__("/", app=StaticFiles(directory=dist, html=True), name="page")

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            return Match.NONE, {}
        return super().matches(scope)
