"""gunicorn: $WEB_CONCURRENCY uvicorn workers bound to $PORT (read through load_settings).

Shutdown order on SIGTERM (a deploy): each process stops accepting requests, its embedded ARQ
worker drains for WORKER_DRAIN_SECONDS (running jobs finish; the rest go back to the queue for
another process), then the process exits. graceful_timeout leaves 10 s beyond the drain, and the
platform's draining time (railway.json: drainingSeconds) must exceed graceful_timeout.
"""

from backend.runtime import metrics
from backend.runtime.logs import configure_logging
from backend.config import load_settings

# A wrong value stops the master here, before it forks: its line on stderr, exit status 2.
_settings = load_settings()

bind = f"0.0.0.0:{_settings.port}"
workers = _settings.web_concurrency
worker_class = "uvicorn_worker.UvicornWorker"
timeout = 120
graceful_timeout = int(_settings.worker_drain_seconds) + 10
keepalive = 5
accesslog = "-"
errorlog = "-"


def on_starting(_server) -> None:  # type: ignore[no-untyped-def]
    """Before the master forks: the database is migrated once, and a table our migrations did not make
    stops the master itself with one line and exit status 2 (a worker stopping would only be replaced)."""
    # Imported here, not at the top: a wrong setting stops the master before it pays for SQLAlchemy.
    from backend.store.preflight import migrate_before_start

    configure_logging(_settings.log_format)
    migrate_before_start(_settings.database_url)


def child_exit(_server, worker) -> None:  # type: ignore[no-untyped-def]
    """A web process ended: its live gauges (jobs in flight, SSE clients) stop counting."""
    metrics.process_exited(worker.pid)
