"""Settings from the environment: a blank variable counts as unset, a wrong one stops every entry point
with one line that names it (exit status 2, no traceback)."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from pydantic import ValidationError

from backend.codes import now_brasilia
from backend.config import (
    ERROR_PREFIX,
    Settings,
    configuration_problems,
    env_name,
    example_value,
    load_settings,
    shown_value,
    without_blank_values,
)
from tests.conftest import free_port
from tests.servers import ROOT, queue_healthy, run_until_exit, running_server, server_env, wait_for

SECRET = "sb-secret-value-never-shown"
OPTIONAL = ["OPENAI_API_KEY", "OPENAI_BASE_URL", "SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "OPS_TOKEN",
            "WORKER_METRICS_PORT", "STORAGE_SIGNING_KEY"]

# (variables, the one line they give). Every process table below picks its rows from here.
BAD: dict[str, tuple[dict[str, str], str]] = {
    "port-word": ({"PORT": "abc"}, "PORT=abc: must be a whole number (for example PORT=8000)"),
    "port-zero": ({"PORT": "0"}, "PORT=0: must be at least 1 (for example PORT=8000)"),
    "port-high": ({"PORT": "70000"}, "PORT=70000: must be at most 65535 (for example PORT=8000)"),
    "port-spaces": ({"PORT": "80 80"}, "PORT='80 80': must be a whole number (for example PORT=8000)"),
    "metrics-port": ({"WORKER_METRICS_PORT": "x"},
                     "WORKER_METRICS_PORT=x: must be a whole number (for example WORKER_METRICS_PORT=9100)"),
    "max-jobs": ({"WORKER_MAX_JOBS": "0"}, "WORKER_MAX_JOBS=0: must be at least 1 (for example WORKER_MAX_JOBS=4)"),
    "web-concurrency": ({"WEB_CONCURRENCY": "abc"},
                        "WEB_CONCURRENCY=abc: must be a whole number (for example WEB_CONCURRENCY=2)"),
    "url-without-key": ({"SUPABASE_URL": "https://abc.supabase.co"},
                        "SUPABASE_SERVICE_ROLE_KEY is not set: SUPABASE_URL is set and needs it (or SUPABASE_ANON_KEY);"
                        " set both or neither (for example SUPABASE_SERVICE_ROLE_KEY=eyJhbGciOi...)"),
    "anon-key-without-url": ({"SUPABASE_ANON_KEY": "eyJhbGciOi"},
                             "SUPABASE_URL is not set: SUPABASE_ANON_KEY is set and needs it; set both or neither"
                             " (for example SUPABASE_URL=https://abcdefghijklmnop.supabase.co)"),
    "auth-without-keys": ({"AUTH_MODE": "supabase"},
                          "SUPABASE_URL is not set: AUTH_MODE=supabase needs it (or SUPABASE_JWT_SECRET) to check"
                          " access tokens (for example SUPABASE_URL=https://abcdefghijklmnop.supabase.co)"),
    "auth-mode": ({"AUTH_MODE": "on"}, "AUTH_MODE=on: must be 'supabase' or 'off' (for example AUTH_MODE=supabase)"),
    "key-without-url": ({"SUPABASE_SERVICE_ROLE_KEY": SECRET},
                        "SUPABASE_URL is not set: SUPABASE_SERVICE_ROLE_KEY is set and needs it; set both or neither"
                        " (for example SUPABASE_URL=https://abcdefghijklmnop.supabase.co)"),
    "database-scheme": ({"DATABASE_URL": f"mysql://app:{SECRET}@db.internal/smartlic"},
                        "DATABASE_URL='mysql://app:***@db.internal/smartlic': must be sqlite:///path or a postgresql://"
                        " URL (for example DATABASE_URL=sqlite:///./var/smartlic.db)"),
    "database-path": ({"DATABASE_URL": "smartlic.db"},
                      "DATABASE_URL=smartlic.db: must be sqlite:///path or a postgresql:// URL"
                      " (for example DATABASE_URL=sqlite:///./var/smartlic.db)"),
    "rate": ({"SEARCH_RATE_LIMIT": "abc"}, "SEARCH_RATE_LIMIT=abc: must be a rate like 30/minute or 100/hour, or off"
                                           " (for example SEARCH_RATE_LIMIT=30/minute)"),
    "embedded": ({"EMBEDDED_WORKER": "maybe"},
                 "EMBEDDED_WORKER=maybe: must be true or false (for example EMBEDDED_WORKER=true)"),
    "log-format": ({"LOG_FORMAT": "xml"}, "LOG_FORMAT=xml: must be 'plain' or 'json' (for example LOG_FORMAT=plain)"),
    "redis-scheme": ({"REDIS_URL": "http://localhost:6379"},
                     "REDIS_URL=http://localhost:6379: must be a redis://, rediss:// or unix:// URL"
                     " (for example REDIS_URL=redis://localhost:6379/0)"),
    "pncp-scheme": ({"PNCP_BASE_URL": "ftp://pncp.gov.br"},
                    "PNCP_BASE_URL=ftp://pncp.gov.br: must be demo or an http:// or https:// URL"
                    " (for example PNCP_BASE_URL=https://pncp.gov.br/api/consulta)"),
    "pncp-host": ({"PNCP_BASE_URL": "pncp.gov.br/api/consulta"},
                  "PNCP_BASE_URL=pncp.gov.br/api/consulta: must be demo or an http:// or https:// URL"
                  " (for example PNCP_BASE_URL=https://pncp.gov.br/api/consulta)"),
    "openai-url": ({"OPENAI_BASE_URL": "localhost:8080"},
                   "OPENAI_BASE_URL=localhost:8080: must be an http:// or https:// URL"
                   " (for example OPENAI_BASE_URL=https://api.openai.com/v1)"),
    "pncp-timeout": ({"PNCP_TIMEOUT": "-1"}, "PNCP_TIMEOUT=-1: must be greater than 0 (for example PNCP_TIMEOUT=10)"),
    "llm-timeout": ({"LLM_JOB_TIMEOUT": "-0.5"},
                    "LLM_JOB_TIMEOUT=-0.5: must be greater than 0 (for example LLM_JOB_TIMEOUT=30)"),
    "storage-timeout": ({"STORAGE_TIMEOUT": "0"},
                        "STORAGE_TIMEOUT=0: must be greater than 0 (for example STORAGE_TIMEOUT=30)"),
    "drain": ({"WORKER_DRAIN_SECONDS": "-3"},
              "WORKER_DRAIN_SECONDS=-3: must be at least 0 (for example WORKER_DRAIN_SECONDS=20)"),
    "timeout-word": ({"EXCEL_JOB_TIMEOUT": "1m"},
                     "EXCEL_JOB_TIMEOUT=1m: must be a number (for example EXCEL_JOB_TIMEOUT=60)"),
    "pncp-rate": ({"PNCP_RATE_LIMIT": "fast"},
                  "PNCP_RATE_LIMIT=fast: must be a rate like 4/second or 200/minute"
                  " (for example PNCP_RATE_LIMIT=4/second)"),
    "index-days": ({"INDEX_DAYS": "-1"}, "INDEX_DAYS=-1: must be at least 0 (for example INDEX_DAYS=30)"),
    "index-modalidades": ({"INDEX_MODALIDADES": "6,pregao"},
                          "INDEX_MODALIDADES=6,pregao: must be PNCP modalidade codes from 1 to 13, comma-separated,"
                          " like 4,5,6,7 (for example INDEX_MODALIDADES=4,5,6,7,8)"),
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No setting from the environment running the tests, and no `.env` in the working directory."""
    for name in Settings.model_fields:
        monkeypatch.delenv(env_name(name), raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def problems_of(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    return configuration_problems(caught.value)


# --- the lines, without a process ------------------------------------------------------------------


@pytest.mark.parametrize("case", BAD)
def test_a_wrong_value_is_one_line_naming_it(case: str, clean_env: pytest.MonkeyPatch) -> None:
    env, line = BAD[case]
    assert problems_of(env, clean_env) == [line]


def test_each_wrong_variable_gets_its_own_line_in_field_order(clean_env: pytest.MonkeyPatch) -> None:
    env = {**BAD["log-format"][0], **BAD["max-jobs"][0], **BAD["url-without-key"][0], **BAD["redis-scheme"][0]}
    assert problems_of(env, clean_env) == [
        BAD[case][1] for case in ("redis-scheme", "max-jobs", "url-without-key", "log-format")
    ]


def test_secrets_never_appear_in_a_line(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError) as caught:  # SecretStr takes any text: only code can hand it a wrong type
        Settings(_env_file=None, ops_token=123456789, storage_signing_key=[SECRET])
    lines = configuration_problems(caught.value)
    assert [line.split(":")[0] for line in lines] == ["STORAGE_SIGNING_KEY=***", "OPS_TOKEN=***"]
    assert not any("123456789" in line or SECRET in line for line in lines)
    assert SECRET not in "".join(problems_of(BAD["key-without-url"][0] | BAD["database-scheme"][0], clean_env))


def test_every_setting_has_a_good_example() -> None:
    """Each line can show one; and the examples, all together, are accepted."""
    examples = {name: example_value(field) for name, field in Settings.model_fields.items()}
    assert [name for name, value in examples.items() if value is None] == []
    Settings(_env_file=None, **examples)


def test_shown_values_hide_url_passwords_and_stay_short() -> None:
    assert shown_value("postgresql://app:pa55@db/x") == "'postgresql://app:***@db/x'"
    assert shown_value("redis://:pa55@redis:6379/0") == "'redis://:***@redis:6379/0'"
    assert shown_value("redis://cache:6379") == "redis://cache:6379"
    assert shown_value("json ") == "'json '"
    assert shown_value("x" * 200) == "x" * 77 + "..."
    assert shown_value(True) == "true" and shown_value(2.0) == "2"


def test_load_settings_stops_with_the_lines_and_status_2(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("WORKER_MAX_JOBS", "0")
    clean_env.setenv("PORT", "abc")
    with pytest.raises(SystemExit) as stopped:
        load_settings()
    assert stopped.value.code == 2
    assert capsys.readouterr().err == (
        f"{ERROR_PREFIX}{BAD['max-jobs'][1]}\n{ERROR_PREFIX}{BAD['port-word'][1]}\n"
    )


def test_load_settings_reads_the_dotenv_file(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LOG_FORMAT=xml\n")
    with pytest.raises(SystemExit):
        load_settings()
    (tmp_path / ".env").write_text("LOG_FORMAT=json\n")
    assert load_settings().log_format == "json"


# --- blank is unset -----------------------------------------------------------------------------------


@pytest.mark.parametrize("blank", ["", " ", "\t", "  \n"])
def test_a_blank_variable_counts_as_unset(blank: str, clean_env: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        clean_env.setenv(env_name(name), blank)
    settings = Settings(_env_file=None)
    assert settings.model_dump() == Settings.model_construct().model_dump()  # every field at its default
    assert settings.openai_api_key is None and settings.worker_metrics_port is None
    assert not settings.uses_supabase_storage


def test_a_blank_line_of_the_dotenv_file_counts_as_unset(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env_file = tmp_path / "blank.env"
    env_file.write_text("".join(f"{name}=\n" for name in OPTIONAL[:4]) + "OPS_TOKEN='   '\nWORKER_METRICS_PORT=\" \"\n")
    settings = Settings(_env_file=env_file)
    assert [getattr(settings, name.lower()) for name in OPTIONAL] == [None] * len(OPTIONAL)


def test_a_blank_variable_lets_the_dotenv_value_through(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Unset means unset: the next source, the `.env` file, gives the value."""
    env_file = tmp_path / "values.env"
    env_file.write_text("WORKER_MAX_JOBS=7\n")
    clean_env.setenv("WORKER_MAX_JOBS", " ")
    assert Settings(_env_file=env_file).worker_max_jobs == 7


def test_without_blank_values() -> None:
    assert without_blank_values({"a": "", "b": " \t", "c": "x", "d": " y ", "e": None}) == {
        "c": "x", "d": " y ", "e": None
    }


# --- the entry points, as real processes ---------------------------------------------------------------


def minimal_env(tmp_path: Path, redis_url: str, **extra: str) -> dict[str, str]:
    """What a process needs and nothing of the environment running the tests but PATH (this Python first)."""
    (tmp_path / "metrics").mkdir(exist_ok=True)
    return {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PNCP_BASE_URL": "demo",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'smartlic.db'}",
        "STORAGE_DIR": str(tmp_path / "files"),
        "REDIS_URL": redis_url,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "PORT": str(free_port()),
        **extra,
    }


def entry_point(kind: str, port: int) -> list[str]:
    """The command of an entry point; uvicorn takes its port as an argument (PORT may be the wrong value)."""
    return {
        "start.sh web": ["./start.sh", "web"],
        "start.sh worker": ["./start.sh", "worker"],
        "gunicorn": [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "backend.main:app"],
        "uvicorn": [sys.executable, "-m", "uvicorn", "backend.main:app", "--host", "127.0.0.1", "--port", str(port)],
        "arq": [sys.executable, "-m", "arq", "backend.job_queue.WorkerSettings"],
    }[kind]


def stopped_start(kind: str, env: dict[str, str], line: str, timeout: float = 30) -> str | None:
    """Starts `kind` with `env`; None if it stopped with status 2 and `line` alone on stderr, else what went wrong."""
    ended = run_until_exit(entry_point(kind, free_port()), cwd=ROOT, env=env, timeout=timeout)
    out, err = ended.out, ended.err
    if ended.returncode is None:
        return f"{kind}: still running after {timeout}s\n{err}"
    if ended.returncode != 2 or f"{ERROR_PREFIX}{line}\n" not in err or "Traceback" in out + err:
        return f"{kind}: exit status {ended.returncode}\nstdout: {out}\nstderr: {err}"
    return None


def run_table(rows: list[tuple[str, str]], tmp_path: Path, redis_url: str) -> None:
    """Each (entry point, BAD case) as its own process, in parallel: all must stop with their line."""
    def run(row: tuple[str, str]) -> str | None:
        kind, case = row
        env, line = BAD[case]
        folder = tmp_path / f"{kind.replace(' ', '-')}-{case}"
        folder.mkdir()
        return stopped_start(kind, minimal_env(folder, redis_url) | env, line)

    with ThreadPoolExecutor(8) as pool:
        failures = [failure for failure in pool.map(run, rows) if failure is not None]
    assert failures == []


def test_start_sh_web_stops_on_each_wrong_value(tmp_path: Path, redis_url: str) -> None:
    run_table([("start.sh web", case) for case in BAD], tmp_path, redis_url)


def test_the_other_entry_points_stop_the_same_way(tmp_path: Path, redis_url: str) -> None:
    """gunicorn on its own (gunicorn.conf.py, in the master), uvicorn (building backend.main:app), the worker.

    uvicorn and arq import the whole service before reading the settings (1.5 s of CPU each): fewer rows."""
    cases = ["max-jobs", "port-word", "key-without-url", "database-scheme", "log-format"]
    rows = [(kind, case) for kind in ("gunicorn", "start.sh worker") for case in cases]
    rows += [(kind, case) for kind in ("uvicorn", "arq") for case in cases[:3]]
    run_table(rows, tmp_path, redis_url)


def search_body() -> dict[str, object]:
    today = now_brasilia().date()
    return {"search_id": str(uuid4()), "ufs": ["SP", "RJ"], "data_inicial": str(today - timedelta(days=10)),
            "data_final": str(today), "setor_id": "alimentos"}


def search_with_summary(url: str) -> dict[str, object]:
    """A search through the server, then its summary once settled (from the data: no OPENAI_API_KEY)."""
    body = search_body()
    response = httpx.post(f"{url}/v1/buscar", json=body, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["resumo"] is not None

    def settled() -> dict[str, object] | None:
        status = httpx.get(f"{url}/v1/buscar/{body['search_id']}/status", timeout=5).json()
        return status if status["llm_status"] != "processing" else None

    return wait_for(settled, 30, "the summary")


@pytest.mark.parametrize(("blank", "gunicorn"), [("", True), ("  ", False)], ids=["empty-gunicorn", "spaces-uvicorn"])
def test_blank_variables_start_normally(blank: str, gunicorn: bool, tmp_path: Path, redis_url: str) -> None:
    """Every setting server_env leaves alone, blank at once (as a dashboard that "unsets" them leaves them)."""
    env = server_env(tmp_path, redis_url)
    kept = {*env, "PORT"}  # what the test server needs (its own database, Redis, port...)
    blanks = {env_name(name): blank for name in Settings.model_fields if env_name(name) not in kept}
    assert set(OPTIONAL) <= set(blanks)
    if not gunicorn:  # uvicorn parses WEB_CONCURRENCY itself, before the app: start.sh unsets a blank one for gunicorn
        del blanks["WEB_CONCURRENCY"]
    with running_server(env | blanks, tmp_path / "server.log", gunicorn=gunicorn) as server:
        assert httpx.get(f"{server.url}/v1/health", timeout=5).status_code == 200
        wait_for(lambda: queue_healthy(server), 15, "the embedded worker")
        status = search_with_summary(server.url)
        assert status["llm_status"] == "ready"
        assert status["resumo"]["origem"] == "fallback"  # type: ignore[index]
        assert "Traceback" not in server.log()


@pytest.mark.parametrize(("env", "mode"), [
    ({}, "off"),
    ({"SUPABASE_URL": "https://abc.supabase.co", "SUPABASE_SERVICE_ROLE_KEY": SECRET}, "off"),  # Storage only
    ({"SUPABASE_URL": "https://abc.supabase.co", "SUPABASE_ANON_KEY": "eyJhbGciOi"}, "supabase"),
    ({"SUPABASE_JWT_SECRET": SECRET}, "supabase"),
    ({"SUPABASE_URL": "https://abc.supabase.co", "SUPABASE_ANON_KEY": "eyJhbGciOi", "AUTH_MODE": "off"}, "off"),
])
def test_auth_mode_follows_the_projects_keys_unless_set(env: dict[str, str], mode: str) -> None:
    settings = Settings(_env_file=None, **{name.lower(): value for name, value in env.items()})
    assert settings.auth == mode and settings.auth_on == (mode == "supabase")
