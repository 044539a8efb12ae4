"""Static timing and power with OpenSTA (the Debian ``opensta`` package, ``sta``).

:func:`static_timing` runs one ``sta`` session on a netlist of :func:`synthesize_liberty`:

* timing: one clock on ``clk`` of the given period (a virtual clock for a unit without one),
  input and output delays 0 (the unit sits between registers of the same clock); the worst
  setup path (``report_checks -path_delay max``) gives the slack, the minimum period
  ``period - slack`` and Fmax ``= 1 / min period``;
* slews (``slews=True``): the rise and fall transition time of every cell output pin
  (``StaReport.slews_ns``), which :func:`hw.flow.netlist_power` uses to look up internal
  energy;
* power (``report_power``): OpenSTA's own estimate, kept as a cross-check figure only. This
  OpenSTA (Debian 0~20191111) uses the activities set on input ports
  (``sta::set_power_input_port_activity``) but **not** those set on cell pins
  (``sta::set_power_pin_activity``; its ``set_power_activity -pins`` is broken too: it calls an
  undefined ``get_pins_error``): its activity propagation overwrites every cell output pin's
  activity with one computed from the cell's function, inputs taken as independent (source
  ``search/Power.cc`` of c018cb2, ``PropActivityVisitor::visit``; measured: zeroing every cell
  output pin leaves its total bit-identical). The flow's power comes from
  :func:`hw.flow.netlist_power`, with our own per-pin activities.

Paths through a set of cells (``through_cells``, e.g. a unit's output converter): the worst
path through any of them (``report_checks -through``) and the worst path through none of them
(the same report after ``set_false_path -through`` them), so a caller can time a unit's parts
apart (an array's PE without the column converter it shares). Whether the critical path is
*loop-carried* (its end register feeds its start register again: both are in one strongly
connected component of the register graph; no pipeline register can cut such a path without
changing what the unit computes) is read from the netlist's connectivity
(:func:`loop_carried`). Bit by bit: an integer accumulator's bit k needs bits 0..k only, so
each bit is a loop of its own and its carry from a low bit to a high bit is feed-forward (a
carry register, as in a carry-save accumulator, would cut it).
"""
from __future__ import annotations

import functools
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import ToolError, ToolTimeout, UnitConfigError
from ._liberty import TIE_PORTS, LibertySynthesis, library, read_liberty

__all__ = ["PathTiming", "StaReport", "loop_carried", "register_loops", "sta_version", "state_registers",
           "static_timing", "STA_METHOD"]

#: bump when what the STA script measures changes (part of cache keys); v2: paths through and
#: outside a set of cells, and between state registers; v4: between state registers of one loop only;
#: v5: slews of every cell output pin, report_power a cross-check (cell pin activities not set)
STA_METHOD = "opensta-v5"


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
class PathTiming:
    """The worst setup path of a group of paths at the analysed period.

    Attributes
    ----------
    slack_ns : its slack, ns. min_period_ns : period - slack, ns. fmax_mhz : ``1000 / min_period_ns``.
    startpoint, endpoint : its ends. path : (pin, cell type, arrival ns) per stage.
    """

    slack_ns: float
    min_period_ns: float
    fmax_mhz: float
    startpoint: str
    endpoint: str
    path: tuple[tuple[str, str, float], ...] = field(default=(), repr=False)


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
    internal_mw, switching_mw, leakage_mw, total_mw : ``report_power`` totals at this period, mW
        (OpenSTA's propagated activities from the input ports: a cross-check, see the module
        docstring).
    pins_with_activity : pins and ports whose activity was passed to OpenSTA.
    through, outside : the worst path through any of ``through_cells`` and through none of them
        (:class:`PathTiming`; ``None`` when no path is of that kind or no cells were given).
    loop : the worst loop-carried path (from a state register to a state register of the same loop,
        :func:`loop_carried`) among ``state_cells``, or ``None``.
    slews_ns : cell output pin (``c12/Y``) -> (rise, fall) transition time, ns (max corner), when
        asked for (``slews=True``), else empty.
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
    through: PathTiming | None = None
    outside: PathTiming | None = None
    loop: PathTiming | None = None
    slews_ns: Mapping[str, tuple[float, float]] = field(default_factory=dict, repr=False)


#: prints ``<pin> <rise slew> <fall slew>`` (seconds) for every cell output pin
_SLEWS_TCL = """\
puts LOWBIT_SLEWS
foreach lowbit_pin [get_pins *] {
  if {[$lowbit_pin is_driver]} {
    set lowbit_v [lindex [$lowbit_pin vertices] 0]
    puts "[get_full_name $lowbit_pin] [$lowbit_v slew rise max] [$lowbit_v slew fall max]"
  }
}
puts LOWBIT_SLEWSEND"""


