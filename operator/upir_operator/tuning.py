"""The online tuning loop of one UPIR (``tuning.mode`` Recommend or Auto).

Every ``intervalSeconds``: read the configured PromQL; hold when the metrics are
missing, stale, NaN or too thin; feed the learner; send its proposal through the
guardrail (the verifier: only PROVED passes); then, per :mod:`decisions`, apply
it (Auto: at most one change per interval, re-verified in full and signed before
it is written), record it as a recommendation (Recommend), reject it, or roll
back to the best proved configuration measured so far. The learner's checkpoint
and the loop's state live in a ConfigMap owned by the UPIR, so a restarted
operator resumes without repeating applied changes.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from typing import Any

import kopf

from upir.core import UPIR
from upir.core.numbers import to_fraction
from upir.errors import InvalidSpecError, UpirError
from upir.learning.guardrail import Guardrail
from upir.learning.learner import ArchitectureLearner
from upir_operator import events
from upir_operator.conditions import condition, get_condition, merge_conditions
from upir_operator.decisions import (
    Action,
    Decision,
    TuningPolicy,
    TuningState,
    decide,
    hold_reason,
)
from upir_operator.engine import as_number, owner_reference
from upir_operator.kube import KubeError
from upir_operator.modes import APPROVE_ANNOTATION, proposal_id, with_recommendation
from upir_operator.prometheus import PrometheusUnauthorized, PrometheusUnavailable

logger = logging.getLogger(__name__)

REQUIRED_METRICS = ("latency_ms", "throughput_rps", "error_rate")


@dataclass
class LoopMemory:
    """In-memory state of one object's loop (rebuilt from the checkpoint)."""

    spec_hash: str | None = None
    learner: ArchitectureLearner | None = None
    state: TuningState = field(default_factory=TuningState)


def checkpoint_name(upir_name: str) -> str:
    return f"{upir_name}-learner"[:63]


def _state_json(state: TuningState) -> str:
    d = asdict(state)
    d["best_params"] = {k: str(v) for k, v in (state.best_params or {}).items()} or None
    return json.dumps(d, sort_keys=True)


def _state_from_json(text: str) -> TuningState:
    d = json.loads(text)
    if d.get("best_params"):
        d["best_params"] = {k: Fraction(v) for k, v in d["best_params"].items()}
    return TuningState(**d)


def checkpoint_manifest(body: Mapping[str, Any], mem: LoopMemory) -> dict[str, Any]:
    meta = body["metadata"]
    assert mem.learner is not None
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": checkpoint_name(meta["name"]),
            "namespace": meta["namespace"],
            "labels": {
                "app.kubernetes.io/managed-by": "upir-operator",
                "upir.dev/name": meta["name"],
            },
            "ownerReferences": [owner_reference(body)],
        },
        "data": {"state.json": _state_json(mem.state), "specHash": mem.spec_hash or ""},
        "binaryData": {"learner.pt": base64.b64encode(mem.learner.to_bytes()).decode()},
    }


async def load_memory(runtime: Any, body: Mapping[str, Any], upir: UPIR) -> LoopMemory:
    """Resume from the checkpoint ConfigMap when it was written for this spec."""
    meta = body["metadata"]
    cm = await runtime.kube.get(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"namespace": meta["namespace"], "name": checkpoint_name(meta["name"])},
        }
    )
    spec_hash = upir.spec_hash()
    # the learner screens its moves with the operator's verifier (and its proof
    # cache); check_params below stays the authority on what is applied
    guard = Guardrail(runtime.engine.verifier, upir)
    if cm and (cm.get("data") or {}).get("specHash") == spec_hash:
        try:
            raw = base64.b64decode((cm.get("binaryData") or {})["learner.pt"])
            learner = await runtime.run(
                lambda: ArchitectureLearner.from_bytes(raw, upir, guardrail=guard)
            )
            state = _state_from_json(cm["data"]["state.json"])
            logger.info("resumed tuning of %s from its checkpoint", meta["name"])
            return LoopMemory(spec_hash, learner, state)
        except (KeyError, ValueError, UpirError) as err:
            logger.warning("ignoring the checkpoint of %s: %s", meta["name"], err)
    # a new spec invalidates the policy: start learning afresh
    learner = await runtime.run(lambda: ArchitectureLearner(upir, seed=0, guardrail=guard))
    return LoopMemory(spec_hash, learner, TuningState())


