#!/usr/bin/env bash
# Installs the page's locked npm dependencies and builds it into frontend/dist.
set -euo pipefail
cd "$(dirname "$0")/../frontend"
npm ci --no-audit --no-fund --loglevel=error
npm run build
