"""Settings: the only place that reads the environment.

Every other module receives a `Settings` (or the values it needs) from the lifespan, so tests
build their own without touching `os.environ`.

A variable set to nothing (or only spaces), as `.env` files and hosting dashboards leave one they
"unset", counts as unset. A wrong value stops the process in `load_settings()` with one line per
problem, naming the variable and a good value, instead of a traceback.
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from limits import parse as parse_limit
from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

DEMO_PNCP = "demo"
ERROR_PREFIX = "smartlic: configuration error: "
PARTNER_MISSING = "partner_missing"  # error type: a variable that only works together with another is alone
_URL_PASSWORD = re.compile(r"^([a-z][a-z0-9+.-]*://[^/@:]*:)[^/@]*@", re.IGNORECASE)  # the `:password@` of a URL


class Settings(BaseSettings):
    # env_ignore_empty drops "" (environment and .env); settings_customise_sources drops whitespace too.
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    redis_url: str = Field(default="redis://localhost:6379/0", description="redis://, rediss:// or unix:// URL.")
    database_url: str = Field(
        default="sqlite:///./var/smartlic.db", description="sqlite:///path or postgresql://user:password@host/db."
    )

    pncp_base_url: str = Field(
        default="https://pncp.gov.br/api/consulta",
        description="PNCP consulta API root, or 'demo' for built-in generated records.",
    )
    pncp_concurrency: int = Field(
        default=12, ge=1, le=64,
        description="PNCP requests in flight per search: 12 keeps 4/second busy at PNCP's 1.4 s median answer.",
    )
    pncp_max_connections: int = Field(
        default=128, ge=1, le=1024, description="PNCP connections open at once per process, all searches together."
    )
    pncp_timeout: float = Field(
        default=10.0, gt=0,
        description="Seconds per PNCP request: its p95 is 3.6 s, so a page past this is a stall, asked again.",
    )
    pncp_max_retries: int = Field(default=3, ge=0, le=10, description="Retries after the first attempt.")
    pncp_backoff_base: float = Field(default=1.0, ge=0, description="First backoff in seconds, doubled per retry.")
    pncp_backoff_max: float = Field(default=10.0, ge=0, description="Longest single wait, Retry-After included.")
    pncp_max_pages: int = Field(default=40, ge=1, description="Pages read per UF and modalidade (50 records each).")
    pncp_rate_limit: str = Field(
        default="4/second",
        description="PNCP requests per second for the whole cluster (every process, searches first), e.g. 4/second.",
    )

    index_days: int = Field(
        default=30, ge=0, le=365, description="Days of PNCP publications kept in the local index; 0: no index."
    )
    index_modalidades: str = Field(
        default="4,5,6,7", examples=["4,5,6,7,8"], description="Modalidades the index keeps, comma-separated."
    )
    index_refresh_seconds: float = Field(
        default=600.0, ge=1, description="How often today's and yesterday's publications are read again."
    )

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

    openai_api_key: SecretStr | None = Field(
        default=None, examples=["sk-..."], description="Unset: summaries come from the fallback."
    )
    openai_base_url: str | None = Field(
        default=None, examples=["https://api.openai.com/v1"],
        description="Any OpenAI-compatible server; unset: OpenAI's.",
    )
    llm_model: str = "gpt-4.1-nano"
    llm_job_timeout: float = Field(default=30.0, gt=0, description="Seconds per summary attempt.")
    llm_classify_daily_tokens: int = Field(
        default=200_000, ge=0,
        description="Tokens a Brasília day the AI arbiter may spend, for the whole cluster (0: no arbiter). "
        "About 115 per objeto in doubt, batched 20 to a request.",
    )
    excel_job_timeout: float = Field(default=60.0, gt=0, description="Seconds per Excel attempt.")
    excel_processes: int = Field(
        default=1, ge=1, le=16, description="Processes building Excel reports, per web or worker process."
    )

    supabase_url: str | None = Field(
        default=None, examples=["https://abcdefghijklmnop.supabase.co"],
        description="The Supabase project: its JWKS verifies access tokens; with SUPABASE_SERVICE_ROLE_KEY, "
        "reports go to its Storage (unset: to STORAGE_DIR).",
    )
    supabase_anon_key: str | None = Field(
        default=None, examples=["eyJhbGciOi..."],
        description="The project's public (anon) key, that the page signs in with; only with SUPABASE_URL.",
    )
    supabase_service_role_key: SecretStr | None = Field(
        default=None, examples=["eyJhbGciOi..."], validate_default=True,  # validated unset too: see _supabase_pair
        description="The service_role key of the Supabase project; only with SUPABASE_URL.",
    )
    supabase_jwt_secret: SecretStr | None = Field(
        default=None, examples=["super-secret-jwt-token-with-at-least-32-characters"],
        description="The HS256 secret of a project that still signs access tokens with one; else its JWKS.",
    )
    plans_file: Path | None = Field(
        default=None, examples=["./plans.yaml"], description="The plans (plans.yaml); unset: the backend's own.",
    )
    auth_mode: Literal["supabase", "off"] | None = Field(
        default=None, examples=["supabase"],
        description="supabase: every API route but health, config, setores, metrics and report links needs a "
        "Supabase access token; off: one local user without plan limits. Unset: supabase when "
        "SUPABASE_ANON_KEY or SUPABASE_JWT_SECRET is set, else off.",
    )
    excel_bucket: str = "excel-reports"
    storage_dir: Path = Path("./var/files")
    storage_signing_key: SecretStr | None = Field(
        default=None, examples=["$(openssl rand -hex 32)"],
        description="Signs local download links; unset: a key made once in STORAGE_DIR.",
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
        default="", examples=["https://smartlic.example.com,https://admin.smartlic.example.com"],
        description="Comma-separated origins allowed to call the API from a browser; empty: none.",
    )
    worker_metrics_port: int | None = Field(
        default=None, ge=1, le=65535, examples=[9100],
        description="A separate worker serves its /metrics on this port; unset: none.",
    )
    ops_token: SecretStr | None = Field(
        default=None, examples=["$(openssl rand -hex 32)"], description="Opens the /ops page; unset: the page is off."
    )
    max_body_bytes: int = Field(default=65_536, ge=1024, description="Largest request body accepted.")
    max_uf_days: int = Field(
        default=1_000, ge=1, description="Largest search: number of UFs x days of the period (27 UFs x 37 days)."
    )

    log_format: Literal["plain", "json"] = Field(
        default="plain", description="'json': one JSON object per line (the Docker image sets it)."
    )

    port: int = Field(default=8000, ge=1, le=65535, description="The port gunicorn (./start.sh web) listens on.")
    web_concurrency: int = Field(default=2, ge=1, description="Web processes gunicorn runs.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The usual sources, where a variable of only whitespace counts as unset (env_ignore_empty stops at "")."""
        for source in (env_settings, dotenv_settings):  # the .env source is an EnvSettingsSource too
            if isinstance(source, EnvSettingsSource):
                source.env_vars = without_blank_values(source.env_vars)
        return init_settings, env_settings, dotenv_settings, file_secret_settings

    @field_validator("search_rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        if value.strip().lower() == "off":
            return value
        try:
            parse_limit(value)
        except ValueError:
            raise ValueError("must be a rate like 30/minute or 100/hour, or off") from None
        return value

    @field_validator("pncp_rate_limit")
    @classmethod
    def _pncp_rate(cls, value: str) -> str:
        try:
            item = parse_limit(value)
        except ValueError:
            raise ValueError("must be a rate like 4/second or 200/minute") from None
        if item.amount < 1:
            raise ValueError("must allow at least one request, like 4/second")
        return value

    @field_validator("index_modalidades")
    @classmethod
    def _index_modalidades(cls, value: str) -> str:
        codes = [part.strip() for part in value.split(",") if part.strip()]
        if not codes or not all(code.isdigit() and 1 <= int(code) <= 13 for code in codes):
            raise ValueError("must be PNCP modalidade codes from 1 to 13, comma-separated, like 4,5,6,7")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        return _require_url(value, ("redis", "rediss", "unix"), "must be a redis://, rediss:// or unix:// URL")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if value.startswith("sqlite:///") and len(value) > len("sqlite:///"):
            return value
        return _require_url(
            value, ("postgresql", "postgres", "postgresql+asyncpg"), "must be sqlite:///path or a postgresql:// URL"
        )

    @field_validator("pncp_base_url")
    @classmethod
    def _pncp_base_url(cls, value: str) -> str:
        if value.strip().lower() == DEMO_PNCP:
            return value
        return _require_url(value, ("http", "https"), "must be demo or an http:// or https:// URL")

    @field_validator("openai_base_url", "supabase_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else _require_url(value, ("http", "https"), "must be an http:// or https:// URL")

    @field_validator("supabase_service_role_key")
    @classmethod
    def _supabase_pair(cls, key: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        """SUPABASE_URL needs one of the project's keys, and a key needs SUPABASE_URL. A field validator
        (not a model one) so this shows with the other problems."""
        if "supabase_url" not in info.data:  # SUPABASE_URL itself was wrong: its own line says so
            return key
        url, anon = info.data["supabase_url"], info.data.get("supabase_anon_key")
        if url is None and (key is not None or anon is not None):
            given = "supabase_service_role_key" if key is not None else "supabase_anon_key"
            raise PydanticCustomError(
                PARTNER_MISSING, "{given} is set and needs it; set both or neither",
                {"missing": "supabase_url", "given": env_name(given)},
            )
        if url is not None and key is None and anon is None:
            raise PydanticCustomError(
                PARTNER_MISSING, "{given} is set and needs it (or SUPABASE_ANON_KEY); set both or neither",
                {"missing": "supabase_service_role_key", "given": env_name("supabase_url")},
            )
        return key

    @field_validator("auth_mode")
    @classmethod
    def _auth_mode(cls, mode: str | None, info: ValidationInfo) -> str | None:
        """Signing in needs something to check access tokens with."""
        data = info.data
        if mode == "supabase" and "supabase_url" in data and not data["supabase_url"] and not data.get(
                "supabase_jwt_secret"):
            raise PydanticCustomError(
                PARTNER_MISSING, "AUTH_MODE=supabase needs it (or SUPABASE_JWT_SECRET) to check access tokens",
                {"missing": "supabase_url"},
            )
        return mode

    @property
    def allowed_origins(self) -> list[str]:
        return [origin.strip().rstrip("/") for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def pncp_requests_per_second(self) -> float:
        item = parse_limit(self.pncp_rate_limit)
        return item.amount / item.get_expiry()

    @property
    def index_on(self) -> bool:
        return self.index_days > 0

    @property
    def indexed_modalidades(self) -> tuple[int, ...]:
        return tuple(sorted({int(code) for code in self.index_modalidades.split(",") if code.strip()}))

    @property
    def pncp_is_demo(self) -> bool:
        return self.pncp_base_url.strip().lower() == DEMO_PNCP

    @property
    def auth(self) -> Literal["supabase", "off"]:
        """AUTH_MODE, or when unset: supabase when the project's keys say users sign in."""
        if self.auth_mode is not None:
            return self.auth_mode
        return "supabase" if self.supabase_anon_key or self.supabase_jwt_secret else "off"

    @property
    def auth_on(self) -> bool:
        """Access tokens needed, else one local user without plan limits."""
        return self.auth == "supabase"

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


def load_settings() -> Settings:
    """The settings of this process, from the environment (and `.env`), for the entry points.

    A wrong value ends the process here, before it serves or forks anything: one line per problem on
    stderr and exit status 2 (a usage error), no traceback. `Settings(...)` itself raises ValidationError.
    """
    try:
        return Settings()
    except ValidationError as exc:
        lines = configuration_problems(exc)
    sys.stderr.write("".join(f"{ERROR_PREFIX}{line}\n" for line in lines))
    sys.stderr.flush()
    raise SystemExit(2)


def configuration_problems(error: ValidationError) -> list[str]:
    """One line per wrong variable: `NAME=value: what is wrong (for example NAME=good)`; secrets show as ***."""
    fields = Settings.model_fields
    lines: dict[str, str] = {}  # by variable: a value that fails twice is still one problem
    for detail in error.errors(include_url=False):
        ctx = detail.get("ctx") or {}
        if detail["type"] == PARTNER_MISSING:
            name = str(ctx["missing"])
            lines.setdefault(name, f"{env_name(name)} is not set: {detail['msg']}{_example(name, fields)}")
        elif detail["loc"] and detail["loc"][0] in fields:
            name = str(detail["loc"][0])
            shown = "***" if _is_secret(fields[name]) else shown_value(detail["input"])
            lines.setdefault(name, f"{env_name(name)}={shown}: {problem(detail)}{_example(name, fields)}")
        else:  # not tied to one variable (none today): pydantic's own words
            lines.setdefault(repr(detail["loc"]), f"{'.'.join(map(str, detail['loc']))}: {detail['msg']}")
    return list(lines.values())


def problem(detail: ErrorDetails) -> str:
    """What is wrong with a value, in the words of the variable's reader (an operator, not a Python programmer)."""
    ctx = detail.get("ctx") or {}
    messages = {
        "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number",
        "float_parsing": "must be a number",
        "bool_parsing": "must be true or false",
        "greater_than_equal": f"must be at least {_env_text(ctx.get('ge'))}",
        "greater_than": f"must be greater than {_env_text(ctx.get('gt'))}",
        "less_than_equal": f"must be at most {_env_text(ctx.get('le'))}",
        "less_than": f"must be less than {_env_text(ctx.get('lt'))}",
        "literal_error": f"must be {ctx.get('expected')}",
        "value_error": str(ctx.get("error")),  # our validators' message, as raised
    }
    return messages.get(detail["type"], detail["msg"])


def env_name(field_name: str) -> str:
    """The environment variable of a field (no prefix, case-insensitive: the upper-case spelling)."""
    return field_name.upper()


def shown_value(value: Any, limit: int = 80) -> str:
    """A wrong value as the line shows it: shell-quoted (spaces stay visible), a URL's password hidden, cut short."""
    text = _URL_PASSWORD.sub(r"\1***@", _env_text(value))
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return shlex.quote(text)


def example_value(field: FieldInfo) -> str | None:
    """A good value: the field's explicit example, else its default unless that is nothing (None, "")."""
    if field.examples:
        return _env_text(field.examples[0])
    if field.is_required() or field.default is None or field.default == "":
        return None
    return _env_text(field.default)


def without_blank_values(env_vars: Mapping[str, str | None]) -> dict[str, str | None]:
    """Variables as read, minus those set to nothing or only whitespace: those count as unset."""
    return {name: value for name, value in env_vars.items() if value is None or value.strip()}


def _require_url(value: str, schemes: tuple[str, ...], message: str) -> str:
    """`value` if it is a URL of one of `schemes` with something after `://` (a host, for http), else ValueError."""
    scheme, sep, rest = value.partition("://")
    try:
        has_host = bool(urlsplit(value).hostname)
    except ValueError:  # e.g. an unclosed [IPv6 address
        has_host = False
    if sep and scheme.lower() in schemes and rest.strip("/") and (has_host or not scheme.lower().startswith("http")):
        return value
    raise ValueError(message)


def _example(name: str, fields: Mapping[str, FieldInfo]) -> str:
    good = example_value(fields[name])
    return "" if good is None else f" (for example {env_name(name)}={good})"


def _is_secret(field: FieldInfo) -> bool:
    return SecretStr in (field.annotation, *get_args(field.annotation))


def _env_text(value: Any) -> str:
    """A Python value as one writes it in the environment: `true`, not `True`; `20`, not `20.0`."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
