#!/usr/bin/env bash
# Regenerate worker/requirements/whisperx.lock: the whole pinned set of the worker WITH the optional
# WhisperX transcriber (a full lock, so WORKER_LOCK can point at it), kept as close to f5tts.lock
# as whisperx allows. In a scratch venv:
#   1. pip install --no-deps -r f5tts.lock (the default worker venv, exactly),
#   2. pip install -r f5tts.in -r whisperx.in, constrained to f5tts.lock's pins except $RELEASE
#      (whisperx 3.8.6 needs huggingface-hub<1, which moves these five; nothing else may move),
#   3. refuse when torch, torchaudio, f5-tts or runpod moved; pip freeze -> the lock, with an
#      import-check line that includes whisperx and a comment naming every pin that differs.
# Run after scripts/lock.sh, with the Python the image runs: PYTHON=python3.11 scripts/lock-whisperx.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
BASE=worker/requirements/f5tts.lock
OUT="${OUT:-worker/requirements/whisperx.lock}"
RELEASE="${RELEASE:-huggingface-hub transformers tokenizers datasets fsspec}"
KEEP="torch torchaudio f5-tts runpod"
export PIP_DISABLE_PIP_VERSION_CHECK=1
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-/var/cache/f5tts-pip}"
log() { printf '[lock-whisperx] %s\n' "$*" >&2; }
export LC_ALL=C
# "name version" per pin, names normalised (PEP 503: huggingface_hub is huggingface-hub), sorted
pins() {
  grep -v '^#' "$1" | grep '==' | awk -F'==' '{n=tolower($1); gsub(/[-_.]+/,"-",n); print n" "$2}' \
    | sort
}

scratch=$(mktemp -d /tmp/whisperx-lock.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
log "scratch venv in $scratch ($("$PY" --version))"
"$PY" -m venv "$scratch/venv"
pip=("$scratch/venv/bin/python" -m pip)
# uv (the one scripts/setup-venv.sh keeps beside its cache) when present: same result, faster
UV="${UV:-${UV_CACHE_DIR:-/var/cache/f5tts-uv}/tool/bin/uv}"
install() {
  if [ -x "$UV" ]; then "$UV" pip install --quiet --python "$scratch/venv/bin/python" "$@"
  else "${pip[@]}" install -q "$@"; fi
}
install --no-deps -r "$BASE"
release_re="^($(echo "$RELEASE" | tr ' ' '|')) "
pins "$BASE" | grep -vE "$release_re" | awk '{print $1"=="$2}' > "$scratch/constraints.txt"
install -c "$scratch/constraints.txt" \
  -r worker/requirements/f5tts.in -r worker/requirements/whisperx.in
"${pip[@]}" freeze --all --exclude pip --exclude setuptools --exclude wheel | sort -f \
  > "$scratch/freeze.txt"
for name in $KEEP; do
  a=$(pins "$BASE" | awk -v n="$name" '$1==n{print $2}')
  b=$(pins "$scratch/freeze.txt" | awk -v n="$name" '$1==n{print $2}')
  [ "$a" = "$b" ] || { log "$name moved ($a -> $b); lock not written"; exit 1; }
done
PYANNOTE_METRICS_ENABLED=0 "$scratch/venv/bin/python" -c "import torch, f5_tts.api, runpod, whisperx" \
  || { log "the locked set does not import; lock not written"; exit 1; }

moved=$(join <(pins "$BASE") <(pins "$scratch/freeze.txt") | awk '$2!=$3{print $1" "$2"->"$3}' \
  | paste -sd, - | sed 's/,/, /g')
tmp="$OUT.tmp"
{
  echo "# Pinned set for a worker venv WITH the optional WhisperX transcriber; installed with pip"
  echo "# --no-deps (WORKER_LOCK=worker/requirements/whisperx.lock). f5tts.lock plus whisperx.in;"
  echo "# made by scripts/lock-whisperx.sh; do not edit by hand. Same torch, torchaudio, f5-tts and"
  echo "# runpod as f5tts.lock; pins that differ from it (whisperx needs huggingface-hub<1):"
  echo "#   $moved"
  echo "# import-check: torch, f5_tts.infer.utils_infer, runpod, whisperx"
  cat "$scratch/freeze.txt"
} > "$tmp"
mv "$tmp" "$OUT"
log "wrote $OUT ($(grep -vc '^#' "$OUT") pins; moved from $BASE: $moved)"
