"""The mapper: for each op of a layer, tiles that fit the SRAM buffers with double buffering,
a loop order and a dataflow (every legal candidate costed, the cheapest kept and the search
reported), and the resulting schedule of tile steps with bytes per transfer derived from the
recipe's formats.

Buffers (``MapperLimits``): ``a`` (activations), ``b`` (weights / K,V), ``c`` (accumulators,
``accumulator_bytes`` per element) for the MAC array, and ``v`` for the vector unit. A GEMM tile
(Mt, Kt, Nt) is legal when two A tiles, two B tiles and two accumulator tiles fit (double
buffering), Kt is a multiple of the array rows and of every block-scale size of the operands
(or all of K) and Nt a multiple of the array columns (or all of N); for the input-stationary
dataflow it is Mt that is a multiple of the columns (or all of M). The smallest legal tile is
1 x min(K, Kq) x min(N, C) (IS: min(M, C) x min(K, Kq) x 1; Kq: the K quantum); an SRAM that
cannot hold it raises ``MappingError``.

Dataflows (``MapperLimits.dataflows``, the hardware's list): "ws" and "os" (``hw.arrays``),
"is" (input-stationary: the WS array on the transposed tile, C^T = B^T A^T, A's K x M block
pinned and B's N columns streamed, so a fold streams Nt instead of Mt rows; ``sim``'s step
timing turns it into ``tile_cycles(dataflow="ws", m=n, k=k, n=m)``; offered only when A and B
have the same width, so the PEs' two operand ports can swap) and "gemv" (a weight-streaming
mode, offered only to GEMMs with fewer rows of A than the array has rows).

Loop orders: K is always innermost (partial sums stay in the accumulator buffer and each
output tile is written once); "mnk" (M outer: the A tile is reused across N when K fits one
tile) or "nmk" (N outer: the weight tile is reused across M when K fits), and "mnk-ar" (M outer
with the activations resident: the Mt x K row block of A is loaded in K pieces during the
first N pass and kept in the ``a`` buffer for the other N tiles, so A is read once; legal when
two such blocks fit the buffer, or one when Mt covers all of M and there is no next block to
load beside it), and its mirror image "nmk-br" (N outer with the weights resident: B's K x Nt
column block is loaded in K pieces during the first M pass and kept in the ``b`` buffer (the
engine's "br") for the other M tiles, so B is read once and A once per column block; legal when
two such blocks fit the ``b`` buffer, or one when Nt is all of N, for one instance or one B
per instance).

The cost of a candidate is a pipelined roofline estimate from T (DRAM bytes / bandwidth), C
(array cycles), the tile count and the DRAM latency (``_pipelined``: a double-buffered slot is
busy for the latency + transfer + compute of its tile, so small tiles cannot hide the latency;
the first inner pass of a resident order, which carries all of the resident operand, and the
other passes are estimated apart), compared to three significant digits; ties go to fewer DRAM
bytes, then fewer tiles. Array cycles come from the caller's ``compute_cycles`` function
(``sim``'s step timing: the array's ``tile_cycles`` or its GEMV mode); if it is ``None`` only
bytes are compared and the dataflow is the first one offered. Operands the caller keeps on
chip (``map_op``'s ``inputs_on_chip`` / ``output_on_chip``: ``sim._fusion``'s residency) cost no
DRAM bytes in the estimate.

The search is reported: ``GemmMapping.search`` (``MapperSearch``) holds the number of tilings
costed, the compulsory DRAM bytes (each operand once, on-chip ones excepted), the cheapest
``SEARCH_KEPT`` candidates and the cheapest of each dataflow, with their estimates and bytes;
``MapperSearch.summary()`` is one line of it. The candidates are costed as numpy columns (one
element per candidate, the scalar arithmetic in the same order, so the same floats), and the
ranking's head is found without rounding and sorting every candidate (``_rank``).

Vector ops: row functions (reductions: softmax, norms; and GELU) keep whole rows, chunked so
that two chunks fit the ``v`` buffer; element-wise functions on the row units (GELU, SiLU·up:
``SPLIT_ROW_FUNCTIONS``) have their rows cut so that every one of ``row_units`` units works;
other element-wise ops (adds, RoPE, embedding rows, KV append) are flattened into chunks.
"""
from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ._recipes import Recipe
from ._workload import GemmOp, Op, VectorOp
from .errors import MappingError

__all__ = ["MapperLimits", "GemmMapping", "VectorMapping", "Step", "Candidate", "MapperSearch", "map_op", "gemm_steps",
           "vector_steps", "steps_of", "block_quantum", "map_gemms", "ROW_FUNCTIONS", "SPLIT_ROW_FUNCTIONS", "SEARCH_KEPT"]

ComputeCycles = Callable[[str, int, int, int], int]


@dataclass(frozen=True)
class MapperLimits:
    """What the mapper needs to know of the hardware (sizes in bytes, bandwidth in bytes/cycle)."""

    array_rows: int
    array_cols: int
    a_bytes: int
    b_bytes: int
    c_bytes: int
    v_bytes: int
    dram_bytes_per_cycle: float
    dataflows: tuple[str, ...] = ("ws", "os")
    dram_latency_cycles: float = 0.0
    row_units: int = 1
    """dataflows of the array; "gemv" (a weight-streaming GEMV mode) is offered only to GEMMs
    with fewer rows of A (M) than the array has rows."""


