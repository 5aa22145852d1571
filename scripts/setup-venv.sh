#!/usr/bin/env bash
# Make .venv (idempotent; a stamp per mode records what it was made from):
#   harness  the harness alone, pinned by requirements/harness.lock (no torch, no worker package)
#   tests    harness + test tools + the worker's stack pinned by worker/requirements/f5tts.lock
#            (installed --no-deps, as the worker's venv on the volume is), for the test suite;
#            then the optional WhisperX extra on top, from worker/requirements/whisperx.lock (same
#            torch; moves five pins, see that file's header; ~0.44 GB more)
# Installs with uv (parallel downloads, no byte-compiling; kept in its own small venv beside its
# cache, so it is not part of .venv), falling back to pip when uv cannot be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-harness}"
PY="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
log() { printf '[setup-venv] %s\n' "$*" >&2; }
# Per-machine caches, shared with the worker containers' pip cache mount.
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-/var/cache/f5tts-pip}"
export UV_CACHE_DIR="${UV_CACHE_DIR:-/var/cache/f5tts-uv}"
# The TLS-intercepting proxy's CA, when the machine has one and nothing else says otherwise.
if [ -z "${SSL_CERT_FILE:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
fi
mkdir -p "$PIP_CACHE_DIR" "$UV_CACHE_DIR"

stamp_of() { cat "$@" | sha256sum | cut -c1-16; }
harness_stamp=$(stamp_of requirements/harness.lock pyproject.toml)
tests_stamp=$(stamp_of requirements/harness.lock pyproject.toml worker/requirements/f5tts.lock \
  worker/requirements/whisperx.lock)
current() { [ -f "$VENV/.stamp-$1" ] && [ "$(cat "$VENV/.stamp-$1")" = "$2" ]; }

if current tests "$tests_stamp" || { [ "$mode" = harness ] && current harness "$harness_stamp"; }
then
  log "$VENV is up to date for $mode"
  exit 0
fi

if [ ! -x "$VENV/bin/python" ] || ! current harness "$harness_stamp"; then
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
fi
# pip's own warnings about this machine's empty local index folders are noise here.
pip() { { "$VENV/bin/python" -m pip "$@" 2>&1; } | { grep -v "is ignored: it is neither" || true; }; }
UV="$UV_CACHE_DIR/tool/bin/uv"
if [ ! -x "$UV" ]; then
  { "$PY" -m venv "$UV_CACHE_DIR/tool" && "$UV_CACHE_DIR/tool/bin/python" -m pip install -q \
      "uv==0.13.9" 2>&1 | { grep -v "is ignored: it is neither" || true; }; } || true
  [ -x "$UV" ] || log "uv could not be installed; using pip"
fi
install() {  # install ARGS... with uv when it is there, else pip
  if [ -x "$UV" ]; then
    "$UV" pip install --quiet --python "$VENV/bin/python" "$@"
  else
    pip install -q "$@"
  fi
}
log "installing the harness into $VENV"
install -c requirements/harness.lock -e .
echo "$harness_stamp" > "$VENV/.stamp-harness"
if [ "$mode" = tests ]; then
  log "installing the worker's stack (worker/requirements/f5tts.lock, ~8 GB) and the test tools"
  install --no-deps -r worker/requirements/f5tts.lock
  log "installing the optional WhisperX extra on top (worker/requirements/whisperx.lock)"
  install --no-deps -r worker/requirements/whisperx.lock
  install -c requirements/harness.lock -c worker/requirements/whisperx.lock -e ".[dev]"
  echo "$tests_stamp" > "$VENV/.stamp-tests"
  log "done: $("$VENV/bin/python" -c 'import torch, f5_tts, runpod, whisperx; from importlib.metadata import version as v; print("torch", torch.__version__, "runpod", runpod.__version__, "whisperx", v("whisperx"))' 2>/dev/null)"
else
  "$VENV/bin/harness" --help >/dev/null && log "done: harness installed, $VENV is $(du -sh "$VENV" | cut -f1)"
fi
