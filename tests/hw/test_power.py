"""Power from our own gate-level activity and the Liberty tables (``hw.flow.netlist_power``).

References: the Liberty file itself, read by this test with its own regular expressions (pin
capacitances, nominal voltage, a flip-flop's clock-pin energy table), OpenSTA's ``report_power``
on designs where its activity propagation is exact (buffers and inverters driven by input ports
whose activities we set: every net then switches exactly as the port does), and the zero-delay
toggle counts of the gate-level simulation."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from hw.errors import UnitConfigError
from hw.flow._gatesim import netlist_activity
from hw.flow._liberty import LibertySynthesis, _write_verilog, synthesize_liberty
from hw.flow._power import netlist_power
from hw.flow._sta import static_timing

LIB = Path("/usr/share/qflow/tech/osu018/osu018_stdcells.lib")


def _lib_text() -> str:
    return re.sub(r"/\*.*?\*/", "", LIB.read_text(), flags=re.S)


def _cell_body(text: str, cell: str) -> str:
    start = text.index(f"cell ({cell})")
    nxt = text.find("\ncell (", start + 1)
    return text[start:nxt if nxt > 0 else len(text)]


def _pin_capacitance(text: str, cell: str, pin: str) -> float:
    body = _cell_body(text, cell)
    m = re.search(rf"pin\({pin}\)\s*\{{[^{{}}]*?\bcapacitance\s*:\s*([0-9.eE+-]+)\s*;", body)
    assert m is not None, (cell, pin)
    return float(m.group(1))


def _nom_voltage(text: str) -> float:
    return float(re.search(r"nom_voltage\s*:\s*([0-9.]+)\s*;", text).group(1))


def _hand_netlist(top: str, ports: dict, cells: dict) -> LibertySynthesis:
    """A netlist written by hand (cell -> (type, {pin: net})), in the form the flow produces."""
    return LibertySynthesis(top=top, library="osu018", clock_ps=None, cells={k: v[0] for k, v in cells.items()},
                            cell_scope={k: () for k in cells}, cells_by_scope={}, area_um2=0.0,
                            netlist_verilog=_write_verilog(top, ports, cells), netlist={"ports": ports, "cells": cells})


def _chain() -> LibertySynthesis:
    """Port ``a`` -> INVX1 c0 -> (BUFX2 c1 -> BUFX2 c3 -> y[0]; BUFX4 c2 -> y[1]); a DFFPOSX1 c4
    on ``clk`` whose D is tied low (only its clock pin switches)."""
    ports = {"a": ("input", [2]), "clk": ("input", [4]), "y": ("output", [10, 11, 12])}
    cells = {"c0": ("INVX1", {"A": 2, "Y": 5}), "c1": ("BUFX2", {"A": 5, "Y": 6}),
             "c2": ("BUFX4", {"A": 5, "Y": 11}), "c3": ("BUFX2", {"A": 6, "Y": 10}),
             "c4": ("DFFPOSX1", {"CLK": 4, "D": "0", "Q": 12})}
    return _hand_netlist("chain", ports, cells)


def _random_stimulus(ports: dict[str, int], cycles: int, seed: int) -> list[dict[str, int]]:
    rng = np.random.default_rng(seed)
    return [{p: int(rng.integers(0, 1 << w)) for p, w in ports.items()} for _ in range(cycles)]


def test_a_pin_with_zero_activity_draws_no_switching_or_internal_power(standard_cells) -> None:
    synth = _chain()
    act = netlist_activity(synth, stimulus=_random_stimulus({"a": 1}, 300, seed=1)).pins
    base = netlist_power(synth, activities=act, period_ns=10.0)
    assert base.instance_power_mw["c1"][0] > 0 and base.instance_power_mw["c1"][1] > 0
    quiet = netlist_power(synth, activities={**act, "c1/Y": (0.0, act["c1/Y"][1])}, period_ns=10.0)
    assert quiet.instance_power_mw["c1"][:2] == (0.0, 0.0)
    # the other cells are untouched (c3's input slew is not given here, so its energy does not move)
    for cell in ("c0", "c2", "c3", "c4"):
        assert quiet.instance_power_mw[cell] == base.instance_power_mw[cell]
    # every pin quiet: combinational cells draw leakage only; the flip-flop its clock pin's energy
    still = netlist_power(synth, activities={k: (0.0, d) for k, (_, d) in act.items()}, period_ns=10.0)
    for cell in ("c0", "c1", "c2", "c3"):
        assert still.instance_power_mw[cell][:2] == (0.0, 0.0)
    assert still.instance_power_mw["c4"][0] > 0 and still.instance_power_mw["c4"][1] == 0.0


def test_clock_pin_energy_per_cycle_is_the_tables_rise_plus_fall(standard_cells) -> None:
    """A flip-flop whose D never changes draws, per clock cycle, the rise energy plus the fall
    energy of its clock pin's table at the clock's slew (0: an ideal clock), which this test
    extrapolates itself from the table's first two points."""
    text = _cell_body(_lib_text(), "DFFPOSX1")
    clk = text[text.index("pin(CLK)"):text.index("pin(D)")]
    index = [float(x) for x in re.search(r'index_1\s*\("([^"]+)"\)', clk).group(1).split(",")]
    energy = 0.0
    for kind in ("rise_power", "fall_power"):
        block = clk[clk.index(kind):]
        values = [float(x) for x in re.search(r'values\s*\("([^"]+)"\)', block).group(1).split(",")]
        slope = (values[1] - values[0]) / (index[1] - index[0])
        energy += values[0] - slope * index[0]  # at slew 0
    synth = _chain()
    act = netlist_activity(synth, stimulus=_random_stimulus({"a": 1}, 50, seed=2)).pins
    for period in (5.0, 20.0):
        p = netlist_power(synth, activities=act, period_ns=period)
        assert p.instance_power_mw["c4"][0] * period == pytest.approx(energy, rel=1e-9)


