"""Simulation layer of lowbit: the simpy engine that runs a schedule on modelled blocks
(DMA, SRAM, MAC array, vector unit, DRAM). Imports only ``mapping`` and ``hw``."""
from __future__ import annotations

from ._design_point import mac_unit_cost, run_design_point
from ._energy import (EnergyModel, datapath_energy_of, energy_model, hardware_buffers, hardware_vector_units,
                      vector_energies_of)
from ._engine import OpRun, run_steps
from ._hwconfig import DEFAULT_PRESET, PRESETS, HardwareConfig, hardware_from_dict, load_hardware
from ._gemv import GemvTiming, StepTiming, gemv_timing, recipe_packing, step_timing
from ._run import MAX_TILE_STEPS, MAX_TOKENS, SimResult, simulate, simulate_op, write_result_trace
from ._numerics import NumericsResult, check_gemm_record, run_layer_numerics
from ._timing import TimingSources, timing_sources
from ._trace import trace_dict, write_trace
from ._forward import ForwardResult, RecipeForward, calibrate, dyadic_requantize, reference_forward
from ._accuracy import (DECODER_METRICS, ENCODER_METRICS, AccuracyResult, evaluate_accuracy,
                        sentence_embeddings, spearman, tokenize_lines)
from .errors import HardwareConfigError, SimulationError

__all__ = [
    "AccuracyResult", "DECODER_METRICS", "ENCODER_METRICS", "ForwardResult", "RecipeForward", "calibrate",
    "dyadic_requantize", "evaluate_accuracy", "reference_forward", "sentence_embeddings", "spearman",
    "tokenize_lines",
    "DEFAULT_PRESET", "EnergyModel", "NumericsResult", "check_gemm_record", "run_layer_numerics",
    "mac_unit_cost", "run_design_point", "HardwareConfig", "HardwareConfigError", "OpRun", "PRESETS", "SimResult",
    "SimulationError", "TimingSources", "datapath_energy_of", "energy_model", "hardware_buffers", "hardware_vector_units", "vector_energies_of", "hardware_from_dict", "load_hardware", "run_steps",
    "simulate", "simulate_op", "timing_sources", "trace_dict", "write_result_trace", "write_trace",
    "GemvTiming", "StepTiming", "gemv_timing", "recipe_packing", "step_timing", "MAX_TILE_STEPS", "MAX_TOKENS",
]
