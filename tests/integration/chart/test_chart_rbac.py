"""The chart's RBAC rules are exactly the API calls the operator makes, and nothing more.

What the operator calls comes from the code, not from a list kept by hand:
every public coroutine of ``upir_operator.kube.Kube`` is driven against every kind in
``upir_operator.kube.RESOURCES`` with a recording ``call`` (answering 404 so that
every fallback path runs too), and each recorded HTTP request is turned into the
RBAC (group, resource, verb) the API server would authorise. kopf's own calls
(watching, peering, events, CRD discovery) are listed in ``KOPF`` with the kopf
code that makes them.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import subprocess
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from upir_operator.kube import APPLY, GET, RESOURCES, Kube, KubeError

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "upir-operator"
SCENARIOS = sorted(
    p.name.removesuffix("-values.yaml") for p in (CHART / "ci").glob("*-values.yaml")
)
Render = Callable[..., Any]
Rule = tuple[str, str, str]  # (apiGroup, resource[/subresource], verb)

# kopf 1.45's own API calls, for an operator handling upirs with status storage:
KOPF: set[Rule] = {
    # kopf._cogs.clients.fetching.list_objs / watching: list + watch the handled resource
    ("upir.dev", "upirs", "list"),
    ("upir.dev", "upirs", "watch"),
    # kopf._cogs.clients.patching.patch_obj: finalizers and annotations (main object),
    # progress and diff-base (StatusProgressStorage) on the status subresource
    ("upir.dev", "upirs", "patch"),
    ("upir.dev", "upirs/status", "patch"),
    # kopf._cogs.clients.events.post_event
    ("", "events", "create"),
}
# kopf's resource observer discovers CRDs cluster-wide (kopf._core.reactor.observation)
KOPF_CLUSTER: set[Rule] = {
    ("apiextensions.k8s.io", "customresourcedefinitions", "list"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "watch"),
}


def kopf_peering(resource: str) -> set[Rule]:
    """kopf._core.engines.peering: the keep-alive patches the peering object's status;
    the peering observer lists and watches it (and may read it)."""
    return {("kopf.dev", resource, verb) for verb in ("get", "list", "watch", "patch")}


class RecordingKube(Kube):
    """Kube whose HTTP layer records requests; PATCH answers 404 so the create
    fallback runs too."""

    def __init__(self) -> None:
        super().__init__(cast(Any, None), "test")
        self.requests: list[tuple[str, str]] = []

    async def call(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        self.requests.append((method, path))
        if method == "PATCH" and not path.endswith("/status"):
            raise KubeError(f"{path} not found", temporary=False, status=404)
        return {}


def rule_of(method: str, path: str) -> Rule:
    """The RBAC rule the API server checks for one request."""
    m = re.fullmatch(
        r"/(?:api/v1|apis/(?P<group>[^/]+)/[^/]+)/namespaces/[^/]+/(?P<res>[^/]+)(?:/(?P<name>[^/]+)(?:/(?P<sub>[^/]+))?)?",
        path,
    )
    assert m, f"unexpected API path {path}"
    resource = m["res"] + (f"/{m['sub']}" if m["sub"] else "")
    named = m["name"] is not None
    verb = {
        ("GET", True): "get",
        ("GET", False): "list",
        ("POST", False): "create",
        ("PUT", True): "update",
        ("PATCH", True): "patch",
        ("DELETE", True): "delete",
        ("DELETE", False): "deletecollection",
    }[(method, named)]
    return (m["group"] or "", resource, verb)


def code_rules() -> set[Rule]:
    """Every request Kube can make, per kind of RESOURCES and the operations it
    declares for that kind (Kube refuses the others: see
    test_kube_refuses_undeclared_operations)."""
    kube = RecordingKube()
    drivers: dict[str, Callable[[dict[str, Any]], Coroutine[Any, Any, object]]] = {
        GET: kube.get,
        APPLY: kube.apply,
    }
    methods = {
        name
        for name, fn in inspect.getmembers(Kube, inspect.iscoroutinefunction)
        if not name.startswith("_") and name != "call"
    }
    unknown = methods - set(drivers) - {"patch_status"}
    assert not unknown, f"Kube grew {sorted(unknown)}: teach this test which API calls they make"
    rules: set[Rule] = set()
    for (api_version, kind), res in RESOURCES.items():
        if kind == "UPIR":
            # users' objects: the operator never creates, replaces or deletes them
            # (kopf hands handlers the body; only the status is written, below)
            continue
        manifest = {
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {"namespace": "ns", "name": "x"},
        }
        for name in sorted(methods - {"patch_status"}):
            if name not in res.operations:
                continue
            kube.requests.clear()
            try:
                asyncio.run(drivers[name](manifest))
            except KubeError:
                pass
            assert kube.requests, (name, kind)
            rules |= {rule_of(method, path) for method, path in kube.requests}
            assert all(path.startswith(res.path("ns")) for _, path in kube.requests)
    kube.requests.clear()
    asyncio.run(kube.patch_status("ns", "x", {"verdict": "PROVED"}))
    rules |= {rule_of(method, path) for method, path in kube.requests}
    return rules


def test_templates_never_render_upir_objects() -> None:
    """Why UPIR is left out of the generic verbs above: nothing the operator renders
    (upir.templates) is a UPIR, so Kube.apply/delete never target one."""
    for source in (ROOT / "upir" / "templates").glob("*.py"):
        assert not re.search(r"""["']kind["']\s*:\s*["']UPIR["']""", source.read_text()), source


