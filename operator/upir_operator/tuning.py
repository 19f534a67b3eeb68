"""The online tuning loop of one UPIR (``tuning.mode`` Recommend or Auto): I/O only.

Every ``intervalSeconds``: read the configured PromQL (and the observed load,
``spec.tuning.prometheus.environment``), call the library's step
(:func:`upir.tuning.step.step`: hold, score, roll back, propose, guard with the
operator's verifier; the same step ``upir tune --simulate`` and the tuning
benchmark run), then carry the decision out: apply it (Auto: at most one change
per interval, re-verified in full and signed before it is written), record it
as a recommendation (Recommend), or write why it was held or rejected. The
learner's checkpoint and the loop's state live in a ConfigMap owned by the
UPIR, so a restarted operator resumes without repeating applied changes.

Settings: the operator's :class:`~upir.tuning.settings.TuningSettings`
(``UPIR_TUNING_*``), with a UPIR's ``spec.tuning.learner.model`` overriding
``model``. With environment queries the learner runs the benchmark's winner
(score model with the observed load as context, exploring imagination, restart
when the load jumps) unless that is turned off.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from typing import Any

import kopf

from upir.core import UPIR
from upir.errors import InvalidSpecError, UpirError
from upir.tuning.learner import ArchitectureLearner
from upir.tuning.settings import TuningSettings
from upir.tuning.step import LoopState, new_learner, step
from upir.verification.guardrail import Guardrail
from upir_operator import events
from upir_operator.conditions import condition, get_condition, merge_conditions
from upir_operator.decisions import (
    REQUIRED_METRICS,
    Action,
    Decision,
    Sample,
    TuningState,
    applied_parameters,
)
from upir_operator.engine import as_number, owner_reference
from upir_operator.kube import KubeError
from upir_operator.modes import APPROVE_ANNOTATION, proposal_id, with_recommendation
from upir_operator.prometheus import (
    PrometheusUnauthorized,
    PrometheusUnavailable,
    WindowReader,
)

logger = logging.getLogger(__name__)

__all__ = [
    "REQUIRED_METRICS",
    "LoopMemory",
    "TuningState",
    "checkpoint_manifest",
    "load_memory",
    "load_names",
    "settings_for",
    "tune_once",
]


@dataclass
class LoopMemory:
    """In-memory state of one object's loop (rebuilt from the checkpoint)."""

    spec_hash: str | None = None
    """The spec hash and the learner's settings the learner was built for."""
    learner: ArchitectureLearner | None = None
    state: TuningState = field(default_factory=TuningState)


CHECKPOINT_KEY = "learner.pt.gz"
"""The checkpoint ConfigMap's key holding the learner (gzip of ``to_bytes``)."""


def checkpoint_name(upir_name: str) -> str:
    return f"{upir_name}-learner"[:63]


def settings_for(runtime: Any, upir: UPIR) -> TuningSettings:
    """The operator's tuning settings with this object's overrides."""
    base: TuningSettings = runtime.settings.tuning
    if upir.tuning.learner_model is not None:
        return replace(base, model=upir.tuning.learner_model)
    return base


def load_names(upir: UPIR) -> tuple[str, ...]:
    """The observed load metrics the step is given: ``env.<name>`` for every
    environment query (none without them)."""
    prom = upir.tuning.prometheus
    return tuple(sorted(f"env.{k}" for k in (prom.environment if prom else {})))


def _memory_key(upir: UPIR, settings: TuningSettings) -> str:
    """A new spec or other learner settings invalidate the learner."""
    learner = json.dumps(asdict(settings.learner_for(load_names(upir))), sort_keys=True)
    digest = hashlib.sha256(learner.encode()).hexdigest()[:16]
    return f"{upir.spec_hash()}:{digest}"


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
        "data": {"state.json": mem.state.to_json(), "specHash": mem.spec_hash or ""},
        # gzip: the learner's rejection records (counterexamples) and pickled
        # score-model windows compress well; the whole object must stay far
        # below the API server's 1 MiB limit (docs/operator.md, "Tuning")
        "binaryData": {
            CHECKPOINT_KEY: base64.b64encode(gzip.compress(mem.learner.to_bytes(), 6)).decode()
        },
    }


