#!/usr/bin/env bash
# Prints the URL of a PostgreSQL server the tests may use, starting a private one when
# none with trust authentication answers on 127.0.0.1:5432. Run as root on Debian.
set -euo pipefail

if [ -n "${HMS_ACH_TEST_POSTGRES:-}" ]; then
    echo "$HMS_ACH_TEST_POSTGRES"
    exit 0
fi
if command -v psql >/dev/null 2>&1 && psql -h 127.0.0.1 -p 5432 -U postgres -w -Atc 'select 1' postgres >/dev/null 2>&1; then
    echo "postgres://postgres@127.0.0.1:5432"
    exit 0
fi

initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$initdb" ]; then
    echo "installing postgresql" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    initdb=$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
fi
bin=$(dirname "$initdb")
data=/tmp/hms-ach-pg
port=55432
if ! runuser -u postgres -- "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    id postgres >/dev/null 2>&1 || useradd --system --home "$data" postgres
    if [ ! -f "$data/PG_VERSION" ]; then
        rm -rf "$data" && mkdir -p "$data" && chown postgres "$data"
        runuser -u postgres -- "$initdb" -D "$data" -A trust -U postgres >/dev/null
    fi
    runuser -u postgres -- "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
        -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=300" start >&2
fi
echo "postgres://postgres@127.0.0.1:$port"
