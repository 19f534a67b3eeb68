"""Live conformance of one UPIR (DESIGN.md section 8): the operator's I/O
around :mod:`upir.conformance.live`.

Every tuning interval, in every mode, when ``spec.tuning.prometheus`` is set
(reading writes nothing the workload reads): read the environment queries and
the metric queries that measure a quantity with a proved bound; verify the
parameters that run (the proof cache answers when nothing changed) for the
bounds PROVED for them; judge the window; advance the hysteresis
(``UPIR_CONFORMANCE_WINDOWS``); then write the ``Conformant`` condition when it
changed, post an event when its reason changes (Normal back to Conformant,
Warning otherwise) and set the ``upir_conformant`` and observed / bound gauges.
:func:`hold_reason` tells the tuning loop to hold while the reported state is
False: a proposal proved under assumptions the running system breaks, or for a
model the measurements contradict, proves nothing about that system.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from upir.conformance.live import (
    Bound,
    ConformanceState,
    Finding,
    Reason,
    advance,
    describe,
    judge,
    proved_bounds,
)
from upir.core import UPIR
from upir.errors import InvalidSpecError, UpirError
from upir.verification.results import VerificationReport
from upir_operator import events
from upir_operator.conditions import condition, get_condition, merge_conditions
from upir_operator.decisions import last_applied
from upir_operator.kube import KubeError
from upir_operator.prometheus import PrometheusUnavailable, WindowReader

logger = logging.getLogger(__name__)

CONDITION = "Conformant"


def running_params(status: Mapping[str, Any], upir: UPIR) -> dict[str, Fraction]:
    """The parameters the workload runs: the applied ones, else the spec's own
    values (modes Off and Recommend before an approval write nothing)."""
    return last_applied(status) or dict(upir.tunable_values())


def resumed(status: Mapping[str, Any]) -> ConformanceState:
    """The reported state as the status shows it (a restarted operator goes on
    from there; the windows pending a change are not kept)."""
    cond = get_condition(status.get("conditions"), CONDITION) or {}
    try:
        return ConformanceState(Reason(str(cond.get("reason"))), str(cond.get("message", "")))
    except ValueError:
        return ConformanceState()


def hold_reason(state: ConformanceState) -> str | None:
    """Why tuning holds (the Tuning condition's message), or None. Only False
    holds: NoData (Unknown) is left to the tuning loop's own metric checks."""
    if state.conformant is not False or state.reason is None:
        return None
    return (
        f"NotConformant: {state.reason.value}: the running system is outside what was "
        f"proved: {state.message}"
    )


def _verify(runtime: Any, upir: UPIR, params: Mapping[str, Fraction]) -> VerificationReport:
    """The verdicts for the running parameters (cached when nothing changed)."""
    verifier = runtime.engine.verifier
    try:
        report: VerificationReport = verifier.check_params(upir, params)
        return report
    except InvalidSpecError:
        pass  # applied before the spec narrowed a parameter's domain: still what runs
    try:
        report = verifier.verify(upir.with_params(params), quiet=True)
        return report
    except (KeyError, ValueError, UpirError):
        # they name a component or parameter the spec no longer has: nothing is
        # proved for what runs (the assumptions are still checked)
        return VerificationReport(())


async def _observe(
    reader: WindowReader, upir: UPIR, bounds: tuple[Bound, ...]
) -> tuple[dict[str, float | None], dict[str, float | None], dict[str, str]]:
    """The environment (``env.<name>`` -> value or None), the metrics with a
    proved bound, and why a query gave no value. Raises PrometheusUnavailable."""
    prom = upir.tuning.prometheus
    assert prom is not None
    window = await reader.read(prom, {b.metric for b in bounds})
    env = window.environment
    unread = {f"env.{k}": "no sample" for k in prom.environment if k not in env}
    metrics: dict[str, float | None] = {}
    for k, s in window.metrics.items():
        metrics[k] = s.value
        if s.value is None:
            unread[k] = s.error or "no sample"
    environment: dict[str, float | None] = {f"env.{k}": env.get(k) for k in prom.environment}
    return environment, metrics, unread


async def check_once(
    runtime: Any, body: Any, state: ConformanceState, reader: WindowReader | None = None
) -> tuple[ConformanceState, dict[str, Any]]:
    """One window. Returns the new state and the status fields written (so the
    tuning step that follows merges its condition onto them). ``reader``: the
    interval's Prometheus reading, shared with the tuning step (a fresh one
    when None)."""
    meta = body.get("metadata") or {}
    ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    status = dict(body.get("status") or {})
    try:
        upir = UPIR.from_resource(
            {k: body.get(k) for k in ("apiVersion", "kind", "spec")}
            | {"metadata": {"name": name, "namespace": ns}}
        )
    except InvalidSpecError:
        return state, {}  # the Valid condition says why
    prom = upir.tuning.prometheus
    if prom is None:
        return ConformanceState(), await _drop(runtime, ns, name, status)
    if state.reason is None:
        state = resumed(status)
    report = await runtime.run(_verify, runtime, upir, running_params(status, upir))
    bounds = proved_bounds(report, prom.queries)
    try:
        if reader is None:
            reader = runtime.window_reader()
        environment, metrics, unread = await _observe(reader, upir, bounds)
        finding = judge(upir.specification.assumptions, environment, bounds, metrics, unread)
    except PrometheusUnavailable as err:
        finding = Finding(Reason.NO_DATA, f"Prometheus cannot be read: {err}")
    settings = runtime.settings.library.conformance
    new = advance(state, finding, settings)
    _record(runtime, ns, name, new, finding)
    assert new.reason is not None
    if new.reason is not state.reason:
        post = events.normal if new.reason is Reason.CONFORMANT else events.warning
        post(body, new.reason.value, new.message)
    cond = condition(
        CONDITION, new.conformant, new.reason.value, describe(new, settings), meta.get("generation")
    )
    old = get_condition(status.get("conditions"), CONDITION) or {}
    if all(old.get(k) == cond[k] for k in ("status", "reason", "message", "observedGeneration")):
        return new, {}
    patch = {"conditions": merge_conditions(status.get("conditions"), [cond])}
    try:
        await runtime.kube.patch_status(ns, name, patch)
    except KubeError as err:
        logger.warning("could not write the Conformant condition of %s: %s", name, err)
        return new, {}
    return new, patch


def _record(runtime: Any, ns: str, name: str, state: ConformanceState, finding: Finding) -> None:
    m = runtime.metrics
    if state.conformant is None:
        m.replace_series(m.conformant, ns, name, {})
    else:
        m.set(m.conformant, 1.0 if state.conformant else 0.0, ns, name)
    m.replace_series(
        m.conformance_reason,
        ns,
        name,
        {(r.value,): 1.0 if r is state.reason else 0.0 for r in Reason},
    )
    m.replace_series(
        m.conformance_observed, ns, name, {(k,): v for k, v in finding.observed.items()}
    )
    m.replace_series(m.conformance_bound, ns, name, dict(finding.limits.items()))


async def _drop(runtime: Any, ns: str, name: str, status: Mapping[str, Any]) -> dict[str, Any]:
    """Without ``spec.tuning.prometheus`` there is nothing to compare: the
    condition and the gauges go."""
    m = runtime.metrics
    for metric in (m.conformant, m.conformance_reason, m.conformance_observed, m.conformance_bound):
        m.replace_series(metric, ns, name, {})
    conditions = status.get("conditions") or []
    if get_condition(conditions, CONDITION) is None:
        return {}
    patch = {"conditions": [c for c in conditions if c.get("type") != CONDITION]}
    try:
        await runtime.kube.patch_status(ns, name, patch)
    except KubeError as err:
        logger.warning("could not remove the Conformant condition of %s: %s", name, err)
        return {}
    return patch