async def load_memory(
    runtime: Any, body: Mapping[str, Any], upir: UPIR, settings: TuningSettings | None = None
) -> LoopMemory:
    """Resume from the checkpoint ConfigMap when it was written for this spec
    and these learner settings."""
    meta = body["metadata"]
    st = settings if settings is not None else settings_for(runtime, upir)
    cm = await runtime.kube.get(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"namespace": meta["namespace"], "name": checkpoint_name(meta["name"])},
        }
    )
    key = _memory_key(upir, st)
    # the learner screens its moves with the operator's verifier (and its proof
    # cache); check_params in the step stays the authority on what is applied
    guard = Guardrail(runtime.engine.verifier, upir)
    if cm and (cm.get("data") or {}).get("specHash") == key:
        try:
            raw = gzip.decompress(base64.b64decode((cm.get("binaryData") or {})[CHECKPOINT_KEY]))
            learner = await runtime.run(
                lambda: ArchitectureLearner.from_bytes(raw, upir, guardrail=guard)
            )
            state = LoopState.from_json(cm["data"]["state.json"])
            logger.info("resumed tuning of %s from its checkpoint", meta["name"])
            return LoopMemory(key, learner, state)
        except (KeyError, ValueError, TypeError, OSError, EOFError, UpirError) as err:
            logger.warning("ignoring the checkpoint of %s: %s", meta["name"], err)
    # a new spec invalidates the policy: start learning afresh
    learner = await runtime.run(
        lambda: new_learner(upir, st, load=load_names(upir), guardrail=guard)
    )
    return LoopMemory(key, learner, TuningState())


def _current(
    status: Mapping[str, Any], meta: Mapping[str, Any], upir: UPIR, mode: str
) -> dict[str, Fraction] | None:
    """The running parameters: the applied ones; in Recommend mode, before any
    approval, the spec's own values when they are proved (the workload runs
    them: nothing was written)."""
    applied = applied_parameters(status, meta)
    if applied is not None:
        return applied
    verified = get_condition(status.get("conditions"), "Verified") or {}
    if mode == "Recommend" and verified.get("status") == "True":
        return dict(upir.tunable_values())
    return None


def _held(mem: LoopMemory, why: str) -> Decision:
    return Decision(Action.HOLD, why, state=replace(mem.state, holds=mem.state.holds + 1))


def _unavailable(err: PrometheusUnavailable) -> str:
    kind = "PrometheusUnauthorized" if isinstance(err, PrometheusUnauthorized) else None
    return f"{kind or 'PrometheusUnavailable'}: {err}"


ApplyParameters = Callable[
    [Any, kopf.Body, Mapping[str, Fraction], tuple[str, str]],
    Awaitable[tuple[str | None, dict[str, Any]]],
]
"""How a decision is written (``handlers.apply_parameters``: verify in full,
apply, write status); passed in, so this module does not import the handlers."""


async def tune_once(
    runtime: Any,
    body: kopf.Body,
    mem: LoopMemory,
    apply: ApplyParameters,
    *,
    written: Mapping[str, Any] | None = None,
    hold: str | None = None,
    reader: WindowReader | None = None,
) -> Decision | None:
    """One interval. Returns the decision (None when tuning is off or impossible).
    ``written``: status fields just written this interval (the conformance
    check's), not yet in ``body``; ``hold``: why to hold (not conformant);
    ``reader``: the interval's Prometheus reading, shared with the conformance
    check (a fresh one when None)."""
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
    settings = settings_for(runtime, upir)
    if mem.learner is None or mem.spec_hash != _memory_key(upir, settings):
        loaded = await load_memory(runtime, body, upir, settings)
        mem.spec_hash, mem.learner, mem.state = loaded.spec_hash, loaded.learner, loaded.state
    current = _current(status, body.get("metadata") or {}, upir, mode)
    prom = upir.tuning.prometheus
    samples: Mapping[str, Sample] | None = None
    if hold is not None:
        dec = _held(mem, hold)
    elif current is None:
        dec = _held(mem, "NotApplied: no proved parameters running yet")
    elif prom is None:
        dec = _held(mem, "NoPrometheus: spec.tuning.prometheus is missing")
    else:
        try:
            if reader is None:
                reader = runtime.window_reader()
            window = await reader.read(prom)
            samples = window.metrics
            # the observed load: the winner's context, passed into the step below
            env = window.environment
        except PrometheusUnavailable as err:
            samples = None
            dec = _held(mem, _unavailable(err))
        if samples is not None:
            running = upir.with_params(current)
            verifier = runtime.engine.verifier
            learner = mem.learner
            assert learner is not None
            dec = await runtime.run(
                lambda: step(
                    learner=learner,
                    state=mem.state,
                    current=current,
                    samples=samples,
                    guard=lambda p: verifier.check_params(running, dict(p)),
                    settings=settings,
                    mode=mode,
                    now=time.time(),
                    load={f"env.{k}": v for k, v in env.items()},
                )
            )
    mem.state = dec.state
    latency = samples.get("latency_ms") if samples else None
    measured = latency.value if latency is not None else None
    await act(
        runtime,
        body,
        status,
        dec,
        apply,
        measured_latency_ms=measured,
        spec_hash=upir.spec_hash(),
    )
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
    apply: ApplyParameters,
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
        # the Applied / RolledBack event is posted with the status it changes
        cause = ("Applied" if dec.action is Action.APPLY else "RolledBack", dec.reason)
        why_not, written = await apply(runtime, body, dec.params, cause)
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
