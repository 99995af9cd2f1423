#!/usr/bin/env bash
# Runs the whole test suite: every crate, on SQLite and on a real PostgreSQL server
# (started here when none runs). Installs what it needs on Debian when run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

HMS_ACH_TEST_CHROMEDRIVER=$(scripts/browser.sh)
export HMS_ACH_TEST_CHROMEDRIVER
echo "ChromeDriver for the console tests: $HMS_ACH_TEST_CHROMEDRIVER"
HMS_ACH_TEST_AXE=$(scripts/axe.sh)
export HMS_ACH_TEST_AXE

HMS_ACH_TEST_POSTGRES=$(scripts/postgres.sh)
export HMS_ACH_TEST_POSTGRES
echo "PostgreSQL for tests: $HMS_ACH_TEST_POSTGRES"

# Databases left by earlier interrupted runs.
if command -v psql >/dev/null 2>&1; then
    psql "$HMS_ACH_TEST_POSTGRES/postgres" -Atc "select datname from pg_database where datname like 'hmst\_%'" 2>/dev/null |
        while read -r db; do psql "$HMS_ACH_TEST_POSTGRES/postgres" -qc "drop database if exists \"$db\" with (force)" >/dev/null 2>&1 || true; done
fi

if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast
else
    cargo test --workspace --no-fail-fast
fi

# The HTTP API against its own generated OpenAPI document, by an outside fuzzer.
scripts/api_fuzz.sh
