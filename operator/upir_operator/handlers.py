"""kopf handlers: a few lines each. They run library work in worker threads
(``Runtime.run``), apply what the engine rendered through ``Kube``, and write
status. Deleting a UPIR needs no handler: everything the operator creates
carries an ownerReference, so the garbage collector removes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from functools import partial
from typing import Any, TypeVar

import kopf

from upir.core.numbers import to_fraction
from upir.errors import PermanentError
from upir.resource import GROUP, PLURAL, VERSION
from upir_operator.engine import Engine, Evaluation
from upir_operator.kube import Kube, KubeError
from upir_operator.metrics import OperatorMetrics
from upir_operator.settings import OperatorSettings
from upir_operator.status import build_status
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

    def __post_init__(self) -> None:
        if self.executor is None:
            self.executor = ThreadPoolExecutor(
                self.settings.workers, thread_name_prefix="upir-solver"
            )

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


async def evaluate_and_apply(
    runtime: Runtime, body: Mapping[str, Any], params: Mapping[str, Fraction] | None = None
) -> tuple[Evaluation, dict[str, Any]]:
    """Engine in a thread, then the manifests through the Kube layer; returns the
    evaluation and the new status (not yet written)."""
    workload = await _target(runtime, body)
    try:
        ev = await runtime.run(
            partial(runtime.engine.evaluate, dict(body), workload=workload, params=params)
        )
    except PermanentError as err:
        raise kopf.PermanentError(str(err)) from None
    runtime.metrics.verification_seconds.observe(ev.verify_seconds)
    if ev.synthesis is not None:
        runtime.metrics.synthesis_seconds.observe(ev.synth_seconds)
    for manifest in ev.manifests:
        try:
            await runtime.kube.apply(manifest)
        except KubeError as err:
            runtime.metrics.reconciles.labels("error").inc()
            if err.temporary:
                raise kopf.TemporaryError(f"applying {manifest['kind']}: {err}", delay=10) from None
            raise kopf.PermanentError(f"applying {manifest['kind']}: {err}") from None
    _record(runtime, body, ev)
    return ev, build_status(ev, dict(body.get("status") or {}))


def _record(runtime: Runtime, body: Mapping[str, Any], ev: Evaluation) -> None:
    outcome = "invalid" if not ev.valid else ("applied" if ev.applied is not None else "unproved")
    runtime.metrics.reconciles.labels(outcome).inc()
    meta = body.get("metadata") or {}
    ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    report = ev.applied_report or ev.report
    if report is not None:
        for r in report.results:
            runtime.metrics.verdicts.labels(ns, name, r.property.name).set(
                1 if r.status.passed else 0
            )
    if ev.applied is not None:
        for k, v in ev.applied.tunable_values().items():
            runtime.metrics.parameters.labels(ns, name, k).set(float(v))


def post_events(body: kopf.Body, ev: Evaluation) -> None:
    if not ev.valid:
        kopf.warn(body, reason="InvalidSpec", message="; ".join(str(i) for i in ev.issues)[:1000])
        return
    assert ev.report is not None
    for r in ev.report.results:
        if not r.status.passed:
            kopf.warn(
                body, reason="PropertyNotProved", message=f"{r.property.name}: {r.status.value}"
            )
    if ev.synthesis is not None:
        msg = f"synthesis {ev.synthesis.status.value}: {ev.synthesis.explanation or ''}"[:1000]
        (kopf.info if ev.applied is not None else kopf.warn)(body, reason="Synthesis", message=msg)
    if ev.applied is not None:
        params = ", ".join(f"{k}={v}" for k, v in ev.applied.tunable_values().items())
        kopf.info(body, reason="Applied", message=f"applied proved parameters: {params}"[:1000])
    elif ev.error:
        kopf.warn(body, reason="NotApplied", message=ev.error[:1000])


async def apply_parameters(
    runtime: Runtime, body: kopf.Body, params: Mapping[str, Fraction]
) -> bool:
    """A tuning step or roll-back: verify in full, apply, write status directly
    (daemons have no handler patch). True when applied."""
    ev, status = await evaluate_and_apply(runtime, body, params)
    if ev.applied is None:
        return False
    keep = (
        "appliedParameters",
        "certificate",
        "verdicts",
        "verdict",
        "message",
        "lastVerifiedTime",
    )
    await runtime.kube.patch_status(
        body.metadata.namespace or "",
        body.metadata.name or "",
        {k: status[k] for k in keep if k in status},
    )
    return True


def _applied(status: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Fraction] | None:
    """The last applied (proved) parameters, while the spec they were proved
    for is still the current generation."""
    applied = status.get("appliedParameters")
    if status.get("observedGeneration") != meta.get("generation") or not isinstance(
        applied, Mapping
    ):
        return None
    return {k: to_fraction(v) for k, v in applied.items()} or None


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
        **_: Any,
    ) -> None:
        # on resume keep what tuning applied; a new spec starts from its own values
        params = _applied(status, meta) if reason == "resume" else None
        ev, new_status = await evaluate_and_apply(runtime, body, params)
        patch.status.update(new_status)
        post_events(body, ev)

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
        # is running, so drift in the owned objects is corrected
        ev, new_status = await evaluate_and_apply(runtime, body, _applied(status, meta))
        patch.status.update(new_status)

    @kopf.daemon(GROUP, VERSION, PLURAL, registry=registry, cancellation_timeout=10)
    async def tune(body: kopf.Body, stopped: kopf.DaemonStopped, **_: Any) -> None:
        mem = loops.setdefault(str(body.metadata.uid), LoopMemory())
        while not stopped:
            interval = float(
                ((body.get("spec") or {}).get("tuning") or {}).get("intervalSeconds", 60)
            )
            await stopped.wait(interval)
            if stopped:
                break
            try:
                await tune_once(runtime, body, mem)
            except (kopf.TemporaryError, kopf.PermanentError, KubeError) as err:
                logger.warning("tuning %s: %s", body.metadata.name, err)
        loops.pop(str(body.metadata.uid), None)
