"""Run the built-in default design point end to end and print what each layer says about it.

Sections (each one line of verdict per format, plus tables): the format table; a bit-exact GEMM
check of the golden model against an exact-rational reference for every headline format.
Later layers (RTL units, arrays, cost, simulator, report) add their sections here.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from hw.formats import HEADLINE_FORMATS, BlockFormat, parse
from hw.numerics import gemm, operand_values, reference_gemm

__all__ = ["add_arguments", "run", "SECTIONS", "SECTION_KEYS"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--out", default="lowbit-out", help="folder for the demo's files (default: lowbit-out)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the demo data")
    parser.add_argument("--products", type=int, default=2000,
                        help="random products checked per format in RTL simulation (default 2000)")
    parser.add_argument("--cost-formats", default=",".join(HEADLINE_FORMATS), metavar="FORMATS",
                        help="formats of the cost table (default: the headline formats; the first run measures "
                             "each unit, about 2-3 min for a 32-element MX block-dot unit, mostly its "
                             "gate-level simulation build; later runs read the cache)")
    parser.add_argument("--only", metavar="SECTIONS",
                        help="comma-separated section keys to run (default: all): " + ", ".join(SECTION_KEYS))


def section_formats(args) -> None:
    from .formats import render_formats

    print(render_formats(HEADLINE_FORMATS))


def section_gemm_check(args) -> None:
    """Bit-exact GEMM (exact accumulation, rounded once to FP32) vs an exact-rational reference."""
    rng = np.random.default_rng(args.seed)
    m, k, n = 8, 64, 8
    fp32 = parse("fp32")
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
        verdict = "bit-exact" if same == got.size else "MISMATCH"
        print(f"  {name:11s} {m}x{k}x{n} -> fp32  {same}/{got.size} outputs equal the exact reference  "
              f"[{verdict}]  ({dt * 1e3:.1f} ms)")


def section_units(args) -> None:
    """One RTL unit per headline format; random products in RTL simulation vs the golden model."""
    from hw.units import demo_check

    for row in demo_check(HEADLINE_FORMATS, n=args.products, seed=args.seed):
        print(f"  {row['format']:11s} {row['unit']:40s} {row['products']:5d} products, "
              f"{row['mismatches']} mismatches  [{row['verdict']}]  ({row['seconds']:.1f} s)")


def section_array(args) -> None:
    """One small GEMM per headline format on an RTL systolic array (Amaranth simulator)."""
    from hw.arrays import demo_check

    rows, cols, m, k, n = 4, 4, 5, 64, 6
    print(f"  {rows}x{cols} weight-stationary array, GEMM {m}x{k}x{n}, Amaranth RTL simulation")
    for label, exact, rtl_cycles, model_cycles in demo_check(rows=rows, cols=cols, m=m, k=k, n=n, seed=args.seed):
        agree = "equal" if rtl_cycles == model_cycles else "DIFFER"
        print(f"  {label:11s} bit-exact vs golden GEMM: {exact:3s}  RTL cycles {rtl_cycles:5d}  "
              f"tile_cycles {model_cycles:5d}  [{agree}]")


def section_cost(args) -> None:
    """Per-format MAC / MX block-dot cost from synthesis of the exported RTL (cached)."""
    from . import cost

    parser = argparse.ArgumentParser(prog="lowbit cost")
    cost.add_arguments(parser)  # the cost command's own defaults, whatever options it grows
    cost.run(parser.parse_args(["--formats", args.cost_formats, "--fpga", "none", "--seed", str(args.seed),
                                "--csv", str(Path(args.out) / "cost.csv")]))


def section_simulate(args) -> None:
    """The default design point: one BERT-base layer on a 16x16 array, INT8 vs FP8 vs MXFP4."""
    import pandas as pd

    from sim import run_design_point

    df = run_design_point(model="bert-base", recipes=("INT8", "FP8", "MXFP4"), hw="edge-16x16",
                          out_dir=Path(args.out) / "traces", seed=args.seed)
    cols = ["recipe", "cycles", "latency_ms", "mac_utilisation", "dram_mb", "energy_uj", "array_area_um2",
            "output_rel_error", "gemm_outputs_checked"]
    with pd.option_context("display.width", 200, "display.float_format", "{:.4g}".format):
        print(df[cols].to_string(index=False))
    print(f"  traces (open in ui.perfetto.dev): {Path(args.out) / 'traces'}")
    df.to_csv(Path(args.out) / "design_point.csv", index=False)


def section_report(args) -> None:
    """A small sweep of the demo's design points, written up as a self-contained HTML report."""
    from reports.sweep import run_demo_report

    index = run_demo_report(Path(args.out) / "sweep-report", progress=True)
    print(f"  report: {index}")


#: key -> (title, function), in the order the demo runs them
SECTIONS = {
    "formats": ("Number formats (limits derived from each descriptor)", section_formats),
    "gemm": ("Golden GEMM: exact accumulation vs exact-rational reference", section_gemm_check),
    "units": ("RTL units: random products in RTL simulation vs the golden model", section_units),
    "array": ("RTL systolic array: bit-exactness and cycles vs the timing function", section_array),
    "cost": ("Cost from our own RTL: area and energy per MAC (45 nm estimate, calibrated on Horowitz)",
             section_cost),
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
    out.mkdir(parents=True, exist_ok=True)
    for key, (title, fn) in SECTIONS.items():
        if key not in keys:
            continue
        print(f"\n== {title} ==")
        fn(args)
    return 0