def _current(status: Mapping[str, Any], upir: UPIR, mode: str) -> dict[str, Fraction] | None:
    """The running parameters: the applied ones; in Recommend mode, before any
    approval, the spec's own values when they are proved (the workload runs
    them: nothing was written)."""
    applied = status.get("appliedParameters")
    if isinstance(applied, Mapping) and applied:
        return {k: to_fraction(v) for k, v in applied.items()}
    verified = get_condition(status.get("conditions"), "Verified") or {}
    if mode == "Recommend" and verified.get("status") == "True":
        return dict(upir.tunable_values())
    return None


async def tune_once(
    runtime: Any,
    body: kopf.Body,
    mem: LoopMemory,
    *,
    written: Mapping[str, Any] | None = None,
    hold: str | None = None,
) -> Decision | None:
    """One interval. Returns the decision (None when tuning is off or impossible).
    ``written``: status fields just written this interval (the conformance
    check's), not yet in ``body``; ``hold``: why to hold (not conformant)."""
    spec = body.get("spec") or {}
    tuning = spec.get("tuning") or {}
    mode = tuning.get("mode", "Off")
    if mode not in ("Recommend", "Auto"):
        return None
    status = dict(body.get("status") or {}) | dict(written or {})
    try:
        upir = UPIR.from_resource(
            {k: body.get(k) for k in ("apiVersion", "kind", "spec")}
            | {"metadata": {"name": body.metadata.name, "namespace": body.metadata.namespace}}
        )
    except InvalidSpecError:
        return None
    if mem.learner is None or mem.spec_hash != upir.spec_hash():
        loaded = await load_memory(runtime, body, upir)
        mem.spec_hash, mem.learner, mem.state = loaded.spec_hash, loaded.learner, loaded.state
    current = _current(status, upir, mode)
    policy = TuningPolicy(max_age_s=runtime.settings.max_metric_age_s)
    prom = upir.tuning.prometheus
    samples: Mapping[str, Any] | None = None
    if hold is not None:
        dec = Decision(Action.HOLD, hold, state=replace(mem.state, holds=mem.state.holds + 1))
    elif current is None or prom is None:
        why = (
            "NotApplied: no proved parameters running yet"
            if current is None
            else "NoPrometheus: spec.tuning.prometheus is missing"
        )
        dec = Decision(Action.HOLD, why, state=replace(mem.state, holds=mem.state.holds + 1))
    else:
        try:
            samples = await runtime.prometheus.query_all(
                prom.url, prom.queries, timeout_s=runtime.settings.prometheus_timeout_s
            )
        except PrometheusUnavailable as err:
            why = (
                "PrometheusUnauthorized"
                if isinstance(err, PrometheusUnauthorized)
                else ("PrometheusUnavailable")
            )
            samples = None
            dec = Decision(
                Action.HOLD,
                f"{why}: {err}",
                state=replace(mem.state, holds=mem.state.holds + 1),
            )
        if samples is not None:
            running = upir.with_params(current)
            metrics = {k: s.value for k, s in samples.items() if s.value is not None}
            proposal: Mapping[str, Fraction] | None = None
            proved: bool | None = None
            if hold_reason(samples, REQUIRED_METRICS, time.time(), policy) is None:
                learner = mem.learner
                assert learner is not None
                proposal = await runtime.run(learner.learn_from_metrics, metrics, current)
                if proposal is not None and dict(proposal) != current:
                    report = await runtime.run(
                        runtime.engine.verifier.check_params, running, dict(proposal)
                    )
                    proved = bool(report.passed)
                    if not proved:
                        await runtime.run(learner.record_rejection, proposal, report)
            dec = decide(
                mode=mode,
                state=mem.state,
                current=current,
                samples=samples,
                required=REQUIRED_METRICS,
                objective=upir.tuning.objective,
                proposal=proposal,
                proved=proved,
                now=time.time(),
                policy=policy,
            )
    mem.state = dec.state
    latency = samples.get("latency_ms") if samples else None
    measured = latency.value if latency is not None else None
    await act(runtime, body, status, dec, measured_latency_ms=measured, spec_hash=upir.spec_hash())
    if mem.learner is not None:
        try:
            await runtime.kube.apply(checkpoint_manifest(body, mem))
        except KubeError as err:
            logger.warning("could not store the learner checkpoint: %s", err)
    return dec


