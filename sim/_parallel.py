"""Distinct groups of ops (a decode step's attention chain, whose shapes change with the KV
length) simulated ahead in worker processes, for ``simulate(..., workers=N)``.

A group's result is a pure function of its ops, the recipe, the hardware, the step timing and
the mappings computed up front (``sim._run``: every op runs from an empty pipeline to a drained
one, a chain from its first load to its last store), so it does not matter which process
computes it: a worker runs the same function on the same inputs as the main process would,
and the main process takes its result where it would have simulated the group (the ``reused``
column, the distinct-op count and the notes are those of a run in one process). The workers
are forked after the inputs are set (``fork`` start method: they share the parent's memory
when they start; nothing is pickled but the groups' results on their way back), and they work
while the main process simulates the prefill.

What it does not change: the simulated figures (tests compare the whole op table and summary
with ``workers=1``). What it changes: wall time, on a machine with idle cores; the CPU time
is the same or slightly more (the workers' start, the results' pickling).
"""
from __future__ import annotations

import multiprocessing
from typing import Callable, Hashable

__all__ = ["Prefetch", "CHUNK", "can_fork"]

#: groups per task sent to a worker (fewer round trips; small enough to balance the workers)
CHUNK = 16

#: (the groups, the function simulating one) of the pool being started, inherited by its workers
_JOB: tuple[list, Callable] | None = None


def can_fork() -> bool:
    """Whether worker processes can be forked here: POSIX, and not inside a daemonic process
    (a pool's worker, which may not have children); elsewhere ``simulate`` runs in one."""
    return "fork" in multiprocessing.get_all_start_methods() and not multiprocessing.current_process().daemon


def _run_chunk(bounds: tuple[int, int]) -> list:
    groups, simulate_group = _JOB
    return [simulate_group(groups[i]) for i in range(*bounds)]


class Prefetch:
    """Results of ``simulate_group(group)`` for ``groups`` (keyed by ``keys``, distinct),
    computed in ``workers`` forked processes in order, taken by ``pop(key)``.

    Parameters
    ----------
    keys : the groups' memo keys (``sim._run``), one per group, distinct.
    groups : what ``simulate_group`` takes.
    simulate_group : group -> its result (picklable).
    workers : processes (>= 2; with 1 there is nothing to gain: use no ``Prefetch``).
    """

    def __init__(self, keys: list[Hashable], groups: list, simulate_group: Callable, workers: int) -> None:
        global _JOB
        self._index = {k: i for i, k in enumerate(keys)}
        self._done: dict[int, object] = {}
        self._next = 0
        _JOB = (groups, simulate_group)
        try:
            self._pool = multiprocessing.get_context("fork").Pool(workers)
        finally:
            _JOB = None
        chunks = [(i, min(i + CHUNK, len(groups))) for i in range(0, len(groups), CHUNK)]
        self._results = self._pool.imap(_run_chunk, chunks)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._index

    def pop(self, key: Hashable):
        """The result of the group of ``key`` (waits for it; each key once)."""
        i = self._index.pop(key)
        while i not in self._done:
            for r in next(self._results):
                self._done[self._next] = r
                self._next += 1
        return self._done.pop(i)

    def close(self) -> None:
        """Stop the workers (results not taken are dropped)."""
        self._pool.terminate()
        self._pool.join()
