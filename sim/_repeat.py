"""Ops simulated in part where their schedule provably repeats (a decode step's attention
heads, the row or column blocks of a long GEMM, the chunks of a vector op).

An op whose schedule is ``r`` copies of one block of tile steps (``find_block``: checked step
for step) is simulated for its first ``h`` blocks only, and its figures are extended to ``r``:

* the run of ``h`` blocks records every event (transfers, compute, stalls of every op of its
  chain); block ``j`` starts when the compute unit ends block ``j - 1``'s last step;
* ``carry`` is the most block starts any event runs across (transfers queued on the DMA
  engines and the port). The engine's state at a block start (tiles in the two slots of each
  buffer, the two output slots, transfers in flight) is made of the events of the ``carry``
  blocks before it; so when ``carry + 2`` consecutive blocks (after block 1) have the same
  timeline relative to their start (every event's kind, label, start and duration, all ops of
  the chain included, to 1e-6 cycles), the state repeats from block to block and every later
  block of the full op repeats them. ``h = carry + 7`` (at least ``HEADS``): two blocks to
  settle, ``carry + 2`` compared, three to finish (the loader runs at most two tiles ahead);
  two blocks more at a time while the blocks are still settling, up to ``MAX_HEADS``;
* in a chain (``sim._overlap``) the ops before it must be quiet from the first compared block
  on (the ops after it start loading only when its loader is done, i.e. after the blocks that
  are inserted), else it is simulated whole;
* the full op is those ``h`` blocks with ``r - h`` such blocks inserted: cycles grow by the
  period per block; bytes, DRAM busy, compute and array cycles by one block's (from its steps
  and the step timing); input and output stalls by a compared block's.

When a check fails the op is simulated whole. Nothing is extended under ``trace`` (every event
is wanted), on several cores or with a global buffer.
"""
from __future__ import annotations

from bisect import bisect_left

import numpy as np

from ._engine import OpRun
from ._hwconfig import HardwareConfig

__all__ = ["HEADS", "MAX_HEADS", "repeatable", "find_block", "heads_needed", "block_period", "extend_run"]

#: heads simulated first: two to settle, three compared, three to finish (more when transfers
#: stay queued across more than one block: ``heads_needed``)
HEADS = 8
#: most heads simulated before giving up (the op is then simulated whole)
MAX_HEADS = 16
_TOL = 1e-6


def repeatable(hw: HardwareConfig) -> bool:
    """Whether ops on ``hw`` may be extended: one core, no global buffer."""
    return hw.cores == 1 and not hw.gb_kib


