"""The reference workload's former model (``upir.simulator.Simulator``, removed
from the library when the general simulator replaced it), loaded from the git
history so that benchmarks can still compare against it.

:func:`load` reads ``upir/simulator/{engine,model,metrics}.py`` at
:data:`COMMIT` (the last commit that had them) with ``git show``, writes them as
a private package under a temporary directory and imports it. It needs the
repository's git history; nothing in ``upir/`` uses it.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
COMMIT = "bcf0514b940caac37757a9fa56356631e18daf30"
"""The last commit with the former engine (upir/simulator/engine.py, model.py)."""
PACKAGE = "_former_simulator"
FILES = ("metrics", "model", "engine")


def available() -> bool:
    """Whether this checkout has :data:`COMMIT` (a shallow clone may not)."""
    try:
        got = subprocess.run(
            ["git", "cat-file", "-e", f"{COMMIT}^{{commit}}"], cwd=ROOT, capture_output=True
        )
    except OSError:
        return False
    return got.returncode == 0


def load() -> ModuleType:
    """The former engine's module (``Simulator``, ``WorkloadParams``,
    ``ServiceModel``, ``LoadProfile``, ``UPIR_KEYS``...)."""
    if f"{PACKAGE}.engine" in sys.modules:
        return sys.modules[f"{PACKAGE}.engine"]
    where = Path(tempfile.mkdtemp(prefix="former-sim-")) / PACKAGE
    where.mkdir()
    (where / "__init__.py").write_text("")
    for name in FILES:
        got = subprocess.run(
            ["git", "show", f"{COMMIT}:upir/simulator/{name}.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if got.returncode != 0:
            raise SystemExit(
                f"the former engine is read from git commit {COMMIT[:12]}, which this "
                f"checkout lacks (a shallow clone? git fetch --unshallow): {got.stderr.strip()}"
            )
        text = got.stdout
        for dep in FILES:
            text = text.replace(f"upir.simulator.{dep}", f"{PACKAGE}.{dep}")
        (where / f"{name}.py").write_text(text)
    sys.path.insert(0, str(where.parent))
    engine = importlib.import_module(f"{PACKAGE}.engine")
    model = importlib.import_module(f"{PACKAGE}.model")
    for attr in ("WorkloadParams", "ServiceModel", "LoadProfile", "UPIR_KEYS", "FIELDS_BY_KEY"):
        setattr(engine, attr, getattr(model, attr))
    return engine
