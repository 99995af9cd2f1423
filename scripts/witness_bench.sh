#!/usr/bin/env bash
# Durable decisions/s over HTTP, with or without checkpoint witnessing:
#   scripts/witness_bench.sh BINARY [witness]
# Starts BINARY on a fresh SQLite folder (demo tenant, durable recording),
# with `witness` also a witness (`BINARY witness serve`) that every tenant's
# checkpoints go to each second, loads it with wrk (1 thread, 32
# connections, 12 s) and, with a witness, verifies the ledger against it.
set -euo pipefail
binary=$(realpath "$1")
mode=${2:-plain}
port=18181
witness_port=18282
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
config="$dir/hms-ach.toml"
echo "database_url = \"sqlite://$dir/data\"" > "$config"
if [ "$mode" = witness ]; then
    wvkey=$("$binary" witness keygen --name bench.example/w1 --key-file "$dir/w1.key")
    printf '[[ledger.witnesses]]\nurl = "http://127.0.0.1:%s"\nkey = "%s"\n' "$witness_port" "$wvkey" >> "$config"
fi
RUST_LOG=error HMS_ACH__LISTEN=127.0.0.1:$port "$binary" --config "$config" serve > "$dir/serve.out" 2>/dev/null &
for _ in $(seq 200); do grep -q "keep it): " "$dir/serve.out" 2>/dev/null && break; sleep 0.1; done
token=$(sed -n 's/.*keep it): //p' "$dir/serve.out" | head -1)
if [ "$mode" = witness ]; then
    vkey=$("$binary" --config "$config" ledger keys --tenant demo 2>/dev/null | awk '{print $1}')
    RUST_LOG=error "$binary" witness serve --listen 127.0.0.1:$witness_port --name bench.example/w1 \
        --key-file "$dir/w1.key" --state-file "$dir/w1.json" --log "$vkey" > /dev/null 2>&1 &
    sleep 2
fi
cat > "$dir/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $token"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"subject":{"type":"Staff","id":"dr-grey"},"action":{"name":"read_lab_result"},"resource":{"type":"LabResult","id":"lr-1","properties":{"patient":{"type":"Patient","id":"p-1001"}}}}'
LUA
wrk -t1 -c32 -d12s -s "$dir/post.lua" --latency "http://127.0.0.1:$port/demo/access/v1/evaluation" \
    | grep -E "Requests/sec|^ +50%|^ +99%|Non-2xx"
if [ "$mode" = witness ]; then
    sleep 2
    "$binary" --config "$config" ledger verify --tenant demo --witness-key "$wvkey" \
        --ask-witness "http://127.0.0.1:$witness_port" 2>/dev/null | tail -1
    curl -s "http://127.0.0.1:$witness_port/latest?origin=hms-ach/demo" | sed -n 2p | sed 's/^/witnessed size: /'
fi