def _script(top: str, period_ns: float, has_clk: bool, activities: Mapping[str, tuple[float, float]],
            instances: bool, through_cells: Sequence[str] = (),
            state_groups: Sequence[Sequence[str]] = (), slews: bool = False) -> str:
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
    lines += ["puts LOWBIT_TIMING", "report_checks -path_delay max -digits 6 -fields {input_pins}"]
    for loop, cells in enumerate(state_groups):  # paths within one loop only (see loop_carried)
        lines += [f"set lowbit_state [get_cells {{{' '.join(cells)}}}]", f"puts LOWBIT_LOOP{loop}",
                  "report_checks -path_delay max -digits 6 -fields {input_pins} -from $lowbit_state -to $lowbit_state"]
    if state_groups:
        lines.append("puts LOWBIT_LOOPEND")
    if through_cells:
        lines += [f"set lowbit_through [get_cells {{{' '.join(through_cells)}}}]",
                  "puts LOWBIT_THROUGH",
                  "report_checks -path_delay max -digits 6 -fields {input_pins} -through $lowbit_through",
                  "set_false_path -through $lowbit_through",
                  "puts LOWBIT_OUTSIDE", "report_checks -path_delay max -digits 6 -fields {input_pins}"]
    if slews:
        lines.append(_SLEWS_TCL)
    lines += ["puts LOWBIT_POWER", "report_power -digits 8"]
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


def _path_timing(text: str, period_ns: float) -> PathTiming | None:
    if "No paths found" in text:
        return None
    start, end, slack, stages = _parse_path(text)
    return PathTiming(slack_ns=slack, min_period_ns=period_ns - slack, fmax_mhz=1e3 / (period_ns - slack),
                      startpoint=start, endpoint=end, path=stages)