def test_recorded_requests_cover_every_fallback() -> None:
    rules = code_rules()
    verbs = {verb for _, _, verb in rules}
    assert verbs == {"get", "patch", "create"}  # nothing is ever deleted or replaced
    assert ("upir.dev", "upirs/status", "patch") in rules
    assert not [r for r in rules if r[1] == "upirs"]
    # the user's Deployment is read and patched, never created
    assert {r for r in rules if r[1] == "deployments"} == {
        ("apps", "deployments", "get"),
        ("apps", "deployments", "patch"),
    }


def test_kube_refuses_undeclared_operations() -> None:
    """The table is what the code can do: anything else fails before any request."""
    kube = RecordingKube()
    for manifest in (
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"namespace": "n", "name": "s"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "n", "name": "s"}},
    ):
        with pytest.raises(KubeError, match="does not get"):
            asyncio.run(kube.get(manifest))
    with pytest.raises(KubeError, match="does not apply"):
        asyncio.run(kube.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {}}))
    assert kube.requests == []


def test_every_declared_operation_is_used_by_the_operator() -> None:
    """Both ways: each (kind, operation) of RESOURCES has a caller in the operator,
    so the chart grants nothing the code does not call."""
    source = "\n".join(p.read_text() for p in (ROOT / "operator" / "upir_operator").glob("*.py"))
    assert "kube.get(" in source and "kube.apply(" in source
    # get: the target Deployment (handlers._target) and the learner checkpoint
    # ConfigMap (tuning.load_memory), each a literal manifest next to kube.get
    got = set(re.findall(r'kube\.get\(\s*\{\s*"apiVersion": "[^"]+",\s*"kind": "(\w+)"', source))
    gets = {kind for (_, kind), r in RESOURCES.items() if GET in r.operations}
    assert gets == got == {"ConfigMap", "Deployment"}
    # apply: every kind upir.templates renders (all of them: a Deployment
    # target with tunable replicas), and the checkpoint ConfigMap
    applies = {kind for (_, kind), r in RESOURCES.items() if APPLY in r.operations}
    assert applies == rendered_kinds() | {"ConfigMap"}


def rendered_kinds() -> set[str]:
    from upir.core import UPIR
    from upir.templates import render_manifests

    doc = yaml.safe_load((ROOT / "examples" / "api-service.yaml").read_text())
    doc["spec"]["target"] = {"deployment": "checkout"}
    doc["spec"]["parameters"].append({"name": "gateway.replicas", "min": 1, "max": 10})
    workload = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "checkout", "namespace": "shop"},
        "spec": {
            "selector": {"matchLabels": {"app": "checkout"}},
            "template": {
                "metadata": {"labels": {"app": "checkout"}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": "x", "ports": [{"containerPort": 8080}]}
                    ]
                },
            },
        },
    }
    upir = UPIR.from_resource(doc)
    manifests = render_manifests(upir, upir.tunable_values(), workload=workload)
    return {m["kind"] for m in manifests}


AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"