def test_switching_power_of_a_mapped_full_adder_is_half_c_v_squared_f(standard_cells) -> None:
    """A one-bit full adder mapped by the flow: every cell's switching power is 0.5 C V^2 times
    its output's transitions per second, C summed from the capacitances of the pins it drives
    and V the library's nominal voltage, both read from the .lib file by this test; per-cell
    powers add up to the totals."""
    from amaranth import Module, Signal
    from amaranth.back import verilog
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    class FullAdder(wiring.Component):
        def __init__(self) -> None:
            super().__init__({"a": In(1), "b": In(1), "c": In(1), "s": Out(2)})

        def elaborate(self, platform):
            m = Module()
            m.d.comb += self.s.eq(self.a + self.b + self.c)
            return m

    synth = synthesize_liberty(verilog.convert(FullAdder(), name="fa", emit_src=False), top="fa")
    stim = _random_stimulus({"a": 1, "b": 1, "c": 1}, 400, seed=3)
    act = netlist_activity(synth, stimulus=stim)
    assert [o["s"] for o in act.outputs] == [c["a"] + c["b"] + c["c"] for c in stim]
    period = 7.0
    power = netlist_power(synth, activities=act.pins, period_ns=period)
    text, vdd = _lib_text(), _nom_voltage(_lib_text())
    cells = synth.netlist["cells"]
    load: dict[int, float] = {}
    for ctype, conns in cells.values():
        for pin, net in conns.items():
            if isinstance(net, int) and pin in ("A", "B", "C", "D", "S"):
                load[net] = load.get(net, 0.0) + _pin_capacitance(text, ctype, pin)
    assert len(cells) >= 2
    for name, (ctype, conns) in cells.items():
        (net,) = [conns[p] for p in conns if p.startswith("Y")]
        (out_pin,) = [p for p in conns if p.startswith("Y")]
        expected = 0.5 * load.get(net, 0.0) * vdd ** 2 * act.pins[f"{name}/{out_pin}"][0] / period  # pJ/ns = mW
        assert power.instance_power_mw[name][1] == pytest.approx(expected, rel=1e-9), name
    for k, total in enumerate((power.internal_mw, power.switching_mw, power.leakage_mw)):
        assert sum(v[k] for v in power.instance_power_mw.values()) == pytest.approx(total, rel=1e-12)
    assert power.total_mw == pytest.approx(power.internal_mw + power.switching_mw + power.leakage_mw)


def test_agrees_with_opensta_where_its_propagation_is_exact(standard_cells) -> None:
    """Buffers and inverters driven by an input port whose activity OpenSTA is given switch
    exactly as the port does, so OpenSTA's propagated activities equal ours. Stated tolerances:
    leakage equal; switching within 0.5 % (OpenSTA 2019's load is the pins' fall_capacitance,
    ours their capacitance attribute, the larger of rise and fall in this library); internal
    power exactly half of OpenSTA's, within 1e-4: OpenSTA 2019 charges every transition the rise
    *plus* the fall energy of the arc (``port_energy += tr_energy`` over both edges, times the
    transition rate, search/Power.cc of c018cb2), where the Liberty tables give energy per
    transition and later OpenSTA averages the two (``energy /= rf_count``), as we do."""
    synth = _chain()
    act = netlist_activity(synth, stimulus=_random_stimulus({"a": 1}, 400, seed=4)).pins
    assert all(act[f"c{k}/Y"][0] == act["a"][0] for k in range(4))
    sta = static_timing(synth, period_ns=10.0, activities={"a": act["a"]}, instance_power=True, slews=True)
    ours = netlist_power(synth, activities=act, period_ns=10.0, slews_ns=sta.slews_ns)
    assert set(sta.slews_ns) == {"c0/Y", "c1/Y", "c2/Y", "c3/Y", "c4/Q"}
    for cell in ("c0", "c1", "c2", "c3", "c4"):
        (i_sta, s_sta, l_sta), (i_ours, s_ours, l_ours) = sta.instance_power_mw[cell], ours.instance_power_mw[cell]
        assert i_ours > 0 and i_ours == pytest.approx(i_sta / 2, rel=1e-4), cell
        assert s_ours == pytest.approx(s_sta, rel=5e-3, abs=1e-12), cell
        assert l_ours == pytest.approx(l_sta, rel=1e-6), cell
    # without the slews the internal energy is looked up at slew 0 and is lower for these cells
    flat = netlist_power(synth, activities=act, period_ns=10.0)
    assert flat.instance_power_mw["c1"][0] < ours.instance_power_mw["c1"][0]


