#!/usr/bin/env bash
# One command for a fresh machine: Docker engine + local base image, then the dev venv.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-docker.sh
bash scripts/setup-dev.sh
