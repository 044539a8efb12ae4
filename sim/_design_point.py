"""One design point end to end: a model's layer(s) on a hardware config under several recipes
-> cycles, energy, MAC-array area, output error, trace file. What ``lowbit demo`` and the sweep
call.

Area (``array_area_cost``): the MAC array as ``hw.arrays`` builds it, ``rows x cols`` PEs plus
one output converter per column (``hw.cost.array_area_um2``, the formula ``lowbit cost --hw``
uses too). The PE is the array's ``hw.units.build_pe`` datapath for the recipe's activation x
weight element formats and accumulation (``hw.units.recipe_mac_formats``), packed as the array
packs it (``MacFormats.packing`` products per PE per cycle), with its partial-sum register as the
array holds it (``acc_<i>_<j>``: one accumulator-layout register, reset to zero on a tile's first
beat); the converter is the ``hw.units.OutputConverter`` of those formats (``out_convert_<col>``).
Both are characterised by ``hw.cost.characterize`` (generic calibrated flow, 45 nm estimate,
cached by design hash) — the MAC array only, without SRAM, DMA, the array's operand skew
registers or the vector unit. The MAC energy per op needs a switching-activity stimulus that the
cost model draws per format; it comes from the characterisation of the recipe's whole MAC unit
(``mac_unit_cost``: PE + accumulator register + output converter) on
``hw.cost.unit_stimulus`` (or the caller's ``CostRecord`` s); without it the energy column
covers memory only (``energy_complete`` says which). For block formats (MX) the MAC is the
element MAC; block-scale logic is not included.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from amaranth import Module, Mux, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from mapping import Recipe, parse_recipe

from ._hwconfig import HardwareConfig, load_hardware
from ._numerics import run_layer_numerics
from ._run import simulate
from ._trace import write_trace
from .errors import SimulationError

__all__ = ["run_design_point", "mac_unit_cost", "array_area_cost", "array_pe_unit", "ArrayAreaCost"]


class _ArrayPe(wiring.Component):
    """One PE of ``hw.arrays`` with its partial-sum register as the array has it: the ``MacPe``
    ``pe`` (``hw.units.build_pe``'s component, submodule ``pe``) adds its enabled products to
    the register, or to zero on a tile's ``first`` beat. Ports: a, b, en as the ``MacPe``'s; first : In(1); acc : Out(acc
    layout), the register. (The array's drain path through the register is not included.)"""

    def __init__(self, pe, formats) -> None:
        self._pe = pe
        members = pe.signature.members
        super().__init__({"a": In(members["a"].shape), "b": In(members["b"].shape),
                          "en": In(members["en"].shape), "first": In(1), "acc": Out(formats.acc_layout())})

    def elaborate(self, platform):
        m = Module()
        m.submodules.pe = pe = self._pe
        m.d.comb += [pe.a.eq(self.a), pe.b.eq(self.b), pe.en.eq(self.en),
                     pe.acc_in.eq(Mux(self.first, 0, Value.cast(self.acc)))]
        with m.If(self.en != 0):
            m.d.sync += Value.cast(self.acc).eq(Value.cast(pe.acc_out))
        return m


def array_pe_unit(formats) -> tuple[Any, Any]:
    """The (PE, converter) units of an array of ``formats`` (``hw.units.MacFormats``), as
    ``(component, name, metadata)`` for ``hw.cost.characterize``: the array's PE
    (``hw.units.build_pe``, ``formats.packing`` lanes) with its partial-sum register, and the
    column ``OutputConverter``. Module names ``apr_<PE name>`` and ``cvt_<PE name>``."""
    from hw.units import OutputConverter, build_pe

    pe = build_pe(formats)
    meta = dict(pe.metadata)
    return ((_ArrayPe(pe.component, formats), "apr_" + pe.name, {**meta, "unit": "array_pe"}),
            (OutputConverter(formats), "cvt_" + pe.name, {"unit": "output_converter", "ops_per_cycle": 1}))


@dataclass(frozen=True)
class ArrayAreaCost:
    """``hw.cost.characterize`` records of an array's PE (with its partial-sum register) and
    column output converter (:func:`array_area_cost`)."""

    pe: Any
    converter: Any

    def area_um2(self, rows: int, cols: int) -> float:
        """Area of a ``rows x cols`` array, um^2 (``hw.cost.array_area_um2``)."""
        from hw.cost import array_area_um2

        return sum(array_area_um2(rows=rows, cols=cols, pe_area_um2=float(self.pe.area_um2),
                                  converter_area_um2=float(self.converter.area_um2)))


def array_area_cost(recipe: Recipe) -> ArrayAreaCost | str:
    """Area records of the recipe's array (module docstring): its PE and column converter,
    characterised by ``hw.cost.characterize`` (generic flow, area only, cached). Returns a string
    saying why there is none when the recipe's formats have no MAC datapath."""
    from hw.cost import characterize
    from hw.units import recipe_mac_formats

    try:
        pe, conv = array_pe_unit(recipe_mac_formats(recipe))
    except (ValueError, TypeError) as exc:
        return f"no MAC unit for {recipe.name}: {exc}"
    return ArrayAreaCost(pe=characterize(pe, stimulus=None, fpga=()),
                         converter=characterize(conv, stimulus=None, fpga=()))


def mac_unit_cost(recipe: Recipe, *, energy: bool = True):
    """``hw.cost.characterize`` record of the recipe's MAC unit (``hw.units.recipe_mac``:
    activation x weight element formats, accumulating as the recipe says and rounding to its
    accumulator format): area, and with ``energy`` the energy per MAC from gate-level switching
    activity on ``hw.cost.unit_stimulus`` (Gaussian operands, sigma = format max / 4). Cached by
    ``hw.cost`` (the first call per format runs yosys and Verilator: seconds to minutes).
    Returns a string saying why there is no record when the recipe's formats have no MAC unit."""
    from hw.cost import characterize, unit_stimulus
    from hw.units import recipe_mac

    try:
        unit = recipe_mac(recipe)
    except (ValueError, TypeError) as exc:
        return f"no MAC unit for {recipe.name}: {exc}"
    stim = unit_stimulus(unit.metadata, distribution="gaussian") if energy else None
    return characterize(unit, stimulus=stim, stimulus_description="gaussian, sigma = max/4 (hw.cost.unit_stimulus)"
                        if energy else "", fpga=())


def run_design_point(*, model: str = "bert-base", recipes=("INT8", "FP8", "MXFP4"),
                     hw: HardwareConfig | str | None = "edge-16x16", layers: int = 1, prefill: int | None = None,
                     tokens: int = 16, seed: int = 0, out_dir: str | Path | None = None, area: bool = True,
                     mac_energy: bool = True, mac_costs: dict | None = None) -> pd.DataFrame:
    """Simulate ``layers`` layer(s) of ``model`` under each recipe on ``hw`` and run one layer in
    numerics mode; one row per recipe.

    ``area``/``mac_energy``: characterise the recipe's MAC unit with ``hw.cost`` (cached; the first
    run per format takes seconds to minutes). ``mac_costs``: recipe name -> ``CostRecord`` to use
    instead.

    Columns: recipe, cycles, latency_ms, mac_utilisation, dram_mb, energy_uj, energy_complete,
    mac_area_um2 (the whole standalone MAC unit: PE + accumulator register + output converter,
    um^2), array_area_um2 (the simulated array: rows x cols PEs with their partial-sum registers
    + one output converter per column, :func:`array_area_cost`, um^2), output_rel_error, gemm_outputs_checked (equal/checked vs the
    exact-rational reference), trace (path, when ``out_dir`` is given), notes.

    Raises
    ------
    ModelConfigError, RecipeError, HardwareConfigError, MappingError, SimulationError
    """
    hw = load_hardware(hw) if not isinstance(hw, HardwareConfig) else hw
    if isinstance(recipes, (str, Recipe)):
        recipes = (recipes,)
    if not recipes:
        raise SimulationError(f"recipes must name at least one recipe, not {recipes!r}")
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in recipes:
        r = parse_recipe(name) if not isinstance(name, Recipe) else name
        cost = (mac_costs or {}).get(r.name)
        if cost is None and area:
            cost = mac_unit_cost(r, energy=mac_energy)
        arr = array_area_cost(r) if area else None
        rec = cost if not isinstance(cost, str) else None
        res = simulate(model, r, hw, prefill=prefill, layers=layers, trace=out is not None,
                       mac_cost=rec if rec is not None and rec.energy_pj_per_op is not None else None)
        s = res.summary
        trace = None
        if out is not None:
            trace = out / f"trace_{res.summary['model']}_{r.name}_{hw.name}.json"
            write_trace(res.trace_events, trace, hw)
        nr = run_layer_numerics(model, r, tokens=tokens, seed=seed)
        checks = nr.gemm_checks(samples=4)
        mac_area = float(rec.area_um2) if rec is not None else float("nan")
        notes = list(s["notes"])
        if isinstance(arr, str):
            notes.append(f"area: {arr}")
        elif arr is not None:
            notes.append(f"area: {s['array_rows']}x{s['array_cols']} x {arr.pe.name} + {s['array_cols']} x "
                         f"{arr.converter.name} from hw.cost.characterize (45 nm estimate, MAC array only"
                         + (", block-scale logic not included)" if r.weights.granularity == "block" else ")"))
        rows.append({
            "recipe": r.name, "cycles": s["cycles"], "latency_ms": s["seconds"] * 1e3,
            "mac_utilisation": s["mac_utilisation"],
            "dram_mb": (s["dram_read_bytes"] + s["dram_write_bytes"]) / 1e6,
            # every part of the breakdown the cost model gives (dram, sram, gb, mac, vector; NaN: none)
            "energy_uj": sum(v for v in s["energy_breakdown_pj"].values() if v == v) / 1e6,
            "energy_complete": s["energy_pj"] == s["energy_pj"],
            "mac_area_um2": mac_area,
            "array_area_um2": (arr.area_um2(res.summary["array_rows"], res.summary["array_cols"])
                               if isinstance(arr, ArrayAreaCost) else float("nan")),
            "output_rel_error": nr.rel_rms_error,
            "gemm_outputs_checked": f"{int(checks.equal.sum())}/{int(checks.checked.sum())}",
            "trace": str(trace) if trace else None, "notes": " | ".join(notes),
        })
    return pd.DataFrame(rows)
