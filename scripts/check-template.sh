#!/usr/bin/env bash
# Lints template.yaml offline: cfn-lint (CloudFormation schema and best-practice rules) and
# `sam validate` (runs the SAM transform, which cfn-lint alone does not catch errors of).
# Both live in their own virtual environment, .venv-sam. No AWS call is made: the dummy
# credentials only satisfy botocore's credential lookup.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-sam
.venv-sam/bin/pip install --quiet --disable-pip-version-check cfn-lint aws-sam-cli
.venv-sam/bin/cfn-lint template.yaml
AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x SAM_CLI_TELEMETRY=0 \
  .venv-sam/bin/sam validate --region us-east-1 --template-file template.yaml
AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x SAM_CLI_TELEMETRY=0 \
  .venv-sam/bin/sam validate --region us-east-1 --template-file template.yaml --lint
