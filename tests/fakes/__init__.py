"""Test doubles of the services SmartLic talks to."""

from tests.fakes.pncp import (
    Canned,
    Delay,
    FakePNCP,
    Hang,
    RecordedRequest,
    db_error_500,
    delay,
    hang,
    json_body,
    maintenance_page,
    no_content,
    rate_limited,
    server_error,
)

__all__ = [
    "Canned",
    "Delay",
    "FakePNCP",
    "Hang",
    "RecordedRequest",
    "db_error_500",
    "delay",
    "hang",
    "json_body",
    "maintenance_page",
    "no_content",
    "rate_limited",
    "server_error",
]
