"""A small Server-Sent Events reader for tests (what EventSource does, minus reconnection)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Event:
    id: str | None
    data: dict[str, Any]

    @property
    def stage(self) -> str:
        return self.data["stage"]


def read_events(response: httpx.Response) -> Iterator[Event]:
    event_id: str | None = None
    data: list[str] = []
    for line in response.iter_lines():
        if line == "":
            if data:
                yield Event(event_id, json.loads("\n".join(data)))
            event_id, data = None, []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "id":
                event_id = value
            elif name == "data":
                data.append(value)


def collect(url: str, *, headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, list[Event]]:
    """Status and every event until the server ends the stream."""
    with httpx.stream("GET", url, headers=headers, timeout=timeout) as response:
        if response.status_code != 200:
            return response.status_code, []
        assert response.headers["content-type"].startswith("text/event-stream")
        return 200, list(read_events(response))