def register_loops(synth: LibertySynthesis) -> dict[str, int]:
    """The loop id of every flip-flop cell of ``synth`` that lies on a feedback loop (its output
    reaches its own input through logic and registers): the id of its strongly connected
    component in the cell graph (Tarjan, iterative), which for registers is its component in the
    register-to-register graph (a loop runs through at least one register). Two registers have
    the same id exactly when each feeds the other again; a register on no loop has none."""
    cells = synth.netlist["cells"]
    lib = read_liberty(str(library(synth.library).path()))
    readers: dict[Any, list[str]] = {}
    for name, (ctype, conns) in cells.items():
        for pin in lib[ctype].inputs:
            b = conns.get(pin)
            if isinstance(b, int):
                readers.setdefault(b, []).append(name)
    succ = {name: [r for pin in lib[ctype].outputs for r in readers.get(conns.get(pin), ())]
            for name, (ctype, conns) in cells.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    loops: dict[str, int] = {}
    counter = 0
    for root in cells:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            nexts = succ[node]
            if i < len(nexts):
                work.append((node, i + 1))
                nxt = nexts[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if work:  # propagate to the caller (the frame below is its parent, resumed)
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1 or node in succ[node]:
                    loops.update((c, index[node]) for c in comp if lib[cells[c][0]].ff is not None)
    return loops


def state_registers(synth: LibertySynthesis) -> frozenset[str]:
    """Flip-flop cells of ``synth`` that lie on a feedback loop (:func:`register_loops`): the
    unit's state, e.g. an accumulator's bits, as opposed to pipeline registers."""
    return frozenset(register_loops(synth))


def loop_carried(synth: LibertySynthesis | None, startpoint: str, endpoint: str,
                 loops: Mapping[str, int] | None = None) -> bool:
    """Whether a register-to-register path from ``startpoint`` to ``endpoint`` (cell names) is
    loop-carried: the end register feeds the start register again (both have the same loop id
    of :func:`register_loops`; pass it as ``loops`` when known, ``synth`` may then be
    ``None``), so the path is part of a recurrence and a register stage on it changes what the
    recurrence computes, not only the latency. A port end, a register on no loop (a pipeline
    register), or a path from one loop to another (e.g. a counter feeding an accumulator:
    feed-forward between two recurrences) is never loop-carried."""
    if loops is None:
        loops = register_loops(synth)
    loop = loops.get(startpoint)
    return loop is not None and loops.get(endpoint) == loop


def static_timing(synth: LibertySynthesis, *, period_ns: float,
                  activities: Mapping[str, tuple[float, float]] | None = None,
                  instance_power: bool = False, timeout_s: float = 600.0,
                  through_cells: Sequence[str] = (),
                  state_cells: Sequence[str] | Mapping[str, int] = (), slews: bool = False) -> StaReport:
    """Timing and power of ``synth`` at a clock period (see the module docstring).

    Parameters
    ----------
    synth : a netlist of :func:`synthesize_liberty`.
    period_ns : clock period, ns (> 0).
    activities : pin (``c12/Y``) or input port bit (``a[3]``) -> (transitions per cycle, fraction
        of cycles high), passed to OpenSTA (which uses only the input ports', see the module
        docstring). ``None``: OpenSTA's defaults everywhere.
    instance_power : also return the power of every cell (``StaReport.instance_power_mw``).
    timeout_s : wall-clock limit, s.
    through_cells : cells (``c12``) whose paths are also timed apart (``StaReport.through`` and
        ``StaReport.outside``).
    state_cells : state registers (:func:`state_registers`), or their loop ids
        (:func:`register_loops`; a sequence has them computed): the worst path from one to another
        of the same loop is reported as ``StaReport.loop``.
    slews : also return every cell output pin's transition times (``StaReport.slews_ns``).

    Raises
    ------
    UnitConfigError
        For a period that is not a positive number.
    ToolError
        If OpenSTA is missing, fails, or its reports cannot be read.
    """
    if isinstance(period_ns, bool) or not isinstance(period_ns, (int, float)) or not 0 < period_ns < 1e6:
        raise UnitConfigError(f"period_ns must be a positive number of nanoseconds below 1e6, not {period_ns!r}")
    through_cells = tuple(through_cells)
    unknown = [c for c in (*through_cells, *state_cells) if c not in synth.cells]
    if unknown:
        raise UnitConfigError(f"through_cells and state_cells must be cells of {synth.top}, not {unknown[:3]!r}")
    if not isinstance(state_cells, Mapping):
        loops = register_loops(synth) if state_cells else {}
        state_cells = {c: loops[c] for c in state_cells if c in loops}
    groups: dict[int, list[str]] = {}
    for cell, loop in state_cells.items():
        groups.setdefault(loop, []).append(cell)
    state_groups = tuple(sorted(groups[k]) for k in sorted(groups))
    sta_version()
    lib = library(synth.library)
    has_clk = "clk" in synth.netlist["ports"]
    with tempfile.TemporaryDirectory(prefix="lowbit_sta_") as tmp:
        work = Path(tmp)
        shutil.copyfile(lib.path(), work / "cells.lib")
        (work / "netlist.v").write_text(synth.netlist_verilog, encoding="utf-8")
        (work / "t.tcl").write_text(_script(synth.top, float(period_ns), has_clk, activities or {},
                                            instance_power, through_cells, state_groups, slews), encoding="utf-8")
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
    slew_map: dict[str, tuple[float, float]] = {}
    if slews:
        before, rest = timing_text.split("LOWBIT_SLEWS\n", 1)
        slew_text, after = rest.split("LOWBIT_SLEWSEND", 1)
        timing_text = before + after
        for m in re.finditer(rf"^(c\d+/\S+)\s+{_NUM}\s+{_NUM}\s*$", slew_text, re.M):
            slew_map[m.group(1)] = (float(m.group(2)) * 1e9, float(m.group(3)) * 1e9)  # s -> ns
    through = outside = loop = None
    if through_cells:
        timing_text, rest = timing_text.split("LOWBIT_THROUGH", 1)
        through_text, outside_text = rest.split("LOWBIT_OUTSIDE", 1)
        through, outside = _path_timing(through_text, float(period_ns)), _path_timing(outside_text, float(period_ns))
    if state_groups:
        timing_text, loop_text = timing_text.split("LOWBIT_LOOP0", 1)
        loop_text, _ = loop_text.split("LOWBIT_LOOPEND", 1)
        paths = [_path_timing(part, float(period_ns)) for part in re.split(r"LOWBIT_LOOP\d+", loop_text)]
        paths = [p for p in paths if p is not None]
        loop = min(paths, key=lambda p: p.slack_ns) if paths else None
    power_text = out.split("LOWBIT_POWER", 1)[1].split("LOWBIT_INSTANCES", 1)[0]
    start, end, slack, stages = _parse_path(timing_text)
    internal, switching, leakage, total = _parse_power(power_text)
    inst = _parse_instances(out.split("LOWBIT_INSTANCES", 1)[1]) if instance_power else {}
    min_period = float(period_ns) - slack
    return StaReport(period_ns=float(period_ns), slack_ns=slack, min_period_ns=min_period,
                     fmax_mhz=1e3 / min_period, startpoint=start, endpoint=end, internal_mw=internal,
                     switching_mw=switching, leakage_mw=leakage, total_mw=total,
                     pins_with_activity=len(activities or {}), path=stages, instance_power_mw=inst,
                     through=through, outside=outside, loop=loop, slews_ns=slew_map)
