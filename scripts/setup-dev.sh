#!/usr/bin/env bash
# Make .venv: the worker's pinned stack (worker/requirements/f5tts.lock, about 7 GB with the CUDA
# build of torch 2.8.0, which also runs on CPU) plus the harness and test tools, held to the lock's
# versions. Idempotent: a venv whose stamp matches the lock and pyproject.toml is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
# The same pip cache the worker containers mount, so wheels download once per machine.
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-/var/cache/f5tts-pip}"
mkdir -p "$PIP_CACHE_DIR"
stamp="$(cat worker/requirements/f5tts.lock pyproject.toml | sha256sum | cut -c1-16)"

if [ -f "$VENV/.stamp" ] && [ "$(cat "$VENV/.stamp")" = "$stamp" ]; then
  echo "[setup-dev] $VENV is up to date ($stamp)" >&2
  exit 0
fi
echo "[setup-dev] making $VENV from worker/requirements/f5tts.lock (a few minutes)" >&2
"$PY" -m venv "$VENV"
pip() {  # quiet, minus this machine's warnings about its empty local index folders
  { "$VENV/bin/python" -m pip "$@" 2>&1; } | { grep -v "is ignored: it is neither" || true; }
}
pip install -q --upgrade pip
pip install -q --no-deps -r worker/requirements/f5tts.lock
pip install -q -c worker/requirements/f5tts.lock -e ".[dev]"
echo "$stamp" > "$VENV/.stamp"
echo "[setup-dev] done: $("$VENV/bin/python" -c 'import torch, f5_tts, runpod; print("torch", torch.__version__, "runpod", runpod.__version__)' 2>/dev/null)" >&2
