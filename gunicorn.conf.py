"""gunicorn: $WEB_CONCURRENCY uvicorn workers bound to $PORT (read through Settings)."""

from backend.config import Settings

_settings = Settings()

bind = f"0.0.0.0:{_settings.port}"
workers = _settings.web_concurrency
worker_class = "uvicorn_worker.UvicornWorker"
timeout = 120
graceful_timeout = 30
keepalive = 5
accesslog = "-"
errorlog = "-"
