"""The MAC array's GEMV mode (batch-1 decode) and the step timing the engine and mapper use.

A systolic array in weight-stationary mode spends, per fold of ``rows x cols`` weights, about
``rows`` cycles loading them, ``rows + cols`` filling and draining, and ``m`` cycles streaming
the ``m`` rows of A: with ``m = 1`` (a decode GEMV) it does one useful cycle per ~``2 * rows``
and is array-bound whatever the weight format. Accelerators built for decode instead stream
the weights through the PEs (a GEMV / vector-MAC mode, as in input-stationary arrays with the
activation chunk broadcast along each PE row): every cycle each of the ``cols`` columns takes
``rows x packing`` weights from the weight buffer, multiplies them by the held activations and
passes the partial sum down the column's accumulation chain.

``gemv_timing`` is that mode's cycle model, per SRAM tile (``m x k x n``):

* steady: ``m * ceil(k / (rows * packing)) * ceil(n / cols)`` cycles (one weight block per
  cycle; the ``m`` rows of A each stream the tile's weights again from SRAM, DRAM bytes are
  unchanged);
* fill: ``rows + 1`` cycles (latch the activation chunk, then the ``rows``-deep partial-sum
  chain). Tiles stream back to back through the chain, so the engine pays the fill once per
  op, after its last tile (``StepTiming.tail_cycles``), not per tile;
* drain 0, weight load 0 (nothing is pinned).

It is a *model* (there is no GEMV RTL unit): the weight buffer is assumed to deliver
``rows * cols * packing`` weights per cycle. The mapper offers the mode (``"gemv"`` in the
hardware's ``dataflows``) only to GEMMs with fewer rows of A than the array has rows, where
weight-stationary folds cannot amortise their weight loads; WS and OS keep
``hw.arrays.tile_cycles``, checked against the RTL. Input-stationary tiles ("is", offered by
the mapper when the hardware lists it) are the WS array on the transposed tile, C^T = B^T A^T:
``tile_cycles(dataflow="ws", m=n, k=k, n=m)`` (A pinned, B's columns streamed).

``StepTiming`` is what the mapper and the engine call: GEMV steps here, WS/OS tiles from
``hw.arrays.tile_cycles`` with the recipe's packing (products per PE per cycle, from
``hw.units.recipe_mac_formats(recipe).packing``: INT4 x INT8 2, INT4 x INT4 4, ...); on an
array that chains tiles (``HardwareConfig.array_chain``, the RTL's ``chain``) each WS/IS tile is
charged its intervals (``hw.arrays.chained_tile_cycles``) and the op its run's load, fill and
drain once (``tail_cycles``: ``hw.arrays.chain_tail_cycles``); vector steps from
``sim._timing.TimingSources`` (the vector-unit registry).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

from hw.arrays import chain_tail_cycles, chained_tile_cycles

from ._hwconfig import HardwareConfig
from ._timing import TimingSources, timing_sources
from .errors import SimulationError

__all__ = ["GemvTiming", "StepTiming", "gemv_timing", "recipe_packing", "step_timing", "GEMV_SOURCE"]

GEMV_SOURCE = "model: GEMV mode, rows x cols x packing weights/cycle (sim._gemv; no RTL unit)"


@dataclass(frozen=True)
class GemvTiming:
    """Cycles of one tile in GEMV mode (same fields as ``hw.arrays.TileTiming``)."""

    total: int
    fill: int
    steady: int
    drain: int
    weight_load: int


def _positive(v, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise SimulationError(f"{what} must be a positive integer, not {v!r}")
    return v


@lru_cache(maxsize=65536)
def gemv_timing(*, rows: int, cols: int, m: int, k: int, n: int, packing: int = 1) -> GemvTiming:
    """Cycles of an ``m x k x n`` tile on a ``rows x cols`` array in GEMV mode (see the module
    docstring); ``packing``: products per PE per cycle.

    Raises
    ------
    SimulationError
        For a non-positive argument.
    """
    for v, what in ((rows, "rows"), (cols, "cols"), (m, "m"), (k, "k"), (n, "n"), (packing, "packing")):
        _positive(v, what)
    fill = rows + 1
    steady = m * math.ceil(k / (rows * packing)) * math.ceil(n / cols)
    return GemvTiming(fill + steady, fill, steady, 0, 0)


@dataclass(frozen=True)
class StepTiming:
    """Durations of schedule steps: GEMV-mode tiles from ``gemv_timing``, the rest from the
    hardware's ``TimingSources``."""

    hw: HardwareConfig
    sources: TimingSources
    packing: int = 1
    #: (dataflow, m, k, n) -> (total, fill, steady, drain, weight_load) of a tile (the WS/OS/IS
    #: tiles' only cache): the two methods below are pure functions of the fields, called ~10^6
    #: times by the mapper's search
    _tiles: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def tile_cycles(self):
        """``hw.arrays.tile_cycles`` (or None where it is missing)."""
        return self.sources.tile_cycles

    def _tile_parts(self, dataflow: str, m: int, k: int, n: int) -> tuple[int, int, int, int, int]:
        key = (dataflow, m, k, n)
        t = self._tiles.get(key)
        if t is None:
            if dataflow == "gemv":
                steady = gemv_timing(rows=self.hw.array_rows, cols=self.hw.array_cols, m=m, k=k, n=n,
                                     packing=self.packing).steady
                t = (steady, 0, steady, 0, 0)
            else:
                fn = chained_tile_cycles if self._chains(dataflow) else self.sources.tile_cycles
                t = _tile(fn, self.hw.array_rows, self.hw.array_cols, dataflow, m, k, n,
                          self.packing, self.hw.array_double_buffer)
            self._tiles[key] = t
        return t

    def array_cycles(self, dataflow: str, m: int, k: int, n: int) -> int:
        """Cycles of one m x k x n tile on the array in ``dataflow`` (GEMV: its steady cycles;
        the fill is paid once per op, see ``tail_cycles``)."""
        return self._tile_parts(dataflow, m, k, n)[0]

    def array_parts(self, dataflow: str, m: int, k: int, n: int) -> tuple[int, int, int, int]:
        """(fill, steady, drain, weight_load) cycles of one tile (GEMV: steady only)."""
        return self._tile_parts(dataflow, m, k, n)[1:]

    def _chains(self, dataflow: str) -> bool:
        """Whether ``dataflow``'s tiles are chained (``HardwareConfig.array_chain``: WS, and IS,
        the WS array on the transposed tile)."""
        return self.hw.array_chain and dataflow in ("ws", "is") and self.sources.tile_cycles is not None

    def tail_cycles(self, dataflow: str) -> int:
        """Cycles an op adds once to its steps' (GEMV: the pipelined fill, ``rows + 1``; chained
        WS tiles, ``array_chain``: the first load, fill and the last drain,
        ``hw.arrays.chain_tail_cycles``; WS/OS tiles include their fill and drain)."""
        if dataflow == "gemv":
            return self.hw.array_rows + 1
        if self._chains(dataflow):
            return chain_tail_cycles(rows=self.hw.array_rows, cols=self.hw.array_cols)
        return 0

    def step_cycles(self, work: tuple, dataflow: str) -> int | None:
        """Cycles of one schedule step (``None`` where the timing source is missing)."""
        if work[0] == "gemm":
            return self.array_cycles(dataflow, work[1], work[2], work[3])
        return self.sources.step_cycles(work, dataflow)

    def source_of(self, work: tuple, dataflow: str = "") -> str:
        """Provenance text of the duration of a step's ``work``."""
        if work[0] == "gemm":
            src = (GEMV_SOURCE if dataflow == "gemv" else
                   ("hw.arrays.chained_tile_cycles + chain_tail_cycles once per op" if self._chains(dataflow)
                    else "hw.arrays.tile_cycles")
                   + (" (ws on the transposed tile: input-stationary)" if dataflow == "is" else ""))
            return src + (f", packing {self.packing}" if self.packing > 1 else "")
        return self.sources.source_of(work)


