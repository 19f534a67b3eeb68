"""Calling services (``Node.calls``) for :class:`upir.simulator.GraphSimulator`.

A calling service does its own work (one service time), then sends the call
down its successors and holds its slot until every copy of the call has left
the graph (success), one was dropped by a full queue (answered at once, not
retried: retrying into a full queue only feeds the overload), or one failed
or was shed (retried while retries remain). The timeout runs from the
attempt's start and cuts the whole call; an abandoned attempt's copies carry
on downstream (the downstream does not know the caller gave up), so too short
a timeout turns into a retry storm, as in the reference workload.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from upir.simulator.graph_state import Call, Comp, Req

if TYPE_CHECKING:
    from upir.simulator.graph import GraphSimulator

__all__ = ["call_answered", "call_send", "call_start", "call_timeout"]


def call_start(sim: GraphSimulator, c: Comp, t_in: float, reqs: list[Req]) -> None:
    """Take a slot for ``reqs`` and make the first attempt."""
    c.busy += 1
    c.stats.move(sim._now, c.stats.level, c.busy)
    _attempt(sim, Call(c, t_in, reqs))


def _attempt(sim: GraphSimulator, call: Call) -> None:
    c = call.comp
    now = sim._now
    sub = Req(now, call)
    call.current = sub
    own = sim._draw_time(c, len(call.reqs))
    failed = c.failure_rate > 0.0 and sim._draw_failure(c) < c.failure_rate
    sim._push(now + c.T, sim.TIMEOUT, c, (call, sub))
    if own < c.T:
        sim._push(now + own, sim.SEND, c, (call, sub, failed))


def call_send(sim: GraphSimulator, payload: tuple[Call, Req, bool]) -> None:
    """The service's own work is done: send the call downstream (or fail it)."""
    call, sub, failed = payload
    if call.current is not sub:
        return
    c = call.comp
    if failed:
        c.stats.failures += 1
        call.current = None
        _retry(sim, call, "error")
        return
    sim._forward(c, sub)


def call_timeout(sim: GraphSimulator, payload: tuple[Call, Req]) -> None:
    call, sub = payload
    if call.current is not sub:
        return  # answered (or retried) before its deadline
    call.current = None
    call.comp.stats.timeouts += 1
    _retry(sim, call, "error")


def call_answered(sim: GraphSimulator, sub: Req) -> None:
    """Every copy of an attempt has left the graph or was given up."""
    call = sub.call
    assert call is not None
    if call.current is not sub:
        return  # abandoned at its timeout: its answer comes too late
    call.current = None
    if sub.fail is None:
        _end(sim, call, None)
    elif sub.fail == "dropped":
        _end(sim, call, "dropped")
    else:
        _retry(sim, call, sub.fail)


def _retry(sim: GraphSimulator, call: Call, why: str) -> None:
    c = call.comp
    if call.attempt < c.retries:
        call.attempt += 1
        c.stats.retries += 1
        _attempt(sim, call)
    else:
        _end(sim, call, why)


def _end(sim: GraphSimulator, call: Call, why: str | None) -> None:
    c = call.comp
    now = sim._now
    s = c.stats
    c.busy -= 1
    s.move(now, s.level, c.busy)
    lat = now - call.t_in
    for r in call.reqs:
        s.lat.append(lat)
        if why is None:
            s.ok += 1
            sim._branch_done(r)  # the downstream path was this call's
        else:
            s.errors += 1
            sim._fail(r, why)
    sim._pull(c)