def aggregated(doc: dict[str, Any]) -> bool:
    """A user-facing role aggregated into view / edit / admin (never bound to the operator)."""
    return any(k.startswith(AGGREGATE) for k in (doc["metadata"].get("labels") or {}))


def rendered_rules(docs: list[dict[str, Any]], kinds: tuple[str, ...]) -> set[Rule]:
    out: set[Rule] = set()
    for doc in docs:
        if doc["kind"] not in kinds or aggregated(doc):
            continue
        for rule in doc["rules"]:
            assert set(rule) <= {"apiGroups", "resources", "verbs"}, (
                rule
            )  # no resourceNames/nonResourceURLs
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        assert "*" not in (group, resource, verb), rule
                        out.add((group, resource, verb))
    return out


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_rbac_is_exactly_what_the_operator_uses(render: Render, scenario: str) -> None:
    rendered = render(scenario)
    values = yaml.safe_load((CHART / "ci" / f"{scenario}-values.yaml").read_text()) or {}
    namespaced = bool(values.get("watchNamespace"))
    peering = bool(values.get("peering", {}).get("enabled"))
    namespaced_expected = code_rules() | KOPF
    if peering:
        namespaced_expected |= kopf_peering("kopfpeerings" if namespaced else "clusterkopfpeerings")

    cluster = rendered_rules(rendered.docs, ("ClusterRole",))
    local = rendered_rules(rendered.docs, ("Role",))
    if namespaced:
        assert cluster == KOPF_CLUSTER, "only CRD discovery may be cluster-wide"
        assert local == namespaced_expected
        for doc in rendered.of_kind("Role") + rendered.of_kind("RoleBinding"):
            assert doc["metadata"]["namespace"] == values["watchNamespace"]
    else:
        assert local == set()
        assert cluster == namespaced_expected | KOPF_CLUSTER
    # every role is bound to the operator's ServiceAccount, and nothing else is bound
    sa = rendered.one("Deployment")["spec"]["template"]["spec"]["serviceAccountName"]
    roles = {
        (d["kind"], d["metadata"]["name"])
        for d in rendered.of_kind("ClusterRole") + rendered.of_kind("Role")
        if not aggregated(d)
    }
    bound = set()
    for binding in rendered.of_kind("ClusterRoleBinding") + rendered.of_kind("RoleBinding"):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": sa, "namespace": "upir-system"}
        ]
        bound.add((binding["roleRef"]["kind"], binding["roleRef"]["name"]))
    assert bound == roles


def test_rbac_can_be_left_to_the_user(
    helm: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    text = helm("template", "upir", str(CHART), "--set", "rbac.create=false").stdout
    kinds = {d["kind"] for d in yaml.safe_load_all(text) if d}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
    assert "Deployment" in kinds


def test_user_roles_are_aggregated_into_the_default_ones(render: Render) -> None:
    """As cert-manager does: view and edit on UPIRs for whoever holds the
    built-in view / edit / admin roles; read-only for view, nothing more."""
    rendered = render("default")
    roles = {d["metadata"]["name"]: d for d in rendered.of_kind("ClusterRole") if aggregated(d)}
    view = next(r for n, r in roles.items() if n.endswith("-view"))
    edit = next(r for n, r in roles.items() if n.endswith("-edit"))
    assert {k for k, v in view["metadata"]["labels"].items() if k.startswith(AGGREGATE)} == {
        AGGREGATE + "view",
        AGGREGATE + "edit",
        AGGREGATE + "admin",
    }
    assert {k for k in edit["metadata"]["labels"] if k.startswith(AGGREGATE)} == {
        AGGREGATE + "edit",
        AGGREGATE + "admin",
    }
    assert rendered_rules([{**view, "metadata": {}}], ("ClusterRole",)) == {
        ("upir.dev", r, v) for r in ("upirs", "upirs/status") for v in ("get", "list", "watch")
    }
    assert rendered_rules([{**edit, "metadata": {}}], ("ClusterRole",)) == {
        ("upir.dev", "upirs", v)
        for v in ("create", "update", "patch", "delete", "deletecollection")
    }
    bindings = rendered.of_kind("ClusterRoleBinding") + rendered.of_kind("RoleBinding")
    assert not [b for b in bindings if b["roleRef"]["name"] in roles]
