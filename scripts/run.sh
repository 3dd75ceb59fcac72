#!/usr/bin/env bash
# Sets up and runs the service, page included, on http://127.0.0.1:${PORT:-8000}.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/services.sh redis
scripts/venv.sh requirements.txt
scripts/frontend.sh
exec ./start.sh web
