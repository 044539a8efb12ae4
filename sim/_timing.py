"""The simulator's narrow interface to the timing sources in ``hw``.

* MAC array: ``hw.arrays.tile_cycles`` (fill, steady state, drain, weight load, folds) — one
  call per distinct tile shape, cached.
* Vector / shift-add unit, row functions (softmax, GELU, LayerNorm, RMSNorm, SiLU·mul): the
  registry ``hw.units.nonlinear.ROW_UNITS`` (kernel name -> unit and its timing function, each
  asserted against the RTL's cycles) for the units the hardware config names
  (``nonlinear_units``: function -> unit, e.g. softmax -> ivit_shiftmax); rows run back to back
  on ``row_units`` instances, so a chunk of r rows takes ``RowUnitSpec.cycles(r, length,
  units=row_units, ...)`` = ceil(r / row_units) * cycles_per_row. Every recipe uses these
  shift-add units for timing (they are the accelerator's nonlinear hardware). The I-BERT
  softmax unit's divider width follows the input scale, which a hardware config does not
  give: it is timed at the scale its ``x_bits`` inputs span (``ibert_softmax_scale``).
  With standard-cell figures (``unit_clock``, handed in by ``simulate`` from ``sim._energy``'s
  figures, the rule of ``lowbit cost --hw``: ``hw.cost.vector_unit_energy`` and
  ``hw.cost.vector_unit_clock``) the unit is timed at the pipeline depth that rule chose (the
  shallowest whose Fmax meets the clock: its timing function's ``pipeline``), and a unit no depth
  makes meet the clock takes ``ceil(clock / Fmax)`` clock cycles per unit cycle (a multicycle
  path); without them (no Fmax) depth 0, one unit cycle per clock cycle.
* Elementwise ops with no RTL unit (residual add, KV-cache append, rotary embedding, embedding
  lookup, ReLU): ``ceil(elements / lanes)`` cycles at one element per lane per cycle — an
  *assumption* from the hardware config, marked as such in the stats (``timing_source``).

A row function the hardware config maps to no unit has duration ``None``: the simulator runs
that step in zero time, the per-op table leaves ``compute_cycles`` empty and names the missing
unit, and the summary says the total is a lower bound. No number is invented for it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable

from hw.arrays import tile_cycles
from hw.units.nonlinear import ROW_UNITS, RowUnitSpec

if TYPE_CHECKING:  # the config module validates against the same registry; no import cycle
    from ._hwconfig import HardwareConfig

__all__ = ["TimingSources", "timing_sources"]

ELEMENTWISE_ASSUMED = ("add", "kv_append", "rope", "embedding", "relu")


@dataclass(frozen=True)
class TimingSources:
    """The timing functions of one hardware config.

    Attributes
    ----------
    hw : the hardware config.
    tile_cycles : ``hw.arrays.tile_cycles``.
    row_timing : row function (e.g. "softmax") -> the registered unit the config names for it.
    unit_clock : row function -> the ``hw.cost.VectorUnitClock`` of its unit
        (``EnergyModel.unit_clock``: the chosen pipeline depth and clock cycles per unit cycle,
        more than 1 for a unit whose Fmax is below the clock at every depth), or ``None`` (for
        every function, or returned for one): depth 0, 1 clock cycle per unit cycle.
    """

    hw: HardwareConfig
    tile_cycles: Callable
    row_timing: dict[str, RowUnitSpec]
    unit_clock: Callable[[str], Any] | None = None

    def unit_variant(self, function: str) -> tuple[int, int]:
        """(pipeline depth, clock cycles per unit cycle) of row ``function``'s unit ((0, 1)
        without ``unit_clock``)."""
        c = None if self.unit_clock is None else self.unit_clock(function)
        return (0, 1) if c is None else (int(c.pipeline), int(c.cycles_per_unit_cycle))

    def clock_cycles_per_unit_cycle(self, function: str) -> int:
        """Clock cycles per cycle of row ``function``'s unit (1 without ``unit_clock``)."""
        return self.unit_variant(function)[1]

    def source_of(self, work: tuple) -> str:
        """Provenance text of the duration of a step's ``work``."""
        if work[0] == "gemm":
            return "hw.arrays.tile_cycles"
        fn = work[1]
        if fn in ELEMENTWISE_ASSUMED:
            return f"assumed: 1 element/lane/cycle on {self.hw.vector_lanes} lanes (no RTL unit)"
        spec = self.row_timing.get(fn)
        if spec is None:
            return f"missing: no RTL unit for {fn}"
        p, f = self.unit_variant(fn)
        return (f"hw.units.nonlinear.{spec.timing.__name__} ({spec.kernel}"
                + ("" if p == 0 else f", pipeline {p}: the shallowest depth whose Fmax meets the clock, "
                                     f"hw.cost.vector_unit_energy") + ")"
                + ("" if f == 1 else f" x {f} clock cycles per unit cycle (multicycle: its Fmax is below the clock, "
                                     f"hw.cost.vector_unit_clock)"))

    def array_cycles(self, dataflow: str, m: int, k: int, n: int) -> int:
        """Cycles of one m x k x n tile on the array."""
        return _array_cached(self.tile_cycles, self.hw.array_rows, self.hw.array_cols, dataflow, m, k, n)

    def array_parts(self, dataflow: str, m: int, k: int, n: int) -> tuple[int, int, int, int]:
        """(fill, steady, drain, weight_load) cycles of one tile (``TileTiming`` fields)."""
        return _array_parts(self.tile_cycles, self.hw.array_rows, self.hw.array_cols, dataflow, m, k, n)

    def step_cycles(self, work: tuple, dataflow: str) -> int | None:
        """Cycles of one schedule step (``None`` for a row function with no unit)."""
        if work[0] == "gemm":
            return self.array_cycles(dataflow, work[1], work[2], work[3])
        _, fn, rows, length = work
        if fn in ELEMENTWISE_ASSUMED:
            return math.ceil(rows * length / self.hw.vector_lanes)
        spec = self.row_timing.get(fn)
        if spec is None:
            return None
        p, f = self.unit_variant(fn)
        unit_cycles = math.ceil(rows / self.hw.row_units) * _row_cached(
            spec, length, self.hw.nonlinear_x_bits, self.hw.divider_bits_per_cycle, p)
        return unit_cycles * f


