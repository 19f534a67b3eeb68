"""kopf handlers: a few lines each. They run library work in worker threads
(``Runtime.run``), apply what the engine rendered through ``Kube`` when the mode
allows (:mod:`modes`), and write the status fields that changed. Deleting a
UPIR needs no finalizer: everything the operator creates carries an
ownerReference, so the garbage collector removes it; an event handler drops the
deleted object's metric series.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import partial
from typing import Any, TypeVar

import kopf

from upir.conformance.live import ConformanceState
from upir.errors import PermanentError
from upir.resource import GROUP, PLURAL, VERSION
from upir_operator import conformance, events
from upir_operator.decisions import applied_parameters
from upir_operator.engine import Engine, Evaluation
from upir_operator.kube import FieldConflict, Kube, KubeError
from upir_operator.metrics import OperatorMetrics
from upir_operator.modes import FORCE_ANNOTATION, force_apply, plan_write
from upir_operator.prometheus import PrometheusClient, WindowReader
from upir_operator.settings import OperatorSettings
from upir_operator.status import (
    Outcome,
    build_status,
    events_for,
    retry_reason,
    status_changes,
)
from upir_operator.tuning import LoopMemory, tune_once

T = TypeVar("T")
logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything handlers share (kopf's ``memo``)."""

    settings: OperatorSettings
    engine: Engine
    kube: Kube
    metrics: OperatorMetrics = field(default_factory=OperatorMetrics)
    executor: ThreadPoolExecutor | None = None
    prometheus: PrometheusClient | None = None
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    """One per object: its reconciliations (change handlers, the re-check timer,
    tuning steps) run one at a time."""
    approvals: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The status written by the last approval handled per object, until the
    object's status shows it (a handler that runs on a body from before that
    write must neither apply it again nor undo what it wrote)."""

    def __post_init__(self) -> None:
        if self.prometheus is None:
            self.prometheus = PrometheusClient(self.settings.prometheus)
        if self.executor is None:
            self.executor = ThreadPoolExecutor(
                self.settings.workers, thread_name_prefix="upir-solver"
            )

    def window_reader(self) -> WindowReader:
        """A new interval's Prometheus reading (shared by its conformance
        check and its tuning step)."""
        assert self.prometheus is not None
        return WindowReader(self.prometheus, timeout_s=self.settings.prometheus_timeout_s)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Blocking solver/PyTorch work off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, partial(fn, *args))


async def _target(runtime: Runtime, body: Mapping[str, Any]) -> dict[str, Any] | None:
    target = ((body.get("spec") or {}).get("target") or {}).get("deployment")
    if not isinstance(target, str) or not target:
        return None
    ns = (body.get("metadata") or {}).get("namespace")
    try:
        return await runtime.kube.get(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"namespace": ns, "name": target},
            }
        )
    except KubeError as err:
        raise kopf.TemporaryError(f"reading Deployment {target}: {err}", delay=10) from None


async def reconcile(
    runtime: Runtime,
    body: Mapping[str, Any],
    params: Mapping[str, Fraction] | None = None,
    cause: tuple[str, str] | None = None,
) -> tuple[Evaluation, Outcome, dict[str, Any]]:
    """Evaluate (in a thread), write what the mode allows, post events for what
    changed. Returns the evaluation, what was done, and the status changes (a
    merge patch, empty when nothing changed; not yet written)."""
    uid = str((body.get("metadata") or {}).get("uid") or "/".join(_names(body)))
    lock = runtime.locks.setdefault(uid, asyncio.Lock())
    async with lock:
        ev, outcome, changes = await _reconcile(runtime, body, params, cause)
    if outcome.approval is not None and "lastApproval" in changes:
        runtime.approvals[uid] = changes
    return ev, outcome, changes


async def _reconcile(
    runtime: Runtime,
    body: Mapping[str, Any],
    params: Mapping[str, Fraction] | None,
    cause: tuple[str, str] | None,
) -> tuple[Evaluation, Outcome, dict[str, Any]]:
    prev = dict(body.get("status") or {})
    uid = str((body.get("metadata") or {}).get("uid") or "/".join(_names(body)))
    handled = runtime.approvals.get(uid)
    if handled is not None:
        if (prev.get("lastApproval") or {}).get("id") == handled["lastApproval"].get("id"):
            runtime.approvals.pop(uid, None)  # the status has caught up
        else:
            prev.update(handled)
    plan = plan_write(body, prev)
    if plan.params is not None:
        params = plan.params
    workload = await _target(runtime, body)

    def evaluate(with_params: Mapping[str, Fraction] | None) -> Evaluation:
        return runtime.engine.evaluate(
            dict(body),
            workload=workload,
            params=with_params,
            previous_certificate=prev.get("certificate"),
        )

    try:
        ev = await runtime.run(evaluate, params)
    except PermanentError as err:
        if plan.params is None:
            raise kopf.PermanentError(str(err)) from None
        # an approved recommendation that no longer fits the spec (a parameter
        # was removed): refused, recorded once; the spec's own values are evaluated
        why = f"recommendation {plan.approval} does not fit the current spec: {err}"
        plan = replace(plan, write=False, params=None, refusal=why)
        ev = await runtime.run(evaluate, None)
    m = runtime.metrics
    m.observe(m.verification_seconds, ev.verify_seconds, *_names(body))
    if ev.synthesis is not None:
        m.observe(m.synthesis_seconds, ev.synth_seconds, *_names(body))
    outcome = Outcome(mode=plan.mode, approval=plan.approval, approval_refusal=plan.refusal)
    if cause is not None:
        outcome = replace(outcome, cause=cause)
    if plan.write and ev.applied is not None and ev.manifests:
        outcome = await _write(runtime, body, ev, outcome)
    meta = body.get("metadata") or {}
    _record(runtime, body, ev, outcome)
    new = build_status(ev, prev, outcome=outcome, name=str(meta.get("name") or ""))
    changes = status_changes(prev, new)
    if changes:
        for type_, reason, message in events_for(ev, outcome, prev, new):
            (events.normal if type_ == "Normal" else events.warning)(body, reason, message)
    return ev, outcome, changes


async def _write(
    runtime: Runtime, body: Mapping[str, Any], ev: Evaluation, outcome: Outcome
) -> Outcome:
    """Apply the rendered manifests in order. A field another manager owns and a
    permanent refusal (422, 403, ...) become the outcome (a condition and an
    event); temporary errors are retried by kopf."""
    force = force_apply(body)
    for manifest in ev.manifests:
        what = f"{manifest['kind']} {manifest['metadata'].get('name')}"
        try:
            await runtime.kube.apply(manifest, force=force)
        except FieldConflict as err:
            msg = (
                f"{what}: fields owned by another manager were not taken: {err.describe()}; "
                f"remove them from that manager's configuration, or annotate the UPIR "
                f'{FORCE_ANNOTATION}="true" to take them'
            )
            return replace(outcome, failure="FieldConflict", failure_message=msg)
        except KubeError as err:
            if err.temporary:
                runtime.metrics.count(runtime.metrics.reconciles, *_names(body), "error")
                raise kopf.TemporaryError(f"applying {what}: {err}", delay=10) from None
            return replace(
                outcome, failure="ApplyFailed", failure_message=f"applying {what}: {err}"
            )
    return replace(outcome, written=True)


def _retry_if_inconclusive(runtime: Runtime, ev: Evaluation, retry: int) -> None:
    """A time-out with nothing proved applied is temporary: kopf evaluates the
    object again after ``inconclusive_retry_seconds``, doubling per retry up to
    the re-check period (the status written so far is kept: kopf applies the
    handler's patch whatever it raises)."""
    why = retry_reason(ev)
    if why is None:
        return
    s = runtime.settings
    delay = min(s.recheck_seconds, s.inconclusive_retry_seconds * 2 ** min(retry, 16))
    raise kopf.TemporaryError(f"{why}; evaluating again in {delay:g} s", delay=delay)


def _names(body: Mapping[str, Any]) -> tuple[str, str]:
    meta = body.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _record(runtime: Runtime, body: Mapping[str, Any], ev: Evaluation, outcome: Outcome) -> None:
    if not ev.valid:
        label = "invalid"
    elif ev.applied is None:
        label = "unproved"
    elif outcome.failure == "FieldConflict":
        label = "conflict"
    elif outcome.failure is not None:
        label = "failed"
    else:
        label = "applied" if outcome.written else "proved"
    m = runtime.metrics
    ns, name = _names(body)
    m.count(m.reconciles, ns, name, label)
    report = ev.applied_report or ev.report
    if report is not None:
        m.set_verdicts(ns, name, {r.property.name: r.status.value for r in report.results})
    if ev.applied is not None and outcome.written:
        for k, v in ev.applied.tunable_values().items():
            m.set(m.parameters, float(v), ns, name, k)


async def apply_parameters(
    runtime: Runtime, body: kopf.Body, params: Mapping[str, Fraction], cause: tuple[str, str]
) -> tuple[str | None, dict[str, Any]]:
    """A tuning step or roll-back (Auto): verify in full, apply, write status
    directly (daemons have no handler patch); ``cause`` is the event's reason and
    message. Returns None when applied, else why not; and the status fields written."""
    ev, outcome, changes = await reconcile(runtime, body, params, cause)
    if changes:
        await runtime.kube.patch_status(
            body.metadata.namespace or "", body.metadata.name or "", changes
        )
    if ev.applied is None:
        return "full re-verification did not prove it", changes
    if not outcome.written:
        return outcome.failure_message or "not written", changes
    return None, changes


def _applied(status: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Fraction] | None:
    return applied_parameters(status, meta)


def register(registry: kopf.OperatorRegistry, runtime: Runtime) -> None:
    """Attach the handlers to ``registry`` (tests build their own)."""
    loops: dict[str, LoopMemory] = {}

    @kopf.on.resume(GROUP, VERSION, PLURAL, registry=registry)
    @kopf.on.create(GROUP, VERSION, PLURAL, registry=registry)
    @kopf.on.update(GROUP, VERSION, PLURAL, registry=registry, field="spec")
    async def on_change(
        body: kopf.Body,
        status: kopf.Status,
        meta: kopf.Meta,
        patch: kopf.Patch,
        reason: str,
        retry: int,
        **_: Any,
    ) -> None:
        # on resume keep what tuning applied; a new spec starts from its own values
        params = _applied(status, meta) if reason == "resume" else None
        ev, _outcome, changes = await reconcile(runtime, body, params)
        patch.status.update(changes)
        _retry_if_inconclusive(runtime, ev, retry)

    @kopf.on.update(GROUP, VERSION, PLURAL, registry=registry, field="metadata.annotations")
    async def on_annotations(
        body: kopf.Body,
        status: kopf.Status,
        meta: kopf.Meta,
        patch: kopf.Patch,
        retry: int,
        **_: Any,
    ) -> None:
        # an approval (or pin / force-apply) changed: reconcile what runs now
        ev, _outcome, changes = await reconcile(runtime, body, _applied(status, meta))
        patch.status.update(changes)
        _retry_if_inconclusive(runtime, ev, retry)

    @kopf.timer(
        GROUP,
        VERSION,
        PLURAL,
        registry=registry,
        interval=runtime.settings.recheck_seconds,
        initial_delay=runtime.settings.recheck_seconds,
    )
    async def recheck(
        body: kopf.Body, status: kopf.Status, meta: kopf.Meta, patch: kopf.Patch, **_: Any
    ) -> None:
        # level-based: re-verify (cached when nothing changed) and re-apply what
        # is running (Auto), so drift in the owned objects is corrected; status
        # is written only when something in it changed
        changes = (await reconcile(runtime, body, _applied(status, meta)))[2]
        patch.status.update(changes)

    @kopf.on.cleanup(registry=registry)
    async def close_prometheus(**_: Any) -> None:
        assert runtime.prometheus is not None
        await runtime.prometheus.close()

    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)
    async def on_event(type: str, body: kopf.Body, **_: Any) -> None:
        # no finalizer needed: a deleted object's series go when its deletion is seen
        if type == "DELETED":
            runtime.metrics.forget(*_names(body))
            uid = str(body.metadata.uid)
            runtime.locks.pop(uid, None)
            runtime.approvals.pop(uid, None)

    @kopf.daemon(GROUP, VERSION, PLURAL, registry=registry, cancellation_timeout=10)
    async def tune(body: kopf.Body, stopped: kopf.DaemonStopped, **_: Any) -> None:
        mem = loops.setdefault(str(body.metadata.uid), LoopMemory())
        conf = ConformanceState()
        while not stopped:
            interval = float(
                ((body.get("spec") or {}).get("tuning") or {}).get("intervalSeconds", 60)
            )
            await stopped.wait(interval)
            if stopped:
                break
            try:
                # one Prometheus reading per interval, judged by both steps
                reader = runtime.window_reader()
                # in every mode: reading Prometheus writes nothing the workload reads
                conf, written = await conformance.check_once(runtime, body, conf, reader)
                await tune_once(
                    runtime,
                    body,
                    mem,
                    apply_parameters,
                    written=written,
                    hold=conformance.hold_reason(conf),
                    reader=reader,
                )
            except (kopf.TemporaryError, kopf.PermanentError, KubeError) as err:
                logger.warning("tuning %s: %s", body.metadata.name, err)
        loops.pop(str(body.metadata.uid), None)
