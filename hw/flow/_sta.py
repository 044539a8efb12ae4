"""Static timing and power with OpenSTA (the Debian ``opensta`` package, ``sta``).

:func:`static_timing` runs one ``sta`` session on a netlist of :func:`synthesize_liberty`:

* timing: one clock on ``clk`` of the given period (a virtual clock for a unit without one),
  input and output delays 0 (the unit sits between registers of the same clock); the worst
  setup path (``report_checks -path_delay max``) gives the slack, the minimum period
  ``period - slack`` and Fmax ``= 1 / min period``;
* power (``report_power``): internal and switching power from the library's tables and
  leakage, with the switching activity of every cell output pin and input port set from our
  own gate-level simulation (``activities``: transitions per clock cycle and the fraction of
  cycles high). This OpenSTA (2019) has no VCD reader, and its ``set_power_activity -pins``
  is broken (it calls an undefined ``get_pins_error`` and skips output pins), so the per-pin
  activity is set with the command underneath it, ``sta::set_power_pin_activity``.
  Pins without an activity get OpenSTA's propagated default.
"""
from __future__ import annotations

import functools
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from ..errors import ToolError, ToolTimeout, UnitConfigError
from ._liberty import TIE_PORTS, LibertySynthesis, library

__all__ = ["StaReport", "sta_version", "static_timing", "STA_METHOD"]

#: bump when what the STA script measures changes (part of cache keys)
STA_METHOD = "opensta-v1"


@functools.cache
def sta_version() -> str:
    """``sta -version`` of the installed OpenSTA.

    Raises
    ------
    ToolError
        If ``sta`` is not on PATH (the message names the Debian package).
    """
    exe = shutil.which("sta")
    if exe is None:
        raise ToolError("OpenSTA (sta) is not installed: apt-get install -y opensta")
    out = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=60)
    return out.stdout.strip() or out.stderr.strip()


@dataclass(frozen=True)
class StaReport:
    """Timing and power of a netlist at one clock period.

    Attributes
    ----------
    period_ns : the clock period analysed, ns.
    slack_ns : worst setup slack, ns (negative: the period is not met).
    min_period_ns : ``period_ns - slack_ns``, ns. fmax_mhz : ``1000 / min_period_ns``.
    startpoint, endpoint : the critical path's ends.
    path : the critical path, (pin, cell type, arrival ns) per stage.
    internal_mw, switching_mw, leakage_mw, total_mw : ``report_power`` totals at this period, mW.
    pins_with_activity : pins whose activity came from the caller.
    """

    period_ns: float
    slack_ns: float
    min_period_ns: float
    fmax_mhz: float
    startpoint: str
    endpoint: str
    internal_mw: float
    switching_mw: float
    leakage_mw: float
    total_mw: float
    pins_with_activity: int
    path: tuple[tuple[str, str, float], ...] = field(default=(), repr=False)
    instance_power_mw: Mapping[str, tuple[float, float, float]] = field(default_factory=dict, repr=False)


def _script(top: str, period_ns: float, has_clk: bool, activities: Mapping[str, tuple[float, float]],
            instances: bool) -> str:
    lines = ["read_liberty cells.lib", "read_verilog netlist.v", f"link_design {top}"]
    if has_clk:
        lines.append(f"create_clock -name clk -period {period_ns:.6g} [get_ports clk]")
        inputs = "[delete_from_list [all_inputs] [get_ports clk]]"
    else:
        lines.append(f"create_clock -name clk -period {period_ns:.6g}")
        inputs = "[all_inputs]"
    lines += [f"set_input_delay 0 -clock clk {inputs}", "set_output_delay 0 -clock clk [all_outputs]"]
    for tie, duty in ((TIE_PORTS["0"], 0), (TIE_PORTS["1"], 1)):
        lines.append(f"sta::set_power_input_port_activity [get_ports {tie}] 0 {duty}")
    for pin, (act, duty) in activities.items():
        if "/" in pin:
            lines.append(f"sta::set_power_pin_activity [get_pins {{{pin}}}] {act:.6g} {duty:.6g}")
        else:
            lines.append(f"sta::set_power_input_port_activity [get_ports {{{pin}}}] {act:.6g} {duty:.6g}")
    lines += ["puts LOWBIT_TIMING", "report_checks -path_delay max -digits 6 -fields {input_pins}",
              "puts LOWBIT_POWER", "report_power -digits 8"]
    if instances:
        lines += ["puts LOWBIT_INSTANCES", "report_power -instances [get_cells *] -digits 8"]
    return "\n".join(lines) + "\n"


_NUM = r"([-+0-9.eE]+)"


