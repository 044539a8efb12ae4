"""Run the built-in default design point end to end and print what each layer says about it.

Sections, in order (``--only`` picks some): the format table; a bit-exact GEMM check of the
golden model against an exact-rational reference per headline format; one RTL unit per headline
format against the golden model; a small GEMM on an RTL systolic array; the cost of the small
MAC units from their own RTL; the default design point on the simulator; a small sweep and its
HTML report. Each section is announced with its number and ends with one line saying what it
showed and how long it took, so a first run (which characterises the cost units: about a minute
per MAC unit cold, cached afterwards) always shows progress. The demo characterises only the
small MAC units (``DEMO_COST_FORMATS``); the full tables, with the 32-element MX block-dot units
that take minutes each, come from ``python benchmarks/cost_tables.py`` (``docs/cost_tables.md``).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from hw.formats import HEADLINE_FORMATS, BlockFormat, parse
from hw.numerics import gemm, operand_values, reference_gemm

__all__ = ["DEMO_COST_FORMATS", "DESIGN_POINT_RECIPES", "add_arguments", "run", "SECTIONS", "SECTION_KEYS"]

#: formats of the demo's cost table: small MAC units (seconds each cold on the standard-cell flow)
DEMO_COST_FORMATS = ("int4", "int8", "e4m3fn", "e2m1fn")
#: recipes of the default design point (the simulate section) and of the demo's sweep report
DESIGN_POINT_RECIPES = ("INT8", "FP8", "MXFP4")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--out", default="lowbit-out", help="folder for the demo's files (default: lowbit-out)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the demo data")
    parser.add_argument("--products", type=int, default=500,
                        help="random products checked per format in RTL simulation (default 500)")
    parser.add_argument("--cost-formats", default=",".join(DEMO_COST_FORMATS), metavar="FORMATS",
                        help="formats of the cost table (default: " + ",".join(DEMO_COST_FORMATS) + ", small MAC "
                             "units; a 32-element MX block-dot unit takes minutes to characterise cold: the full "
                             "tables come from `python benchmarks/cost_tables.py`)")
    parser.add_argument("--only", metavar="SECTIONS",
                        help="comma-separated section keys to run (default: all): " + ", ".join(SECTION_KEYS))


def section_formats(args) -> str:
    from .formats import render_formats

    print(render_formats(HEADLINE_FORMATS))
    return (f"{len(HEADLINE_FORMATS)} headline formats; every limit is derived from the format's descriptor "
            f"(`lowbit formats` lists more)")


def section_gemm_check(args) -> str:
    """Bit-exact GEMM (exact accumulation, rounded once to FP32) vs an exact-rational reference."""
    rng = np.random.default_rng(args.seed)
    m, k, n = 8, 64, 8
    fp32 = parse("fp32")
    exact = 0
    for name in HEADLINE_FORMATS:
        fmt = parse(name)
        x, y = rng.standard_normal((m, k)), rng.standard_normal((n, k))
        if isinstance(fmt, BlockFormat):
            sa, a = fmt.quantize(x)
            sb, bt = fmt.quantize(y)
            b, sb = bt.T, sb.T
        else:
            sa = sb = None
            a = fmt.encode(x * fmt.max / 4, overflow="saturate")
            b = fmt.encode(y.T * fmt.max / 4, overflow="saturate")
        t0 = time.perf_counter()
        got = gemm(a, fmt, b, fmt, fp32, a_scales=sa, b_scales=sb)
        dt = time.perf_counter() - t0
        want = reference_gemm(operand_values(a, fmt, sa, axis=1), operand_values(b, fmt, sb, axis=0), fp32)
        same = int(np.sum(got == want))
        exact += same == got.size
        verdict = "bit-exact" if same == got.size else "MISMATCH"
        print(f"  {name:11s} {m}x{k}x{n} -> fp32  {same}/{got.size} outputs equal the exact reference  "
              f"[{verdict}]  ({dt * 1e3:.1f} ms)")
    return (f"the golden GEMM (exact accumulation, one rounding to fp32) is bit-exact against exact rational "
            f"arithmetic for {exact}/{len(HEADLINE_FORMATS)} formats")


def section_units(args) -> str:
    """One RTL unit per headline format; random products in RTL simulation vs the golden model."""
    from hw.units import demo_check

    passed = total = 0
    for row in demo_check(HEADLINE_FORMATS, n=args.products, seed=args.seed):
        total += 1
        passed += row["verdict"] == "pass"
        print(f"  {row['format']:11s} {row['unit']:40s} {row['products']:5d} products, "
              f"{row['mismatches']} mismatches  [{row['verdict']}]  ({row['seconds']:.1f} s)", flush=True)
    return (f"{passed}/{total} RTL units (Amaranth simulation) give the golden model's bits on every random product "
            f"(`--products` for more; the test suite checks every pair)")


def section_array(args) -> str:
    """One small GEMM per headline format on an RTL systolic array (Amaranth simulator)."""
    from hw.arrays import demo_check

    rows, cols, m, k, n = 4, 4, 5, 64, 6
    print(f"  {rows}x{cols} weight-stationary array, GEMM {m}x{k}x{n}, Amaranth RTL simulation")
    good = total = 0
    for label, exact, rtl_cycles, model_cycles in demo_check(rows=rows, cols=cols, m=m, k=k, n=n, seed=args.seed):
        total += 1
        good += exact == "yes" and rtl_cycles == model_cycles
        agree = "equal" if rtl_cycles == model_cycles else "DIFFER"
        print(f"  {label:11s} bit-exact vs golden GEMM: {exact:3s}  RTL cycles {rtl_cycles:5d}  "
              f"tile_cycles {model_cycles:5d}  [{agree}]", flush=True)
    return (f"{good}/{total} arrays are bit-exact and take exactly the cycles of the timing function the "
            f"simulator uses")


def section_cost(args) -> str:
    """Per-format MAC cost from synthesis of the exported RTL (cached)."""
    from . import cost

    parser = argparse.ArgumentParser(prog="lowbit cost")
    cost.add_arguments(parser)  # the cost command's own defaults, whatever options it grows
    names = [f.strip() for f in args.cost_formats.split(",") if f.strip()]
    flow = _cost_flow()
    cost.run(parser.parse_args(["--formats", ",".join(names), "--seed", str(args.seed), *flow,
                                "--csv", str(Path(args.out) / "cost.csv")]))
    return (f"area, timing and energy per MAC of {len(names)} formats ({', '.join(names)}) from their own RTL "
            f"({'generic calibrated flow' if flow else 'standard cells + OpenSTA'}), "
            f"written to {Path(args.out) / 'cost.csv'}; the full tables (MX block-dot and 32-lane units, minutes "
            f"each): `python benchmarks/cost_tables.py` -> docs/cost_tables.md")


def _cost_flow() -> list[str]:
    """The cost command's flow options for this machine: its default standard-cell flow when the
    Debian packages (``opensta``, ``qflow-tech-osu018``) are installed — the test command installs
    them —, otherwise the generic calibrated flow, said in one line (the README's first command
    installs Python packages only)."""
    from hw.errors import ToolError
    from hw.flow import library, sta_version

    try:
        library("osu018").path()
        sta_version()
    except ToolError as exc:
        print(f"  standard-cell flow unavailable ({exc}); this section uses the generic calibrated flow "
              f"(--flow generic)", flush=True)
        return ["--flow", "generic"]
    return []


def section_simulate(args) -> str:
    """The default design point: one BERT-base layer on a 16x16 array, INT8 vs FP8 vs MXFP4."""
    import pandas as pd

    from sim import run_design_point

    from .._units import fmt_bytes, fmt_count, fmt_energy_pj, fmt_seconds

    _wait_for_prefetch(args)
    df = run_design_point(model="bert-base", recipes=DESIGN_POINT_RECIPES, hw="edge-16x16",
                          out_dir=Path(args.out) / "traces", seed=args.seed)
    shown = pd.DataFrame({
        "recipe": df["recipe"], "cycles": df["cycles"].map(fmt_count),
        "latency": (df["latency_ms"] / 1e3).map(fmt_seconds),
        "MAC utilisation": df["mac_utilisation"].map("{:.1%}".format),
        "DRAM traffic": (df["dram_mb"] * 1e6).map(fmt_bytes),
        "energy": (df["energy_uj"] * 1e6).map(fmt_energy_pj),
        "MAC array area": df["array_area_um2"].map(lambda a: f"{a / 1e6:.4g} mm²" if a == a else "n/a"),
        "output error (rel. RMS)": df["output_rel_error"].map("{:.3g}".format),
        "GEMM outputs exact": df["gemm_outputs_checked"],
    })
    with pd.option_context("display.width", 200):
        print(shown.to_string(index=False))
    print(f"  traces (open in ui.perfetto.dev): {Path(args.out) / 'traces'}")
    from ._checks import write_outputs

    write_outputs({Path(args.out) / "design_point.csv": df.to_csv(index=False)})
    best = df.loc[df["latency_ms"].idxmin(), "recipe"]
    return (f"one BERT-base layer under {len(df)} recipes: cycles from the RTL-checked timing functions, energy "
            f"with each recipe's MAC unit (hw.cost, Gaussian stimulus), output error against float64; fastest: "
            f"{best}; table in {Path(args.out) / 'design_point.csv'}")


def section_report(args) -> str:
    """A small sweep of the demo's design points, written up as a self-contained HTML report."""
    from reports.sweep import run_demo_report

    _wait_for_prefetch(args, "_sweep_prefetch")
    index = run_demo_report(Path(args.out) / "sweep-report", progress=True)
    print(f"  report: {index}")
    return (f"a cached Dask sweep of the demo's recipes and its HTML report (Pareto fronts of cost against "
            f"output error): open {index}")