@lru_cache(maxsize=65536)
def _array_cached(fn: Callable, rows: int, cols: int, dataflow: str, m: int, k: int, n: int) -> int:
    """``hw.arrays.tile_cycles(...).total`` of one SRAM tile on the array: the array folds the
    tile itself (WS: k x n blocks of B pinned, the tile's m rows of A streamed; OS: m x n blocks
    of C pinned), tiles run back to back."""
    return int(fn(rows=rows, cols=cols, dataflow=dataflow, m=m, k=k, n=n).total)


@lru_cache(maxsize=65536)
def _array_parts(fn: Callable, rows: int, cols: int, dataflow: str, m: int, k: int, n: int) -> tuple[int, int, int, int]:
    t = fn(rows=rows, cols=cols, dataflow=dataflow, m=m, k=k, n=n)
    return int(t.fill), int(t.steady), int(t.drain), int(t.weight_load)


@lru_cache(maxsize=65536)
def _row_cached(spec: RowUnitSpec, length: int, x_bits: int, divider_bits_per_cycle: int, pipeline: int = 0) -> int:
    """Cycles per row of ``length`` on one unit (``RowUnitSpec.cycles`` of one row) with
    ``pipeline`` register stages (passed only when not 0: a unit without the parameter refuses it)."""
    return spec.cycles(1, length, x_bits=x_bits, divider_bits_per_cycle=divider_bits_per_cycle,
                       **({"pipeline": pipeline} if pipeline else {}))


def timing_sources(hw: HardwareConfig) -> TimingSources:
    """The timing functions of hardware config ``hw`` (units from ``ROW_UNITS``)."""
    return TimingSources(hw, tile_cycles, {fn: ROW_UNITS[unit] for fn, unit in hw.nonlinear_units})
