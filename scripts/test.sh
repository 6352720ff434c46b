#!/usr/bin/env bash
# The one test command: installs everything the tests need on a fresh machine, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: Debian's chromium for the browser tests (Playwright drives this binary;
# no browser is downloaded), PostgreSQL so the store tests also run against it, and nginx for
# `python app.py --processes N` (tests/integration/test_processes.py).
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium postgresql nginx >/dev/null

python -m pip install -q --disable-pip-version-check -r requirements-dev.txt

# Lint first: a finding fails the run before any test starts (rules in ruff.toml).
python -m ruff check .

# A throwaway PostgreSQL cluster on a free port, stopped when the tests end.
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
PG_DIR=$(mktemp -d)
PG_PORT=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
chown postgres "$PG_DIR" 2>/dev/null || true
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
trap 'as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$PG_DIR"' EXIT
export TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/postgres"

export CHROMIUM_PATH=/usr/bin/chromium
python -m pytest -q -p no:cacheprovider "$@" playground app.py tests/unit tests/integration tests/e2e