#: key -> (title, function), in the order the demo runs them; each function prints its tables and
#: returns the one line that says what the section showed
SECTIONS = {
    "formats": ("Number formats (limits derived from each descriptor)", section_formats),
    "gemm": ("Golden GEMM: exact accumulation vs exact-rational reference", section_gemm_check),
    "units": ("RTL units: random products in RTL simulation vs the golden model", section_units),
    "array": ("RTL systolic array: bit-exactness and cycles vs the timing function", section_array),
    "cost": ("Cost from our own RTL: the small MAC units (characterised on the first run, seconds each; "
             "cached)", section_cost),
    "simulate": ("Default design point: BERT-base layer, 16x16 array, INT8 vs FP8 vs MXFP4", section_simulate),
    "report": ("Sweep report of the demo's design points", section_report),
}
SECTION_KEYS = list(SECTIONS)


def run(args: argparse.Namespace) -> int:
    keys = SECTION_KEYS if not args.only else [k.strip() for k in args.only.split(",")]
    unknown = [k for k in keys if k not in SECTION_KEYS]
    if unknown:
        raise ValueError(f"--only must name sections among {', '.join(SECTION_KEYS)}, not {unknown[0]!r}")
    if args.products < 1:
        raise ValueError(f"--products must be a positive integer, not {args.products!r}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"-o/--out must be a folder, not the file {str(out)!r}")
    if "report" in keys:
        from reports.sweep._demo import check_demo_dirs

        check_demo_dirs(out / "sweep-report")
    out.mkdir(parents=True, exist_ok=True)
    chosen = [k for k in SECTION_KEYS if k in keys]
    t_start = time.perf_counter()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lowbit-demo-prefetch") as pool:
        if {"simulate", "report"} & set(chosen):
            print(f"(characterising the MAC units of {', '.join(DESIGN_POINT_RECIPES)} in the background for the "
                  f"simulate and report sections; cached after the first run)", flush=True)
            args._mac_prefetch = pool.submit(_prefetch_mac_costs)
        if "report" in chosen:  # after the MACs, in the same background thread
            args._sweep_prefetch = pool.submit(_prefetch_sweep_figures)
        for n, key in enumerate(chosen, 1):
            title, fn = SECTIONS[key]
            print(f"\n== [{n}/{len(chosen)}] {title} ==", flush=True)
            t0 = time.perf_counter()
            shown = fn(args)
            print(f"-> shown: {shown}  ({time.perf_counter() - t0:.0f} s)", flush=True)
    print(f"\ndemo done in {time.perf_counter() - t_start:.0f} s; files under {out}")
    return 0


def _prefetch_mac_costs() -> None:
    """Characterise (or read from the hw.cost cache) the MAC unit of every design-point recipe
    through ``sim.mac_unit_cost``, the function the simulate and report sections call, so that
    the yosys and Verilator runs overlap the RTL simulations of the earlier sections."""
    from mapping import parse_recipe
    from sim import mac_unit_cost

    for name in DESIGN_POINT_RECIPES:
        mac_unit_cost(parse_recipe(name))


def _prefetch_sweep_figures() -> None:
    """Characterise (or read from the hw.cost cache) the standard-cell figures the demo's sweep
    prices its points with — each point's MAC at its hardware's clock (``sim.datapath_energy_of``)
    and the vector units of the model's row ops (``sim.vector_energies_of``), the calls of the
    sweep's simulator source — so that they overlap the earlier sections instead of running cold
    inside the sweep's workers. Errors are left to the sweep, which words them per point."""
    from hw.errors import ToolError
    from mapping import layer_ops, load_model
    from reports.sweep import demo_spec
    from sim import SimulationError, datapath_energy_of, vector_energies_of

    for point in demo_spec().points:
        hw = point.hardware_config()
        try:
            datapath_energy_of(hw, point.recipe_obj())
        except (SimulationError, ToolError):
            continue  # the sweep falls back to the generic flow and says why
        ops = layer_ops(load_model(point.model), tokens=point.seq_len, batch=point.batch)
        vector_energies_of(hw, functions=tuple(sorted({op.function for op in ops if op.kind == "vector"})))


def _wait_for_prefetch(args, what: str = "_mac_prefetch") -> None:
    fut = getattr(args, what, None)
    if fut is not None and not fut.done():
        print("  (waiting for the characterisation started in the background)", flush=True)
    if fut is not None:
        fut.result()  # an error here is the same error the section would raise
