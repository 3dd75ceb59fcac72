"""Every Redis key name the service uses, in one place."""

from __future__ import annotations

PREFIX = "smartlic"


def progress_stream(search_id: str) -> str:
    """Redis Stream holding one search's progress events."""
    return f"{PREFIX}:progress:{search_id}"
