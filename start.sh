#!/usr/bin/env bash
# Entry point of the container and of scripts/run.sh.
#   ./start.sh web      gunicorn: $WEB_CONCURRENCY uvicorn processes on $PORT, each with its
#                       embedded ARQ worker unless EMBEDDED_WORKER=false
#   ./start.sh worker   a separate ARQ worker (for EMBEDDED_WORKER=false deployments)
# `exec` replaces this shell with the server, so SIGTERM reaches it directly.
set -euo pipefail
cd "$(dirname "$0")"
[ -x .venv/bin/python ] && PATH="$PWD/.venv/bin:$PATH"
case "${1:-web}" in
  web)
    # Metrics of every gunicorn process, added up by whichever answers /metrics (fresh per start).
    export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-${TMPDIR:-/tmp}/smartlic-metrics-$$}"
    rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    exec gunicorn -c gunicorn.conf.py "backend.main:create_app()" ;;
  worker) exec arq backend.job_queue.WorkerSettings ;;
  *) echo "usage: $0 web|worker" >&2; exit 2 ;;
esac
