"""Switching activity of a synthesised gate-level netlist under a stimulus.

How it is measured: the netlist from :func:`hw.flow.synthesize_asic` (yosys generic CMOS gates,
every net with a public name) is simulated by Verilator through cocotb's Python runner with
tracing on; the bench (``benches/gate_activity.py``) replays the stimulus, one dict of input
port values per cycle; the VCD is then read here and every 0<->1 change of every net bit inside
the stimulus window is counted.

What is counted (the switched-capacitance proxy), per net bit, once even if several names
alias it:

* ``weight = fanout + driven + output``: ``fanout`` is the number of cell input pins the net
  drives (flip-flop clock pins included, so the clock's toggles charge every flip-flop clock
  pin), ``driven`` is 1 if a cell drives the net (the driver's own output capacitance), and
  ``output`` is 1 for a bit of a top-level output port (the load outside the unit).
* ``weighted_toggles`` = sum of weight over toggles; ``raw_toggles`` = number of toggles of
  cell-driven net bits. Energy = weighted toggles x a calibrated energy per unit toggle.

Toggles caused by the first stimulus cycle (from the all-zero start) are excluded: the window
opens when the first cycle is applied and counts the remaining ``len(stimulus) - 1`` cycles.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import ToolError, UnitConfigError
from ..flow import VERILATOR_MAKEFLAGS, AsicSynthesis, verilator_env

__all__ = ["GateActivity", "gate_level_activity", "net_weights", "validate_stimulus"]

BENCH_DIR = Path(__file__).resolve().parent / "benches"
PERIOD_NS = 10
#: Verilator flags: lint of yosys's gate-level netlist (not our exported Verilog) is not fatal;
#: keep ``_`` nets in the trace. Split builds work with ``hw.flow.VERILATOR_MAKEFLAGS``.
VERILATOR_ARGS = ("-Wno-fatal", "--trace-underscore")
#: make variables for the C++ build (given through MAKEFLAGS): the one Verilator work-around of
#: ``hw.flow`` (the wheel's precompiled-header variable, -O0: the model runs ~1000 cycles and
#: compile time dominates)
MAKE_OVERRIDES = VERILATOR_MAKEFLAGS


@dataclass(frozen=True)
class GateActivity:
    """Toggle counts of a gate-level simulation.

    Attributes
    ----------
    cycles_counted : stimulus cycles inside the counting window (``len(stimulus) - 1``).
    weighted_toggles : sum over toggles of the net's weight (see the module docstring).
    raw_toggles : toggles of cell-driven net bits.
    nets_traced : net bits of the netlist found in the trace.
    nets_total : net bits of the netlist (constants excluded).
    outputs : output port values per stimulus cycle, as the gate-level model computed them
        (binary strings, MSB first).
    """

    cycles_counted: int
    weighted_toggles: float
    raw_toggles: int
    nets_traced: int
    nets_total: int
    outputs: tuple[dict[str, str], ...]


def validate_stimulus(stimulus: Any, ports: Sequence[Mapping[str, Any]]) -> list[dict[str, int]]:
    """Check ``stimulus`` (a sequence of ``{input port: int}`` per cycle) against the port table.

    Values must fit the port (signed ports take -2**(w-1)..2**(w-1)-1, unsigned 0..2**w-1);
    ``clk`` and ``rst`` are driven by the bench and may not appear.

    Raises
    ------
    UnitConfigError
        Naming the cycle and port of the first bad entry.
    """
    inputs = {p["name"]: p for p in ports if p["direction"] == "in" and p["name"] not in ("clk", "rst")}
    if isinstance(stimulus, (str, bytes, Mapping)) or not isinstance(stimulus, Sequence):
        raise UnitConfigError(f"stimulus must be a sequence of dicts (one per cycle), "
                              f"not {type(stimulus).__name__}")
    if len(stimulus) < 2:
        raise UnitConfigError(f"stimulus must have at least 2 cycles, not {len(stimulus)}")
    out: list[dict[str, int]] = []
    for i, cycle in enumerate(stimulus):
        if not isinstance(cycle, Mapping):
            raise UnitConfigError(f"stimulus cycle {i} must be a dict of input values, "
                                  f"not {type(cycle).__name__}")
        row: dict[str, int] = {}
        for name, value in cycle.items():
            if name not in inputs:
                raise UnitConfigError(f"stimulus port must be one of the inputs "
                                      f"{sorted(inputs)}, not {name!r} (cycle {i})")
            p = inputs[name]
            lo, hi = ((-(1 << (p["width"] - 1)), (1 << (p["width"] - 1)) - 1) if p["signed"]
                      else (0, (1 << p["width"]) - 1))
            if isinstance(value, bool) or not hasattr(value, "__index__") or not lo <= int(value) <= hi:
                raise UnitConfigError(f"stimulus value of {name!r} must be an int in [{lo}, {hi}], "
                                      f"not {value!r} (cycle {i})")
            row[name] = int(value)
        out.append(row)
    return out


def net_weights(netlist_json: Mapping[str, Any], top: str) -> dict[int, int]:
    """Weight (switched-capacitance proxy) of every net bit of ``top``; see the module docstring."""
    module = netlist_json["modules"][top]
    weights: dict[int, int] = {}
    for netname in module["netnames"].values():
        for bit in netname["bits"]:
            if isinstance(bit, int):
                weights.setdefault(bit, 0)
    for cell in module["cells"].values():
        dirs = cell.get("port_directions", {})
        for port, bits in cell["connections"].items():
            if dirs.get(port) not in ("input", "output"):
                raise ToolError(f"yosys netlist cell {cell.get('type')!r} has port {port!r} "
                                f"without a direction")
            for bit in bits:
                if isinstance(bit, int):  # "0"/"1"/"x" are constants, not nets
                    weights[bit] = weights.get(bit, 0) + 1  # an input pin, or the driver itself
    for port in module["ports"].values():
        if port["direction"] == "output":
            for bit in port["bits"]:
                if isinstance(bit, int):
                    weights[bit] = weights.get(bit, 0) + 1
    return weights


def _driven_bits(netlist_json: Mapping[str, Any], top: str) -> set[int]:
    driven: set[int] = set()
    for cell in netlist_json["modules"][top]["cells"].values():
        for port, bits in cell["connections"].items():
            if cell["port_directions"][port] == "output":
                driven.update(b for b in bits if isinstance(b, int))
    return driven


def _count_vcd(vcd_path: Path, *, top: str, netnames: Mapping[str, Any], weights: Mapping[int, int],
               driven: set[int], t_start_ps: int, t_end_ps: int) -> tuple[float, int, int]:
    """Count toggles in ``vcd_path`` for net bits of scope ``top`` with t_start < t <= t_end."""
    # id code -> list of (json bit or None) per position, LSB first; each json bit claimed once
    ids: dict[str, list[int | None]] = {}
    claimed: set[int] = set()
    scopes: list[str] = []
    with open(vcd_path, "r", encoding="ascii", errors="replace") as f:
        for line in f:
            tok = line.split()
            if not tok:
                continue
            if tok[0] == "$scope":
                scopes.append(tok[2])
            elif tok[0] == "$upscope":
                scopes.pop()
            elif tok[0] == "$var" and scopes and scopes[-1] == top and "$rootio" not in scopes:
                width, code, name = int(tok[2]), tok[3], tok[4]
                net = netnames.get(name)
                if net is None or len(net["bits"]) != width:
                    continue
                slots: list[int | None] = []
                for bit in net["bits"]:
                    if isinstance(bit, int) and bit not in claimed:
                        claimed.add(bit)
                        slots.append(bit)
                    else:
                        slots.append(None)
                if any(s is not None for s in slots):
                    ids.setdefault(code, [None] * width)
                    ids[code] = [a if a is not None else b for a, b in zip(ids[code], slots)]
            elif tok[0] == "$enddefinitions":
                break
        wtab = {code: [weights.get(b, 0) if b is not None else 0 for b in slots]
                for code, slots in ids.items()}
        dtab = {code: [1 if (b is not None and b in driven) else 0 for b in slots]
                for code, slots in ids.items()}
        prev: dict[str, str] = {}
        now = 0
        weighted = 0.0
        raw = 0
        for line in f:
            c = line[0]
            if c == "#":
                now = int(line[1:])
                if now > t_end_ps:
                    break
                continue
            if c == "b":
                value, code = line[1:].split()
            elif c in "01xzXZ":
                value, code = c, line[1:].strip()
            else:
                continue
            w = wtab.get(code)
            if w is None:
                continue
            width = len(w)
            value = value.rjust(width, "0" if value[0] in "01" else value[0])[-width:]
            old = prev.get(code)
            prev[code] = value
            if old is None or now <= t_start_ps:
                continue
            d = dtab[code]
            for k in range(width):
                a, b = old[width - 1 - k], value[width - 1 - k]
                if a != b and a in "01" and b in "01":
                    weighted += w[k]
                    raw += d[k]
    return weighted, raw, len(claimed)


def gate_level_activity(asic: AsicSynthesis, *, stimulus: Sequence[Mapping[str, int]],
                        ports: Sequence[Mapping[str, Any]],
                        workdir: str | os.PathLike | None = None,
                        build_cache: str | os.PathLike | None = None) -> GateActivity:
    """Simulate the gate-level netlist of ``asic`` on ``stimulus`` and count net toggles.

    Parameters
    ----------
    asic : result of :func:`hw.flow.synthesize_asic`.
    stimulus : one ``{input port: int}`` per cycle (validated by :func:`validate_stimulus`).
    ports : the unit's port table (:func:`hw.flow.port_table`); a ``clk`` (and ``rst``) port
        of the netlist makes the bench clock the design (reset held for two cycles first).
    workdir : build folder; a temp folder (removed afterwards) when ``None``.
    build_cache : folder of reusable Verilator builds, keyed by a hash of the netlist, the
        Verilator flags and the tool versions (a build is published by an atomic folder rename,
        so concurrent or killed runs never leave a half build in use); ``None``: always build.

    Raises
    ------
    UnitConfigError
        For a malformed stimulus.
    ToolError
        If Verilator fails to build or the cocotb bench fails.
    """
    cycles = validate_stimulus(stimulus, ports)
    # clk/rst are not signature members: take them from the synthesised module's ports
    names = set(asic.netlist_json["modules"][asic.top]["ports"])
    plan = {
        "clocked": "clk" in names, "has_rst": "rst" in names, "period_ns": PERIOD_NS,
        "widths": {p["name"]: p["width"] for p in ports
                   if p["direction"] == "in" and p["name"] not in ("clk", "rst")},
        "outputs": [p["name"] for p in ports if p["direction"] == "out"],
        "cycles": cycles,
    }
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="lowbit_activity_") as tmp:
            return _simulate(asic, plan, Path(tmp), build_cache)
    return _simulate(asic, plan, Path(workdir), build_cache)


def _build(runner: Any, asic: AsicSynthesis, netlist_path: Path, build_dir: Path, work: Path) -> None:
    saved_makeflags = os.environ.get("MAKEFLAGS")
    os.environ["MAKEFLAGS"] = " ".join(filter(None, [saved_makeflags, MAKE_OVERRIDES]))
    try:
        runner.build(sources=[str(netlist_path)], hdl_toplevel=asic.top, build_dir=build_dir,
                     build_args=list(VERILATOR_ARGS), waves=True, timescale=("1ns", "1ps"),
                     always=True, log_file=work / "build.log")
    except (SystemExit, Exception) as exc:  # the runner raises SystemExit on a failed build
        log = (work / "build.log").read_text(errors="replace") if (work / "build.log").exists() else ""
        errs = [ln for ln in log.splitlines() if "%Error" in ln or "error" in ln.lower()]
        raise ToolError(f"verilator failed in step 'gate-level build': "
                        f"{errs[0].strip() if errs else exc}") from exc
    finally:
        if saved_makeflags is None:
            del os.environ["MAKEFLAGS"]
        else:
            os.environ["MAKEFLAGS"] = saved_makeflags


def _build_key(asic: AsicSynthesis) -> str:
    from importlib import metadata

    text = "\n".join([asic.top, asic.netlist_verilog, " ".join(VERILATOR_ARGS), MAKE_OVERRIDES,
                      metadata.version("verilator"), metadata.version("cocotb")])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _simulate(asic: AsicSynthesis, plan: dict, work: Path,
              build_cache: str | os.PathLike | None) -> GateActivity:
    from cocotb_tools.runner import get_results, get_runner

    work.mkdir(parents=True, exist_ok=True)
    netlist_path = work / "netlist.v"
    netlist_path.write_text(asic.netlist_verilog, encoding="utf-8")
    (work / "stimulus.json").write_text(json.dumps(plan), encoding="utf-8")
    verilator_env()
    bench = str(BENCH_DIR)
    if bench not in sys.path:
        sys.path.insert(0, bench)
    runner = get_runner("verilator")
    build_dir = work / "build"
    cached = None
    if build_cache is not None:
        key = _build_key(asic)
        cached = Path(build_cache) / key[:2] / key
        if (cached / "complete").exists():
            build_dir = cached
    if build_dir is not cached:
        _build(runner, asic, netlist_path, build_dir, work)
        if cached is not None:
            (build_dir / "complete").write_text("ok\n")
            cached.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(build_dir, cached)  # atomic publication of the whole build
                build_dir = cached
            except OSError:  # a concurrent run published the same build first: use ours
                pass
    out_json = work / "activity.json"
    xml = runner.test(test_module="gate_activity", hdl_toplevel=asic.top, hdl_toplevel_lang="verilog",
                      build_dir=build_dir,
                      test_dir=work, waves=True, log_file=work / "test.log",
                      extra_env={"LOWBIT_STIMULUS": str(work / "stimulus.json"),
                                 "LOWBIT_ACTIVITY_OUT": str(out_json)})
    ntests, nfail = get_results(xml)
    if ntests != 1 or nfail != 0 or not out_json.exists():
        raise ToolError(f"cocotb gate-level activity bench failed in step 'gate-level simulation' "
                        f"({nfail} of {ntests} tests failed; log {work / 'test.log'})")
    result = json.loads(out_json.read_text())
    vcd = next((p for p in (work / "dump.vcd", build_dir / "dump.vcd") if p.exists()), None)
    if vcd is None:
        raise ToolError("verilator wrote no VCD in step 'gate-level simulation'")
    module = asic.netlist_json["modules"][asic.top]
    weights = net_weights(asic.netlist_json, asic.top)
    driven = _driven_bits(asic.netlist_json, asic.top)
    weighted, raw, traced = _count_vcd(vcd, top=asic.top, netnames=module["netnames"],
                                       weights=weights, driven=driven,
                                       t_start_ps=int(result["t_start_ps"]),
                                       t_end_ps=int(result["t_end_ps"]))
    return GateActivity(cycles_counted=len(plan["cycles"]) - 1, weighted_toggles=weighted,
                        raw_toggles=raw, nets_traced=traced, nets_total=len(weights),
                        outputs=tuple(result["outputs"]))
