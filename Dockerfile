# syntax=docker/dockerfile:1
# The upir-operator image: the operator (entry point) and the `upir` command.
#
#   docker build -t REGISTRY/upir-operator:0.1.0 .
#
# Two stages: the builder installs the pinned dependencies and the project into a
# virtual environment; the final stage is the slim Python base plus that venv,
# running as an unprivileged user with nothing that needs a writable root
# filesystem. The install step is the one scripts/bootstrap.sh runs (and the test
# suite exercises): `pip install -r requirements.lock`, then the project without
# dependencies. tests/integration/chart checks that the two stay identical.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
# requirements.lock pins the CPU build of PyTorch (torch==...+cpu); only PyTorch's
# CPU index serves it, and an unpinned torch would pull several GB of CUDA.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
WORKDIR /src
# dependencies first: this layer is reused until requirements.lock changes
COPY requirements.lock ./
RUN /opt/venv/bin/python -m pip install -q --no-cache-dir \
        --extra-index-url "${TORCH_INDEX_URL}" -r requirements.lock
COPY pyproject.toml README.md ./
COPY upir ./upir
COPY operator ./operator
COPY e2e ./e2e
# the project itself, as a regular (not editable) install; its dependencies are
# exactly the lock's, already installed; --compile writes the .pyc files now,
# since the root filesystem is read-only at run time
RUN /opt/venv/bin/python -m pip install -q --no-cache-dir --no-deps --no-build-isolation \
        --compile . \
    && /opt/venv/bin/upir --version

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="upir-operator" \
      org.opencontainers.image.description="Kubernetes operator: Z3-verified, CEGIS-synthesized, guardrailed PPO-tuned service parameters" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# uid/gid 10001: the chart's securityContext runs as this user
RUN groupadd --system --gid 10001 upir \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin upir
COPY --from=builder /opt/venv /opt/venv
# HOME and the caches point at /tmp, the one writable mount (an emptyDir in the
# chart): PyTorch, Matplotlib and XDG users write there, never to the image
ENV PATH=/opt/venv/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    XDG_CACHE_HOME=/tmp/.cache \
    XDG_CONFIG_HOME=/tmp/.config \
    MPLCONFIGDIR=/tmp/matplotlib
USER 10001:10001
WORKDIR /tmp
# 8080: /metrics (UPIR_METRICS_PORT); 8081: kopf's /healthz (UPIR_HEALTH_PORT)
EXPOSE 8080 8081
ENTRYPOINT ["upir-operator"]
