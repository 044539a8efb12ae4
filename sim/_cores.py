"""Several cores sharing one DRAM: how an op is split across ``HardwareConfig.cores`` cores and
how the parts run together.

Split rules (``split_op``), parts as equal as whole units allow (sizes differ by at most one):

* a GEMM of ``count`` independent instances (attention heads) with ``count >= cores``: by
  instances (heads);
* any other GEMM: over a grid of row blocks (``M``) x column blocks (``N``) whose largest part
  needs the fewest passes of the array (``ceil(m / rows) x ceil(n / cols)`` output tiles: a
  part of 43 rows on a 32-row array takes two), then using the most cores, then moving the
  fewest operand elements (A is loaded once per column block, the weights once per row block;
  without a global buffer duplicated bytes are loaded by each core). A decode GEMV (``M`` = 1)
  is split by columns, each core loading its own slice of the weights;
* a vector op: by rows; an op with fewer rows (or columns) than cores uses that many cores;
* fused attention (``sim._fusion``): by KV heads.

Each core has the hardware's array, SRAM buffers, DMA engines and vector unit
(``sim._engine.start_op``); all cores start together, their DRAM transfers queue FIFO on one
simpy port at the hardware's (sustained) bandwidth, and the op ends when the last core's last
store is done. Parts with equal shapes have equal schedules: each distinct part is mapped once.

With a global buffer (``HardwareConfig.gb_kib``) a GEMM is first cut into global-buffer blocks
(``sim._global_buffer.gemm_plans``: the whole op when its operands fit, else blocks that fit,
the candidate estimated fastest, or none when reading DRAM directly is estimated no slower),
each block is split across the cores as above and tiled at core level by the mapper; every core
runs its parts of the blocks in order as one schedule, its tile loads served by the global
buffer (operands read from DRAM once per block into it). Fused attention stages each KV
head's Q, K and V in it (``plan_attention``). Vector ops, and GEMMs with no block that fits or
no plan estimated faster, read DRAM directly. Hardware without a global buffer runs exactly as
before.
"""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache

import simpy

from mapping import GemmOp, Recipe, VectorOp, map_op, steps_of

from ._engine import OpRun, combine_parts, start_op
from ._fusion import FusedAttention
from ._global_buffer import CoreView, GlobalBuffer, gemm_plans, plan_attention
from ._hwconfig import HardwareConfig

__all__ = ["split_op", "split_with_offsets", "run_cores", "gb_plan", "gb_schedules", "Joined", "Runs"]


def _parts(total: int, n: int) -> list[int]:
    """``total`` split into ``min(n, total)`` parts as equal as integers allow (larger first)."""
    n = min(n, total)
    q, r = divmod(total, n)
    return [q + 1] * r + [q] * (n - r)


def _grid(op: GemmOp, cores: int, array: tuple[int, int] | None = None) -> tuple[int, int]:
    """(row blocks, column blocks) of a GEMM over ``cores`` cores: with ``array`` (rows, cols),
    the grid whose largest part needs the fewest array folds (``ceil(m / rows) x ceil(n / cols)``
    output tiles of the array, each streaming K), then the grid using the most cores, then the
    one moving the fewest operand elements (A is read once per column block, B once per row
    block); without ``array`` folds are not counted."""
    return _grid_cached(op.M, op.K, op.N, op.count if not op.b_shared else 1, cores, array)


