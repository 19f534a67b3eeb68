"""The ``status`` part of the UPIR schema: what the operator writes.

The API server drops status fields this schema does not declare (and the test
API emulator validates nothing), so the operator's status builders should be
tested with :func:`upir.resource.status_issues`. Only kopf's own bookkeeping
(``status.kopf``) and counterexamples are free-form.
"""

from __future__ import annotations

from upir.resource.builders import (
    CONDITION_REASON_PATTERN,
    CONDITION_TYPE_PATTERN,
    Schema,
    free_object,
    list_of,
    map_of,
    number,
    obj,
    string,
)


def _condition() -> Schema:
    # The shape of metav1.Condition, as Kubernetes' own types declare it.
    return obj(
        "A condition in the metav1.Condition shape. Types: Valid, Verified, Synthesized, Tuning, Conformant, Ready.",
        {
            "type": string(
                "Condition type, CamelCase.", max_length=316, pattern=CONDITION_TYPE_PATTERN
            ),
            "status": string("True, False or Unknown.", enum=("True", "False", "Unknown")),
            "observedGeneration": number(
                "The .metadata.generation the condition was set for.", minimum=0, integer=True
            ),
            "lastTransitionTime": string("When status last changed.", fmt="date-time"),
            "reason": string(
                "Machine-readable CamelCase reason.",
                min_length=1,
                max_length=1024,
                pattern=CONDITION_REASON_PATTERN,
            ),
            "message": string("Human-readable details.", max_length=32768),
        },
        required=("type", "status", "lastTransitionTime", "reason", "message"),
    )


def _verdict() -> Schema:
    return obj(
        "The verdict on one property.",
        {
            "property": string(
                "Property name (invariant, property or constraint).", min_length=1, max_length=256
            ),
            "kind": string(
                "Where the property came from.", enum=("invariant", "property", "constraint")
            ),
            "status": string(
                "Verdict; only PROVED counts as a pass.",
                enum=("PROVED", "VIOLATED", "UNKNOWN", "TIMEOUT", "ERROR"),
            ),
            "proof": string(
                "How it was proved: 'inductive' (unbounded) or 'bounded:N' (N steps).",
                max_length=64,
            ),
            "counterexample": free_object(
                "For VIOLATED: the environment values and, for temporal properties, the state "
                "trace (free-form, size-trimmed by the operator)."
            ),
            "message": string(
                "Details, e.g. why the verdict is UNKNOWN or ERROR.", max_length=4096
            ),
            "timeMs": number("Solver time, ms.", minimum=0),
            "cached": {
                "type": "boolean",
                "description": "Whether the verdict came from the proof cache.",
            },
        },
        required=("property", "status"),
    )


def _recommendation_fields(params: Schema) -> dict[str, Schema]:
    return {
        "id": string("Identifier to approve with the upir.dev/approve annotation.", max_length=64),
        "source": string(
            "Where it comes from: Verification (the spec's own values), Synthesis or Tuning.",
            enum=("Verification", "Synthesis", "Tuning"),
        ),
        "parameters": params,
        "time": string("When it was made.", fmt="date-time"),
        "message": string("Why: expected effect on the objective.", max_length=1024),
    }


def status_schema() -> Schema:
    """The schema of ``status`` (a fresh mutable structure)."""
    params = map_of(
        "Parameter values by <component>.<param>.", {"type": "number"}, max_properties=4096
    )
    counter = "Count since the UPIR was created."
    return obj(
        "Observed state, written by the operator.",
        {
            "observedGeneration": number(
                "The .metadata.generation last reconciled.", minimum=0, integer=True
            ),
            "verdict": string(
                "Summary, spelled as the per-property verdicts: PROVED (there are parameters "
                "every property is proved for), else the worst verdict (VIOLATED, ERROR, "
                "TIMEOUT, UNKNOWN), or INVALID (bad spec).",
                enum=("PROVED", "VIOLATED", "ERROR", "TIMEOUT", "UNKNOWN", "INVALID"),
            ),
            "message": string("One-line human summary.", max_length=1024),
            "specHash": string(
                "SHA-256 of the canonical specification the verdicts are for.", max_length=128
            ),
            "lastVerifiedTime": string("When the verdicts were computed.", fmt="date-time"),
            "measuredLatencyMs": number("Latest measured latency of the workload, ms.", minimum=0),
            "conditions": list_of(
                "Conditions, one per type.", _condition(), max_items=16, map_key="type"
            ),
            "verdicts": list_of(
                "Verdict per property.", _verdict(), max_items=512, map_key="property"
            ),
            "appliedParameters": params,
            "certificate": obj(
                "Signed certificate that appliedParameters were proved against specHash "
                "(the envelope of upir.certificates; check it with 'upir cert verify').",
                {
                    # the payload lists every verdict and parameter: up to ~50 KB at the size limits
                    "payload": string("The signed statement (canonical JSON).", max_length=262144),
                    "signature": string("Signature of payload, base64.", max_length=8192),
                    "keyId": string("Identifier of the signing key.", max_length=256),
                    "algorithm": string("Signature algorithm, e.g. Ed25519.", max_length=64),
                    "publicKey": string(
                        "The signer's public key, base64 (integrity only; trust needs the "
                        "operator's published key).",
                        max_length=4096,
                    ),
                },
            ),
            "tuning": obj(
                "Tuning counters.",
                {
                    "proposals": number(
                        "Proposals made by the agent. " + counter, minimum=0, integer=True
                    ),
                    "accepted": number(
                        "Proposals the guardrail proved safe. " + counter, minimum=0, integer=True
                    ),
                    "rejected": number(
                        "Proposals the guardrail rejected. " + counter, minimum=0, integer=True
                    ),
                    "rolledBack": number(
                        "Changes rolled back after regressions. " + counter, minimum=0, integer=True
                    ),
                    "holds": number(
                        "Intervals held (missing or stale metrics). " + counter,
                        minimum=0,
                        integer=True,
                    ),
                },
            ),
            "lastRecommendation": obj(
                "The tuning loop's latest proved recommendation (Recommend mode).",
                _recommendation_fields(params),
            ),
            "recommendations": list_of(
                "Proved parameters not written (modes Off and Recommend), newest last. In "
                "Recommend mode, annotate the UPIR with upir.dev/approve=<id> to apply one.",
                obj(
                    "One proved recommendation.",
                    _recommendation_fields(params),
                    required=("id", "parameters"),
                ),
                max_items=8,
                map_key="id",
            ),
            "lastApproval": obj(
                "The last upir.dev/approve annotation handled (each id is acted on once).",
                {
                    "id": string("The approved recommendation's id.", max_length=64),
                    "result": string(
                        "Applied, Refused (unknown id or not Recommend mode), NotProved "
                        "(no longer proved for the current spec) or Failed (see Ready).",
                        enum=("Applied", "Refused", "NotProved", "Failed"),
                    ),
                    "time": string("When it was handled.", fmt="date-time"),
                    "message": string("Details.", max_length=1024),
                },
            ),
            "kopf": free_object(
                "Bookkeeping of the kopf framework (handler progress); not for users."
            ),
        },
    )