@dataclass(frozen=True)
class Step:
    """One tile step of a schedule.

    loads : (buffer, bytes) transfers DRAM -> SRAM that must finish before the step computes.
    release : buffers whose current tile is no longer needed after this step.
    work : ("gemm", m, k, n) for the array or ("vector", function, rows, length).
    new_output : the step starts a new output tile (takes an output buffer slot).
    store_bytes : > 0 if the step completes an output tile, written back SRAM -> DRAM.
    """

    loads: tuple[tuple[str, int], ...]
    release: tuple[str, ...]
    work: tuple
    new_output: bool
    store_bytes: int


@dataclass(frozen=True)
class GemmMapping:
    """Chosen tiling of a GEMM op: tile shape, loop order, dataflow and its DRAM traffic."""

    op: GemmOp
    Mt: int
    Kt: int
    Nt: int
    order: str
    dataflow: str
    a_bpe: float
    b_bpe: float
    c_bpe: float
    dram_read_bytes: int
    dram_write_bytes: int
    compute_cycles: int | None
    est_cycles: float | None = None
    """the search's pipelined estimate of the op's cycles (DRAM bytes / bandwidth when no
    timing was given)"""
    search: MapperSearch | None = field(default=None, compare=False, repr=False)
    """what the search costed (``MapperSearch``)"""

    @property
    def tiles(self) -> int:
        o = self.op
        return o.count * _cdiv(o.M, self.Mt) * _cdiv(o.K, self.Kt) * _cdiv(o.N, self.Nt)


#: candidates kept in ``MapperSearch.ranked`` (the chosen one first)
SEARCH_KEPT = 5


@dataclass(frozen=True)
class Candidate:
    """One costed tiling of a GEMM: tile (Mt, Kt, Nt), loop order, dataflow, the pipelined
    estimate of the op's cycles (DRAM bytes / bandwidth without timing), its DRAM bytes, array
    cycles (``None`` without timing) and tile count."""

    Mt: int
    Kt: int
    Nt: int
    order: str
    dataflow: str
    est_cycles: float
    dram_read_bytes: int
    dram_write_bytes: int
    compute_cycles: int | None
    tiles: int

    @property
    def label(self) -> str:
        """``MtxKtxNt order dataflow``."""
        return f"{self.Mt}x{self.Kt}x{self.Nt} {self.order} {self.dataflow}"


@dataclass(frozen=True)
class MapperSearch:
    """The report of one GEMM's search: how many tilings were costed, the compulsory DRAM bytes
    (each operand moved once, on-chip operands excepted), the cheapest candidates in rank order
    (``ranked[0]`` is the chosen mapping; loop orders of one tile moving the same bytes appear
    once) and the cheapest candidate of each dataflow."""

    evaluated: int
    compulsory_bytes: int
    ranked: tuple[Candidate, ...]
    per_dataflow: tuple[Candidate, ...]

    @property
    def traffic_ratio(self) -> float:
        """DRAM bytes of the chosen mapping over the compulsory bytes (``inf`` if those are 0
        and it moves some; 1 if both are 0)."""
        w = self.ranked[0]
        moved = w.dram_read_bytes + w.dram_write_bytes
        if self.compulsory_bytes == 0:
            return 1.0 if moved == 0 else math.inf
        return moved / self.compulsory_bytes

    def summary(self) -> str:
        """One line: chosen tiling and estimate, bytes against the compulsory ones, the runner-up,
        the best of each other dataflow."""
        w = self.ranked[0]
        moved = w.dram_read_bytes + w.dram_write_bytes
        text = (f"{self.evaluated} tilings costed; chosen {w.label} est {w.est_cycles:.4g} cycles, "
                f"{moved / 1e6:.4g} MB DRAM = {self.traffic_ratio:.3g}x compulsory "
                f"{self.compulsory_bytes / 1e6:.4g} MB")
        if len(self.ranked) > 1:
            r = self.ranked[1]
            text += f"; next {r.label} est {r.est_cycles:.4g}"
            if w.est_cycles:
                text += f" ({(r.est_cycles / w.est_cycles - 1) * 100:+.1f}%)"
        others = [cd for cd in self.per_dataflow if cd.dataflow != w.dataflow]
        if others:
            text += "; best " + ", ".join(f"{cd.dataflow} {cd.label.split()[0]} est {cd.est_cycles:.4g}"
                                          for cd in others)
        return text


