#!/usr/bin/env bash
# Create .venv and install vigil from the lock file. Usage: scripts/setup.sh [dev]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# libsodium (ristretto255 for private selector matching, through pysodium) from Debian
if ! ldconfig -p 2>/dev/null | grep -q libsodium && command -v apt-get >/dev/null \
   && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libsodium23) \
    >/dev/null || echo "could not install libsodium23" >&2
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
if [ "${1:-}" = "dev" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
else
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
