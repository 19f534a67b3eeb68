"""Which resources the emulated server serves, and its discovery documents.

Built-in types come from kmock's bundled discovery data (taken from a real
cluster); custom resources are registered from CustomResourceDefinitions the
moment they are created, and removed when their CRD goes away.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import kmock

from .errors import Cause

CR_VERBS = ("delete", "deletecollection", "get", "list", "patch", "create", "update", "watch")

# Groups in kmock's bundle that a vanilla cluster does not serve (installed CRDs or
# aggregated APIs of the cluster the bundle was taken from).
_NOT_VANILLA = frozenset({"gateway.networking.k8s.io", "metrics.k8s.io"})

# Built-in resources whose objects carry metadata.generation (all custom resources do).
_GENERATION_GROUPS = frozenset(
    {"apps", "batch", "admissionregistration.k8s.io", "flowcontrol.apiserver.k8s.io"}
)
_GENERATION_RESOURCES = frozenset(
    {
        ("", "pods"),
        ("", "replicationcontrollers"),
        ("autoscaling", "horizontalpodautoscalers"),
        ("policy", "poddisruptionbudgets"),
        ("networking.k8s.io", "ingresses"),
        ("networking.k8s.io", "networkpolicies"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
        ("apiregistration.k8s.io", "apiservices"),
    }
)

# Name rules per built-in resource (everything else: DNS-1123 subdomain).
_NAME_RULES: dict[tuple[str, str], str] = {
    ("", "namespaces"): "label",
    ("", "services"): "dns1035",
    ("rbac.authorization.k8s.io", "roles"): "segment",
    ("rbac.authorization.k8s.io", "rolebindings"): "segment",
    ("rbac.authorization.k8s.io", "clusterroles"): "segment",
    ("rbac.authorization.k8s.io", "clusterrolebindings"): "segment",
}


@dataclass(frozen=True)
class ResourceType:
    """One served resource at one version."""

    group: str
    version: str
    plural: str
    kind: str
    singular: str
    namespaced: bool
    verbs: tuple[str, ...]
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: frozenset[str] = frozenset()
    list_kind: str = ""
    builtin: bool = True
    schema: Mapping[str, Any] | None = None
    printer_columns: tuple[Mapping[str, Any], ...] = ()
    selectable_fields: tuple[str, ...] = ()
    crd_name: str = ""
    storage_version: str = ""
    scale_paths: tuple[str, str, str] | None = None  # spec/status replicas, selector (CRDs)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def store_key(self) -> tuple[str, str]:
        """Objects are stored once per group and plural, whatever version serves them."""
        return (self.group, self.plural)

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def tracks_generation(self) -> bool:
        if not self.builtin:
            return True
        return self.group in _GENERATION_GROUPS or self.store_key in _GENERATION_RESOURCES

    @property
    def name_rule(self) -> str:
        return _NAME_RULES.get(self.store_key, "subdomain")


_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key: GA before beta before alpha, higher numbers first, odd names last."""
    match = _VERSION.match(version)
    if not match:
        return (3, 0, 0, version)
    major, stage, minor = match.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -int(major), -int(minor or 0), "")


@functools.cache
def _builtin_types() -> tuple[ResourceType, ...]:
    bundle = kmock.KubernetesEmulator().resources
    with warnings.catch_warnings():  # kmock reads its bundle with a deprecated importlib call
        warnings.simplefilter("ignore", DeprecationWarning)
        bundle.load_bundled()
    types = []
    for res in bundle:
        if (
            res.group in _NOT_VANILLA
            or res.group is None
            or res.version is None
            or res.plural is None
        ):
            continue
        info = bundle[res]
        kind = info.kind or res.plural.capitalize()
        types.append(
            ResourceType(
                group=res.group,
                version=res.version,
                plural=res.plural,
                kind=kind,
                singular=info.singular or kind.lower(),
                namespaced=bool(info.namespaced),
                verbs=tuple(sorted(info.verbs)),
                short_names=tuple(sorted(info.shortnames)),
                categories=tuple(sorted(info.categories)),
                subresources=frozenset(info.subresources),
                list_kind=f"{kind}List",
                builtin=True,
                storage_version=res.version,
            )
        )
    return tuple(types)


class Registry:
    """All served resource types, keyed by (group, version, plural)."""

    def __init__(self, types: Iterable[ResourceType] | None = None) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        for rt in _builtin_types() if types is None else types:
            self._types[(rt.group, rt.version, rt.plural)] = rt

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def all(self) -> list[ResourceType]:
        return list(self._types.values())

    def preferred(self, group: str, plural: str) -> ResourceType | None:
        """The preferred version of a resource (used to render stored objects)."""
        candidates = [rt for rt in self._types.values() if rt.store_key == (group, plural)]
        if not candidates:
            return None
        storage = [rt for rt in candidates if rt.version == rt.storage_version]
        return (storage or sorted(candidates, key=lambda rt: version_priority(rt.version)))[0]

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for rt in self._types.values():
            if rt.group == group and rt.version == version and rt.kind == kind:
                return rt
        return None

    def register(self, types: Iterable[ResourceType]) -> None:
        for rt in types:
            self._types[(rt.group, rt.version, rt.plural)] = rt

    def unregister_crd(self, crd_name: str) -> None:
        for key, rt in list(self._types.items()):
            if rt.crd_name == crd_name:
                del self._types[key]

    # ------------------------------------------------------------ discovery

    def groups(self) -> dict[str, list[str]]:
        """Non-core groups and their versions, preferred version first."""
        found: dict[str, set[str]] = {}
        for rt in self._types.values():
            if rt.group:
                found.setdefault(rt.group, set()).add(rt.version)
        return {g: sorted(vs, key=version_priority) for g, vs in sorted(found.items())}

    def api_group(self, group: str) -> dict[str, Any] | None:
        versions = self.groups().get(group)
        if not versions:
            return None
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": entries, "preferredVersion": entries[0]}

    def api_group_list(self) -> dict[str, Any]:
        groups = [self.api_group(g) for g in self.groups()]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [g for g in groups if g]}

    def resource_list(self, group: str, version: str) -> dict[str, Any] | None:
        types = sorted(
            (rt for rt in self._types.values() if rt.group == group and rt.version == version),
            key=lambda rt: rt.plural,
        )
        if not types:
            return None
        resources: list[dict[str, Any]] = []
        for rt in types:
            entry: dict[str, Any] = {
                "name": rt.plural,
                "singularName": rt.singular,
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": list(rt.verbs),
            }
            if rt.short_names:
                entry["shortNames"] = list(rt.short_names)
            if rt.categories:
                entry["categories"] = list(rt.categories)
            resources.append(entry)
            for sub in sorted(rt.subresources):
                sub_kind = "Scale" if sub == "scale" else rt.kind
                resources.append(
                    {
                        "name": f"{rt.plural}/{sub}",
                        "singularName": "",
                        "namespaced": rt.namespaced,
                        "kind": sub_kind,
                        "verbs": ["get", "patch", "update"],
                    }
                )
        gv = f"{group}/{version}" if group else version
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": gv,
            "resources": resources,
        }


