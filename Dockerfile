# The F5-TTS RunPod worker image: Python + the worker's source + its lock files, nothing heavy.
# torch/f5-tts/runpod are installed at first start into a venv on the network volume
# (worker/boot.py), because the volume exists only at run time and the stack is ~8 GB.
#   DOCKER_BUILDKIT=1 docker build --build-arg BASE_IMAGE=local/python:3.11-slim-bookworm \
#     --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt -t f5tts-worker .
# The `ca` secret is optional and unused by this Dockerfile (no pip runs at build); it is part of
# the build interface the harness uses, and a secret mount never lands in a layer.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    WANDB_MODE=disabled \
    PYANNOTE_METRICS_ENABLED=0
WORKDIR /app

# Lock files first: they change less often than the code, and the venv key hashes them.
COPY worker/requirements/ /app/worker/requirements/
COPY test_input.jso[n] /app/
COPY worker/ /app/worker/

# Fail the build, not the first start, when the base Python cannot run the boot program.
RUN python3 -c "import sys, venv, ensurepip; assert sys.version_info >= (3, 10), sys.version" \
 && python3 -c "import worker.boot"

ENTRYPOINT ["python3", "-m", "worker.boot"]
