"""One design point end to end: a model's layer(s) on a hardware config under several recipes
-> cycles, energy, MAC-array area, output error, trace file. What ``lowbit demo`` and the sweep
call.

Area: ``rows x cols`` times the area of the recipe's MAC unit (``hw.units.recipe_mac``: the
array's PE datapath for the activation x weight element formats with the recipe's accumulation,
packed as the array packs it (``MacFormats.packing`` products per PE per cycle), plus an
accumulator register and an output converter; characterised by
``hw.cost.characterize`` from its own RTL, cached by design hash) — the MAC array only, without SRAM, DMA or the vector unit. The
MAC energy per op needs a switching-activity stimulus that the cost model draws per format; it
comes from the same characterisation on ``hw.cost.unit_stimulus`` (or the caller's
``CostRecord`` s); without it the energy column covers memory only (``energy_complete`` says
which). For block formats (MX) the MAC is the element MAC; block-scale logic is not included.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from mapping import Recipe, parse_recipe

from ._hwconfig import HardwareConfig, load_hardware
from ._numerics import run_layer_numerics
from ._run import simulate
from ._trace import write_trace
from .errors import SimulationError

__all__ = ["run_design_point", "mac_unit_cost"]


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
    mac_area_um2, array_area_um2, output_rel_error, gemm_outputs_checked (equal/checked vs the
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
        if isinstance(cost, str):
            notes.append(f"area: {cost}")
        elif rec is not None:
            notes.append(f"area: {rec.name} from hw.cost.characterize (45 nm estimate, MAC array only"
                         + (", block-scale logic not included)" if r.weights.granularity == "block" else ")"))
        rows.append({
            "recipe": r.name, "cycles": s["cycles"], "latency_ms": s["seconds"] * 1e3,
            "mac_utilisation": s["mac_utilisation"],
            "dram_mb": (s["dram_read_bytes"] + s["dram_write_bytes"]) / 1e6,
            "energy_uj": (s["energy_dram_pj"] + s["energy_sram_pj"]
                          + (s["energy_mac_pj"] if s["energy_mac_pj"] == s["energy_mac_pj"] else 0.0)) / 1e6,
            "energy_complete": s["energy_pj"] == s["energy_pj"],
            "mac_area_um2": mac_area, "array_area_um2": mac_area * hw.array_rows * hw.array_cols,
            "output_rel_error": nr.rel_rms_error,
            "gemm_outputs_checked": f"{int(checks.equal.sum())}/{int(checks.checked.sum())}",
            "trace": str(trace) if trace else None, "notes": " | ".join(notes),
        })
    return pd.DataFrame(rows)
