#!/usr/bin/env bash
# Install vigil with its dev tools, make sure PostgreSQL and NATS are up, run every check.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
scripts/services.sh
export VIGIL_REQUIRE_SERVICES=1
.venv/bin/ruff check src tests bench
.venv/bin/mypy
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
