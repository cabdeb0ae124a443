#!/usr/bin/env bash
# Install vigil and run the demo node (SQLite + in-process bus) with sample members and data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/vigil --data "${VIGIL_DATA:-.vigil-demo}" demo "$@"
