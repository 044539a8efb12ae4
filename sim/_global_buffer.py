"""The global buffer shared by the cores (``HardwareConfig.gb_kib``, ``gb_gbps``): which blocks of
a GEMM it holds, in which order they are read from DRAM, and how the cores' tile loads are
served from it.

Planning (``plan_gemm``), the two-level tiling:

* when the op's operands (every instance's A and B; B once if shared) fit the buffer, the op is
  one block: A and B are read from DRAM once;
* otherwise, with several instances (heads), blocks of whole instances whose A and B fit half the
  buffer (double buffering);
* otherwise, per instance, one operand stays in the buffer while the other streams through it
  in double-buffered blocks: A-stationary (row blocks of A with all of K, resident, against
  column blocks of B: ``resident + 2 x streamed <= capacity``; DRAM bytes A + row blocks x B) or
  B-stationary (the mirror image), each with its block sizes moving the fewest DRAM bytes
  (``gemm_plans``; ``plan_gemm`` is the one of fewest bytes). Blocks keep all of K: the cores
  accumulate whole output tiles. ``sim._cores`` takes the candidate estimated fastest (the
  larger of its bytes over each port's bandwidth and the busiest core's array cycles), or reads
  DRAM directly, as without a global buffer, when that is estimated no slower (a buffer too
  small or too slow to help) or when nothing fits.

Fused attention (``plan_attention``): per KV head its Q, K and V are read into the buffer once
(all heads when they fit, else blocks of heads), so the query blocks of a head read K and V
from the buffer, not DRAM.

Each block is a GEMM split across the cores by ``sim._cores`` and tiled at core level by the
mapper; a core runs its parts of the blocks in block order, one schedule.

Contents and timing (``GlobalBuffer``): the operands are cut into chunks (a row range of A or a
column range of B, by the core grid of the block, times a K range of the core mapping's ``Kt``);
chunks belong to groups (a block's A or B, or a resident row/column block) that are admitted in
order when the buffer has room for them (a simpy ``Container`` of the capacity in bytes) and
then read from DRAM in the order the cores first need them (the earliest fraction of any core's
schedule whose step reads the chunk: K order for a GEMM, heads taken round the cores for
attention), one DRAM transfer per chunk on the shared DRAM port (its latency pipelined); chunks
no step reads are not fetched. A group leaves the buffer when every core has finished every block that reads it.
A core's tile load waits for the chunks overlapping its part's rows (or columns) and the tile's
K range, then crosses the global buffer's port (one simpy ``Resource`` all cores contend on) at
``gb_bytes_per_cycle``. Outputs are stored to DRAM directly (a chain of ops may keep one in the
buffer for its readers, ``sim._overlap``: an operand ``resident`` there is never filled). DRAM
bytes are each chunk once: the compulsory A + B when the op fits.
"""
from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field, replace

import simpy

from mapping import GemmOp, Recipe

from ._engine import cross_port
from ._hwconfig import HardwareConfig

__all__ = ["Block", "Group", "GemmPlan", "gemm_plans", "plan_gemm", "plan_attention", "GlobalBuffer", "CoreView"]


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


@dataclass
class Group:
    """Chunks of one operand held together: ``operand`` "a" (rows ``lo..hi`` of A of instance
    ``inst``) or "b" (columns ``lo..hi`` of B), all of K; chunks of ``rg`` rows/columns x ``kg``
    of K (``rg``, ``kg`` set when the first block using it is split)."""

    operand: str
    inst: int
    lo: int
    hi: int
    K: int
    bpe: float
    rg: int = 0
    kg: int = 0
    first: int = 0  # id of its first chunk
    chunk_bytes: list = field(default_factory=list)
    pending: int = 0  # blocks still to finish that read it
    live_bytes: int = 0  # bytes of its chunks some step reads (what it takes in the buffer)

    @property
    def nr(self) -> int:
        return _cdiv(self.hi - self.lo, self.rg)

    @property
    def nk(self) -> int:
        return _cdiv(self.K, self.kg)

    @property
    def nbytes(self) -> int:
        return sum(self.chunk_bytes)

    @property
    def nbytes_full(self) -> int:
        """Bytes of all its rows (columns) x K, before it is cut into chunks."""
        return math.ceil((self.hi - self.lo) * self.K * self.bpe)

    def ids(self, lo: int, hi: int, k0: int, k1: int) -> list[int]:
        """Chunk ids overlapping rows (columns) ``lo..hi`` and K ``k0..k1`` (absolute, half-open)."""
        lo, hi = max(lo, self.lo), min(hi, self.hi)
        r0, r1 = (lo - self.lo) // self.rg, (hi - 1 - self.lo) // self.rg
        c0, c1 = k0 // self.kg, (k1 - 1) // self.kg
        return [self.first + r * self.nk + c for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)]


