"""Garbage collection, namespace deletion and CRD lifecycle, driven by store events."""

from __future__ import annotations

from typing import Any

import pytest
from upir_e2e.emulator import KubernetesApiEmulator, ResourceType, WriteOptions
from upir_e2e.emulator.errors import ApiError
from upir_e2e.emulator.store import MERGE

OPTS = WriteOptions("test")


@pytest.fixture
def emu() -> KubernetesApiEmulator:
    return KubernetesApiEmulator()


def rt_of(emu: KubernetesApiEmulator, group: str, version: str, plural: str) -> ResourceType:
    rt = emu.registry.get(group, version, plural)
    assert rt is not None
    return rt


def settle(emu: KubernetesApiEmulator) -> None:
    """Run the controllers until they have nothing left to do (what the async loop does)."""
    for _ in range(50):
        if not emu.controllers.process_pending():
            return
    raise AssertionError("controllers did not settle")


def owner_ref(obj: dict[str, Any], kind: str = "ConfigMap") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": kind,
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
    }


def child(name: str, *owners: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name, "ownerReferences": list(owners)}}


def exists(emu: KubernetesApiEmulator, name: str) -> bool:
    return emu.store.find(("", "configmaps"), "default", name) is not None


def test_background_gc_deletes_dependents_after_owner(emu: KubernetesApiEmulator) -> None:
    cms = rt_of(emu, "", "v1", "configmaps")
    owner = emu.store.create(cms, "default", {"metadata": {"name": "owner"}}, OPTS)
    emu.store.create(cms, "default", child("dep", owner_ref(owner)), OPTS)
    emu.store.create(
        cms, "default", child("grand", owner_ref(emu.store.get(cms, "default", "dep"))), OPTS
    )
    settle(emu)
    emu.store.delete(cms, "default", "owner")
    assert exists(emu, "dep")  # the collector is asynchronous, like the real one
    settle(emu)
    assert not exists(emu, "dep") and not exists(emu, "grand")


def test_gc_keeps_dependents_with_a_living_owner_and_drops_dead_refs(
    emu: KubernetesApiEmulator,
) -> None:
    cms = rt_of(emu, "", "v1", "configmaps")
    first = emu.store.create(cms, "default", {"metadata": {"name": "first"}}, OPTS)
    second = emu.store.create(cms, "default", {"metadata": {"name": "second"}}, OPTS)
    emu.store.create(cms, "default", child("dep", owner_ref(first), owner_ref(second)), OPTS)
    emu.store.delete(cms, "default", "first")
    settle(emu)
    refs = emu.store.get(cms, "default", "dep")["metadata"]["ownerReferences"]
    assert [r["name"] for r in refs] == ["second"]


def test_dependent_of_a_missing_owner_is_collected(emu: KubernetesApiEmulator) -> None:
    cms = rt_of(emu, "", "v1", "configmaps")
    ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": "00000000-dead"}
    emu.store.create(cms, "default", child("orphaned", ghost), OPTS)
    settle(emu)
    assert not exists(emu, "orphaned")


def test_gc_waits_for_an_owners_finalizers(emu: KubernetesApiEmulator) -> None:
    cms = rt_of(emu, "", "v1", "configmaps")
    owner = emu.store.create(
        cms, "default", {"metadata": {"name": "owner", "finalizers": ["x.io/f"]}}, OPTS
    )
    emu.store.create(cms, "default", child("dep", owner_ref(owner)), OPTS)
    emu.store.delete(cms, "default", "owner")
    settle(emu)
    assert exists(emu, "dep")  # background: the owner still exists (terminating)
    emu.store.patch(cms, "default", "owner", MERGE, {"metadata": {"finalizers": []}}, OPTS)
    settle(emu)
    assert not exists(emu, "owner") and not exists(emu, "dep")


def test_foreground_deletion_removes_dependents_first(emu: KubernetesApiEmulator) -> None:
    cms = rt_of(emu, "", "v1", "configmaps")
    owner = emu.store.create(cms, "default", {"metadata": {"name": "owner"}}, OPTS)
    emu.store.create(cms, "default", child("dep", owner_ref(owner)), OPTS)
    obj, gone = emu.store.delete(cms, "default", "owner", propagation="Foreground")
    assert not gone and obj["metadata"]["finalizers"] == ["foregroundDeletion"]
    settle(emu)
    assert not exists(emu, "dep") and not exists(emu, "owner")


