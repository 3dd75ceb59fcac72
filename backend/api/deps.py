"""Dependencies read from the per-process state the lifespan built."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backend.services import Services as _ServicesT


def _services(request: Request) -> _ServicesT:
    return request.state.services


Services = Annotated[_ServicesT, Depends(_services)]
