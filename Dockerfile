# syntax=docker/dockerfile:1
# The upir-operator image: the operator (entry point) and the `upir` command,
# with the runtime dependencies only.
#
#   docker build -t REGISTRY/upir-operator:0.1.0 .
#   ../shared/tools/image-build.sh . localhost/upir-operator:0.1.0   (no Docker engine;
#                                                                     what ./scripts/image runs)
#
# Two stages: the builder installs the runtime pins (requirements.lock: no test,
# lint or emulator package; those are in requirements-dev.lock) and the project
# into a virtual environment, then drops what nothing imports at run time; the
# final stage is the slim Python base plus that venv, running as an unprivileged
# user with nothing that needs a writable root filesystem. No compiler is
# installed in either stage (the builder adds binutils' strip, the final stage
# takes only the venv). The install step is the runtime half of the one
# scripts/bootstrap.sh runs before every test run; tests/unit/chart checks that
# they stay the same.

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
# the project itself, as a regular (not editable) install; its dependencies are
# exactly the lock's, already installed; --compile writes the .pyc files now,
# since the root filesystem is read-only at run time. e2e/ (the API emulator and
# the demo) is not in the build context, so the upir_e2e package is not built.
RUN /opt/venv/bin/python -m pip install -q --no-cache-dir --no-deps --no-build-isolation \
        --compile . \
    && /opt/venv/bin/upir --version
# binutils' strip, for the step below; the final stage copies only the venv, so no
# part of binutils reaches the image (and its version changes nothing there but
# which symbol tables are gone). After the pip layers, so they stay cached.
# hadolint ignore=DL3008
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends binutils >/dev/null \
    && rm -rf /var/lib/apt/lists/*
# What no runtime import reads: pip itself (nothing is installed at run time), the
# test suites that packages ship in their `tests` folders, the Kubernetes client's
# asyncio twin (kubernetes/aio; the operator uses the synchronous client and kopf
# its own), and PyTorch's C++ headers, CMake files, C++ test programs and protoc
# (they serve building and testing C++ extensions, which needs a compiler this
# image does not have; `import torch` needs only bin/torch_shm_manager).
# libtorch_cpu.so loses its static symbol table (89 MB; strip --strip-unneeded
# keeps the dynamic symbols the loader uses). Only that library: the ones that
# auditwheel patched (numpy.libs, scipy.libs, ...) no longer load once stripped.
# Licences in the *.dist-info folders stay. tests/image checks the image still
# runs the CLI, a PPO episode and the operator.
RUN /opt/venv/bin/python -m pip uninstall -q -y pip \
    && site="$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" \
    && rm -rf "$site/torch/include" "$site/torch/share" "$site/torch/test" "$site/kubernetes/aio" \
    && find "$site/torch/bin" -mindepth 1 ! -name torch_shm_manager -delete \
    && find "$site" -name '*.dist-info' -prune -o -type d -name tests -prune -exec rm -rf {} + \
    && strip --strip-unneeded "$site/torch/lib/libtorch_cpu.so" \
    && /opt/venv/bin/python -c "import upir.cli.main, upir_operator.__main__, torch, sklearn"

FROM ${PYTHON_IMAGE}
# VERSION comes from pyproject.toml (image-build.sh passes it); scripts/image sets
# the revision and the source from git after the build.
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=https://upir.dev
LABEL org.opencontainers.image.title="upir-operator" \
      org.opencontainers.image.description="Kubernetes operator: Z3-verified, CEGIS-synthesized, guardrailed PPO-tuned service parameters" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
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