def _tile(fn, rows: int, cols: int, dataflow: str, m: int, k: int, n: int, packing: int,
          double_buffer: bool = False) -> tuple[int, ...]:
    """(total, fill, steady, drain, weight_load) of ``fn`` for one SRAM tile: ``hw.arrays.tile_cycles``
    (the array folds it itself; tiles run back to back) or ``hw.arrays.chained_tile_cycles`` (WS
    only). Input-stationary ("is", ``mapping``): the WS array on the transposed tile,
    C^T (n x m) = B^T (n x k) A^T (k x m): A is pinned, the n columns of B stream."""
    if dataflow == "is":
        dataflow, m, n = "ws", n, m
    if fn is chained_tile_cycles:
        t = fn(rows=rows, cols=cols, m=m, k=k, n=n, packing=packing)
        return t.total, t.fill, t.steady, t.drain, t.weight_load
    kw = {"double_buffer": True} if double_buffer and dataflow == "ws" else {}  # the RTL's WS weight preload
    t = fn(rows=rows, cols=cols, dataflow=dataflow, m=m, k=k, n=n, packing=packing, **kw)
    return int(t.total), int(t.fill), int(t.steady), int(t.drain), int(t.weight_load)


def recipe_packing(recipe) -> int:
    """Products per PE per cycle of the array built for ``recipe`` (``hw.units.recipe_mac_formats``;
    1 where the recipe's formats have no MAC unit)."""
    from hw.units import recipe_mac_formats

    try:
        return recipe_mac_formats(recipe).packing
    except (ValueError, TypeError):
        return 1


def step_timing(hw: HardwareConfig, recipe=None) -> StepTiming:
    """The step timing of ``hw`` for the array built for ``recipe`` (its packing; 1 if None)."""
    return StepTiming(hw, timing_sources(hw), 1 if recipe is None else recipe_packing(recipe))
