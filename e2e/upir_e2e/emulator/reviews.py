"""Authentication and authorization review kinds: answered, never stored.

The emulator enforces no RBAC, so every access review is allowed (the reason
says so); a TokenReview authenticates exactly the server's own token.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from . import errors
from .records import Obj
from .registry import ResourceType

USER = {"username": "upir-emulator-user", "groups": ["system:authenticated", "system:masters"]}
_ACCESS = frozenset({"SubjectAccessReview", "SelfSubjectAccessReview", "LocalSubjectAccessReview"})


def is_review(rt: ResourceType) -> bool:
    return (
        rt.builtin
        and rt.group in ("authorization.k8s.io", "authentication.k8s.io")
        and rt.verbs == ("create",)
    )


def answer(rt: ResourceType, body: Any, namespace: str | None, token: str | None) -> Obj:
    """The review with its ``status`` filled in, as the API server returns it."""
    if not isinstance(body, Mapping):
        raise errors.bad_request("the body of the request must be a JSON or YAML object")
    review: Obj = copy.deepcopy(dict(body))
    review["apiVersion"], review["kind"] = rt.group_version, rt.kind
    review.setdefault("metadata", {})
    if namespace is not None:
        review["metadata"]["namespace"] = namespace
    if rt.kind in _ACCESS:
        review["status"] = {"allowed": True, "reason": "the emulator does not enforce RBAC"}
    elif rt.kind == "SelfSubjectRulesReview":
        review["status"] = {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
    elif rt.kind == "TokenReview":
        sent = str((review.get("spec") or {}).get("token") or "")
        accepted = token is None or sent == token
        review["status"] = {"authenticated": accepted, **({"user": USER} if accepted else {})}
    elif rt.kind == "SelfSubjectReview":
        review["status"] = {"userInfo": USER}
    else:
        raise errors.method_not_allowed(f"{rt.kind} is not supported by the emulator")
    return review