@dataclass(frozen=True)
class VectorMapping:
    """Chosen chunking of a vector op (rows x columns per chunk) and its DRAM traffic; an
    elementwise op is flattened to one row."""

    op: VectorOp
    rows_per_chunk: int
    in_bpe: float
    out_bpe: float
    dram_read_bytes: int
    dram_write_bytes: int
    cols_per_chunk: int

    @property
    def tiles(self) -> int:
        return _cdiv(self.op.rows, self.rows_per_chunk) * _cdiv(self.op.length, self.cols_per_chunk)


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def block_quantum(recipe: Recipe, role: str) -> int:
    """Block size of the scales of the tensor of ``role`` along its reduction axis (1 if none)."""
    q = {"weight": recipe.weights, "activation": recipe.activations, "kv": recipe.kv_cache}.get(role)
    if q is None:
        return 1
    return getattr(q.format, "block_size", 1) if q.granularity == "block" else 1


def _bpe(recipe: Recipe, role: str) -> float:
    return recipe.bytes_per_element(role)


def _candidates(full: int, quantum: int, lo: int) -> list[int]:
    """Tile sizes along a dimension of ``full``: all of it, and for each power-of-two multiple t
    of ``quantum`` from ``lo`` up, the size cutting ``full`` into as many tiles as t does but of
    equal sizes (rounded up to the quantum), so that no short last tile leaves a double-buffered
    load unhidden behind its compute."""
    out = {full}
    t = max(lo, quantum)
    while t < full:
        out.add(quantum * _cdiv(_cdiv(full, _cdiv(full, t)), quantum))
        t *= 2
    return sorted(out)


def _traffic(nm: np.ndarray, nk: np.ndarray, nn: np.ndarray, order: np.ndarray, count: np.ndarray,
             shared: np.ndarray, a_one: np.ndarray, b_one: np.ndarray, a_keep: np.ndarray) -> np.ndarray:
    """DRAM read bytes of tilings cutting M, K, N into ``nm``, ``nk``, ``nn`` tiles in loop orders
    ``order`` (indices of ``_ORDERS``), of GEMMs of ``count`` instances (``shared``: one B for
    all), A and B of ``a_one``, ``b_one`` bytes, ``a_keep`` the fraction of A not on chip (all
    arrays, one element per tiling)."""
    # "mnk-ar" reads A once, "nmk-br" B once; "mnk" reuses the A tile across N when K fits one
    # tile, "nmk" the B tile across M
    a_passes = np.where(order == 2, 1, np.where(order == 0, np.where(nk > 1, nn, 1), np.where(nm * nk > 1, nn, 1)))
    b_passes = np.where(order == 3, 1, np.where(order == 1, np.where(nk > 1, nm, 1), np.where(nn * nk > 1, nm, 1)))
    a_read = np.ceil(a_passes * a_one * a_keep).astype(np.int64)
    reads = count * (a_read + b_passes * b_one)
    return reads - np.where(shared, (count - 1) * b_passes * b_one, 0)


def _a_bytes(op: GemmOp, a: float, a_keep: float) -> int:
    """DRAM bytes of A read once (its part not on chip)."""
    return op.count * math.ceil(math.ceil(op.M * op.K * a) * a_keep)


def _compulsory(op: GemmOp, a: float, b: float, c: float, a_keep: float, c_out: bool) -> int:
    """DRAM bytes of every operand moved once: A (its part not on chip), B (once if shared by
    the instances), C (unless it stays on chip)."""
    return (_a_bytes(op, a, a_keep)
            + (1 if op.b_shared else op.count) * math.ceil(op.K * op.N * b)
            + (op.count * math.ceil(op.M * op.N * c) if c_out else 0))


