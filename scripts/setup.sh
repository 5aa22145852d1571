#!/usr/bin/env bash
# One command for a fresh machine (as root):
#   bash scripts/setup.sh           Docker engine + local base image + .venv with the harness only
#   bash scripts/setup.sh --tests   the same, and .venv also gets the worker's pinned stack (torch,
#                                   f5-tts, runpod; ~8 GB), the test tools and Debian's chromium
#                                   (headless, for the HTML report test), for `pytest`
# Idempotent: every step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=harness
case "${1:-}" in
  "") ;;
  --tests) mode=tests ;;
  *) echo "usage: bash scripts/setup.sh [--tests]" >&2; exit 2 ;;
esac
bash scripts/setup-docker.sh
bash scripts/setup-venv.sh "$mode"
if [ "$mode" = tests ] && ! command -v chromium >/dev/null; then
  # the HTML reports' test renders them in headless Chromium (tests/harness/test_htmlreport.py)
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
fi
