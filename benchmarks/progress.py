"""Progress of a long benchmark phase, on stderr, as plain lines.

A full tuning run takes one to two hours on two cores and usually runs under
``nohup``; a terminal bar would leave nothing readable in the log, so each line
stands alone: the phase, how many of its jobs are done, the time spent and an
estimate of the time left (from the mean time per job so far). Lines come about
every ``every`` of the phase (default 5%) and at its end, not per job, so a log
of a 1,000-job phase stays about 20 lines long. The figures themselves go to
stdout and the JSON, never here.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, TextIO, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def _duration(seconds: float) -> str:
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class Progress:
    """``advance`` once per finished job; prints when another ``every`` share of
    ``total`` is done (and at the end)."""

    def __init__(
        self,
        label: str,
        total: int,
        *,
        every: float = 0.05,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._step = max(1, round(total * every))
        self._stream = stream
        self._clock = clock
        self._start = clock()

    def line(self) -> str:
        elapsed = self._clock() - self._start
        text = f"{self.label}: {self.done}/{self.total}, {_duration(elapsed)}"
        if 0 < self.done < self.total:
            left = elapsed / self.done * (self.total - self.done)
            text += f", about {_duration(left)} left"
        return text

    def advance(self, n: int = 1) -> None:
        before = self.done // self._step
        self.done += n
        if self.done >= self.total or self.done // self._step > before:
            print(self.line(), file=self._stream or sys.stderr, flush=True)


def tracked_map(
    pool: Any, fn: Callable[[T], R], jobs: Iterable[T], label: str, *, chunksize: int = 1
) -> list[R]:
    """``pool.map(fn, jobs)`` (results in the jobs' order) with a ``Progress``
    line per 5% of the jobs."""
    todo = list(jobs)
    progress = Progress(label, len(todo))
    out: list[R] = []
    for result in pool.imap(fn, todo, chunksize=chunksize):
        out.append(result)
        progress.advance()
    return out
