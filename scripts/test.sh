#!/usr/bin/env bash
# Sets up and runs every test. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/services.sh redis postgres
scripts/venv.sh requirements-dev.txt
exec .venv/bin/python -m pytest "$@"