def find_block(steps: list, min_blocks: int = HEADS + 1) -> int | None:
    """The shortest block of which ``steps`` are at least ``min_blocks`` copies (None if none)."""
    n = len(steps)
    index: dict = {}
    # equal steps, equal ids (dict: hash then ==); a step object met again (schedules repeating
    # one instance's steps, mapping.gemm_steps) takes its id without hashing its fields again
    seen: dict = {}
    ids = []
    for s in steps:
        i = seen.get(id(s))
        if i is None:
            i = seen[id(s)] = index.setdefault(s, len(index))
        ids.append(i)
    for b in range(1, n // min_blocks + 1):
        if n % b:
            continue
        first = ids[:b]
        if all(ids[i:i + b] == first for i in range(b, n, b)):
            return b
    return None


def _key(e, start: float) -> tuple:
    return (e[0], e[1], round(e[2] - start, 6), round(e[3], 6))


def _carry(bounds: list[float], events: list) -> int:
    """The most of the sorted ``bounds`` (block starts) that an event runs across: for each
    event, those after its start and before its end (less ``_TOL``); 0 without events."""
    if not events:
        return 0
    n = len(events)
    start = np.fromiter((e[2] for e in events), float, n)
    end = start + np.fromiter((e[3] for e in events), float, n) - _TOL
    at = np.array(bounds, dtype=float)
    return int((np.searchsorted(at, end, side="left") - np.searchsorted(at, start, side="right")).max())


def heads_needed(carry: int) -> int:
    """Heads to simulate when events run across at most ``carry`` block boundaries: two blocks
    to settle, ``carry + 2`` compared, three to finish."""
    return max(carry, 1) + 7


def block_period(op_events: list, all_events: list, block: int, heads: int) -> tuple | int | None:
    """Whether the ``heads``-head run repeats (see the module docstring).

    Returns (period, input stall, output stall of one block, start of the first compared
    block) when it does; an int (the blocks to simulate) when they need more to compare;
    None when it does not repeat. ``op_events``: the op's own events (its compute events one
    per step, in order); ``all_events``: every op's of the run."""
    compute = [e for e in op_events if e[0] in ("array", "vector")]
    if len(compute) != block * heads:
        return None
    b = {j: compute[j * block - 1][2] + compute[j * block - 1][3] for j in range(1, heads)}  # block j starts
    carry = _carry(sorted(b.values()), all_events)
    if heads < heads_needed(carry):
        return heads_needed(carry) if heads_needed(carry) <= MAX_HEADS else None
    last = heads - 4  # the windows [b_j, b_{j+1}) of j = 2 .. heads - 4 leave three blocks to finish
    # the events starting in a window, by start (a window's keys are sorted: equal starts may come in any order)
    lo, hi = min(b[j] for j in range(2, last + 1)), max(b[j + 1] for j in range(2, last + 1))
    events = sorted((e for e in all_events if lo <= e[2] < hi), key=lambda e: e[2])
    starts = [e[2] for e in events]
    windows = {j: sorted(_key(e, b[j]) for e in events[bisect_left(starts, b[j]):bisect_left(starts, b[j + 1])])
               for j in range(2, last + 1)}
    for j0 in range(2, last - carry):  # the first carry + 2 identical consecutive blocks after block 1
        run = range(j0, j0 + carry + 2)
        periods = [b[j + 1] - b[j] for j in run]
        if max(periods) - min(periods) <= _TOL and all(windows[j] == windows[j0] for j in run):
            break
    else:  # still settling: two more heads, up to MAX_HEADS
        return heads + 2 if heads + 2 <= MAX_HEADS else None
    lo, hi = b[j0], b[j0 + 1]
    stall_in = sum(e[3] for e in op_events if e[0] == "stall" and e[1] == "wait input" and lo <= e[2] < hi)
    stall_out = sum(e[3] for e in op_events if e[0] == "stall" and e[1] == "wait output slot" and lo <= e[2] < hi)
    return periods[0], stall_in, stall_out, b[j0]


def extend_run(run: OpRun, steps: list, block: int, count: int, hw: HardwareConfig, timing, dataflow: str,
               period: tuple) -> OpRun:
    """``run`` of the first blocks' ``steps`` extended to ``count`` blocks (in place; returned)."""
    n = count - len(steps) // block
    delta, stall_in, stall_out = period[:3]
    one = steps[:block]
    loads = sum(nb for st in one for _, nb in st.loads)
    stores = sum(st.store_bytes for st in one)
    run.cycles += n * delta
    run.steps += n * block
    run.dram_read_bytes += n * loads
    run.dram_write_bytes += n * stores
    bw = hw.dram_bytes_per_cycle
    if bw != float("inf"):  # per transfer job, as the engine counts it: a step's loads, a store
        run.dram_busy_cycles += n * sum([sum(nb for _, nb in st.loads) / bw for st in one if st.loads]
                                        + [st.store_bytes / bw for st in one if st.store_bytes])
    run.stall_input += n * stall_in
    run.stall_output += n * stall_out
    for st in one:
        c = timing.step_cycles(st.work, dataflow)
        if c is None:
            run.compute_missing_steps += n
            continue
        run.compute_cycles += n * c
        if st.work[0] == "gemm":
            f, sd, dr, wl = timing.array_parts(dataflow, st.work[1], st.work[2], st.work[3])
            run.array_fill += n * f
            run.array_steady += n * sd
            run.array_drain += n * dr
            run.array_weight_load += n * wl
    run.events = []
    return run
