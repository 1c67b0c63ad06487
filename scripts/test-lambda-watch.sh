#!/usr/bin/env bash
# The pipeline with the real Lambda binaries: moto on 127.0.0.1, the four functions run by
# `cargo lambda watch` (dev profile, host architecture), boto3 driving the api function through
# its function URL, and the ingest, detect and notify functions invoked with the files in
# events/ by `cargo lambda invoke`. Installs cargo-lambda (and ziglang) into .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-python.sh
.venv/bin/pip install --quiet --disable-pip-version-check "cargo-lambda>=1.9,<2" ziglang
# cargo-lambda finds zig through the python3 on PATH.
export PATH="$PWD/.venv/bin:$PATH"

work=$(mktemp -d)
trap 'kill "${watch:-0}" "${moto:-0}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

moto_port=$(free_port)
moto_server -H 127.0.0.1 -p "$moto_port" > "$work/moto.log" 2>&1 &
moto=$!
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$moto_port/moto-api/" > /dev/null 2>&1 && break
  sleep 0.2
done

cargo build --quiet -p seismo-cli
./target/debug/seismo generate --out "$work/sample" > /dev/null
python3 tests/lambda/watch_flow.py setup "http://127.0.0.1:$moto_port" "$work/sample" "$work/functions.env"

# Build each function as the emulator runs it (`cargo run --bin NAME`: each with only its own
# features), so no invocation waits for a compile.
for bin in api ingest detect notify; do
  cargo build --quiet --bin "$bin"
done

watch_port=$(free_port)
cargo lambda watch -A 127.0.0.1 -P "$watch_port" --env-file "$work/functions.env" > "$work/watch.log" 2>&1 &
watch=$!
for _ in $(seq 600); do
  curl -s -o /dev/null "http://127.0.0.1:$watch_port/" && break
  sleep 0.2
done
python3 tests/lambda/watch_flow.py flow "http://127.0.0.1:$moto_port" "http://127.0.0.1:$watch_port" \
  || { echo "--- cargo lambda watch log" >&2; tail -50 "$work/watch.log" >&2; exit 1; }
