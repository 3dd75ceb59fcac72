#!/usr/bin/env bash
# Entry point of the container and of scripts/run.sh: `./start.sh web`.
set -euo pipefail
cd "$(dirname "$0")"
[ -x .venv/bin/python ] && PATH="$PWD/.venv/bin:$PATH"
case "${1:-web}" in
  web) exec gunicorn -c gunicorn.conf.py "backend.main:create_app()" ;;
  *) echo "usage: $0 web" >&2; exit 2 ;;
esac