@dataclass
class Block:
    """A GEMM block: instances ``i0..i1``, rows ``m0..m1``, columns ``n0..n1``, all of K; the
    groups holding its A and B (one per instance each)."""

    i0: int
    i1: int
    m0: int
    m1: int
    n0: int
    n1: int
    a_groups: list
    b_groups: list
    pending: int = 0  # core parts still running

    def op(self, op):
        """The block as an op of its own (fused attention: its heads)."""
        if not isinstance(op, GemmOp):
            return replace(op, count=self.i1 - self.i0)
        return replace(op, M=self.m1 - self.m0, N=self.n1 - self.n0, count=self.i1 - self.i0)


@dataclass
class GemmPlan:
    """Blocks in execution order, groups in admission order (lists of groups admitted together)
    and the scheme's name ("fits", "instances", "a-stationary", "b-stationary")."""

    scheme: str
    blocks: list
    units: list

    @property
    def groups(self) -> list:
        return [g for u in self.units for g in u]


def _group_bytes(rows: int, K: int, bpe: float) -> int:
    return math.ceil(rows * K * bpe)


def _stationary(op: GemmOp, a: float, b: float, cap: int, cols: int) -> list[tuple]:
    """Per scheme its fewest-DRAM-bytes blocking of one instance, ((traffic, blocks), scheme, Ms,
    Ns): A-stationary row blocks of ``Ms`` rows (all of K) against column blocks of ``Ns`` (at
    least ``cols``, an array width), B-stationary the mirror image (row blocks of A of at least
    one row); a scheme with no blocking that fits is left out."""
    out = []
    M, K, N = op.M, op.K, op.N
    for scheme, outer, inner, ob, ib in (("a-stationary", M, N, a, b), ("b-stationary", N, M, b, a)):
        n_out = 1
        while True:
            size = _cdiv(outer, n_out)
            res = _group_bytes(size, K, ob)
            room = (cap - res) // 2
            fit = int(room // (K * ib)) if room > 0 else 0
            lo = min(inner, cols if scheme == "a-stationary" else 1)
            if fit >= lo:
                n_in = _cdiv(inner, min(inner, fit))
                stream = _cdiv(inner, n_in)
                blocks_out = _cdiv(outer, size)
                traffic = _group_bytes(outer, K, ob) + blocks_out * _group_bytes(inner, K, ib)
                ms, ns = (size, stream) if scheme == "a-stationary" else (stream, size)
                out.append(((traffic, blocks_out * n_in), scheme, ms, ns))
                break  # more outer blocks only add traffic
            if size == 1:
                break
            n_out = _cdiv(outer, size - 1)  # the next smaller resident block
    return out


def gemm_plans(op: GemmOp, recipe: Recipe, hw: HardwareConfig) -> list[GemmPlan]:
    """The candidate global-buffer plans of ``op`` (see the module docstring): ``[fits]``,
    ``[instances]``, or each stationary scheme's fewest-bytes blocking (fewest bytes first);
    empty when the hardware has no global buffer or nothing fits."""
    cap = hw.gb_kib * 1024
    if not cap:
        return []
    a, b = recipe.bytes_per_element(op.a_role), recipe.bytes_per_element(op.b_role)
    A, B = _group_bytes(op.M, op.K, a), _group_bytes(op.K, op.N, b)
    nb = 1 if op.b_shared else op.count
    blocks, units = [], []

    def groups_for(i0: int, i1: int, m0: int, m1: int, n0: int, n1: int, shared_b=None):
        ag = [Group("a", i, m0, m1, op.K, a) for i in range(i0, i1)]
        bg = shared_b if shared_b is not None else [Group("b", 0 if op.b_shared else i, n0, n1, op.K, b)
                                                     for i in range(i0, i1 if not op.b_shared else i0 + 1)]
        return ag, bg

    if op.count * A + nb * B <= cap:
        ag, bg = groups_for(0, op.count, 0, op.M, 0, op.N)
        blocks.append(Block(0, op.count, 0, op.M, 0, op.N, ag, bg))
        units.append(ag + bg)
        return [GemmPlan("fits", blocks, units)]
    if op.count > 1:
        shared = B if op.b_shared else 0
        per = A + (0 if op.b_shared else B)
        ci = int((cap - shared) // (2 * per)) if cap > shared else 0
        if ci >= 1:
            shared_b = [Group("b", 0, 0, op.N, op.K, b)] if op.b_shared else None
            for i0 in range(0, op.count, ci):
                i1 = min(op.count, i0 + ci)
                ag, bg = groups_for(i0, i1, 0, op.M, 0, op.N, shared_b)
                blocks.append(Block(i0, i1, 0, op.M, 0, op.N, ag, bg))
                units.append(ag + (bg if shared_b is None or i0 == 0 else []))
            return [GemmPlan("instances", blocks, units)]
    return [_stationary_plan(op, scheme, ms, ns, a, b)
            for _, scheme, ms, ns in sorted(_stationary(op, a, b, cap, hw.array_cols))]


def plan_gemm(op: GemmOp, recipe: Recipe, hw: HardwareConfig) -> GemmPlan | None:
    """The global-buffer plan of ``op`` moving the fewest DRAM bytes (``gemm_plans``' first);
    None when the hardware has no global buffer or nothing fits."""
    plans = gemm_plans(op, recipe, hw)
    return plans[0] if plans else None


def _stationary_plan(op: GemmOp, scheme: str, ms: int, ns: int, a: float, b: float) -> GemmPlan:
    """Blocks of ``ms`` rows x ``ns`` columns, per instance, the resident operand's block outer."""
    blocks, units = [], []
    for i in range(op.count):
        if scheme == "a-stationary":
            for m0 in range(0, op.M, ms):
                m1 = min(op.M, m0 + ms)
                ag = [Group("a", i, m0, m1, op.K, a)]
                for j, n0 in enumerate(range(0, op.N, ns)):
                    n1 = min(op.N, n0 + ns)
                    bg = [Group("b", 0 if op.b_shared else i, n0, n1, op.K, b)]
                    blocks.append(Block(i, i + 1, m0, m1, n0, n1, ag, bg))
                    units.append((ag if j == 0 else []) + bg)
        else:
            for n0 in range(0, op.N, ns):
                n1 = min(op.N, n0 + ns)
                bg = [Group("b", 0 if op.b_shared else i, n0, n1, op.K, b)]
                for j, m0 in enumerate(range(0, op.M, ms)):
                    m1 = min(op.M, m0 + ms)
                    ag = [Group("a", i, m0, m1, op.K, a)]
                    blocks.append(Block(i, i + 1, m0, m1, n0, n1, ag, bg))
                    units.append(ag + (bg if j == 0 else []))
    return GemmPlan(scheme, blocks, units)


def plan_attention(op, recipe: Recipe, hw: HardwareConfig) -> GemmPlan | None:
    """The global-buffer blocks of a fused attention op (``sim._fusion.FusedAttention``): per KV
    head three groups, its queries Q, keys K and values V (one chunk each), read from DRAM once;
    all heads as one block when they fit, else blocks of heads that fit half the buffer (double
    buffering); None if one head does not. The query blocks of a head then read K and V from the
    buffer instead of DRAM."""
    cap = hw.gb_kib * 1024
    if not cap:
        return None
    a, kv = recipe.bytes_per_element("activation"), recipe.bytes_per_element(op.kv_role)
    q_el, kv_el = op.group * op.tokens * op.head_dim, op.keys * op.head_dim
    per = math.ceil(q_el * a) + 2 * math.ceil(kv_el * kv)
    if op.count * per <= cap:
        ci = op.count
    else:
        ci = int(cap // (2 * per))
        if ci < 1:
            return None
    blocks, units = [], []
    for i0 in range(0, op.count, ci):
        i1 = min(op.count, i0 + ci)
        gs = [Group(x, i, 0, 1, n, b) for i in range(i0, i1) for x, n, b in (("q", q_el, a), ("k", kv_el, kv),
                                                                            ("v", kv_el, kv))]
        blocks.append(Block(i0, i1, 0, 0, 0, 0, gs, []))
        units.append(gs)
    return GemmPlan("fits" if ci == op.count else "instances", blocks, units)


class GlobalBuffer:
    """The global buffer of one op's simulation: its capacity, port, the chunks' arrival events
    and the DRAM fills (``fetcher``); see the module docstring."""

    def __init__(self, env: simpy.Environment, port: simpy.Resource, hw: HardwareConfig, plan: GemmPlan, *,
                 trace: bool = False, gport: simpy.Resource | None = None):
        self.env, self.port, self.hw, self.plan, self.trace = env, port, hw, plan, trace
        #: the buffer's port to the cores (one per chip: a chain's ops share it, ``sim._overlap``)
        self.gport = gport if gport is not None else simpy.Resource(env, capacity=1)
        self.space = None  # sized by start(), once the chunks are cut
        self.fetcher = None  # the process of the DRAM fills (an event: done when the last fill has crossed)
        self.events: list = []
        #: chunk id -> the earliest fraction of any core's schedule at which a step reads it (set by
        #: the caller); chunks absent are read by no step and not fetched
        self.first_need: dict[int, float] = {}
        self.dram_read_bytes = 0
        self.dram_busy_cycles = 0.0
        self.trace_events: list = []

    def chunk(self, g: Group, rg: int, kg: int) -> None:
        """Cut ``g`` into chunks of ``rg`` rows/columns x ``kg`` of K (once)."""
        if g.rg:
            return
        g.rg, g.kg = max(1, rg), max(1, kg)
        g.first = len(self.events)
        for r in range(g.nr):
            rows = min(g.rg, g.hi - g.lo - r * g.rg)
            for c in range(g.nk):
                k = min(g.kg, g.K - c * g.kg)
                g.chunk_bytes.append(math.ceil(rows * k * g.bpe))
                self.events.append(self.env.event())

    def start(self, *, space: simpy.Container | None = None, after: simpy.Event | None = None,
              gates: dict | None = None, resident: dict | None = None) -> None:
        """Count the readers of each group and start the DRAM fills (of the chunks in
        ``first_need`` only: an operand kept in the cores' SRAM, ``sim._fusion``, is not fetched).

        In a chain of ops (``sim._overlap``): ``space`` is the buffer's capacity shared by the
        chain's ops (else one of ``gb_kib`` is made), ``after`` the event the fills wait for (the
        previous op's fills: one fill queue in program order), ``gates`` operand ("a", "b", "q",
        "k", "v") -> the event its chunks' fills wait for (its producers' last stores to DRAM);
        within an admitted unit the ungated chunks are filled first. ``resident``: operand -> the
        event of its producers' last stores into this buffer (a tensor the chain keeps there,
        its bytes held by the chain): its chunks are there then, never read from DRAM, and
        take no room of the op's own."""
        resident = resident or {}
        for g in self.plan.groups:
            if g.operand in resident:
                g.live_bytes = 0
                ids = [g.first + j for j in range(len(g.chunk_bytes))]
                self.env.process(self._arrive(resident[g.operand], ids))
                continue
            g.live_bytes = sum(n for j, n in enumerate(g.chunk_bytes) if g.first + j in self.first_need)
        if space is None:
            slack = len(self.events)  # sub-byte chunks round up: at most one byte each
            cap = self.hw.gb_kib * 1024 + slack
            space = simpy.Container(self.env, capacity=cap, init=cap)
        self.space = space
        for blk in self.plan.blocks:
            for g in {id(g): g for g in blk.a_groups + blk.b_groups}.values():
                g.pending += 1
        self.fetcher = self.env.process(self._fetcher(after, gates or {}, frozenset(resident)))

    def _arrive(self, stored: simpy.Event, ids: list[int]):
        if not stored.triggered:
            yield stored
        for cid in ids:
            self.events[cid].succeed()

    def _fetcher(self, after: simpy.Event | None, gates: dict, resident: frozenset = frozenset()):
        env, bw, lat = self.env, self.hw.dram_bytes_per_cycle, self.hw.dram_latency_cycles
        if after is not None and not after.triggered:
            yield after
        for unit in self.plan.units:
            nbytes = sum(g.live_bytes for g in unit)
            if nbytes:
                yield self.space.get(nbytes)
            need = self.first_need
            order = sorted((gates.get(g.operand) is not None and not gates[g.operand].triggered,
                            need[g.first + j], g.first + j, gi, j) for gi, g in enumerate(unit)
                           for j in range(len(g.chunk_bytes)) if g.first + j in need and g.operand not in resident)
            for gated, _, cid, gi, j in order:
                g = unit[gi]
                if gated and not gates[g.operand].triggered:
                    yield gates[g.operand]
                n = g.chunk_bytes[j]
                self.dram_read_bytes += n
                if bw != math.inf and n:
                    def record(start: float, dt: float, g=g, n=n) -> None:
                        self.dram_busy_cycles += dt
                        if self.trace:
                            self.trace_events.append(("dram", f"fill {g.operand.upper()}[{g.inst}] {n} B", start, dt,
                                                      -1, n, 0))

                    yield from cross_port(env, self.port, n, bw, record)
                if lat:  # pipelined: the port is free during the latency
                    env.timeout(lat).callbacks.append(lambda _e, ev=self.events[cid]: ev.succeed())
                else:
                    self.events[cid].succeed()

    def block_done(self, blk: Block) -> None:
        """One core part of ``blk`` has computed its last step; the groups no block still reads
        leave the buffer."""
        blk.pending -= 1
        if blk.pending:
            return
        for g in {id(g): g for g in blk.a_groups + blk.b_groups}.values():
            g.pending -= 1
            if g.pending == 0 and g.live_bytes:
                self.space.put(g.live_bytes)


class CoreView:
    """One core's use of the global buffer: the chunk ids of A and of B each of its steps reads,
    given per part of its schedule (``needs_a``, ``needs_b``: one list per part, in order,
    holding per step of that part a tuple of chunk ids or one id as an int; the lists and
    tuples may be shared with other cores reading the same rows or columns,
    ``sim._cores.gb_schedules``), and the steps that end a block part (``ends``: step ->
    block)."""

    def __init__(self, gb: GlobalBuffer, needs_a: list, needs_b: list, ends: dict, core: int):
        self.gb, self.ends, self.core = gb, ends, core
        self._parts = list(zip(needs_a, needs_b))
        self._starts = []
        n = 0
        for a, _ in self._parts:
            self._starts.append(n)
            n += len(a)
        self._at = (0, 0, [], [])  # the part last read: (first step, end step, its A ids, its B ids)

    def _part(self, t: int) -> tuple[int, int, list, list]:
        """(first step, end step, A ids, B ids) of the part holding step ``t``."""
        k = bisect_right(self._starts, t) - 1
        a, b = self._parts[k]
        lo = self._starts[k]
        if not lo <= t < lo + len(a):
            raise IndexError(t)
        self._at = (lo, lo + len(a), a, b)
        return self._at

    def needs(self, t: int) -> tuple[tuple, tuple]:
        """(A chunk ids, B chunk ids) step ``t`` reads, each a tuple or one id (an int)."""
        lo, hi, a, b = self._at
        if not lo <= t < hi:
            lo, hi, a, b = self._part(t)
        return a[t - lo], b[t - lo]

    def waits(self, t: int) -> list:
        """The arrival events of the chunks step ``t`` reads that have not happened yet."""
        lo, hi, a, b = self._at  # needs(t), written out: called twice per load
        if not lo <= t < hi:
            lo, hi, a, b = self._part(t)
        events = self.gb.events
        out = []
        for ids in (a[t - lo], b[t - lo]):
            if ids.__class__ is int:
                if not (ev := events[ids]).processed:
                    out.append(ev)
            elif ids:
                out += [ev for cid in ids if not (ev := events[cid]).processed]
        return out

    def serve(self, t: int, nbytes: int, res, what: str):
        """Process body of step ``t``'s load of ``nbytes``: wait for its chunks, cross the port
        (its busy time counted in ``res.gb_busy_cycles``)."""
        gb = self.gb
        for ev in self.waits(t):
            if not ev.processed:
                yield ev
        bw = gb.hw.gb_bytes_per_cycle
        if bw != math.inf and nbytes:
            def record(start: float, dt: float) -> None:
                res.gb_busy_cycles += dt
                if gb.trace:
                    res.events.append(("gb", what, start, dt, self.core, nbytes, 0))

            yield from cross_port(gb.env, gb.gport, nbytes, bw, record)

    def computed(self, t: int) -> None:
        """Step ``t`` has computed: if it ends a block part, tell the buffer."""
        blk = self.ends.get(t)
        if blk is not None:
            self.gb.block_done(blk)
