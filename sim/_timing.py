"""The simulator's narrow interface to the timing sources in ``hw``.

* MAC array: ``hw.arrays.tile_cycles`` (fill, steady state, drain, weight load, folds) — one
  call per distinct tile shape, cached.
* Vector / shift-add unit, row functions (softmax, GELU, LayerNorm): the ``*_timing`` functions
  of ``hw.units.nonlinear`` (``RowTiming.cycles_per_row``) of the units the hardware config
  names (``nonlinear_units``: function -> unit, e.g. softmax -> ivit_shiftmax); rows run back to
  back on ``row_units`` instances, so a chunk of r rows takes ceil(r / row_units) *
  cycles_per_row. Every recipe uses these shift-add units for timing (they are the
  accelerator's nonlinear hardware); there is no RTL unit for RMSNorm or SiLU.
* Elementwise ops with no RTL unit (residual add, KV-cache append): ``ceil(elements / lanes)``
  cycles at one element per lane per cycle — an *assumption* from the hardware config, marked
  as such in the stats (``timing_source``).

Where a source has not landed (or has no unit for a function, e.g. RMSNorm, SiLU) the duration
is ``None``: the simulator runs that step in zero time, the per-op table leaves
``compute_cycles`` empty and names the missing source, and the summary says the total is a
lower bound. No number is invented for a missing source.
"""
from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Callable

from ._hwconfig import HardwareConfig

__all__ = ["TimingSources", "timing_sources"]

#: nonlinear unit name -> (vector function, module, timing function name, keyword arguments
#: taken from the hardware config)
NONLINEAR_UNITS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "ivit_shiftmax": ("softmax", "hw.units.nonlinear", "shiftmax_timing", ("divider_bits_per_cycle",)),
    "ibert_int_gelu": ("gelu", "hw.units.nonlinear", "intgelu_timing", ()),
    "ivit_shiftgelu": ("gelu", "hw.units.nonlinear", "shiftgelu_timing", ("divider_bits_per_cycle",)),
    "ivit_int_layernorm": ("layernorm", "hw.units.nonlinear", "layernorm_timing",
                           ("x_bits", "divider_bits_per_cycle")),
}
ELEMENTWISE_ASSUMED = ("add", "kv_append", "rope", "embedding", "relu")


def _lookup(module: str, name: str) -> Callable | None:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    return getattr(mod, name, None)


@dataclass(frozen=True)
class TimingSources:
    """Resolved timing functions for one hardware config (``None`` where missing)."""

    hw: HardwareConfig
    tile_cycles: Callable | None
    row_timing: dict

    def source_of(self, work: tuple) -> str:
        """Provenance text of the duration of a step's ``work``."""
        if work[0] == "gemm":
            return "hw.arrays.tile_cycles" if self.tile_cycles else "missing: hw.arrays.tile_cycles not landed"
        fn = work[1]
        if fn in ELEMENTWISE_ASSUMED:
            return f"assumed: 1 element/lane/cycle on {self.hw.vector_lanes} lanes (no RTL unit)"
        unit = self.hw.nonlinear_unit_map.get(fn)
        if unit is None:
            return f"missing: no RTL unit for {fn}"
        _, mod, name, _ = NONLINEAR_UNITS[unit]
        if self.row_timing.get(fn) is None:
            return f"missing: {mod}.{name} not landed"
        return f"{mod}.{name} ({unit})"

    def array_cycles(self, dataflow: str, m: int, k: int, n: int) -> int | None:
        """Cycles of one m x k x n tile on the array (``None`` if ``tile_cycles`` is missing)."""
        if self.tile_cycles is None:
            return None
        return _array_cached(self.tile_cycles, self.hw.array_rows, self.hw.array_cols, dataflow, m, k, n)

    def array_parts(self, dataflow: str, m: int, k: int, n: int) -> tuple[int, int, int, int] | None:
        """(fill, steady, drain, weight_load) cycles of one tile (``TileTiming`` fields)."""
        if self.tile_cycles is None:
            return None
        return _array_parts(self.tile_cycles, self.hw.array_rows, self.hw.array_cols, dataflow, m, k, n)

    def step_cycles(self, work: tuple, dataflow: str) -> int | None:
        """Cycles of one schedule step (``None`` where the timing source is missing)."""
        if work[0] == "gemm":
            return self.array_cycles(dataflow, work[1], work[2], work[3])
        _, fn, rows, length = work
        if fn in ELEMENTWISE_ASSUMED:
            return math.ceil(rows * length / self.hw.vector_lanes)
        t = self.row_timing.get(fn)
        if t is None:
            return None
        return math.ceil(rows / self.hw.row_units) * _row_cached(t, length)


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
def _row_cached(fn: Callable, length: int) -> int:
    return int(fn(length).cycles_per_row)


def _row_function(hw: HardwareConfig, unit: str) -> Callable | None:
    _, mod, name, kwargs = NONLINEAR_UNITS[unit]
    fn = _lookup(mod, name)
    if fn is None:
        return None
    kw = {"x_bits": hw.nonlinear_x_bits, "divider_bits_per_cycle": hw.divider_bits_per_cycle}
    kw = {k: kw[k] for k in kwargs}
    return partial(fn, **kw)


def timing_sources(hw: HardwareConfig) -> TimingSources:
    """Resolve the timing functions available in ``hw`` now."""
    return TimingSources(hw, _lookup("hw.arrays", "tile_cycles"),
                         {fn: _row_function(hw, unit) for fn, unit in hw.nonlinear_units})