async def act(
    runtime: Any,
    body: kopf.Body,
    status: Mapping[str, Any],
    dec: Decision,
    *,
    measured_latency_ms: float | None = None,
    spec_hash: str = "",
) -> None:
    """Carry out a decision: write the cluster (Apply/RollBack in Auto) and status."""
    m = runtime.metrics
    ns, name = body.metadata.namespace or "", body.metadata.name or ""
    gen = body.metadata.get("generation")
    patch: dict[str, Any] = {}
    reason, ok = dec.action.value, dec.action not in (Action.HOLD, Action.REJECT)
    if dec.action is Action.HOLD:
        m.count(m.holds, ns, name, dec.reason.split(":", 1)[0])
        events.normal(body, "TuningHeld", dec.reason)
    elif dec.action is Action.REJECT:
        m.count(m.proposals, ns, name, "rejected")
        events.warning(body, "ProposalRejected", f"{dec.reason}: {_fmt(dec.params)}")
    elif dec.action is Action.RECOMMEND:
        m.count(m.proposals, ns, name, "recommended")
        params = {k: as_number(v) for k, v in (dec.params or {}).items()}
        rid = proposal_id(spec_hash, params)
        rec = {
            "id": rid,
            "source": "Tuning",
            "parameters": params,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "message": "proved by the guardrail; Recommend mode does not write the target",
        }
        patch["lastRecommendation"] = rec
        patch["recommendations"] = with_recommendation(status.get("recommendations"), rec)
        events.normal(
            body,
            "Recommended",
            f"{rid}: {_fmt(dec.params)}; approve with: kubectl annotate upir "
            f"{body.metadata.name} {APPROVE_ANNOTATION}={rid} --overwrite",
        )
    elif dec.action in (Action.APPLY, Action.ROLLBACK):
        assert dec.params is not None
        from upir_operator.handlers import apply_parameters

        # the Applied / RolledBack event is posted with the status it changes
        cause = ("Applied" if dec.action is Action.APPLY else "RolledBack", dec.reason)
        why_not, written = await apply_parameters(runtime, body, dec.params, cause)
        # conditions just written (Ready) are the base of the Tuning condition below
        status = {**status, **written}
        if why_not is None:
            m.count(m.applied_changes, ns, name)
            m.count(
                m.proposals, ns, name, "applied" if dec.action is Action.APPLY else "rolled_back"
            )
        else:
            reason, ok = "NotApplied", False
            events.warning(body, "ProposalRejected", why_not)
    s = dec.state
    patch["tuning"] = {
        "proposals": s.proposals,
        "accepted": s.accepted,
        "rejected": s.rejected,
        "rolledBack": s.rolled_back,
        "holds": s.holds,
    }
    if measured_latency_ms is not None and math.isfinite(measured_latency_ms):
        patch["measuredLatencyMs"] = round(max(measured_latency_ms, 0.0), 3)
        m.set(m.measured_latency, patch["measuredLatencyMs"], ns, name)
    cond = condition("Tuning", ok, reason if reason[0].isupper() else "Tuning", dec.reason, gen)
    patch["conditions"] = merge_conditions(status.get("conditions"), [cond])
    try:
        await runtime.kube.patch_status(body.metadata.namespace, body.metadata.name, patch)
    except KubeError as err:
        logger.warning("could not write tuning status: %s", err)


def _fmt(params: Mapping[str, Fraction] | None) -> str:
    return ", ".join(f"{k}={as_number(v)}" for k, v in (params or {}).items())