def test_an_and_gate_with_one_input_tied_high_charges_the_other_inputs_arc(standard_cells) -> None:
    """An AND2X1 with one input tied high: every output transition is caused by the other input,
    so its internal energy is the mean of that input's rise_power and fall_power entries, read
    here from the .lib text at a grid point (output load 0.0125 pF via the output port's load,
    input slew 0.18 ns given for the driving buffer's output)."""
    text = _cell_body(_lib_text(), "AND2X1")
    for live, tied in (("A", "B"), ("B", "A")):
        group = text[text.index(f'related_pin : "{live}";\n      rise_power'):]
        loads = [float(x) for x in re.search(r'index_1\s*\("([^"]+)"\)', group).group(1).split(",")]
        slews = [float(x) for x in re.search(r'index_2\s*\("([^"]+)"\)', group).group(1).split(",")]
        i, j = loads.index(0.0125), slews.index(0.18)
        energy = 0.0
        for kind in ("rise_power", "fall_power"):
            block = group[group.index(kind):]
            rows = re.findall(r'"([0-9., ]+)"', block[block.index("values"):block.index("}")])
            energy += float(rows[i].split(",")[j]) / 2
        ports = {"a": ("input", [2]), "y": ("output", [6])}
        cells = {"c0": ("BUFX2", {"A": 2, "Y": 5}), "c1": ("AND2X1", {live: 5, tied: "1", "Y": 6})}
        synth = _hand_netlist("and_tied", ports, cells)
        act = netlist_activity(synth, stimulus=_random_stimulus({"a": 1}, 200, seed=5)).pins
        power = netlist_power(synth, activities=act, period_ns=4.0, slews_ns={"c0/Y": (0.18, 0.18)},
                              output_load_pf=0.0125)
        assert act["c1/Y"][0] > 0.3
        assert power.instance_power_mw["c1"][0] * 4.0 == pytest.approx(energy * act["c1/Y"][0], rel=1e-9), live


def test_bad_arguments_are_rejected() -> None:
    synth = _chain()
    act = {"a": (0.5, 0.5), "clk": (0.0, 0.0), "c0/Y": (0.5, 0.5), "c1/Y": (0.5, 0.5), "c2/Y": (0.5, 0.5),
           "c3/Y": (0.5, 0.5), "c4/Q": (0.0, 0.0)}
    with pytest.raises(UnitConfigError, match=r"^period_ns must be a positive number of nanoseconds below 1e6, "
                                              r"not 0$"):
        netlist_power(synth, activities=act, period_ns=0)
    with pytest.raises(UnitConfigError, match=r"^output_load_pf must be a number of picofarads >= 0, not -1$"):
        netlist_power(synth, activities=act, period_ns=1.0, output_load_pf=-1)
    missing = {k: v for k, v in act.items() if k != "c2/Y"}
    with pytest.raises(UnitConfigError, match=r"^activities must give every cell output pin of chain, "
                                              r"not miss 'c2/Y'$"):
        netlist_power(synth, activities=missing, period_ns=1.0)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("power-cache")


@pytest.mark.parametrize("lanes", [(1, 2, 4), pytest.param((1, 2, 4, 8), marks=pytest.mark.slow)])
def test_energy_of_fp32_dot_units_follows_their_toggles(standard_cells, cache, lanes) -> None:
    """E4M3 dot units with an FP32 accumulator tree at 1, 2, 4 (and 8, ``--full``) lanes: the
    energy per product moves with the measured toggles per product (each lane count's energy
    ratio to the 1-lane unit within 25 % of its toggle ratio; the energy per toggle varies with
    which cells toggle), where OpenSTA's own propagated estimate grows with the adder tree's
    depth, far beyond the toggles (the known problem this model fixes)."""
    from hw.cost import unit_stimulus
    from hw.cost._asic import characterize_asic
    from hw.units import build_mac

    ours, opensta, toggles = [], [], []
    for n in lanes:
        unit = build_mac(a="e4m3fn", b="e4m3fn", acc="float32", lanes=n)
        rec = characterize_asic(unit, stimulus=unit_stimulus(unit.metadata, cycles=300), cache=cache)
        measured = rec.provenance["measured"]
        cross = measured["power"]["opensta_propagated_mw"]
        assert rec.ops_per_cycle == n
        ours.append(rec.energy_pj_per_op)
        opensta.append((cross["internal"] + cross["switching"]) * measured["period_analysed_ns"] / n)
        toggles.append(measured["stimulus"]["toggles_per_cycle"] / n)
    for e, o, t in zip(ours[1:], opensta[1:], toggles[1:]):
        follows = (e / ours[0]) / (t / toggles[0])
        assert 0.8 <= follows <= 1.25, (ours, toggles)
    assert (opensta[-1] / opensta[0]) / (toggles[-1] / toggles[0]) > 1.5, (opensta, toggles)
