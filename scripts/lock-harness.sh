#!/usr/bin/env bash
# Regenerate requirements/harness.lock: the harness and its test tools (pyproject.toml, extra dev),
# resolved with uv for Python 3.11 on x86_64 Linux and held to worker/requirements/f5tts.lock's
# versions where the two share a package, so one .venv can hold both (scripts/setup.sh --tests).
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-/var/cache/f5tts-uv/tool/bin/uv}"
if [ ! -x "$UV" ]; then
  python3 -m venv "$(dirname "$(dirname "$UV")")" && "$(dirname "$UV")/python" -m pip install -q "uv==0.13.9"
fi
"$UV" pip compile pyproject.toml --extra dev -c worker/requirements/f5tts.lock \
  --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
  --custom-compile-command "scripts/lock-harness.sh" -o requirements/harness.lock
