"""The Kube layer's reading of API errors (issue 23): a server-side apply 409
names the fields and their managers; other errors keep their retry class."""

from __future__ import annotations

import json

from upir_operator.kube import FieldConflict, KubeError, _error

CONFLICT = {
    "kind": "Status",
    "apiVersion": "v1",
    "status": "Failure",
    "message": 'Apply failed with 1 conflict: conflict with "argocd-controller" using apps/v1: .spec.replicas',
    "reason": "Conflict",
    "details": {
        "causes": [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "argocd-controller" using apps/v1',
                "field": ".spec.replicas",
            }
        ]
    },
    "code": 409,
}


def test_apply_conflict_names_fields_and_managers() -> None:
    err = _error("PATCH x: 409", 409, json.dumps(CONFLICT))
    assert isinstance(err, FieldConflict) and not err.temporary
    assert [(c.field, c.manager) for c in err.conflicts] == [
        (".spec.replicas", "argocd-controller")
    ]
    assert err.describe() == '.spec.replicas (owned by "argocd-controller")'


def test_stale_write_409_stays_temporary_and_422_permanent() -> None:
    stale = {"kind": "Status", "code": 409, "reason": "Conflict", "message": "modified"}
    err = _error("PUT x: 409", 409, json.dumps(stale))
    assert type(err) is KubeError and err.temporary
    invalid = {
        "kind": "Status",
        "code": 422,
        "reason": "Invalid",
        "details": {"causes": [{"reason": "FieldValueForbidden", "field": "data"}]},
    }
    err = _error("PATCH x: 422", 422, json.dumps(invalid).encode())
    assert type(err) is KubeError and not err.temporary and err.status == 422
    assert err.causes and err.causes[0]["field"] == "data"
    assert _error("x", 500, "not json").temporary
