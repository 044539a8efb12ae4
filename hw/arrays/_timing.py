"""Cycle-exact timing of the systolic array: ``tile_cycles`` (one GEMM on one array, folds
included), its per-tile form, and SCALE-Sim's closed forms for the cross-check.

Everything here is pure-Python integer arithmetic (no Amaranth), so the simulator can call
``tile_cycles`` for every tile of a whole LLM. The formulas are those of the RTL in
``_array.py`` and are asserted against its measured cycles in ``tests/hw/test_arrays.py``.

Cycle convention (the array's tile interface): ``start`` is sampled in cycle 0; ``done`` is
high in cycle ``total - 1`` (together with the last output row); the array samples the next
``start`` in cycle ``total`` at the earliest. Tiles issued back to back therefore take the sum
of their totals.

Weight-stationary tile (``m`` rows of A stream, ``k <= rows`` and ``n <= cols`` pinned)::

    total = k            weight load: one row of B per cycle, pushed down the columns
          + (rows + 2)   fill: 1 command cycle + 1 feeder input register + rows psum hops
          + m            steady state: one row of A (and one output row) per cycle
          + cols         drain: cols - 1 de-skew registers + 1 registered rounder output

Output-stationary tile (``m <= rows``, ``n <= cols`` pinned, ``k`` streams)::

    total = k            steady state: one column of A and one row of B per cycle
          + (m + n + 1)  fill: 1 command cycle + 1 input register + skew to PE(m-1, n-1)
                         + 1 cycle for its accumulator to settle
          + m            drain: the m used accumulator rows shift up through the rounders
          + 0            (no weight load)

A register after each PE's product (``pe_pipeline=1``, the RTL's ``pipeline=1``) delays the
partial sums (WS) or the accumulator update (OS) by one cycle: one more fill cycle per tile.

Packed PEs (``packing`` P products per PE per cycle, ``hw.units.MacFormats.packing``: two 4-bit
operands to an 8-bit slot): every operand lane carries P consecutive K elements, so a WS tile
pins ``k <= rows * P`` rows of B, loaded ``ceil(k / P)`` cycles (one packed row of B per cycle),
and an OS tile streams ``ceil(k / P)`` packed columns of A and rows of B. The formulas above
hold with ``k`` (load, OS steady) replaced by ``ceil(k / P)`` and WS folds of ``rows * P``.

Double-buffered weights (WS, ``double_buffer=True``): every tile after the first finds its
weights preloaded, so its ``k`` load cycles vanish; a GEMM's weight_load is the first tile's
``min(k, rows)``.

Chained tiles (WS, ``chain=True``, with ``double_buffer``; TPU v1's weights that "take effect
with the advancing wave"): a tile whose weights are in the shadow starts streaming while the
previous tile's rows are still in the array; the pipeline fills and drains once per run of
chained tiles. With S_t the first streaming cycle of tile t, L = R + C + 1 (+1 with the PE product
register) the latency from a row of A to its output row, G = L + 1 and W = R + C::

    S_0      = ceil(k_0 / P) + 1          the first tile loads its weights (LOAD)
    S_1      = S_0 + max(m_0, G)           its successor's weights prefetch at once
    S_{t+1}  = S_t + max(m_t, W + ceil(k_{t+1} / P), G)   later: the shadow refills only
                                            after the wave passed every PE (from S_t + R + C - 1)
    total    = S_{T-1} + m_{T-1} + L       the last tile drains

``max(m_t, ...)``: the tile's own rows; ``G``: a K fold's partial sums leave the array before
the next fold reads them. Split: weight_load the first tile's, steady the rows of A, drain
``cols`` once, fill the rest (the first fill and every gap between chained tiles).
``chained_tile_cycles`` gives the same intervals for a GEMM in the middle of a run of chained
tiles (each tile charged its interval from the previous one, ``max(m_t, W + ceil(k_t / P), G)``),
and ``chain_tail_cycles`` what a run adds once: a full fold's load, the start cycle and ``L``.

Relation to SCALE-Sim (single-cycle PEs, no double buffering, full folds ``k == rows`` (WS) /
``m == rows`` and ``n == cols`` (OS)): SCALE-Sim's per-fold cycles are WS ``2R + C + T - 2``
(T = M) and OS ``R + C + T - 2`` (T = K): R cycles of weight load (WS) plus the span from the
first MAC in PE(0, 0) to the last MAC in PE(R-1, C-1), ``R + C + T - 2`` cycles. The RTL has
exactly that span too; the cycles it adds are

* WS: **4 per fold** = 1 command cycle (``start`` sampled) + 1 feeder input register (the row
  presented on ``a_data`` reaches PE(0, 0) one cycle later) + 1 cycle for the last PE's
  partial-sum register + 1 cycle for the registered rounded output (the ``done`` cycle);
* OS: **R + 3 per fold** = the R-cycle output drain (the pinned accumulators shift out, one row
  per cycle, before the next fold can start; the closed form has no drain term) + 1
  command cycle + 1 feeder input register + 1 registered rounded output (the ``done`` cycle).

``scalesim_fold_cycles`` gives SCALE-Sim's numbers; a test asserts ``ours - scalesim == 4`` (WS)
and ``== R + 3`` (OS) per fold over many shapes and arrays.
"""
from __future__ import annotations

