"""Settings: the only place that reads the environment.

Every other module receives a `Settings` (or the values it needs) from the lifespan, so tests
build their own without touching `os.environ`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEMO_PNCP = "demo"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    redis_url: str = "redis://localhost:6379/0"
    database_url: str = "sqlite:///./var/smartlic.db"

    pncp_base_url: str = Field(
        default="https://pncp.gov.br/api/consulta",
        description="PNCP consulta API root, or 'demo' for built-in generated records.",
    )
    pncp_concurrency: int = Field(default=8, ge=1, le=64, description="Parallel PNCP requests per search.")
    pncp_max_connections: int = Field(
        default=128, ge=1, le=1024, description="PNCP connections open at once per process, all searches together."
    )
    pncp_timeout: float = Field(default=20.0, gt=0, description="Seconds per PNCP request.")
    pncp_max_retries: int = Field(default=3, ge=0, le=10, description="Retries after the first attempt.")
    pncp_backoff_base: float = Field(default=1.0, ge=0, description="First backoff in seconds, doubled per retry.")
    pncp_backoff_max: float = Field(default=10.0, ge=0, description="Longest single wait, Retry-After included.")
    pncp_max_pages: int = Field(default=40, ge=1, description="Pages read per UF and modalidade (50 records each).")

    embedded_worker: bool = Field(default=True, description="Run an ARQ worker inside each web process.")
    worker_max_jobs: int = Field(default=4, ge=1, description="Concurrent jobs per worker.")
    worker_poll_delay: float = Field(default=0.1, gt=0, description="Seconds between queue polls.")
    worker_health_interval: float = Field(
        default=5.0, gt=0, description="Seconds between worker heartbeats; the queue counts as down without one."
    )
    worker_drain_seconds: float = Field(
        default=20.0, ge=0, description="On shutdown, how long running jobs may finish before being handed back."
    )
    job_max_tries: int = Field(default=3, ge=1, description="Attempts per job: the first plus retries.")
    stalled_search_seconds: float = Field(
        default=120.0, gt=0,
        description="A search whose summary or report nobody is producing for this long is finished by recovery.",
    )
    job_retry_backoff: float = Field(default=1.0, ge=0, description="First retry delay in seconds, doubled each time.")

    openai_api_key: SecretStr | None = Field(default=None, description="Unset: summaries come from the fallback.")
    openai_base_url: str | None = Field(default=None, description="Any OpenAI-compatible server; unset: OpenAI's.")
    llm_model: str = "gpt-4.1-nano"
    llm_job_timeout: float = Field(default=30.0, gt=0, description="Seconds per summary attempt.")
    excel_job_timeout: float = Field(default=60.0, gt=0, description="Seconds per Excel attempt.")
    excel_processes: int = Field(
        default=1, ge=1, le=16, description="Processes building Excel reports, per web or worker process."
    )

    supabase_url: str | None = None
    supabase_service_role_key: SecretStr | None = None
    excel_bucket: str = "excel-reports"
    storage_dir: Path = Path("./var/files")
    storage_signing_key: SecretStr | None = Field(
        default=None, description="Signs local download links; unset: a key made once in STORAGE_DIR."
    )
    signed_url_ttl: int = Field(default=3600, ge=60, description="Seconds a download link stays valid.")
    storage_timeout: float = Field(default=30.0, gt=0, description="Seconds per Supabase Storage operation.")

    sse_wait_for_search: float = Field(
        default=10.0, ge=0, description="Seconds a progress stream waits for a search it does not know yet."
    )

    frontend_dir: Path = Field(
        default=Path(__file__).resolve().parent.parent / "frontend" / "dist", description="The built search page."
    )

    search_ttl_hours: int = Field(default=24, ge=1, description="How long a stored search can be read back.")

    search_rate_limit: str = Field(
        default="30/minute", description="Searches one client (IP address) may start, e.g. '30/minute'; 'off'."
    )
    cors_origins: str = Field(
        default="", description="Comma-separated origins allowed to call the API from a browser; empty: none."
    )
    worker_metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="A separate worker serves its /metrics on this port; unset: none."
    )
    ops_token: SecretStr | None = Field(default=None, description="Opens the /ops page; unset: the page is off.")
    max_body_bytes: int = Field(default=65_536, ge=1024, description="Largest request body accepted.")
    max_uf_days: int = Field(
        default=1_000, ge=1, description="Largest search: number of UFs x days of the period (27 UFs x 37 days)."
    )

    log_format: Literal["plain", "json"] = Field(
        default="plain", description="'json': one JSON object per line (the Docker image sets it)."
    )

    port: int = 8000
    web_concurrency: int = 2

    @field_validator("search_rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        from backend.rate_limit import parse_rate

        parse_rate(value)
        return value

    @property
    def allowed_origins(self) -> list[str]:
        return [origin.strip().rstrip("/") for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def pncp_is_demo(self) -> bool:
        return self.pncp_base_url.strip().lower() == DEMO_PNCP

    @property
    def uses_supabase_storage(self) -> bool:
        return bool(self.supabase_url and self.supabase_service_role_key)

    @property
    def sqlite_path(self) -> Path | None:
        """Filesystem path of a SQLite database, so the lifespan can create its folder."""
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix):
            return Path(self.database_url[len(prefix):])
        return None
