#!/usr/bin/env bash
# Sets up everything the tests need on a fresh machine, then runs them:
# linters, type checks, unit, integration and browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

# Debian packages the tests use: Chromium for the browser tests, coturn as the
# TURN relay they start themselves, iproute2 to give the tests a network
# namespace with loopback only, socat to let the machine's PostgreSQL and Redis
# into that namespace.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v turnserver >/dev/null 2>&1 || missing+=(coturn)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v socat >/dev/null 2>&1 || missing+=(socat)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing from Debian's packages: ${missing[*]}"
  sudo_if_needed=()
  [ "$(id -u)" -eq 0 ] || sudo_if_needed=(sudo)
  "${sudo_if_needed[@]}" apt-get update -qq
  "${sudo_if_needed[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq "${missing[@]}" >/dev/null
  # The package enables a system-wide relay on every interface; the tests
  # only need the program.
  if [[ " ${missing[*]} " == *" coturn "* ]] && [ -d /run/systemd/system ]; then
    "${sudo_if_needed[@]}" systemctl disable --now coturn.service >/dev/null 2>&1 || true
  fi
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy .
echo "== Tests on the embedded default (SQLite)"
scripts/loopback-only .venv/bin/pytest "$@"
echo "== The same tests in production mode (PostgreSQL and Redis on 127.0.0.1)"
SPRECHZIMMER_TEST_MODE=production scripts/loopback-only .venv/bin/pytest "$@"
