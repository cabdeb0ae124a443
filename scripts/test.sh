#!/usr/bin/env bash
# Install vigil with its dev tools, make sure PostgreSQL and NATS are up, run every check.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
# the browser for the web-console tests (Debian's chromium; never a downloaded build)
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
    >/dev/null || echo "could not install chromium" >&2
fi
# the PKCS#11 token of the hardware-key tests (Debian's SoftHSM2), and OpenSSL's PKCS#11
# engine (libp11) for TLS client keys kept in a token
if { [ ! -e /usr/lib/softhsm/libsofthsm2.so ] \
     || ! dpkg -s libengine-pkcs11-openssl >/dev/null 2>&1; } \
    && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2 \
    libengine-pkcs11-openssl) >/dev/null || echo "could not install softhsm2/libp11" >&2
fi
# the OpenID provider of the console's sign-in tests (npm's oidc-provider, run by Node)
if command -v node >/dev/null && command -v npm >/dev/null; then
  npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error >/dev/null \
    || echo "could not install tests/oidc (npm ci)" >&2
fi
# the federation test bed (tests/federation/bed): network namespaces need root and `ip`
# (Debian's iproute2); partitions are policy-routing blackholes, so no iptables/nftables
if [ "$(id -u)" = 0 ]; then
  if ! command -v ip >/dev/null && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2) \
      >/dev/null || echo "could not install iproute2" >&2
  fi
  command -v ip >/dev/null && export VIGIL_REQUIRE_NETNS=1
fi
scripts/services.sh
export VIGIL_REQUIRE_SERVICES=1
.venv/bin/ruff check src tests bench
.venv/bin/mypy
# two workers, one test file per unit of work (see tests/conftest.py)
.venv/bin/python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile "$@"
