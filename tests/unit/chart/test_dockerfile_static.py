"""The Dockerfile against what the tests exercise: the runtime half of
scripts/bootstrap.sh's install step, the same Python, the chart's user and ports, an
allow-list .dockerignore that lets in every file the Dockerfile copies and nothing
of the development side.

The image itself is built and run by ./scripts/image (tests/image; .ci/run calls
it); hadolint runs in tests/integration/chart/test_chart_helm.py.
"""

from __future__ import annotations

import fnmatch
import json
import re
import sys
import tomllib
from pathlib import Path

import yaml
from upir_operator.settings import OperatorSettings

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
BOOTSTRAP = (ROOT / "scripts" / "bootstrap.sh").read_text(encoding="utf-8")
VALUES = yaml.safe_load((ROOT / "charts/upir-operator/values.yaml").read_text(encoding="utf-8"))


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending += " " + line.rstrip("\\").strip()
        if line.endswith("\\"):
            continue
        word, _, rest = pending.strip().partition(" ")
        out.append((word.upper(), " ".join(rest.split())))
        pending = ""
    return out


def pip_installs(text: str) -> list[str]:
    """The options of each `pip install` in a shell text, normalised."""
    joined = re.sub(r"\\\n\s*", " ", text)
    found = []
    for match in re.finditer(r"-m pip install ([^\n&;]*)", joined):
        found.append(" ".join(match.group(1).split()))
    return found


def test_install_step_is_the_tested_one() -> None:
    """pip install -r requirements.lock, then the project with --no-deps
    --no-build-isolation: what scripts/bootstrap.sh does before every test run,
    less the development lock."""
    image, tested = pip_installs(DOCKERFILE), pip_installs(BOOTSTRAP)
    assert len(image) == len(tested) == 2
    assert "-r requirements.lock" in image[0]
    assert all("requirements-dev.lock" not in args for _, args in instructions())
    assert '-r "$ROOT/requirements.lock" -r "$ROOT/requirements-dev.lock"' in tested[0]
    for flags in ("--no-deps", "--no-build-isolation"):
        assert flags in image[1] and flags in tested[1]
    # the image adds only where torch's +cpu build comes from, and no cache
    extra = set(image[0].split()) - set(tested[0].split())
    assert extra <= {
        "--no-cache-dir",
        "--extra-index-url",
        '"${TORCH_INDEX_URL}"',
        "requirements.lock",
    }
    # the only other pip call drops pip itself from the final venv
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    uninstalls = re.findall(r"-m pip uninstall ([^\n&;]*)", joined)
    assert [" ".join(u.split()) for u in uninstalls] == ["-q -y pip"]
    assert (
        "torch==" in (ROOT / "requirements.lock").read_text()
        and "+cpu" in (ROOT / "requirements.lock").read_text()
    )
    assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in DOCKERFILE


def test_python_version_matches_the_project() -> None:
    base = re.search(r"ARG PYTHON_IMAGE=python:(\d+)\.(\d+)-slim", DOCKERFILE)
    assert base is not None
    version = (int(base.group(1)), int(base.group(2)))
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == f">={version[0]}.{version[1]}"
    assert sys.version_info[:2] == version, "tests run on another Python than the image"
    froms = [args for word, args in instructions() if word == "FROM"]
    assert len(froms) == 2 and all(f.startswith("${PYTHON_IMAGE}") for f in froms)
    # no compiler in either stage: the builder's one apt install is binutils (for
    # strip), and the final stage installs nothing
    stage = 0
    runs: list[list[str]] = [[], []]
    for word, args in instructions():
        stage += word == "FROM"
        if word == "RUN":
            runs[stage - 1].append(args)
    installs = re.findall(r"apt-get install ([^&]*)", " ".join(runs[0]))
    assert [i.split()[-2:] for i in installs] == [["binutils", ">/dev/null"]]
    assert not re.search(r"\b(gcc|g\+\+|clang|build-essential)\b", " ".join(runs[0]))
    assert not re.search(r"\b(apt-get|apt|pip)\b", " ".join(runs[1]))


def test_runs_as_the_charts_non_root_user_with_the_operator_entry_point() -> None:
    ins = instructions()
    user = [args for word, args in ins if word == "USER"]
    assert user == ["10001:10001"]
    assert (
        VALUES["securityContext"]["runAsUser"] == VALUES["podSecurityContext"]["runAsUser"] == 10001
    )
    assert VALUES["securityContext"]["runAsGroup"] == 10001
    entry = [json.loads(args) for word, args in ins if word == "ENTRYPOINT"]
    assert entry == [["upir-operator"]]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["upir-operator"] == "upir_operator.__main__:main"


def test_exposed_ports_are_the_operator_defaults() -> None:
    exposed = [args for word, args in instructions() if word == "EXPOSE"]
    d = OperatorSettings()
    assert exposed == [f"{d.metrics_port} {d.health_port}"]
    assert (VALUES["metrics"]["port"], VALUES["health"]["port"]) == (d.metrics_port, d.health_port)


def test_dockerignore_lets_in_every_copied_path_and_nothing_else() -> None:
    """.dockerignore is an allow-list: `*`, then `!path` for each COPY source."""
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    sources: set[str] = set()
    for word, args in instructions():
        if word == "COPY" and "--from=" not in args:
            *srcs, _dest = args.split()
            sources |= {s.rstrip("/") for s in srcs}
    assert sources == allowed
    for source in sources:
        assert (ROOT / source).exists(), source
    # the emulator, the tests and the development pins never enter the context
    assert not allowed & {"e2e", "tests", "requirements-dev.lock", "scripts"}
    # caches never enter the context even inside allowed folders
    excluded = [line for line in lines[1:] if not line.startswith("!")]
    assert any(fnmatch.fnmatch("upir/x/__pycache__", p.replace("**/", "*/")) for p in excluded)


def test_read_only_root_filesystem_friendly() -> None:
    """Byte code compiled at build time; every cache and HOME point at /tmp (the
    chart's writable emptyDir)."""
    assert "--compile ." in re.sub(r"\s+", " ", DOCKERFILE.replace("\\\n", " "))
    env = " ".join(args for word, args in instructions() if word == "ENV")
    for var in ("HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "MPLCONFIGDIR"):
        assert re.search(rf"\b{var}=/tmp\b", env), var
    assert "PYTHONDONTWRITEBYTECODE=1" in env


def test_oci_labels() -> None:
    """source, version, revision and licences; the version and licence from
    pyproject.toml (scripts/image sets the revision and source from git)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    labels = " ".join(args for word, args in instructions() if word == "LABEL")
    for key in ("source", "version", "revision", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels, key
    assert f'org.opencontainers.image.licenses="{project["license"]["text"]}"' in labels
    assert f"ARG VERSION={project['version']}" in DOCKERFILE
    assert 'org.opencontainers.image.version="${VERSION}"' in labels


def test_charts_default_image_is_what_scripts_image_builds() -> None:
    """The chart's default reference (repository : appVersion) is the tag
    scripts/image gives the image: the same files, the same versions."""
    chart = yaml.safe_load((ROOT / "charts/upir-operator/Chart.yaml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert chart["appVersion"] == project["version"]
    assert VALUES["image"]["repository"] == "localhost/upir-operator"
    assert VALUES["image"]["tag"] == "" and VALUES["image"]["digest"] == ""
    script = (ROOT / "scripts" / "image").read_text()
    assert "values['image']['repository']}:{chart['appVersion']}" in script
