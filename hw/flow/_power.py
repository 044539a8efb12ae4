"""Dynamic and leakage power of a mapped netlist from *our own* per-pin switching activity and the
Liberty file's tables (:func:`netlist_power`).

Why not OpenSTA's ``report_power``: the OpenSTA of Debian (0~20191111, ``sta`` 2.0.17) does not
use activities set on cell pins. Its ``Power::ensureActivities`` propagates activities from the
input ports through every cell function (``PropActivityVisitor::visit`` overwrites the activity
of every driver pin with ``evalActivity`` of the cell's function, user-set or not), and with
``set_power_activity -global`` set, ``Power::findActivity`` returns the global figure for every
pin before it looks at a pin's own (source of commit c018cb2, ``search/Power.cc``). Measured:
zeroing every cell output pin's activity leaves its total bit-identical. Its propagation assumes
independent inputs, which overestimates deep adder trees. So the flow computes power here, per
cell instance, from the gate-level simulation's transitions (``hw.flow.netlist_activity``) and
keeps OpenSTA for timing, slews, and a cross-check figure.

What is computed, per cell instance, at the library's nominal voltage ``V`` (``nom_voltage``):

* **switching**: for every net a cell output drives, ``0.5 * C_load * V^2`` per transition, where
  ``C_load`` is the sum of the Liberty ``capacitance`` of the cell input pins on the net plus
  ``output_load_pf`` for every output port the net drives (0 by default, as in the STA script,
  which sets no ``set_load``); no wire capacitance (none is modelled anywhere in the flow). Nets
  driven by input ports (the unit's inputs, the clock) are the driver's outside the unit, as in
  OpenSTA, and are not charged.
* **internal**, output pins: the ``internal_power`` groups of the output pin give energy per
  output transition (``rise_power`` for rising, ``fall_power`` for falling transitions) as a
  function of the output load and the input transition time of the related pin. Each output
  transition is charged the mean of the rise and the fall energy (the simulation counts
  transitions, and over a run rises and falls alternate), at the net's ``C_load`` and at the
  slew of the related pin (its rise or fall slew by the arc's ``timing_sense``: the input edge
  that makes the output rise or fall; the mean of both for ``non_unate``), weighted over the
  related pins by each one's share of the causes: ``activity(pin) * P(output sensitive to pin)
  / sum over the related pins``, the sensitivity being the Boolean difference of the cell's
  function evaluated with the other inputs' measured fractions of time high taken as
  independent (for a flip-flop's output, whose function is its state, 0.5: the one arc of a
  ``DFFPOSX1``, related to the clock, then weighs 1). This is the weighting of upstream
  OpenSTA's ``Power::findOutputInternalPower`` (later versions), with our activities.
* **internal**, input pins (groups without ``related_pin``, e.g. a flip-flop's clock and data
  pins): the mean of the rise and fall energy at the pin's slew per transition of the pin; the
  clock port's net makes 2 transitions per cycle (one rising, one falling edge).
* **leakage**: ``cell_leakage_power`` of the cell (as OpenSTA reports it: the cell's own figure,
  not its state-dependent ``leakage_power`` groups).

Tables are interpolated and extrapolated linearly (:meth:`hw.flow._liberty.LibTable.lookup`).
Slews: the rise and fall transition time of every cell output pin as OpenSTA computes it in the
timing run (``StaReport.slews_ns``, max corner); nets driven by an input port have slew 0 (the
STA sets no input transition, so OpenSTA's are 0 too); without slews, every slew is 0 (stated in
``GatePower.slews``). ``internal_power`` groups with a ``when`` condition are refused (the
libraries registered here have none).
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..errors import ToolError, UnitConfigError
from ._gatesim import liberty_expression
from ._liberty import InternalPowerArc, LibCell, LibertySynthesis, library, read_liberty, read_liberty_units

__all__ = ["GatePower", "POWER_METHOD", "netlist_power"]

#: bump when what :func:`netlist_power` computes changes (part of the cost cache keys)
POWER_METHOD = "gate-activity-power-v1"

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class GatePower:
    """Power of a netlist from per-pin activities (:func:`netlist_power`).

    Attributes
    ----------
    period_ns : the clock period the activities per cycle are turned into power at, ns.
    vdd_v : the supply (the library's ``nom_voltage``), V.
    internal_mw, switching_mw, leakage_mw, total_mw : totals, mW.
    instance_power_mw : cell -> (internal, switching, leakage), mW; they add up to the totals.
    output_load_pf : load assumed per output port, pF.
    slews : where the input transition times came from.
    """

    period_ns: float
    vdd_v: float
    internal_mw: float
    switching_mw: float
    leakage_mw: float
    total_mw: float
    instance_power_mw: Mapping[str, tuple[float, float, float]] = field(repr=False)
    output_load_pf: float = 0.0
    slews: str = ""


def _diff_probability(func: str, pin: str, cell: LibCell, duty: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """P(f(pin=1) != f(pin=0)) per instance, the cell's other inputs independent and high with
    the probabilities ``duty``; 0.5 when ``pin`` does not occur in ``func``."""
    names = [p for p in dict.fromkeys(_IDENT.findall(func)) if p in cell.inputs]
    if pin not in names:
        return np.full(n, 0.5)
    others = [p for p in names if p != pin]
    var = {p: f"v{k}" for k, p in enumerate(names)}  # pin names as safe Python identifiers
    expr = compile(liberty_expression(func, var), "<liberty function>", "eval")
    out = np.zeros(n)
    for bits in range(1 << len(others)):
        env = {p: (bits >> k) & 1 for k, p in enumerate(others)}
        values = {var[p]: v for p, v in env.items()}
        if eval(expr, {}, {**values, var[pin]: 0}) == eval(expr, {}, {**values, var[pin]: 1}):  # noqa: S307
            continue
        prob = np.ones(n)
        for p, v in env.items():
            prob = prob * (duty[p] if v else 1.0 - duty[p])
        out = out + prob
    return out


def _mean_energy(arc: InternalPowerArc, *, load: np.ndarray, slew_rise: np.ndarray, slew_fall: np.ndarray,
                 scale: float, cap_unit: float, time_unit: float) -> np.ndarray:
    """Mean of the arc's rise and fall energy (those it has), pJ; rise at ``slew_rise``, fall at
    ``slew_fall`` (ns), at ``load`` (pF)."""
    parts = []
    for table, slew in ((arc.rise, slew_rise), (arc.fall, slew_fall)):
        if table is None:
            continue
        parts.append(table.lookup(total_output_net_capacitance=load / cap_unit,
                                  input_transition_time=slew / time_unit, input_net_transition=slew / time_unit)
                     * scale)
    if not parts:
        return np.zeros_like(load)
    return sum(parts) / len(parts)


def netlist_power(synth: LibertySynthesis, *, activities: Mapping[str, tuple[float, float]], period_ns: float,
                  slews_ns: Mapping[str, tuple[float, float]] | None = None, output_load_pf: float = 0.0,
                  clock_port: str = "clk") -> GatePower:
    """Internal, switching and leakage power of ``synth`` from per-pin activities (see the
    module docstring).

    Parameters
    ----------
    synth : a netlist of :func:`hw.flow.synthesize_liberty`.
    activities : every cell output pin (``c12/Y``) and input port bit (``a[3]``, ``valid``) ->
        (transitions per clock cycle, fraction of cycles high), as
        :func:`hw.flow.netlist_activity` gives them. The clock port's entry, if any, is replaced
        by 2 transitions per cycle and 0.5 high.
    period_ns : clock period, ns (> 0).
    slews_ns : cell output pin -> (rise, fall) transition time, ns (``StaReport.slews_ns``);
        ``None``: 0 everywhere.
    output_load_pf : load of every output port, pF (>= 0).
    clock_port : the clock input port's name.

    Raises
    ------
    UnitConfigError
        For a bad period or load, or activities missing a cell output pin or an input port bit.
    ToolError
        If the library has an ``internal_power`` group this model does not take (a ``when``
        condition, or an output pin's group without ``related_pin``).
    """
    if isinstance(period_ns, bool) or not isinstance(period_ns, (int, float)) or not 0 < period_ns < 1e6:
        raise UnitConfigError(f"period_ns must be a positive number of nanoseconds below 1e6, not {period_ns!r}")
    if isinstance(output_load_pf, bool) or not isinstance(output_load_pf, (int, float)) or not output_load_pf >= 0:
        raise UnitConfigError(f"output_load_pf must be a number of picofarads >= 0, not {output_load_pf!r}")
    path = str(library(synth.library).path())
    cells, units = read_liberty(path), read_liberty_units(path)
    vdd = units.nom_voltage_v
    ports, netlist_cells = synth.netlist["ports"], synth.netlist["cells"]
    net_act: dict[int, tuple[float, float]] = {}
    net_slew: dict[int, tuple[float, float]] = {}
    for name, (direction, bits) in ports.items():
        if direction != "input":
            continue
        for j, b in enumerate(bits):
            if not isinstance(b, int):
                continue
            if name == clock_port:
                net_act[b] = (2.0, 0.5)
                continue
            key = f"{name}[{j}]" if len(bits) > 1 else name
            if key not in activities:
                raise UnitConfigError(f"activities must give every input port bit of {synth.top}, not miss {key!r}")
            net_act[b] = activities[key]
    load: dict[int, float] = defaultdict(float)
    for cname, (ctype, conns) in netlist_cells.items():
        lc = cells[ctype]
        for p in lc.outputs:
            b = conns.get(p)
            if isinstance(b, int):
                key = f"{cname}/{p}"
                if key not in activities:
                    raise UnitConfigError(f"activities must give every cell output pin of {synth.top}, "
                                          f"not miss {key!r}")
                net_act[b] = activities[key]
                if slews_ns is not None and key in slews_ns:
                    net_slew[b] = slews_ns[key]
        for p in lc.inputs:
            b = conns.get(p)
            if isinstance(b, int):
                load[b] += lc.capacitance_pf[p]
    for name, (direction, bits) in ports.items():
        if direction == "output":
            for b in bits:
                if isinstance(b, int):
                    load[b] += float(output_load_pf)
    by_type: dict[str, list[str]] = defaultdict(list)
    for cname, (ctype, _) in netlist_cells.items():
        by_type[ctype].append(cname)
    e_scale, c_unit, t_unit = units.energy_pj, units.capacitance_pf, units.time_ns
    per_instance: dict[str, tuple[float, float, float]] = {}
    for ctype, names in by_type.items():
        lc = cells[ctype]
        if any(a.when is not None for a in lc.internal_power):
            raise ToolError(f"the Liberty cell {ctype} has an internal_power group with a when condition, "
                            f"which the power model does not take")
        n = len(names)
        conns = [netlist_cells[c][1] for c in names]
        act: dict[str, np.ndarray] = {}
        duty: dict[str, np.ndarray] = {}
        slew_r: dict[str, np.ndarray] = {}
        slew_f: dict[str, np.ndarray] = {}
        for p in lc.inputs:
            a, d, r, f = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
            for i, cn in enumerate(conns):
                b = cn.get(p, "x")
                if isinstance(b, int):
                    a[i], d[i] = net_act.get(b, (0.0, 0.0))
                    r[i], f[i] = net_slew.get(b, (0.0, 0.0))
                else:
                    d[i] = 1.0 if str(b) == "1" else 0.0
            act[p], duty[p], slew_r[p], slew_f[p] = a, d, r, f
        internal = np.zeros(n)  # pJ per cycle
        switching = np.zeros(n)
        for p, func in lc.outputs.items():
            bits = [cn.get(p) for cn in conns]
            out_act = np.array([net_act[b][0] if isinstance(b, int) else 0.0 for b in bits])
            c_load = np.array([load[b] if isinstance(b, int) else 0.0 for b in bits])
            switching += 0.5 * c_load * vdd * vdd * out_act
            arcs = [a for a in lc.internal_power if a.pin == p]
            if any(a.related_pin is None for a in arcs):
                raise ToolError(f"the Liberty cell {ctype} has an internal_power group of output {p} without "
                                f"related_pin, which the power model does not take")
            shares = [act[a.related_pin] * _diff_probability(func, a.related_pin, lc, duty, n) for a in arcs]
            total = sum(shares) if shares else np.zeros(n)
            for a, share in zip(arcs, shares):
                weight = np.where(total > 0, share / np.where(total > 0, total, 1.0), 1.0 / len(arcs))
                sense = lc.timing_sense.get((p, a.related_pin), "non_unate")
                r, f = slew_r[a.related_pin], slew_f[a.related_pin]
                if sense == "negative_unate":
                    r, f = f, r
                elif sense != "positive_unate":
                    r = f = (r + f) / 2
                energy = _mean_energy(a, load=c_load, slew_rise=r, slew_fall=f, scale=e_scale, cap_unit=c_unit,
                                      time_unit=t_unit)
                internal += weight * energy * out_act
        for a in lc.internal_power:
            if a.pin in lc.inputs and a.related_pin is not None:
                raise ToolError(f"the Liberty cell {ctype} has an internal_power group of input {a.pin} with a "
                                f"related_pin, which the power model does not take")
            if a.pin in lc.inputs:
                energy = _mean_energy(a, load=np.zeros(n), slew_rise=slew_r[a.pin], slew_fall=slew_f[a.pin],
                                      scale=e_scale, cap_unit=c_unit, time_unit=t_unit)
                internal += energy * act[a.pin]
        leak_mw = lc.leakage_nw * 1e-6
        for i, cname in enumerate(names):
            per_instance[cname] = (float(internal[i]) / period_ns, float(switching[i]) / period_ns, leak_mw)
    totals = [sum(v[k] for v in per_instance.values()) for k in range(3)]
    slews = ("OpenSTA's rise/fall transition time of every cell output pin (input ports and the clock: 0)"
             if slews_ns is not None else "0 everywhere (no slews given)")
    return GatePower(period_ns=float(period_ns), vdd_v=vdd, internal_mw=totals[0], switching_mw=totals[1],
                     leakage_mw=totals[2], total_mw=sum(totals), instance_power_mw=per_instance,
                     output_load_pf=float(output_load_pf), slews=slews)