# ---------------------------------------------------------------------- CRDs


def crd_problems(crd: Mapping[str, Any]) -> list[Cause]:
    """What a real server's CRD validation would reject (the common cases)."""
    causes: list[Cause] = []
    spec = crd.get("spec")
    if not isinstance(spec, Mapping):
        return [Cause("FieldValueRequired", "Required value", "spec")]
    group = str(spec.get("group") or "")
    raw_names = spec.get("names")
    names: Mapping[str, Any] = raw_names if isinstance(raw_names, Mapping) else {}
    plural = str(names.get("plural") or "")
    if not group:
        causes.append(Cause("FieldValueRequired", "Required value", "spec.group"))
    elif "." not in group:
        causes.append(
            Cause(
                "FieldValueInvalid",
                f'Invalid value: "{group}": should be a domain with at least one dot',
                "spec.group",
            )
        )
    if not plural:
        causes.append(Cause("FieldValueRequired", "Required value", "spec.names.plural"))
    elif plural != plural.lower():
        causes.append(
            Cause(
                "FieldValueInvalid",
                f'Invalid value: "{plural}": must be lowercase',
                "spec.names.plural",
            )
        )
    if not names.get("kind"):
        causes.append(Cause("FieldValueRequired", "Required value", "spec.names.kind"))
    name = (crd.get("metadata") or {}).get("name")
    if group and plural and name != f"{plural}.{group}":
        causes.append(
            Cause(
                "FieldValueInvalid",
                f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
                "metadata.name",
            )
        )
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(
            Cause(
                "FieldValueNotSupported",
                f'Unsupported value: "{spec.get("scope")}": supported values: "Cluster", "Namespaced"',
                "spec.scope",
            )
        )
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        causes.append(
            Cause(
                "FieldValueRequired",
                "Required value: must have exactly one version marked as storage version",
                "spec.versions",
            )
        )
        return causes
    storage = [v for v in versions if isinstance(v, Mapping) and v.get("storage")]
    if len(storage) != 1:
        causes.append(
            Cause(
                "FieldValueInvalid",
                "Invalid value: must have exactly one version marked as storage version",
                "spec.versions",
            )
        )
    for index, version in enumerate(versions):
        where = f"spec.versions[{index}]"
        if not isinstance(version, Mapping) or not version.get("name"):
            causes.append(Cause("FieldValueRequired", "Required value", f"{where}.name"))
            continue
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(schema, Mapping):
            causes.append(
                Cause(
                    "FieldValueRequired",
                    "Required value: schemas are required",
                    f"{where}.schema.openAPIV3Schema",
                )
            )
        elif schema.get("type") != "object":
            causes.append(
                Cause(
                    "FieldValueInvalid",
                    'Invalid value: must be "object" at the root',
                    f"{where}.schema.openAPIV3Schema.type",
                )
            )
    return causes


def crd_types(crd: Mapping[str, Any]) -> list[ResourceType]:
    """The resource types a (valid) CRD serves: one per served version."""
    spec = crd["spec"]
    names = spec["names"]
    kind = str(names["kind"])
    storage = next(
        (v["name"] for v in spec["versions"] if v.get("storage")), spec["versions"][0]["name"]
    )
    types = []
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        subresources = set((version.get("subresources") or {}).keys())
        scale = (version.get("subresources") or {}).get("scale")
        scale_paths = None
        if isinstance(scale, Mapping):
            scale_paths = (
                str(scale.get("specReplicasPath", ".spec.replicas")),
                str(scale.get("statusReplicasPath", ".status.replicas")),
                str(scale.get("labelSelectorPath", "")),
            )
        selectable = tuple(
            str(f.get("jsonPath", "")).lstrip(".") for f in version.get("selectableFields") or []
        )
        types.append(
            ResourceType(
                group=str(spec["group"]),
                version=str(version["name"]),
                plural=str(names["plural"]),
                kind=kind,
                singular=str(names.get("singular") or kind.lower()),
                namespaced=spec.get("scope") == "Namespaced",
                verbs=CR_VERBS,
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=frozenset(subresources),
                list_kind=str(names.get("listKind") or f"{kind}List"),
                builtin=False,
                schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
                selectable_fields=selectable,
                crd_name=str(crd["metadata"]["name"]),
                storage_version=str(storage),
                scale_paths=scale_paths,
            )
        )
    return types