from typing import NamedTuple

from ..errors import UnitConfigError

__all__ = ["DATAFLOWS", "TileTiming", "tile_cycles", "tile_shapes", "single_tile_cycles",
           "scalesim_fold_cycles", "scalesim_gemm_cycles", "tile_limits", "chained_tile_cycles",
           "chain_tail_cycles"]

#: dataflows of the array: weight-stationary, output-stationary
DATAFLOWS = ("ws", "os")


class TileTiming(NamedTuple):
    """Cycles of one GEMM on the array (sum over its tiles), split by phase (an immutable
    ``NamedTuple``: five times cheaper to build than a frozen dataclass, which matters at one
    call per tile).

    Attributes
    ----------
    total : cycles from the first tile's ``start`` to the cycle after the last ``done``
        (``fill + steady + drain + weight_load``).
    fill : cycles of pipeline fill (command, input registers, skew) summed over tiles.
    steady : cycles of steady-state streaming (WS: rows of A; OS: K steps) summed over tiles.
    drain : cycles of output drain (WS: de-skew + output register; OS: rows shifted out).
    weight_load : cycles of weight preload (WS only; 0 for OS).
    folds : number of tiles the GEMM is split into.
    """

    total: int
    fill: int
    steady: int
    drain: int
    weight_load: int
    folds: int