def _gemm_cycles(full: tuple[np.ndarray, np.ndarray, np.ndarray], count: np.ndarray, mt: np.ndarray,
                 kt: np.ndarray, nt: np.ndarray, dfs: tuple[str, ...], fn: ComputeCycles,
                 memos: dict[str, dict]) -> np.ndarray:
    """Array cycles of the whole op for each tiling (``mt``, ``kt``, ``nt``, of ops of
    ``full`` = (M, K, N) and ``count`` instances: arrays) and each of ``dfs``: one column per
    dataflow, the sum over its tiles (full ones and the short ones at the edges) of ``fn`` of
    the tile, ``fn`` called once per distinct tile shape (``memos``: dataflow -> tile shape ->
    cycles, shared by the calls of one search)."""
    edges = [((t, f // t), (f % t, (f % t > 0).astype(np.int64))) for f, t in zip(full, (mt, kt, nt))]
    total = np.zeros((len(mt), len(dfs)), dtype=np.int64)
    for (m, cm), (k, ck), (n, cn) in ((em, ek, en) for em in edges[0] for ek in edges[1] for en in edges[2]):
        times = cm * ck * cn  # tiles of this shape
        has = np.flatnonzero(times)
        if not len(has):
            continue
        shapes = list(zip(m[has].tolist(), k[has].tolist(), n[has].tolist()))
        for d, df in enumerate(dfs):
            memo = memos[df]
            for shape in set(shapes):
                if shape not in memo:
                    memo[shape] = fn(df, *shape)
            total[has, d] += times[has] * np.array([memo[shape] for shape in shapes], dtype=np.int64)
    return count[:, None] * total


def _pipelined(mem: np.ndarray, cyc: np.ndarray, tiles: np.ndarray, latency: float) -> np.ndarray:
    """Cycles of ``tiles`` equal double-buffered steps taking ``mem`` transfer and ``cyc``
    compute cycles in all (arrays, one element per tiling): each step's period is the longer of
    its transfer, its compute and half the round trip of a buffer slot (latency + transfer +
    compute over two slots); the first load's latency and the shorter of the two phases of one
    step are exposed."""
    t_mem, t_cyc = mem / tiles, cyc / tiles
    period = np.maximum(np.maximum(t_mem, t_cyc), (latency + t_mem + t_cyc) / 2)
    return tiles * period + np.minimum(t_mem, t_cyc) + latency


def _families(op: GemmOp, lim: MapperLimits, flows: tuple[str, ...]) -> list[tuple]:
    """Tile-shape families of the offered dataflows: (dataflows, Mt candidates, Nt candidates,
    smallest Mt, smallest Nt). WS, OS and GEMV take B's columns in multiples of the array's
    columns (Nt) and any Mt; IS pins a K x M block of A across the array's columns, so Mt is a
    multiple of the columns and Nt (the streamed length) is free."""
    cols = lim.array_cols
    out = []
    plain = tuple(d for d in flows if d != "is")
    if plain:
        out.append((plain, _candidates(op.M, 1, 16), _candidates(op.N, cols, cols), 1, min(op.N, cols)))
    if "is" in flows:
        out.append((("is",), _candidates(op.M, cols, cols), _candidates(op.N, 1, 16), min(op.M, cols), 1))
    return out


def _search_job(op: GemmOp, recipe: Recipe, lim: MapperLimits, fn: ComputeCycles | None, a_keep: float,
                c_out: bool) -> tuple:
    """What the search of one GEMM needs: (op, tile families, K quantum, bytes per element of A,
    B, C and the accumulator, a_keep, c_out); raises ``MappingError`` when no family's smallest
    tile fits."""
    a, b = _bpe(recipe, op.a_role), _bpe(recipe, op.b_role)
    c = _bpe(recipe, op.c_role)
    acc = _bpe(recipe, "accumulator")
    kq = math.lcm(lim.array_rows, block_quantum(recipe, op.a_role), block_quantum(recipe, op.b_role))
    k_min = min(op.K, kq)
    # the GEMV mode streams weights through the PEs: offered only where WS cannot amortise
    # its weight loads (fewer rows of A than the array has rows)
    flows = tuple(d for d in lim.dataflows if d != "gemv" or op.M < lim.array_rows)
    # IS swaps the operands' ports of the PEs (A pinned, B streamed): offered when both
    # operands have the same width, so a PE built for one orientation serves the other
    flows = tuple(d for d in flows if d != "is" or a == b)
    if fn is None:  # no timing: bytes only, the first dataflow offered
        flows = flows[:1]
    have = {"a": lim.a_bytes, "b": lim.b_bytes, "c": lim.c_bytes}
    families, refusal = [], None
    for fam in _families(op, lim, flows):
        m_min, n_min = fam[3], fam[4]
        need = {"a": 2 * math.ceil(m_min * k_min * a), "b": 2 * math.ceil(k_min * n_min * b),
                "c": 2 * m_min * n_min * acc}
        short = [(buf, n) for buf, n in need.items() if n > have[buf]]
        if not short:
            families.append(fam)
        elif refusal is None:
            buf, n = short[0]
            refusal = (f"SRAM buffer {buf!r} must hold two tiles of the smallest legal tile of {op.name} "
                       f"({m_min} x {k_min} x {n_min}: {n} bytes), not {have[buf]} bytes")
    if not families:
        raise MappingError(refusal)
    return op, families, kq, a, b, c, acc, a_keep, c_out


def _mapping(job: tuple, cols: dict) -> GemmMapping:
    """The mapping of one search job from its costed columns (``_cost_candidates``)."""
    op, _, _, a, b, c, _, a_keep, c_out = job
    if not len(cols["est"]):
        raise MappingError(f"op {op.name} must have at least one legal tile in the SRAM buffers, not none")
    ranked, per_flow = _rank(cols)
    search = MapperSearch(len(cols["est"]), _compulsory(op, a, b, c, a_keep, c_out), tuple(ranked[:SEARCH_KEPT]),
                          tuple(per_flow))
    w = ranked[0]
    return GemmMapping(op, w.Mt, w.Kt, w.Nt, w.order, w.dataflow, a, b, c, w.dram_read_bytes, w.dram_write_bytes,
                       w.compute_cycles, w.est_cycles, search)


def _map_gemm(op: GemmOp, recipe: Recipe, lim: MapperLimits, fn: ComputeCycles | None, a_keep: float,
              c_out: bool) -> GemmMapping:
    job = _search_job(op, recipe, lim, fn, a_keep, c_out)
    return _mapping(job, _cost_candidates([job], lim, fn)[0])


def map_gemms(ops: list[GemmOp], recipe: Recipe, limits: MapperLimits,
              compute_cycles: ComputeCycles | None = None) -> list[GemmMapping | None]:
    """``map_op`` of each of ``ops`` (GEMMs, no operand on chip), their candidates costed in one
    pass (the same mappings and reports, less overhead per op: the decode steps' attention
    GEMMs, a distinct shape per step). None for an op ``map_op`` refuses (``MappingError``)."""
    jobs: list = []
    for op in ops:
        try:
            jobs.append(_search_job(op, recipe, limits, compute_cycles, 1.0, True))
        except MappingError:
            jobs.append(None)
    costed = iter(_cost_candidates([j for j in jobs if j is not None], limits, compute_cycles))
    out: list[GemmMapping | None] = []
    for job in jobs:
        cols = next(costed) if job is not None else None
        out.append(_mapping(job, cols) if cols is not None and len(cols["est"]) else None)
    return out


#: loop orders in the order the search costs them (the order breaks exact ties)
_ORDERS = ("mnk", "nmk", "mnk-ar", "nmk-br")


def _cost_candidates(jobs: list[tuple], lim: MapperLimits, fn: ComputeCycles | None) -> list[dict]:
    """Every legal candidate of each search job (``_search_job``) costed, as columns (one
    element per candidate, in the search's order: family, Kt, Nt, Mt, loop order, dataflow),
    one dict of columns per job (empty columns if no tile is legal); the jobs are costed
    together. Costing: see the module docstring."""
    bw, lat = lim.dram_bytes_per_cycle, lim.dram_latency_cycles
    names: dict[str, int] = {}  # dataflow -> its column of ``cycles``
    parts = []  # the legal tiles of each (job, family): (job index, mt, kt, nt, dataflows)
    for j, (op, families, kq, a, b, _, acc, _, _) in enumerate(jobs):
        for dfs, m_cands, n_cands, _, _ in families:
            kt, nt, mt = (g.ravel() for g in np.meshgrid(np.array(_candidates(op.K, kq, kq), dtype=np.int64),
                                                         np.array(n_cands, dtype=np.int64),
                                                         np.array(m_cands, dtype=np.int64), indexing="ij"))
            legal = ((2 * np.ceil(kt * nt * b) <= lim.b_bytes) & (2 * np.ceil(mt * kt * a) <= lim.a_bytes)
                     & (2 * mt * nt * acc <= lim.c_bytes))
            if legal.any():
                parts.append((j, mt[legal], kt[legal], nt[legal], dfs))
                for df in dfs:
                    names.setdefault(df, len(names))
    out = [{"est": np.zeros(0)} for _ in jobs]
    if not parts:
        return out
    sizes = [len(p[1]) for p in parts]
    job = np.repeat(np.array([p[0] for p in parts]), sizes)  # per tile: its job
    mt, kt, nt = (np.concatenate([p[i] for p in parts]) for i in (1, 2, 3))
    n_df = np.repeat(np.array([len(p[4]) for p in parts]), sizes)
    first_df = np.repeat(np.array([names[p[4][0]] for p in parts]), sizes)  # a family's dataflows: consecutive columns
    # the jobs' figures, per tile
    per_job = np.array([(op.M, op.K, op.N, op.count, op.b_shared and op.count > 1, a_keep > 0,
                         math.ceil(op.M * op.K * a), math.ceil(op.K * op.N * b),
                         op.count * math.ceil(op.M * op.N * c) if c_out else 0, _a_bytes(op, a, a_keep),
                         op.count * math.ceil(op.K * op.N * b), op.count == 1 or not op.b_shared)
                        for op, _, _, a, b, c, _, a_keep, c_out in jobs], dtype=np.int64)[job]
    M, K, N, count, shared, keeps, a_one, b_one, writes, a_first, b_first, own_b = per_job.T
    a_bpe, b_bpe, a_keep = (np.array([jb[i] for jb in jobs], dtype=float)[job] for i in (3, 4, 7))
    cycles = None
    if fn is not None:  # a tile's compute cycles depend on its shape and dataflow, not on the loop order
        cycles = np.zeros((len(mt), len(names)), dtype=np.int64)
        memos: dict[str, dict] = {df: {} for df in names}
        kinds = {dfs: g for g, dfs in enumerate(dict.fromkeys(p[4] for p in parts))}  # the families' dataflows
        kind = np.repeat(np.array([kinds[p[4]] for p in parts]), sizes)
        for dfs, g in kinds.items():
            at = np.flatnonzero(kind == g)
            col = names[dfs[0]]
            cycles[at, col:col + len(dfs)] = _gemm_cycles((M[at], K[at], N[at]), count[at], mt[at], kt[at], nt[at],
                                                           dfs, fn, memos)
    nm, nk, nn = -(-M // mt), -(-K // kt), -(-N // nt)
    tiles = count * nm * nk * nn
    # A's Mt x K row block kept across the N tiles: two blocks when the next row block is loaded
    # while this one is in use, one when there is a single block
    resident = (nn > 1) & (np.where(nm > 1, 2, 1) * np.ceil(mt * K * a_bpe) <= lim.a_bytes) & (keeps == 1)
    # the mirror image: B's K x Nt column block kept across the M tiles (one B per instance:
    # shared weights of several instances would be reloaded)
    b_resident = (nm > 1) & (np.where(nn > 1, 2, 1) * np.ceil(K * nt * b_bpe) <= lim.b_bytes) & (own_b == 1)
    always = np.ones(len(mt), dtype=bool)
    tile, order = np.nonzero(np.stack([always, always, resident, b_resident], axis=1))  # tile-major
    rd = _traffic(nm[tile], nk[tile], nn[tile], order, count[tile], shared[tile] == 1, a_one[tile], b_one[tile],
                  a_keep[tile])
    moved = rd + writes[tile]
    # one row per dataflow of the tile's family
    reps = n_df[tile]
    row = np.repeat(np.arange(len(tile)), reps)
    col = first_df[tile][row] + np.arange(len(row)) - np.repeat(np.cumsum(reps) - reps, reps)
    i = tile[row]
    t, mem = tiles[i], (moved / bw)[row]
    if cycles is None:
        cyc, est = None, mem
    else:
        cyc = cycles[i, col]
        est = _pipelined(mem, cyc, t, lat)
        # a resident operand arrives whole during the first inner pass of each outer block
        # ("mnk-ar": A in the first N pass; "nmk-br": B in the first M pass): that pass and the
        # others are estimated apart
        o = order[row]
        first = np.where(o == 2, a_first[i], np.where(o == 3, b_first[i], 0))
        inner = np.where(o == 2, nn[i], nm[i])
        passes = t // inner
        split = np.flatnonzero((first != 0) & (t > passes))
        if len(split):
            f, s_in, s_cyc, s_t, s_p = first[split], inner[split], cyc[split], t[split], passes[split]
            m1 = (f + (moved[row][split] - f) / s_in) / bw
            est[split] = (_pipelined(m1, s_cyc / s_in, s_p, lat)
                          + _pipelined(mem[split] - m1, s_cyc - s_cyc / s_in, s_t - s_p, 0.0))
    flows = list(names)
    bounds = np.searchsorted(job[i], np.arange(len(jobs) + 1))  # candidates are job-major
    for j, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        if hi > lo:
            out[j] = {"Mt": mt[i[lo:hi]], "Kt": kt[i[lo:hi]], "Nt": nt[i[lo:hi]], "order": order[row[lo:hi]],
                      "flow": col[lo:hi], "flows": flows, "est": est[lo:hi], "rd": rd[row[lo:hi]],
                      "wr": int(writes[i[lo]]), "moved": moved[row[lo:hi]],
                      "cyc": None if cyc is None else cyc[lo:hi], "tiles": t[lo:hi]}
    return out


def _rank(cols: dict) -> tuple[list[Candidate], list[Candidate]]:
    """The search's report from the costed columns: the ``SEARCH_KEPT`` first candidates ranked
    by (estimate to three significant digits, DRAM bytes, tiles, search order), loop orders of
    one tile moving the same bytes kept once (the first); and the first of each dataflow in that
    ranking, in rank order.

    The rounded estimate grows with the estimate, so the ranking's head is found among the
    candidates of the lowest estimates: runs of equal rounded estimates are taken in estimate
    order (each run's end found by bisection), each sorted by (bytes, tiles, search order),
    until enough are found; only the estimates bisection visits are rounded."""
    est, moved, tiles, flow = cols["est"], cols["moved"], cols["tiles"], cols["flow"]
    by_est = np.argsort(est, kind="stable")
    values = est.tolist()
    rounded: dict[int, float] = {}

    def r3(i: int) -> float:  # within 3 digits: a tie
        if i not in rounded:
            rounded[i] = float(f"{values[i]:.3g}")
        return rounded[i]

    def runs(order: np.ndarray):
        """Runs of equal rounded estimates of ``order`` (ascending estimates), each sorted; a
        run's end found by doubling steps, then bisection between the last two."""
        pos, n = 0, len(order)
        while pos < n:
            r = r3(order[pos])
            same, step = pos, 1  # order[same] rounds to r
            while same + step < n and r3(order[same + step]) == r:
                same += step
                step *= 2
            end = bisect_right(range(n), r, lo=same + 1, hi=min(same + step, n), key=lambda p: r3(order[p]))
            run = order[pos:end]
            yield (r, run[np.lexsort((run, tiles[run], moved[run]))].tolist())  # the search order: the index
            pos = end

    def candidate(i: int) -> Candidate:
        return Candidate(int(cols["Mt"][i]), int(cols["Kt"][i]), int(cols["Nt"][i]), _ORDERS[cols["order"][i]],
                         cols["flows"][flow[i]], float(est[i]), int(cols["rd"][i]), cols["wr"],
                         None if cols["cyc"] is None else int(cols["cyc"][i]), int(tiles[i]))

    ranked: list[Candidate] = []
    seen: set = set()
    for _, run in runs(by_est):
        for i in run:
            cd = candidate(i)
            same = (cd.Mt, cd.Kt, cd.Nt, cd.dataflow, cd.dram_read_bytes, cd.dram_write_bytes, cd.est_cycles)
            if same not in seen:
                seen.add(same)
                ranked.append(cd)
            if len(ranked) == SEARCH_KEPT:
                break
        if len(ranked) == SEARCH_KEPT:
            break
    # a dataflow's first candidate is never a repeat (a repeat follows one of its own dataflow)
    firsts = []
    for f in range(len(cols["flows"])):
        mine = by_est[flow[by_est] == f]
        if len(mine):
            r, run = next(runs(mine))
            i = run[0]
            firsts.append(((r, int(moved[i]), int(tiles[i]), i), i))
    return ranked, [candidate(i) for _, i in sorted(firsts)]


#: vector functions that need a whole row at once (reductions along the row)
ROW_FUNCTIONS = ("softmax", "layernorm", "rmsnorm", "gelu")
#: element-wise functions computed by row units: their rows may be cut into shorter ones so that
#: every row unit has work (a decode step's single row of d_ff elements)
SPLIT_ROW_FUNCTIONS = ("gelu", "silu_mul")


def _split_rows(op: VectorOp, row_bytes: float, lim: MapperLimits) -> VectorOp:
    """``op`` with its rows cut into pieces of a divisor L of its length so that every row unit
    has a row: the longest L giving at least ``row_units`` rows of which two chunks of
    ``row_units`` rows fit the buffer; failing that, the longest L of which two rows fit."""
    divisors = [L for L in range(op.length, 0, -1) if op.length % L == 0]
    units = lim.row_units
    best = [L for L in divisors if op.rows * (op.length // L) >= units
            and 2 * units * math.ceil(L * row_bytes) <= lim.v_bytes]
    if not best:
        best = [L for L in divisors if 2 * math.ceil(L * row_bytes) <= lim.v_bytes] or [op.length]
    L = best[0]
    if L == op.length:
        return op
    return VectorOp(op.name, op.function, op.rows * (op.length // L), L, op.inputs, op.in_role, op.out_role)


def _map_vector(op: VectorOp, recipe: Recipe, lim: MapperLimits, keep: float, out: bool) -> VectorMapping:
    i = _bpe(recipe, op.in_role)
    o = _bpe(recipe, op.out_role)
    if op.function in SPLIT_ROW_FUNCTIONS:
        op = _split_rows(op, op.inputs * i + o, lim)
    elif op.function not in ROW_FUNCTIONS:  # elementwise: any chunk of elements will do
        op = VectorOp(op.name, op.function, 1, op.rows * op.length, op.inputs, op.in_role, op.out_role)
        per = op.inputs * i + o
        if 2 * math.ceil(per) > lim.v_bytes:
            raise MappingError(f"SRAM buffer 'v' must hold two elements of {op.name} ({2 * math.ceil(per)} "
                               f"bytes), not {lim.v_bytes} bytes")
        chunk = min(op.length, int(lim.v_bytes // (2 * per)))
        return VectorMapping(op, 1, i, o, math.ceil(math.ceil(op.inputs * op.length * i) * keep),
                             math.ceil(op.length * o) if out else 0,
                             chunk)
    row = op.inputs * op.length * i + op.length * o
    if 2 * math.ceil(row) > lim.v_bytes:
        raise MappingError(f"SRAM buffer 'v' must hold two rows of {op.name} ({2 * math.ceil(row)} bytes), "
                           f"not {lim.v_bytes} bytes")
    rows = max(1, min(op.rows, int(lim.v_bytes // (2 * row))))
    rd = math.ceil(math.ceil(op.inputs * op.rows * op.length * i) * keep)
    wr = math.ceil(op.rows * op.length * o) if out else 0
    return VectorMapping(op, rows, i, o, rd, wr, op.length)


def map_op(op: Op, recipe: Recipe, limits: MapperLimits, compute_cycles: ComputeCycles | None = None, *,
           inputs_on_chip: float = 0.0, output_on_chip: bool = False) -> GemmMapping | VectorMapping:
    """The cheapest legal mapping of ``op`` (see the module docstring).

    Parameters
    ----------
    compute_cycles : ``(dataflow, m, k, n) -> cycles`` of one tile on the array, or ``None``
        (bytes only).
    inputs_on_chip : fraction (0..1) of the op's activation input (A of a GEMM, the inputs of a
        vector op) already in SRAM: those bytes are not read from DRAM (the caller's fusion
        plan, ``sim._fusion.Residency``; the steps still list the loads, the caller drops them).
    output_on_chip : the output stays in SRAM for its consumer (no store to DRAM).

    Raises
    ------
    MappingError
        If an SRAM buffer cannot hold two copies of the smallest legal tile, or for an
        ``inputs_on_chip`` outside 0..1 or a non-bool ``output_on_chip``.
    """
    if (isinstance(inputs_on_chip, bool) or not isinstance(inputs_on_chip, (int, float))
            or not 0.0 <= inputs_on_chip <= 1.0):
        raise MappingError(f"inputs_on_chip must be a number in [0, 1], not {inputs_on_chip!r}")
    if not isinstance(output_on_chip, bool):
        raise MappingError(f"output_on_chip must be a bool, not {output_on_chip!r}")
    if isinstance(op, GemmOp):
        return _map_gemm(op, recipe, limits, compute_cycles, 1.0 - inputs_on_chip, not output_on_chip)
    return _map_vector(op, recipe, limits, 1.0 - inputs_on_chip, not output_on_chip)


def gemm_steps(mp: GemmMapping) -> list[Step]:
    """Tile steps of a GEMM mapping in loop order (count outermost, then the order's loops).

    Instances with their own B (``not op.b_shared``) have equal schedules: every key of an
    instance differs from every key of the next, so each instance starts by loading its tiles
    and ends by releasing them, as the first and the last do. Their steps are one instance's
    repeated ``count`` times (the same frozen ``Step`` objects; equal to ``_gemm_steps_loop``
    over all instances, tests/mapping/test_mapper_speed.py)."""
    count = mp.op.count
    if count > 1 and not mp.op.b_shared:
        return _gemm_steps_loop(mp, 1) * count
    return _gemm_steps_loop(mp, count)


def _gemm_steps_loop(mp: GemmMapping, count: int) -> list[Step]:
    """Tile steps of the first ``count`` instances of a GEMM mapping, built one by one."""
    op = mp.op
    nm, nk, nn = _cdiv(op.M, mp.Mt), _cdiv(op.K, mp.Kt), _cdiv(op.N, mp.Nt)
    seq = []
    for i in range(count):
        m_outer = mp.order in ("mnk", "mnk-ar")  # "nmk", "nmk-br": N outer
        outer, inner = (nm, nn) if m_outer else (nn, nm)
        for o in range(outer):
            for j in range(inner):
                mi, ni = (o, j) if m_outer else (j, o)
                for kk in range(nk):
                    seq.append((i, mi, ni, kk))
    steps = []
    prev_a = prev_b = None
    keys = [((i, mi, kk), (0 if op.b_shared else i, kk, ni)) for i, mi, ni, kk in seq]
    resident = mp.order == "mnk-ar"
    b_resident = mp.order == "nmk-br"
    for t, (i, mi, ni, kk) in enumerate(seq):
        m = min(mp.Mt, op.M - mi * mp.Mt)
        k = min(mp.Kt, op.K - kk * mp.Kt)
        n = min(mp.Nt, op.N - ni * mp.Nt)
        ka, kb = keys[t]
        loads = []
        if b_resident:  # B pieces loaded in the first M pass, released after the last
            if ka != prev_a:
                loads.append(("a", math.ceil(m * k * mp.a_bpe)))
            if mi == 0:
                loads.append(("br", math.ceil(k * n * mp.b_bpe)))
            prev_a = ka
            nxt = keys[t + 1][0] if t + 1 < len(keys) else None
            release = (("a",) if ka != nxt else ()) + (("br",) if mi == nm - 1 else ())
            steps.append(Step(tuple(loads), release, ("gemm", m, k, n), kk == 0,
                              math.ceil(m * n * mp.c_bpe) if kk == nk - 1 else 0))
            continue
        if resident:  # A pieces loaded in the first N pass, released after the last
            if ni == 0:
                loads.append(("ar", math.ceil(m * k * mp.a_bpe)))
            if kb != prev_b:
                loads.append(("b", math.ceil(k * n * mp.b_bpe)))
            prev_b = kb
            nxt = keys[t + 1][1] if t + 1 < len(keys) else None
            release = (("ar",) if ni == nn - 1 else ()) + (("b",) if kb != nxt else ())
            steps.append(Step(tuple(loads), release, ("gemm", m, k, n), kk == 0,
                              math.ceil(m * n * mp.c_bpe) if kk == nk - 1 else 0))
            continue
        if ka != prev_a:
            loads.append(("a", math.ceil(m * k * mp.a_bpe)))
        if kb != prev_b:
            loads.append(("b", math.ceil(k * n * mp.b_bpe)))
        prev_a, prev_b = ka, kb
        nxt = keys[t + 1] if t + 1 < len(keys) else (None, None)
        release = tuple(buf for buf, cur, nx in (("a", ka, nxt[0]), ("b", kb, nxt[1])) if cur != nx)
        last_k = kk == nk - 1
        steps.append(Step(tuple(loads), release, ("gemm", m, k, n), kk == 0,
                          math.ceil(m * n * mp.c_bpe) if last_k else 0))
    return steps


def vector_steps(mp: VectorMapping) -> list[Step]:
    """Chunk steps of a vector mapping (rows_per_chunk rows each)."""
    op = mp.op
    steps = []
    for r0 in range(0, op.rows, mp.rows_per_chunk):
        r = min(mp.rows_per_chunk, op.rows - r0)
        for c0 in range(0, op.length, mp.cols_per_chunk):
            c = min(mp.cols_per_chunk, op.length - c0)
            steps.append(Step((("v", math.ceil(op.inputs * r * c * mp.in_bpe)),), ("v",),
                              ("vector", op.function, r, c), True, math.ceil(r * c * mp.out_bpe)))
    return steps


def steps_of(mp: GemmMapping | VectorMapping) -> list[Step]:
    """The schedule of a mapping."""
    return gemm_steps(mp) if isinstance(mp, GemmMapping) else vector_steps(mp)
