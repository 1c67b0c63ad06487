#!/usr/bin/env bash
# The Python tools the tests use, in .venv: boto3 1.35 (the last line with the lookoutmetrics
# model) for the boto3 client test, and moto[server], the AWS emulator the pipeline tests start
# on 127.0.0.1. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check "boto3>=1.35,<1.36" "moto[server]>=5.1,<5.3"
