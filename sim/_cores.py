"""Several cores sharing one DRAM: how an op is split across ``HardwareConfig.cores`` cores and
how the parts run together.

Split rules (``split_op``), parts as equal as whole units allow (sizes differ by at most one):

* a GEMM of ``count`` independent instances (attention heads) with ``count >= cores``: by
  instances (heads);
* any other GEMM: over a grid of row blocks (``M``) x column blocks (``N``) using the most
  cores, and among those the grid that moves the fewest operand elements (A is loaded once per
  column block, the weights once per row block: there is no shared global buffer to broadcast
  them from, so duplicated bytes are counted per core). A decode GEMV (``M`` = 1) is split by
  columns, each core loading its own slice of the weights;
* a vector op: by rows; an op with fewer rows (or columns) than cores uses that many cores;
* fused attention (``sim._fusion``): by KV heads.

Each core has the hardware's array, SRAM buffers, DMA engines and vector unit
(``sim._engine.start_op``); all cores start together, their DRAM transfers queue FIFO on one
simpy port at the hardware's (sustained) bandwidth, and the op ends when the last core's last
store is done. Parts with equal shapes have equal schedules: each distinct part is mapped once.
"""
from __future__ import annotations

from dataclasses import replace

import simpy

from mapping import GemmOp, Recipe, VectorOp, map_op, steps_of

from ._engine import OpRun, start_op
from ._hwconfig import HardwareConfig

__all__ = ["split_op", "run_cores"]


def _parts(total: int, n: int) -> list[int]:
    """``total`` split into ``min(n, total)`` parts as equal as integers allow (larger first)."""
    n = min(n, total)
    q, r = divmod(total, n)
    return [q + 1] * r + [q] * (n - r)


def _grid(op: GemmOp, cores: int) -> tuple[int, int]:
    """(row blocks, column blocks) of a GEMM over ``cores`` cores: the grid using the most
    cores, then moving the fewest operand elements (A is read once per column block, B once
    per row block)."""
    best = None
    for gm in range(1, min(cores, op.M) + 1):
        gn = min(cores // gm, op.N)
        key = (-(gm * gn), gn * op.M * op.K + gm * op.K * op.N * (1 if op.b_shared else op.count), gm)
        if best is None or key < best[0]:
            best = (key, gm, gn)
    return best[1], best[2]


def split_op(op, cores: int) -> list:
    """The parts of ``op`` one per core (fewer when the op has fewer heads/columns/rows than
    ``cores``); a one-core split is ``[op]`` itself."""
    if cores == 1:
        return [op]
    if not isinstance(op, (GemmOp, VectorOp)):  # fused attention (sim._fusion): by KV heads
        return [replace(op, count=c) for c in _parts(op.count, cores)]
    if isinstance(op, GemmOp):
        if op.count >= cores:
            return [replace(op, count=c) for c in _parts(op.count, cores)]
        gm, gn = _grid(op, cores)
        return [replace(op, M=m, N=n) for m in _parts(op.M, gm) for n in _parts(op.N, gn)]
    return [replace(op, rows=r) for r in _parts(op.rows, cores)]


def run_cores(op, recipe: Recipe, hw: HardwareConfig, timing, *, trace: bool = False,
              schedule=None) -> tuple[object, OpRun, list]:
    """Simulate ``op`` split over ``hw.cores`` cores sharing one DRAM port; ``schedule(part)``
    gives a part's (mapping, steps) (default: ``mapping.map_op`` and ``steps_of``).

    Returns (the mapping of core 0's part; the op's ``OpRun``: ``cycles`` the time of the last
    core, ``compute_cycles`` the busiest core's compute, bytes, DRAM busy, stall and array
    cycles summed over cores, events of core 0; the per-core (mapping, steps, OpRun) list).
    """
    env = simpy.Environment()
    port = simpy.Resource(env, capacity=1)
    lim = hw.limits()
    mapped: dict = {}
    cores, procs = [], []
    for part in split_op(op, hw.cores):
        key = replace(part, name="")
        if key not in mapped:
            if schedule is not None:
                mapped[key] = schedule(part)
            else:
                mp = map_op(part, recipe, lim, timing.array_cycles)
                mapped[key] = (mp, steps_of(mp))
        mp, steps = mapped[key]
        done, run = start_op(env, port, steps, hw, timing, dataflow=getattr(mp, "dataflow", "ws"), trace=trace)
        cores.append((mp, steps, run))
        procs.append(done)
    finish = [0.0] * len(procs)

    def watch(i: int, p):
        yield p
        finish[i] = env.now

    env.run(until=env.all_of([env.process(watch(i, p)) for i, p in enumerate(procs)]))
    for (_, _, run), t in zip(cores, finish):
        run.cycles = t
    total = OpRun(steps=sum(r.steps for _, _, r in cores), cycles=env.now)
    total.compute_cycles = max(r.compute_cycles for _, _, r in cores)  # the busiest core's compute
    for f in ("compute_missing_steps", "stall_input", "stall_output", "stall_drain",
              "dram_read_bytes", "dram_write_bytes", "dram_busy_cycles", "array_fill", "array_steady",
              "array_drain", "array_weight_load"):
        setattr(total, f, sum(getattr(r, f) for _, _, r in cores))
    if trace:  # the trace draws core 0 (one track per block); the other cores' tracks are not drawn
        total.events = cores[0][2].events
    return cores[0][0], total, cores
