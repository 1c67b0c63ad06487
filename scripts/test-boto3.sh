#!/usr/bin/env bash
# The boto3 getting-started flow against `seismo serve`: installs boto3 1.35 (the last line with
# the lookoutmetrics model) into .venv, generates a sample, serves it, runs the script.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-python.sh
cargo build --quiet -p seismo-cli
work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
./target/debug/seismo generate --out "$work/sample" --weeks 6 > /dev/null
./target/debug/seismo serve --listen 127.0.0.1:0 --tick-seconds 1 --buckets-dir "$work/sample" --state-dir "$work/state" > "$work/serve.log" &
server=$!
for _ in $(seq 100); do
  grep -q "listening on" "$work/serve.log" 2>/dev/null && break
  sleep 0.1
done
endpoint=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$work/serve.log")
[ -n "$endpoint" ] || { echo "seismo serve did not start" >&2; cat "$work/serve.log" >&2; exit 1; }
.venv/bin/python tests/boto3/getting_started.py "$endpoint" "$work/sample"