def _positive(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UnitConfigError(f"{what} must be a positive integer, not {value!r}")
    return value


def _dataflow(value) -> str:
    if value not in DATAFLOWS:
        raise UnitConfigError(f"dataflow must be one of 'ws', 'os', not {value!r}")
    return value


def tile_limits(*, rows: int, cols: int, dataflow: str, max_m: int | None = None,
                max_k: int | None = None, packing: int = 1) -> tuple[int | None, int | None, int]:
    """Largest (m, k, n) of one tile: WS ``(max_m, rows * packing, cols)``, OS
    ``(rows, max_k, cols)`` (``None``: unbounded in the timing model)."""
    if dataflow == "ws":
        return max_m, rows * packing, cols
    return rows, max_k, cols


def single_tile_cycles(*, rows: int, cols: int, dataflow: str, m: int, k: int, n: int,
                       pe_pipeline: int = 0, packing: int = 1) -> tuple[int, int, int, int]:
    """(fill, steady, drain, weight_load) of one tile that fits the array (no validation: the
    caller has checked; see the module docstring for the formulas)."""
    kp = -(-k // packing)
    if dataflow == "ws":
        return rows + 2 + pe_pipeline, m, cols, kp
    return m + n + 1 + pe_pipeline, kp, m, 0


def _ws_blocks(m: int, k: int, rows: int, max_m: int | None, packing: int):
    """(m-blocks as (size, count), K folds, packed rows of the last fold) of a WS GEMM."""
    fk = -(-k // (rows * packing))
    kr = -(-(k - (fk - 1) * rows * packing) // packing)
    if max_m is None or max_m >= m:
        blocks = ((m, 1),)
    else:
        whole, rest = divmod(m, max_m)
        blocks = ((max_m, whole),) + (((rest, 1),) if rest else ())
    return blocks, fk, kr


def chained_tile_cycles(*, rows: int, cols: int, m: int, k: int, n: int, max_m: int | None = None,
                        pe_pipeline: int = 0, packing: int = 1) -> TileTiming:
    """Cycles a WS GEMM occupies a chained array (``chain=True``) in the middle of a run of
    chained tiles: each tile is charged its interval from the previous one's first row,
    ``max(m_t, rows + cols + ceil(k_t / packing), rows + cols + 2 + pe_pipeline)`` (see the
    module docstring); what the run adds once is ``chain_tail_cycles``. Exact against
    ``tile_cycles(chain=True)`` for full folds of ``m >= 2 * rows + cols`` rows; otherwise never
    below it and at most ``3 * rows + cols + 2`` cycles above per run (tests). Fields: total,
    fill (the gaps), steady, drain 0, weight_load 0, folds."""
    if not (type(rows) is int and type(cols) is int and type(m) is int and type(k) is int and type(n) is int
            and rows > 0 and cols > 0 and m > 0 and k > 0 and n > 0):
        _positive(rows, "rows"), _positive(cols, "cols"), _positive(m, "m"), _positive(k, "k"), _positive(n, "n")
    blocks, fk, kr = _ws_blocks(m, k, rows, max_m, packing)
    fn = -(-n // cols)
    w, g = rows + cols, rows + cols + 2 + pe_pipeline
    total = 0
    for mt, count in blocks:
        total += count * fn * ((fk - 1) * max(mt, w + rows, g) + max(mt, w + kr, g))
    steady = m * fk * fn
    folds = sum(c for _, c in blocks) * fk * fn
    return TileTiming(total=total, fill=total - steady, steady=steady, drain=0, weight_load=0, folds=folds)


def chain_tail_cycles(*, rows: int, cols: int, pe_pipeline: int = 0) -> int:
    """Cycles a run of chained WS tiles adds once to the sum of its ``chained_tile_cycles``:
    the first tile's weight load (a full fold's, ``rows``), its start cycle and the latency of
    its last row, ``rows + cols + 1 + pe_pipeline``."""
    return 2 * rows + cols + 2 + pe_pipeline


def tile_cycles(*, rows: int, cols: int, dataflow: str, m: int, k: int, n: int,
                max_m: int | None = None, max_k: int | None = None, double_buffer: bool = False,
                pe_pipeline: int = 0, packing: int = 1, chain: bool = False) -> TileTiming:
    """Cycles of an ``m x k x n`` GEMM (A is m x k, B is k x n) on a ``rows x cols`` array.

    The GEMM is split into tiles as ``tile_shapes`` (and the GEMM driver) split it: WS pins
    ``k x n`` blocks of B (folds ``ceil(k/(rows*packing)) * ceil(n/cols)``, times ``ceil(m/max_m)``),
    partial sums of the K folds chained through the array in the accumulator format; OS pins
    ``m x n`` blocks of C (folds ``ceil(m/rows) * ceil(n/cols)``, times ``ceil(k/max_k)``).
    Tiles run back to back; the result is exact for the RTL (see the module docstring).

    Parameters (keyword-only)
    -------------------------
    rows, cols : PEs of the array (R x C).
    dataflow : "ws" or "os".
    m, k, n : GEMM dimensions (positive).
    max_m : WS only: longest A stream of one tile (the RTL's ``max_m``); None = unbounded.
    max_k : OS only: longest K of one tile (the RTL's ``max_k``); None = unbounded. K folds
        of an OS GEMM are timed as separate tiles; the RTL has no partial-sum input in OS, so
        combining their results is outside the array (the GEMM driver refuses K > max_k).
    double_buffer : WS only: the array preloads the next tile's weights (at most ``rows``
        cycles) while the current tile streams and drains (at least ``rows + cols + 2``
        cycles), so only the first tile's load, ``min(k, rows)`` cycles, is exposed.
    pe_pipeline : 0 or 1 register stages after each PE's product (the RTL's ``pipeline``):
        one more fill cycle per tile.
    packing : products per PE per cycle (the RTL's ``packing``, ``hw.units.MacFormats.packing``
        of the formats): K advances ``packing`` elements per cycle (see the module docstring).
    chain : WS only, with ``double_buffer``: chained tiles (the RTL's ``chain``: each tile after
        the first streams as soon as its weights are in the shadow and the previous tile's rows
        have entered; see the module docstring), tiles issued as soon as the array takes them.

    Returns
    -------
    TileTiming(total, fill, steady, drain, weight_load, folds), all in clock cycles.

    Raises
    ------
    UnitConfigError
        For a non-positive dimension, an unknown dataflow or a non-positive limit.
    """
    if not (type(rows) is int and type(cols) is int and type(m) is int and type(k) is int and type(n) is int
            and rows > 0 and cols > 0 and m > 0 and k > 0 and n > 0 and (dataflow == "ws" or dataflow == "os")):
        # slow path only to word the error
        _positive(rows, "rows"), _positive(cols, "cols"), _dataflow(dataflow)
        _positive(m, "m"), _positive(k, "k"), _positive(n, "n")
    if type(pe_pipeline) is not int or (pe_pipeline != 0 and pe_pipeline != 1):
        raise UnitConfigError(f"pe_pipeline must be 0 or 1, not {pe_pipeline!r}")
    if double_buffer is not True and double_buffer is not False:
        raise UnitConfigError(f"double_buffer must be a bool, not {double_buffer!r}")
    if type(packing) is not int or packing < 1 or packing & (packing - 1):
        raise UnitConfigError(f"packing must be a power of two, not {packing!r}")
    if max_m is not None:
        _positive(max_m, "max_m")
    if max_k is not None:
        _positive(max_k, "max_k")
    if chain is not False:
        if chain is not True:
            raise UnitConfigError(f"chain must be a bool, not {chain!r}")
        if dataflow != "ws" or double_buffer is not True:
            raise UnitConfigError("chain must be False without double_buffer and dataflow 'ws' "
                                  "(chained tiles take their weights from the shadow)")
        return _chained_total(rows, cols, m, k, n, max_m, pe_pipeline, packing)
    if dataflow == "ws":
        # per tile: fill R+2, steady m_t, drain C, load ceil(k_t / P); the K folds of one output
        # block (rows*P each) load ceil(k / P) cycles in all
        fm = 1 if max_m is None else -(-m // max_m)
        fk, fn = -(-k // (rows * packing)), -(-n // cols)
        folds = fm * fk * fn
        fill = folds * (rows + 2 + pe_pipeline)
        steady = m * fk * fn
        drain = folds * cols
        kp = -(-k // packing)
        load = min(kp, rows) if double_buffer is True else kp * fm * fn
    else:
        if double_buffer is not False:
            raise UnitConfigError(f"double_buffer must be False for dataflow 'os', not {double_buffer!r}")
        # per tile: fill m_t + n_t + 1, steady ceil(k_t / P), drain m_t
        fm, fn = -(-m // rows), -(-n // cols)
        fk = 1 if max_k is None else -(-k // max_k)
        folds = fm * fk * fn
        fill = m * fk * fn + n * fm * fk + folds * (1 + pe_pipeline)
        if max_k is None or packing == 1:
            k_cycles = -(-k // packing)
        else:
            whole, rest = divmod(k, max_k)
            k_cycles = whole * -(-max_k // packing) + -(-rest // packing)
        steady = k_cycles * fm * fn
        drain = m * fk * fn
        load = 0
    return TileTiming(total=fill + steady + drain + load, fill=fill, steady=steady, drain=drain,
                      weight_load=load, folds=folds)


def _chained_total(rows: int, cols: int, m: int, k: int, n: int, max_m: int | None, pe_pipeline: int,
                   packing: int) -> TileTiming:
    """``tile_cycles(chain=True)``: the module docstring's recurrence, summed per m-block (its
    tiles' next K folds repeat per n-block: full folds, the last fold, then the next block's
    first fold)."""
    blocks, fk, kr = _ws_blocks(m, k, rows, max_m, packing)
    fn = -(-n // cols)
    w, g, lat = rows + cols, rows + cols + 2 + pe_pipeline, rows + cols + 1 + pe_pipeline
    first_kp = rows if fk > 1 else kr  # packed rows of a block's first fold
    # the ceil(k_{t+1} / P) after each tile of one (m-block, n-block) group, in order
    nexts = [rows] * (fk - 2) + [kr, first_kp] if fk > 1 else [first_kp]
    total, tiles, m_last = 0, 0, 0
    for mt, count in blocks:
        total += count * fn * sum(max(mt, w + kp, g) for kp in nexts)
        tiles += count * fn * fk
        m_last = mt
    # the last tile has no successor: it streams and drains; the first follows LOAD, its
    # successor's weights prefetched at once
    total -= max(m_last, w + nexts[-1], g)
    if tiles > 1:
        m0 = blocks[0][0]
        total += max(m0, g) - max(m0, w + nexts[0], g)
    total += first_kp + 1 + m_last + lat
    steady = m * fk * fn
    return TileTiming(total=total, fill=total - steady - cols - first_kp, steady=steady, drain=cols,
                      weight_load=first_kp, folds=tiles)


def tile_shapes(*, rows: int, cols: int, dataflow: str, m: int, k: int, n: int,
                max_m: int | None = None, max_k: int | None = None, packing: int = 1
                ) -> list[tuple[int, int, int, int, int, int]]:
    """The tiles of a GEMM in the order the driver runs them: (m0, k0, n0, mt, kt, nt) with
    offsets and sizes; K folds of one output block are consecutive (WS chains their partial
    sums; a WS tile takes up to ``rows * packing`` of K)."""
    rows, cols = _positive(rows, "rows"), _positive(cols, "cols")
    dataflow = _dataflow(dataflow)
    m, k, n = _positive(m, "m"), _positive(k, "k"), _positive(n, "n")
    packing = _positive(packing, "packing")
    if dataflow == "ws":
        lm, lk, ln = max_m or m, rows * packing, cols
    else:
        lm, lk, ln = rows, max_k or k, cols
    out = []
    for m0 in range(0, m, lm):
        for n0 in range(0, n, ln):
            for k0 in range(0, k, lk):
                out.append((m0, k0, n0, min(lm, m - m0), min(lk, k - k0), min(ln, n - n0)))
    return out


def scalesim_fold_cycles(*, rows: int, cols: int, dataflow: str, t: int) -> int:
    """SCALE-Sim's closed form of one fold: WS ``2R + C + T - 2`` (T = M), OS
    ``R + C + T - 2`` (T = K)."""
    if dataflow == "ws":
        return 2 * rows + cols + t - 2
    return rows + cols + t - 2


def scalesim_gemm_cycles(*, rows: int, cols: int, dataflow: str, m: int, k: int, n: int) -> int:
    """SCALE-Sim's GEMM cycles: folds = ceil(pinned rows / R) * ceil(pinned cols / C) of the
    pinned operand (WS: B, k x n; OS: C, m x n) times the per-fold closed form."""
    if dataflow == "ws":
        folds, t = -(-k // rows) * -(-n // cols), m
    else:
        folds, t = -(-m // rows) * -(-n // cols), k
    return folds * scalesim_fold_cycles(rows=rows, cols=cols, dataflow=dataflow, t=t)
