#!/usr/bin/env bash
# Starts the emulator on a free port, provisions samples/users.csv against it,
# then runs again to show that nothing is created twice.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=./bin/provision
OUT=out/demo
rm -rf "$OUT"; mkdir -p "$OUT"

"$BIN" emulator --addr 127.0.0.1:0 --rate 50 --burst 10 --latency 20ms --faults 500=0.05,529=0.05,lost=0.05 --seed 42 >"$OUT/emulator.log" 2>&1 &
EMU=$!
trap 'kill $EMU 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q '^listening on ' "$OUT/emulator.log" 2>/dev/null && break; sleep 0.1; done
URL=$(sed -n 's/^listening on //p' "$OUT/emulator.log" | head -1)
[ -n "$URL" ] || { echo "the emulator did not start"; cat "$OUT/emulator.log"; exit 1; }

export ANTHROPIC_API_KEY=demo-key ANTHROPIC_BASE_URL="$URL"
echo "== validate samples/users.csv (calls nothing)"
"$BIN" validate samples/users.csv --report "$OUT/validate.csv" || true
echo
echo "== run samples/users.csv against the emulator at $URL"
set +e
# A lost answer is looked up --timeout + --settle after its send: a short
# timeout keeps the demo quick (the emulator answers in 20 ms).
"$BIN" run samples/users.csv --timeout 5s --state "$OUT/provision.db" --report "$OUT/report.csv" --summary-json "$OUT/summary.json" --metrics-file "$OUT/provision.prom"
code=$?
set -e
echo "exit code $code (1 = some rows invalid: see the report)"
echo
echo "== the report ($OUT/report.csv)"
cut -c1-150 "$OUT/report.csv"
echo
echo "== run again: nothing is created twice"
"$BIN" run samples/users.csv --state "$OUT/provision.db" --report "$OUT/report-2.csv" || true
echo
echo "== an Okta export under the GA contract, mapped by samples/okta.toml: plan (sends no write), then sync"
"$BIN" plan --config samples/okta.toml samples/okta-users.csv --absent suspend --state "$OUT/okta.db" --report "$OUT/okta-plan.csv" --progress never || true
"$BIN" sync --config samples/okta.toml samples/okta-users.csv --absent suspend --timeout 5s --state "$OUT/okta.db" --report "$OUT/okta-sync.csv" --progress never || true
cut -c1-150 "$OUT/okta-sync.csv" | head -8
echo
echo "== emulator: $(curl -s "$URL/_emulator/stats" 2>/dev/null || echo '(curl not installed)')"
[ "$code" -le 1 ]
