"""``python -m upir.resource.crd``: print the UPIR CRD as YAML.

The output is ``crds/upir.dev_upirs.yaml`` (regenerate it with
``python -m upir.resource.crd > crds/upir.dev_upirs.yaml``); the CRD itself is
built by :func:`build_crd` from :mod:`upir.resource.schema`.
"""

from __future__ import annotations

import sys

from upir.resource.definition import REGENERATE_COMMAND, build_crd, crd_yaml

__all__ = ["REGENERATE_COMMAND", "build_crd", "crd_yaml", "main"]


def main() -> int:
    sys.stdout.write(crd_yaml())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
