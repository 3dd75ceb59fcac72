#!/usr/bin/env bash
# Sets up and runs every test: the page's (Vitest) and the service's (pytest, browser tests
# included). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/services.sh redis postgres chromium
scripts/venv.sh requirements-dev.txt
scripts/frontend.sh
(cd frontend && npm test)
exec .venv/bin/python -m pytest "$@"
