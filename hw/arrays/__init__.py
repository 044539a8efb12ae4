"""Systolic MAC arrays: the Amaranth generator (weight- and output-stationary, any MAC format
pair of ``hw.units``; its PEs are ``hw.units.MacPe``, the component ``hw.cost`` prices, packed
``MacFormats.packing`` products per cycle), its one cycle-exact timing function ``tile_cycles``, the GEMM driver that
tiles a GEMM over an RTL array in simulation, and the export/demo entry points.

``tile_cycles`` is pure-Python arithmetic asserted against the RTL's measured cycles; the GEMM
driver's outputs are asserted bit-identical to ``hw.numerics.gemm``.
"""
from __future__ import annotations

from ._array import MAX_ARRAY_DIM, MAX_STREAM, SystolicArray
from ._driver import (DEMO_FORMATS, MAX_EXPORT_PES, ArrayUnit, GemmRun, build_array, demo_check,
                      golden_gemm, run_gemm)
from ._fpga import CLEAN_SCRIPT, array_fpga
from ._timing import (DATAFLOWS, TileTiming, chain_tail_cycles, chained_tile_cycles, scalesim_fold_cycles, scalesim_gemm_cycles, single_tile_cycles,
                      tile_cycles, tile_limits, tile_shapes)

__all__ = [
    "CLEAN_SCRIPT", "array_fpga",
    "ArrayUnit", "DEMO_FORMATS", "GemmRun", "MAX_EXPORT_PES", "build_array", "demo_check", "golden_gemm", "run_gemm",
    "DATAFLOWS", "MAX_ARRAY_DIM", "MAX_STREAM", "SystolicArray",
    "TileTiming", "chain_tail_cycles", "chained_tile_cycles", "scalesim_fold_cycles", "scalesim_gemm_cycles", "single_tile_cycles", "tile_cycles",
    "tile_limits", "tile_shapes",
]