def _parse_power(text: str) -> tuple[float, float, float, float]:
    m = re.search(rf"^Total\s+{_NUM}\s+{_NUM}\s+{_NUM}\s+{_NUM}", text, re.M)
    if m is None:
        raise ToolError(f"OpenSTA report_power gave no total: {text[-300:]!r}")
    return tuple(float(x) * 1e3 for x in m.groups())  # W -> mW


def _parse_instances(text: str) -> dict[str, tuple[float, float, float]]:
    out = {}
    for m in re.finditer(rf"^\s*{_NUM}\s+{_NUM}\s+{_NUM}\s+{_NUM}\s+(c\d+)\s*$", text, re.M):
        internal, switching, leakage, _total, name = m.groups()
        out[name] = (float(internal) * 1e3, float(switching) * 1e3, float(leakage) * 1e3)
    return out


def _parse_path(text: str) -> tuple[str, str, float, tuple]:
    start = re.search(r"Startpoint:\s*(\S+)", text)
    end = re.search(r"Endpoint:\s*(\S+)", text)
    slack = re.search(rf"^\s*{_NUM}\s+slack\s+\((?:MET|VIOLATED)\)", text, re.M)
    if start is None or end is None or slack is None:
        raise ToolError(f"OpenSTA report_checks gave no path: {text[-300:]!r}")
    body = text[:text.find("data arrival time")]
    stages = tuple((m.group(3), m.group(4), float(m.group(2)))
                   for m in re.finditer(rf"^\s*{_NUM}\s+{_NUM}\s+[\^v]\s+(\S+)\s+\((\S+)\)", body, re.M))
    return start.group(1), end.group(1), float(slack.group(1)), stages


def static_timing(synth: LibertySynthesis, *, period_ns: float,
                  activities: Mapping[str, tuple[float, float]] | None = None,
                  instance_power: bool = False, timeout_s: float = 600.0) -> StaReport:
    """Timing and power of ``synth`` at a clock period (see the module docstring).

    Parameters
    ----------
    synth : a netlist of :func:`synthesize_liberty`.
    period_ns : clock period, ns (> 0).
    activities : pin (``c12/Y``) or input port bit (``a[3]``) -> (transitions per cycle, fraction
        of cycles high). ``None``: OpenSTA's defaults everywhere.
    instance_power : also return the power of every cell (``StaReport.instance_power_mw``).
    timeout_s : wall-clock limit, s.

    Raises
    ------
    UnitConfigError
        For a period that is not a positive number.
    ToolError
        If OpenSTA is missing, fails, or its reports cannot be read.
    """
    if isinstance(period_ns, bool) or not isinstance(period_ns, (int, float)) or not 0 < period_ns < 1e6:
        raise UnitConfigError(f"period_ns must be a positive number of nanoseconds below 1e6, not {period_ns!r}")
    sta_version()
    lib = library(synth.library)
    has_clk = "clk" in synth.netlist["ports"]
    with tempfile.TemporaryDirectory(prefix="lowbit_sta_") as tmp:
        work = Path(tmp)
        shutil.copyfile(lib.path(), work / "cells.lib")
        (work / "netlist.v").write_text(synth.netlist_verilog, encoding="utf-8")
        (work / "t.tcl").write_text(_script(synth.top, float(period_ns), has_clk, activities or {},
                                            instance_power), encoding="utf-8")
        try:
            proc = subprocess.run(["sta", "-no_splash", "-exit", "t.tcl"], cwd=work, capture_output=True,
                                  text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise ToolTimeout(f"OpenSTA timed out after {timeout_s:g} s on {synth.top}") from exc
    out = proc.stdout + proc.stderr
    errors = [ln for ln in out.splitlines() if ln.startswith("Error")]
    if proc.returncode != 0 or errors:
        raise ToolError(f"OpenSTA failed on {synth.top}: {errors[0] if errors else out[-300:]!r}")
    timing_text = out.split("LOWBIT_TIMING", 1)[1].split("LOWBIT_POWER", 1)[0]
    power_text = out.split("LOWBIT_POWER", 1)[1].split("LOWBIT_INSTANCES", 1)[0]
    start, end, slack, stages = _parse_path(timing_text)
    internal, switching, leakage, total = _parse_power(power_text)
    inst = _parse_instances(out.split("LOWBIT_INSTANCES", 1)[1]) if instance_power else {}
    min_period = float(period_ns) - slack
    return StaReport(period_ns=float(period_ns), slack_ns=slack, min_period_ns=min_period,
                     fmax_mhz=1e3 / min_period, startpoint=start, endpoint=end, internal_mw=internal,
                     switching_mw=switching, leakage_mw=leakage, total_mw=total,
                     pins_with_activity=len(activities or {}), path=stages, instance_power_mw=inst)
