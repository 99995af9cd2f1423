#!/usr/bin/env bash
# Starts HMS-ACH on the embedded default: SQLite under ./data, a demo tenant, the HMS policy set.
# Extra arguments go to `hms-ach serve` (e.g. --listen 0.0.0.0:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
exec cargo run --release --quiet -p hms-ach -- serve "$@"
