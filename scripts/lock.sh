#!/usr/bin/env bash
# Regenerate worker/requirements/f5tts.lock from f5tts.in in a scratch venv:
#   1. pip install -r f5tts.in (pip resolves the worker's needs),
#   2. pip install --no-deps f5-tts==$F5TTS_VERSION (its declared gradio/torchcodec/bitsandbytes
#      are not used by the inference path; see f5tts.in),
#   3. pip freeze -> the lock (sorted, pip/setuptools/wheel left out), then an import check.
# Use the Python the image runs (3.11) so wheels match: PYTHON=python3.11 scripts/lock.sh
# The venv key on the volume hashes the lock, so a new lock means a new venv at the next start.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
F5TTS_VERSION="${F5TTS_VERSION:-1.1.22}"
IN=worker/requirements/f5tts.in
OUT="${OUT:-worker/requirements/f5tts.lock}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-/var/cache/f5tts-pip}"
log() { printf '[lock] %s\n' "$*" >&2; }

scratch=$(mktemp -d /tmp/f5tts-lock.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
log "scratch venv in $scratch ($("$PY" --version))"
"$PY" -m venv "$scratch/venv"
pip=("$scratch/venv/bin/python" -m pip)
"${pip[@]}" install -q -r "$IN"
"${pip[@]}" install -q --no-deps "f5-tts==$F5TTS_VERSION"
"$scratch/venv/bin/python" -c "import torch, f5_tts, runpod" || {
  log "the locked set does not import; lock not written"; exit 1; }

tmp="$OUT.tmp"
{
  echo "# Pinned set for the reference worker's venv on the volume; installed with pip --no-deps."
  echo "# Made from f5tts.in by scripts/lock.sh; do not edit by hand."
  "${pip[@]}" freeze --all --exclude pip --exclude setuptools --exclude wheel | LC_ALL=C sort -f
} > "$tmp"
mv "$tmp" "$OUT"
log "wrote $OUT ($(grep -vc '^#' "$OUT") pins)"