def test_orphan_deletion_keeps_dependents(emu: KubernetesApiEmulator) -> None:
    cms = rt_of(emu, "", "v1", "configmaps")
    owner = emu.store.create(cms, "default", {"metadata": {"name": "owner"}}, OPTS)
    emu.store.create(cms, "default", child("dep", owner_ref(owner)), OPTS)
    emu.store.delete(cms, "default", "owner", propagation="Orphan")
    settle(emu)
    assert not exists(emu, "owner")
    assert "ownerReferences" not in emu.store.get(cms, "default", "dep")["metadata"]


def test_namespace_deletion_empties_then_removes_it(emu: KubernetesApiEmulator) -> None:
    nss = rt_of(emu, "", "v1", "namespaces")
    cms = rt_of(emu, "", "v1", "configmaps")
    ns = emu.store.create(nss, None, {"metadata": {"name": "scratch"}}, OPTS)
    assert ns["status"] == {"phase": "Active"} and ns["spec"]["finalizers"] == ["kubernetes"]
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "scratch"}
    emu.store.create(cms, "scratch", {"metadata": {"name": "held", "finalizers": ["x.io/f"]}}, OPTS)
    emu.store.delete(nss, None, "scratch")
    settle(emu)
    ns = emu.store.get(nss, None, "scratch")
    assert ns["status"]["phase"] == "Terminating"
    with pytest.raises(ApiError) as info:
        emu.store.create(cms, "scratch", {"metadata": {"name": "late"}}, OPTS)
    assert info.value.code == 403
    emu.store.patch(cms, "scratch", "held", MERGE, {"metadata": {"finalizers": None}}, OPTS)
    settle(emu)
    assert emu.store.find(("", "namespaces"), None, "scratch") is None


def test_crd_registers_and_cleans_up_its_resources(emu: KubernetesApiEmulator) -> None:
    crds = rt_of(emu, "apiextensions.k8s.io", "v1", "customresourcedefinitions")
    crd = {
        "metadata": {"name": "gadgets.test.upir.dev"},
        "spec": {
            "group": "test.upir.dev",
            "scope": "Cluster",
            "names": {"plural": "gadgets", "kind": "Gadget"},
            "versions": [
                {
                    "name": "v1beta1",
                    "served": True,
                    "storage": False,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                },
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                },
            ],
        },
    }
    made = emu.store.create(crds, None, crd, OPTS)
    conditions = {c["type"]: c["status"] for c in made["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert made["metadata"]["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"]
    group = emu.registry.api_group("test.upir.dev")
    assert group is not None and group["preferredVersion"]["version"] == "v1"
    gadgets = rt_of(emu, "test.upir.dev", "v1", "gadgets")
    assert not gadgets.namespaced and gadgets.list_kind == "GadgetList"
    emu.store.create(
        gadgets, None, {"metadata": {"name": "g", "finalizers": ["x.io/f"]}, "anything": 1}, OPTS
    )
    old = rt_of(emu, "test.upir.dev", "v1beta1", "gadgets")
    assert emu.store.get(old, None, "g")["anything"] == 1  # one storage, every served version
    emu.store.delete(crds, None, "gadgets.test.upir.dev")
    settle(emu)
    assert emu.registry.get("test.upir.dev", "v1", "gadgets") is not None  # held by the instance
    emu.store.patch(gadgets, None, "g", MERGE, {"metadata": {"finalizers": None}}, OPTS)
    settle(emu)
    assert emu.registry.get("test.upir.dev", "v1", "gadgets") is None
    assert emu.store.find(crds.store_key, None, "gadgets.test.upir.dev") is None


def test_invalid_crd_is_422(emu: KubernetesApiEmulator) -> None:
    crds = rt_of(emu, "apiextensions.k8s.io", "v1", "customresourcedefinitions")
    bad = {
        "metadata": {"name": "wrong.test.upir.dev"},
        "spec": {
            "group": "test.upir.dev",
            "scope": "Namespaced",
            "names": {"plural": "things", "kind": "Thing"},
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }
    with pytest.raises(ApiError) as info:
        emu.store.create(crds, None, bad, OPTS)
    assert info.value.code == 422
    fields = {c.field for c in info.value.causes}
    assert {"metadata.name", "spec.versions[0].schema.openAPIV3Schema"} <= fields