@lru_cache(maxsize=4096)
def _grid_cached(M: int, K: int, N: int, b_copies: int, cores: int, array) -> tuple[int, int]:
    best = None
    for gm in range(1, min(cores, M) + 1):
        for gn in range(min(cores // gm, N), 0, -1) if array is not None else (min(cores // gm, N),):
            folds = (-(-(-(-M // gm)) // array[0]) * -(-(-(-N // gn)) // array[1])) if array is not None else 0
            key = (folds, -(gm * gn), gn * M * K + gm * K * N * b_copies, gm)
            if best is None or key < best[0]:
                best = (key, gm, gn)
    return best[1], best[2]


def _offsets(sizes: list[int]) -> list[int]:
    out, acc = [], 0
    for x in sizes:
        out.append(acc)
        acc += x
    return out


def split_with_offsets(op, cores: int, array: tuple[int, int] | None = None
                       ) -> list[tuple[object, tuple[int, int, int]]]:
    """``split_op``'s parts with where each starts in ``op``: (part, (first instance, first row,
    first column)); vector ops' rows are counted as rows."""
    if cores == 1:
        return [(op, (0, 0, 0))]
    if not isinstance(op, (GemmOp, VectorOp)) or (isinstance(op, GemmOp) and op.count >= cores):
        ps = _parts(op.count, cores)  # heads (fused attention: KV heads)
        return [(replace(op, count=c), (i, 0, 0)) for c, i in zip(ps, _offsets(ps))]
    if isinstance(op, GemmOp):
        gm, gn = _grid(op, cores, array)
        pm, pn = _parts(op.M, gm), _parts(op.N, gn)
        return [(replace(op, M=m, N=n), (0, m0, n0)) for m, m0 in zip(pm, _offsets(pm))
                for n, n0 in zip(pn, _offsets(pn))]
    ps = _parts(op.rows, cores)
    return [(replace(op, rows=r), (0, r0, 0)) for r, r0 in zip(ps, _offsets(ps))]


def split_op(op, cores: int, array: tuple[int, int] | None = None) -> list:
    """The parts of ``op`` one per core (fewer when the op has fewer heads/columns/rows than
    ``cores``); a one-core split is ``[op]`` itself. ``array``: the cores' (rows, cols), which
    makes a GEMM's grid count array folds (``_grid``)."""
    return [p for p, _ in split_with_offsets(op, cores, array)]


def run_cores(op, recipe: Recipe, hw: HardwareConfig, timing, *, trace: bool = False,
              schedule=None) -> tuple[object, OpRun, list]:
    """Simulate ``op`` split over ``hw.cores`` cores sharing one DRAM port (and the global
    buffer, if any: see the module docstring); ``schedule(part)`` gives a part's (mapping,
    steps) (default: ``mapping.map_op`` and ``steps_of``).

    Returns (the mapping of core 0's (first) part; the op's ``OpRun``: ``cycles`` the time of
    the last core, ``compute_cycles`` the busiest core's compute, bytes, DRAM busy (the global
    buffer's fills included), global-buffer reads and busy, stall and array cycles summed over
    cores, every core's events and the fills'; the per-core (mapping, steps, OpRun) list).
    """
    env = simpy.Environment()
    port = simpy.Resource(env, capacity=1)
    lim = hw.limits()
    mapped: dict = {}

    def sched(part):
        key = replace(part, name="")
        if key not in mapped:
            if schedule is not None:
                mapped[key] = schedule(part)
            else:
                mp = map_op(part, recipe, lim, timing.array_cycles)
                mapped[key] = (mp, steps_of(mp))
        return mapped[key]

    cores, procs = [], []
    plan = gb_plan(op, recipe, hw, sched)
    gbuf = None
    if plan is None:
        for c, part in enumerate(split_op(op, hw.cores, (hw.array_rows, hw.array_cols))):
            mp, steps = sched(part)
            done, run = start_op(env, port, steps, hw, timing, dataflow=getattr(mp, "dataflow", "ws"), trace=trace,
                                 core=c)
            cores.append((mp, steps, run))
            procs.append(done)
    else:
        gbuf = GlobalBuffer(env, port, hw, plan, trace=trace)
        for c, (mp, steps, df, dfs, view) in enumerate(gb_schedules(op, plan, gbuf, hw.cores, sched,
                                                                         (hw.array_rows, hw.array_cols))):
            done, run = start_op(env, port, steps, hw, timing, dataflow=df, dataflows=dfs, trace=trace,
                                 gb=view, core=c)
            cores.append((mp, steps, run))
            procs.append(done)
        gbuf.start()
    finish = [0.0] * len(procs)

    def watch(i: int, p):
        yield p
        finish[i] = env.now

    env.run(until=env.all_of([env.process(watch(i, p)) for i, p in enumerate(procs)]))
    for (_, _, run), t in zip(cores, finish):
        run.cycles = t
    total = combine_parts([r for _, _, r in cores], env.now)
    if gbuf is not None:  # the global buffer's DRAM fills
        total.dram_read_bytes += gbuf.dram_read_bytes
        total.gb_fill_bytes = gbuf.dram_read_bytes
        total.dram_busy_cycles += gbuf.dram_busy_cycles
    if trace:  # every core's events (each carries its core index) and the global buffer's fills
        total.events = [e for _, _, r in cores for e in r.events] + (gbuf.trace_events if gbuf else [])
    return cores[0][0], total, cores


def gb_plan(op, recipe: Recipe, hw: HardwareConfig, sched):
    """The global-buffer plan ``op`` runs with (``sim._global_buffer``): the whole op when it fits,
    else the candidate estimated fastest, or None (no buffer, a vector op, nothing fits, or the
    cores reading DRAM directly estimated no slower); ``sched(part)`` gives a part's (mapping,
    steps)."""
    plans = []
    if hw.gb_kib and isinstance(op, GemmOp):
        plans = gemm_plans(op, recipe, hw)
    elif hw.gb_kib and isinstance(op, FusedAttention):
        plans = [p for p in (plan_attention(op, recipe, hw),) if p is not None]
    plan = plans[0] if plans else None
    if plan is not None and plan.scheme != "fits":  # the fastest estimate, or no buffer
        plan = _fastest(op, plans, hw, sched)
    return plan


def _fastest(op, plans: list, hw: HardwareConfig, sched):
    """The plan of ``plans`` (none of which holds the whole op) estimated fastest, or None when
    the cores reading DRAM directly are estimated no slower: each way's time is the larger of
    its bytes over each port's bandwidth and the busiest core's array cycles (the mapper's). A
    buffer too small or too slow cuts the op into small blocks whose core parts re-read their
    operands over its port."""
    arr = (hw.array_rows, hw.array_cols)
    loads: dict = {}

    def cost(part) -> tuple[int, float]:
        mp, st = sched(part)
        if id(st) not in loads:
            loads[id(st)] = sum(n for s in st for _, n in s.loads)
        return loads[id(st)], float(getattr(mp, "compute_cycles", 0) or 0)

    direct = [cost(p) for p in split_op(op, hw.cores, arr)]
    best, t_best = None, max(sum(b for b, _ in direct) / hw.dram_bytes_per_cycle, max(c for _, c in direct))
    for plan in plans:
        gb_bytes, busy = 0, [0.0] * hw.cores
        for blk in plan.blocks:
            for c, (part, _) in enumerate(split_with_offsets(blk.op(op), hw.cores, arr)):
                b, cyc = cost(part)
                gb_bytes += b
                busy[c] += cyc
        t = max(sum(g.nbytes_full for g in plan.groups) / hw.dram_bytes_per_cycle,
                gb_bytes / hw.gb_bytes_per_cycle, max(busy))
        if t < t_best:
            best, t_best = plan, t
    return best


class Joined(Sequence):
    """The concatenation of lists, read in place (a core's steps over its parts of the global
    buffer's blocks: the parts of equal shape share one schedule, so a copy per core would hold
    one reference per step and core). Slices are lists."""

    def __init__(self, lists: list) -> None:
        self._lists = lists
        self._starts = _offsets([len(x) for x in lists])
        self._len = sum(len(x) for x in lists)

    def __len__(self) -> int:
        return self._len

    def __iter__(self):
        for x in self._lists:
            yield from x

    def __getitem__(self, t):
        if isinstance(t, slice):
            return [self[i] for i in range(*t.indices(self._len))]
        if t < 0:
            t += self._len
        if not 0 <= t < self._len:
            raise IndexError(t)
        k = bisect_right(self._starts, t) - 1
        return self._lists[k][t - self._starts[k]]


class Runs(Sequence):
    """A sequence given as runs of one value: ``[(value, count), ...]`` (a core's dataflow per
    step, one run per part)."""

    def __init__(self, runs: list) -> None:
        self._joined = Joined([_Same(v, k) for v, k in runs])

    def __len__(self) -> int:
        return len(self._joined)

    def __getitem__(self, t):
        return self._joined[t]


class _Same(Sequence):
    def __init__(self, value, count: int) -> None:
        self._value, self._count = value, count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, t):
        if isinstance(t, slice):
            return [self._value] * len(range(*t.indices(self._count)))
        if not -self._count <= t < self._count:
            raise IndexError(t)
        return self._value


def gb_schedules(op, plan, gbuf: GlobalBuffer, n_cores: int, sched, array: tuple[int, int]) -> list:
    """Per core with work: (mapping of its first part, its parts' steps in block order, the
    dataflow of its first step, a dataflow per step or None when every step has that one, its
    ``CoreView``). Cuts each group into chunks by the first block using it:
    rows (columns) and K by core 0's tile (``Mt``, ``Nt``, ``Kt``) of that block."""
    per_core: list[list] = [[] for _ in range(n_cores)]
    for blk in plan.blocks:
        parts = split_with_offsets(blk.op(op), n_cores, array)
        blk.pending = len(parts)
        for c, (part, (pi, pm, pn)) in enumerate(parts):
            mp, steps = sched(part)
            per_core[c].append((blk, part, (blk.i0 + pi, blk.m0 + pm, blk.n0 + pn), mp, steps))
        if not isinstance(op, GemmOp):  # fused attention: one chunk per Q, K, V of a head
            for g in blk.a_groups:
                gbuf.chunk(g, 1, g.K)
            continue
        mp0 = per_core[0][-1][3]
        for g in blk.a_groups:
            gbuf.chunk(g, getattr(mp0, "Mt", blk.m1 - blk.m0), getattr(mp0, "Kt", op.K))
        for g in blk.b_groups:
            gbuf.chunk(g, getattr(mp0, "Nt", blk.n1 - blk.n0), getattr(mp0, "Kt", op.K))
    out = []
    first = gbuf.first_need
    layouts: dict = {}  # _gemm_layout per (mapping, steps): per_core holds those objects alive
    shared: dict = {}  # a part's chunk ids per step, one list for every core reading the same rows (columns)
    pool = list(range(len(gbuf.events)))  # one int object per chunk id, however many tuples hold it
    uses: dict = {}  # id of such a list -> the first step reading each of its tuples
    for c, entries in enumerate(per_core):
        if not entries:
            continue
        parts_steps, dfs, needs_a, needs_b, ends, n = [], [], [], [], {}, 0
        for blk, part, (i0, m0, n0), mp, st in entries:
            if isinstance(part, GemmOp):
                a, b = _gemm_needs(op, blk, part, (i0, m0, n0), mp, st, layouts, shared, pool)
            else:
                a, b = _attention_needs(blk, part, i0, st), _no_needs(st, shared)
            needs_a.append(a)
            needs_b.append(b)
            dfs.append((getattr(mp, "dataflow", "ws"), len(st)))
            parts_steps.append(st)
            n += len(st)
            ends[n - 1] = blk
        steps = Joined(parts_steps)  # the parts' (shared) step lists, not a copy per core
        s0 = 0
        for st, a, b in zip(parts_steps, needs_a, needs_b):  # the earliest point of any core's schedule reading a chunk
            for needs in (a, b):
                for t, ids in _first_uses(needs, uses):
                    f = (s0 + t) / n
                    for cid in (ids,) if ids.__class__ is int else ids:
                        if f < first.get(cid, 2.0):
                            first[cid] = f
            s0 += len(st)
        uniform = all(df == dfs[0][0] for df, _ in dfs)
        out.append((entries[0][3], steps, dfs[0][0], None if uniform else Runs(dfs),
                    CoreView(gbuf, needs_a, needs_b, ends, c)))
    return out


def _first_uses(needs: list, uses: dict) -> list:
    """(step, chunk ids) of the first step of ``needs`` (a part's chunk ids per step: a tuple,
    or one id as an int) reading each of its entries, empty ones left out; ``uses``: a memo by
    the list's id (its holder keeps the list alive)."""
    got = uses.get(id(needs))
    if got is None:
        seen: set[int] = set()
        got = uses[id(needs)] = []
        for t, ids in enumerate(needs):
            if ids != () and id(ids) not in seen:
                seen.add(id(ids))
                got.append((t, ids))
    return got


def _no_needs(st: list, shared: dict) -> list:
    """No chunk ids for each step of ``st`` (one list per steps object)."""
    key = ("none", id(st))
    if key not in shared:
        shared[key] = [()] * len(st)
    return shared[key]


def _gemm_layout(part: GemmOp, mp, st: list) -> tuple[bool, list]:
    """Whether a GEMM part's steps are the mapper's (``mapping.gemm_steps``, every step's tile
    shape checked), and per step (instance, row tile, K tile, column tile, loads A, loads B);
    the tiles are None when the steps are not the mapper's. A pure function of the part's shape,
    its mapping and steps: ``gb_schedules`` computes it once per distinct (mapping, steps)."""
    Mt, Kt, Nt = (getattr(mp, x, d) for x, d in (("Mt", part.M), ("Kt", part.K), ("Nt", part.N)))
    nm, nk, nn = -(-part.M // Mt), -(-part.K // Kt), -(-part.N // Nt)
    per = nm * nk * nn
    m_outer = getattr(mp, "order", "mnk") in ("mnk", "mnk-ar")
    inner = nn if m_outer else nm

    def tile(t: int) -> tuple[int, int, int, int]:
        i, idx = divmod(t, per)
        q, kk = divmod(idx, nk)
        o, j = divmod(q, inner)
        mi, ni = (o, j) if m_outer else (j, o)
        return i, mi, kk, ni

    exact = len(st) == part.count * per
    if exact:
        for t, s in enumerate(st):
            _, mi, kk, ni = tile(t)
            if s.work != ("gemm", min(Mt, part.M - mi * Mt), min(Kt, part.K - kk * Kt), min(Nt, part.N - ni * Nt)):
                exact = False
                break
    out = []
    for t, s in enumerate(st):
        has_a = any(b in ("a", "ar") and n for b, n in s.loads)
        has_b = any(b in ("b", "br") and n for b, n in s.loads)  # "br": mapping order "nmk-br"
        out.append((tile(t) if exact else None, has_a, has_b))
    return exact, out


def _gemm_needs(op: GemmOp, blk, part: GemmOp, at: tuple[int, int, int], mp, st: list,
                layouts: dict | None = None, shared: dict | None = None, pool: list | None = None
                ) -> tuple[list, list]:
    """(A chunk ids, B chunk ids) each step of a GEMM part (first instance, row, column ``at``
    in ``op``) reads: its tile's rows (columns) and K range when the steps are the mapper's
    (``mapping.gemm_steps``: instances, then M and N in the order's nesting, K innermost; every
    step's tile shape is checked), else the part's whole operands for every load. ``layouts``:
    a memo of ``_gemm_layout`` by the ids of (mapping, steps) and the part's shape; ``shared``:
    a memo of the lists, A's by (block, part's shape, mapping, steps, first instance and row),
    B's by the same with the first column instead of the row, so the cores of one row (column)
    of the core grid share A's (B's) list; both valid while those objects are alive (the
    caller holds them). ``pool``: the chunk ids as ints to take (the same int objects in every
    entry; a step reading one chunk then holds its id alone, an int, not a 1-tuple), else new
    ones in tuples."""
    i0, m0, n0 = at
    lkey = (id(mp), id(st), part.count, part.M, part.K, part.N)
    if layouts is None or lkey not in layouts:
        layout = _gemm_layout(part, mp, st)
        if layouts is not None:
            layouts[lkey] = layout
    else:
        layout = layouts[lkey]
    out = []
    for operand, off in (("a", m0), ("b", n0)):
        key = (operand, id(blk), i0, off) + lkey
        if shared is None or key not in shared:
            ids = _operand_needs(op, blk, part, at, mp, layout, operand, pool)
            if shared is not None:
                shared[key] = ids
        else:
            ids = shared[key]
        out.append(ids)
    return out[0], out[1]


def _operand_needs(op: GemmOp, blk, part: GemmOp, at: tuple[int, int, int], mp, layout: tuple[bool, list],
                   operand: str, pool: list | None = None) -> list:
    """A's ("a") or B's ("b") chunk ids per step of a GEMM part (``_gemm_needs``), steps reading
    the same tile sharing one tuple."""
    i0, m0, n0 = at
    Mt, Kt, Nt = (getattr(mp, x, d) for x, d in (("Mt", part.M), ("Kt", part.K), ("Nt", part.N)))
    exact, per_step = layout
    memo: dict = {}
    out = []
    whole = tuple(range(i0, i0 + part.count))
    a = operand == "a"
    for tl, has_a, has_b in per_step:
        if not (has_a if a else has_b):
            out.append(())
            continue
        if exact:
            i, mi, kk, ni = tl
            insts = (i0 + i,)
            lo, hi = (m0 + mi * Mt, m0 + min(part.M, (mi + 1) * Mt)) if a else \
                     (n0 + ni * Nt, n0 + min(part.N, (ni + 1) * Nt))
            k0, k1 = kk * Kt, min(part.K, (kk + 1) * Kt)
        else:
            insts, (lo, hi), (k0, k1) = whole, ((m0, m0 + part.M) if a else (n0, n0 + part.N)), (0, part.K)
        key = (insts, lo, k0)
        if key not in memo:
            groups = [blk.a_groups[i - blk.i0] if a else blk.b_groups[0 if op.b_shared else i - blk.i0]
                      for i in insts]
            ids = [x for g in groups for x in g.ids(lo, hi, k0, k1)]
            memo[key] = (tuple(ids) if pool is None else pool[ids[0]] if len(ids) == 1
                         else tuple([pool[x] for x in ids]))
        out.append(memo[key])
    return out


def _attention_needs(blk, part, i0: int, st: list) -> list:
    """Chunks each step of a fused attention part reads (``sim._fusion.fused_attention_steps``:
    per head and query block QKᵀ, softmax, P·V): Q and K for the first, V for the third. Any other
    step layout: the head's Q, K and V for every load. Steps reading the same chunks share one
    tuple."""
    per = len(st) // part.count if part.count and len(st) % part.count == 0 else 0
    exact = per and per % 3 == 0 and all(s.work[0] == ("vector" if t % per % 3 == 1 else "gemm")
                                         for t, s in enumerate(st))
    out = []
    tuples: dict = {}
    for t, s in enumerate(st):
        if not s.loads:
            out.append(())
            continue
        heads = [i0 + t // per] if exact else range(i0, i0 + part.count)
        ids: list[int] = []
        for h in heads:
            q, k, v = blk.a_groups[3 * (h - blk.i0): 3 * (h - blk.i0) + 3]
            j = t % per % 3 if exact else None
            if any(b == "a" and n for b, n in s.loads):
                ids.append(q.first)
            if any(b in ("b", "br") and n for b, n in s.loads):
                ids += [k.first] if j == 0 else [v.first] if j == 2 else [k.first, v.first]
        key = tuple(ids)
        out.append(tuples.setdefault(key, key))
    return out
