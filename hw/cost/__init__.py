"""Cost model from our own RTL: ASIC-style area, gate count, logic depth and energy per
operation (gate-level switching activity), FPGA resources and Fmax, calibrated on one published
point and checked against the rest; published memory-access energies for the simulator.

Entry points: :func:`characterize_asic` (a unit on a real standard-cell library at a clock
target, with line items, Fmax and power from OpenSTA -> :class:`AsicCost`), :func:`meet_clock`
(the pipeline depth that meets a clock target), :func:`node_scaling` (Stillmaker & Baas),
:func:`characterize` (the calibrated generic-gate estimate, a unit -> :class:`CostRecord`), :func:`cost_table` (records
-> pandas DataFrame), :func:`horowitz_comparison`, :func:`memory_access_energy_pj`. The unit
protocol (what ``characterize`` accepts) is documented in ``hw.cost._protocol``.
"""
from __future__ import annotations

from ._activity import GateActivity, gate_level_activity, net_weights, validate_stimulus
from ._cache import CostCache, canonical_json, default_cache_dir, hash_key
from ._characterize import (Calibration, CostRecord, FpgaCost, Provenance, calibrate, characterize,
                            cost_table, format_comparison, horowitz_comparison)
from ._protocol import UnitSpec, as_unit_spec
from ._published import (CALIBRATION_ANCHOR, DRAM_ENERGY_PJ_PER_BIT, HOROWITZ_2014, MEMORY_SOURCES,
                         SRAM_READ_64B_PJ, PUBLISHED_RATIOS, PublishedOp, PublishedRatio,
                         memory_access_energy_pj)
from ._stimulus import DISTRIBUTIONS, element_codes, unit_ops_per_cycle, unit_stimulus
from ._asic import (AMORTISED_ITEMS, LINE_ITEM_ORDER, MAX_EXACT_ACCUMULATOR_BITS, AsicCost, LineItem,
                    characterize_asic, check_costable, meet_clock)
from ._accelerator import (AcceleratorBudget, BudgetLine, DatapathEnergy, accelerator_budget,
                           datapath_energy, array_area_um2, largest_square_array)
from ._accelerator import MAX_ROW_PIPELINE, VectorUnitClock, VectorUnitEnergy, vector_unit_clock, vector_unit_energy
from ._matched import matched_comparisons
from ._sram import ARRAY_EFFICIENCY, BITCELL_SOURCES, BITCELL_UM2, SramCost, sram_cost
from ._scaling import NODES, NodeScaling, node_scaling
from ._reference_units import (REFERENCE_OPS, FloatMultiplier, IntAdder, IntMultiplier,
                               reference_stimulus, reference_unit)

__all__ = [
    "CALIBRATION_ANCHOR", "Calibration", "CostCache", "CostRecord", "DRAM_ENERGY_PJ_PER_BIT",
    "FloatMultiplier", "FpgaCost", "GateActivity", "HOROWITZ_2014", "IntAdder", "IntMultiplier",
    "MEMORY_SOURCES", "Provenance", "PublishedOp", "REFERENCE_OPS", "SRAM_READ_64B_PJ", "UnitSpec",
    "as_unit_spec", "calibrate", "characterize", "cost_table", "default_cache_dir",
    "gate_level_activity", "hash_key", "horowitz_comparison", "memory_access_energy_pj",
    "net_weights", "reference_stimulus", "reference_unit", "validate_stimulus",
    "PUBLISHED_RATIOS", "PublishedRatio", "format_comparison",
    "DISTRIBUTIONS", "element_codes", "unit_ops_per_cycle", "unit_stimulus",
    "AMORTISED_ITEMS", "LINE_ITEM_ORDER", "AsicCost", "LineItem", "characterize_asic", "meet_clock",
    "NODES", "NodeScaling", "node_scaling", "canonical_json", "MAX_EXACT_ACCUMULATOR_BITS", "check_costable",
    "AcceleratorBudget", "BudgetLine", "DatapathEnergy", "accelerator_budget", "datapath_energy",
    "VectorUnitEnergy", "vector_unit_energy", "VectorUnitClock", "vector_unit_clock", "MAX_ROW_PIPELINE",
    "array_area_um2", "largest_square_array",
    "ARRAY_EFFICIENCY", "BITCELL_SOURCES", "BITCELL_UM2", "SramCost", "sram_cost", "matched_comparisons",
]
