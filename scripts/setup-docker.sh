#!/usr/bin/env bash
# Make this machine able to build and run the worker image:
#   1. install Debian's docker.io engine when no engine answers (the client alone is not enough),
#   2. start dockerd when none is running,
#   3. make the local base image when the default base cannot be pulled (Docker Hub does not
#      answer here): debootstrap a minimal Debian bookworm with Python 3.11 and `docker import` it,
#   4. give it what the official python image has: `python`, `python3`, `pip`, `pip3` in
#      /usr/local/bin, packages that `pip install` puts there importable by that `python` (a venv
#      whose prefix is /usr/local). An older base without them gets the layer added.
# Idempotent: each step is skipped when its result is already there. Needs root.
set -euo pipefail

BASE_TAG="${BASE_TAG:-local/python:3.11-slim-bookworm}"
DEFAULT_BASE="${DEFAULT_BASE:-python:3.11-slim}"
log() { printf '[setup-docker] %s\n' "$*" >&2; }

if ! docker info >/dev/null 2>&1; then
  if ! command -v dockerd >/dev/null 2>&1; then
    log "installing Debian's docker.io engine"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q docker.io >/dev/null
  fi
  log "starting dockerd"
  mkdir -p /var/log
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { log "dockerd did not start; see /var/log/dockerd.log"; exit 1; }
fi
log "engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"

if docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
  log "base image $BASE_TAG present"
elif timeout 30 docker pull -q "$DEFAULT_BASE" >/dev/null 2>&1; then
  docker tag "$DEFAULT_BASE" "$BASE_TAG"
  log "pulled $DEFAULT_BASE as $BASE_TAG"
else
  log "cannot pull $DEFAULT_BASE; making $BASE_TAG with debootstrap (about a minute)"
  command -v debootstrap >/dev/null 2>&1 || {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null; }
  root=$(mktemp -d /tmp/base-rootfs.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$root" >/tmp/debootstrap.log 2>&1 || {
      log "debootstrap failed; see /tmp/debootstrap.log"; exit 1; }
  # Slim it the way the official slim images are slim: no apt lists, docs or caches.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* \
         "$root"/usr/share/man/* "$root"/usr/share/info/*
  tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' - "$BASE_TAG" >/dev/null
  log "made $BASE_TAG ($(docker image inspect -f '{{.Size}}' "$BASE_TAG") bytes)"
fi

if docker run --rm --network none --entrypoint /bin/sh "$BASE_TAG" -c \
    'test -x /usr/local/bin/pip && test -x /usr/local/bin/python' >/dev/null 2>&1; then
  log "base image $BASE_TAG has python and pip in /usr/local/bin"
else
  log "adding python, python3, pip, pip3 in /usr/local/bin to $BASE_TAG"
  # A venv at /usr/local: its pyvenv.cfg makes /usr/local/bin/python a venv interpreter, so pip
  # installs into /usr/local/lib/python3.11/site-packages, where that python imports from (the
  # official image's layout), and Debian's externally-managed guard does not apply.
  printf '%s\n' "FROM $BASE_TAG" \
    'RUN /usr/bin/python3 -m venv /usr/local && /usr/local/bin/python --version && /usr/local/bin/pip --version' \
    'CMD ["python3"]' >/tmp/base-pip.Dockerfile
  DOCKER_BUILDKIT=0 docker build -q -t "$BASE_TAG" - </tmp/base-pip.Dockerfile \
    >/tmp/base-pip.log 2>&1 || { log "adding pip failed; see /tmp/base-pip.log"; exit 1; }
  log "base image $BASE_TAG now has python and pip ($(docker image inspect -f '{{.Size}}' "$BASE_TAG") bytes)"
fi
