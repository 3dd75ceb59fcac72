#!/usr/bin/env bash
# Entry point of the container and of scripts/run.sh.
#   ./start.sh web      gunicorn: $WEB_CONCURRENCY uvicorn processes on $PORT, each with its
#                       embedded ARQ worker unless EMBEDDED_WORKER=false
#   ./start.sh worker   a separate ARQ worker (for EMBEDDED_WORKER=false deployments)
# Both check the settings first: a wrong value stops the start with one line naming it, exit status 2.
# So does a table SmartLic's migrations did not make (gunicorn.conf.py migrates before forking; the worker on startup).
# `exec` replaces this shell with the server, so SIGTERM reaches it directly.
set -euo pipefail
cd "$(dirname "$0")"
[ -x .venv/bin/python ] && PATH="$PWD/.venv/bin:$PATH"
check_settings() { python -c 'from backend.config import load_settings; load_settings()'; }
case "${1:-web}" in
  web)
    # gunicorn parses WEB_CONCURRENCY itself when imported, before gunicorn.conf.py can explain a wrong
    # one: a blank one is unset here (as for every setting), any other is checked by check_settings first.
    [[ "${WEB_CONCURRENCY-x}" =~ ^[[:space:]]*$ ]] && unset WEB_CONCURRENCY
    check_settings
    # Metrics of every gunicorn process, added up by whichever answers /metrics (fresh per start).
    export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-${TMPDIR:-/tmp}/smartlic-metrics-$$}"
    rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    exec gunicorn -c gunicorn.conf.py backend.main:app ;;
  worker) check_settings && exec arq backend.job_queue.WorkerSettings ;;
  *) echo "usage: $0 web|worker" >&2; exit 2 ;;
esac
