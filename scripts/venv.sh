#!/usr/bin/env bash
# Creates .venv (Python 3.11+) and installs the given requirements file into it.
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=${1:-requirements.txt}
python=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  if ! "$python" -m venv .venv 2>/dev/null; then
    # Debian ships venv separately.
    rm -rf .venv
    as_root=(); [ "$(id -u)" -eq 0 ] || as_root=(sudo)
    "${as_root[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq python3-venv
    "$python" -m venv .venv
  fi
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r "$requirements"
