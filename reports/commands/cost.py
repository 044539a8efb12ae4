"""Print the cost table (area, energy per MAC, logic depth, FPGA resources) of MAC units built
from number formats, characterised from their own RTL; or, with ``--reference``, our predictions
for Horowitz's ISSCC 2014 operators next to his figures.

Examples::

    lowbit cost --formats int4,int8,e4m3fn,e5m2 --acc exact --lanes 1 --fpga ecp5,ice40 --csv cost.csv
    lowbit cost --formats int4:e4m3fn,mxfp4 --fpga none
    lowbit cost --formats int8,e4m3fn,e4m3fn@fp32,mxint8,mxfp8_e4m3 --fpga none
    lowbit cost --formats int8,e4m3fn --acc fp32 --lanes 32 --fpga none --no-energy
    lowbit cost --reference

A format ``A:B`` is a mixed pair (A operand x B operand, e.g. ``int4:e4m3fn`` for W4A8);
``@ACC`` after one entry overrides ``--acc`` for it (``e4m3fn@fp32``); a block format (``mxfp4``, ``mxint8`` ...) builds the MX block dot-product unit instead of a MAC.
Energy is per multiply-accumulate (a lane's product), at 45 nm, calibrated on Horowitz's 8-bit
multiply (``--no-energy`` skips the gate-level simulation, whose Verilator build dominates for
large units); the published ratios that pair two of the listed units are printed next to ours.
Results are cached (``$LOWBIT_CACHE_DIR`` or ``~/.cache/lowbit``).
"""
from __future__ import annotations

import argparse
import sys

__all__ = ["add_arguments", "run"]

_COLUMNS = ["name", "area_um2", "gates_nand2", "flip_flops", "logic_depth", "energy_pj_per_op"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--formats", help="comma-separated formats; A:B for a mixed pair, @ACC for "
                                          "a per-entry accumulator (e.g. int4,int8,e4m3fn@fp32,int4:e4m3fn,mxfp4)")
    parser.add_argument("--acc", default="exact", help="accumulator: exact or fp32/fp16/bf16 (default exact)")
    parser.add_argument("--lanes", type=int, default=1, help="products per cycle (default 1)")
    parser.add_argument("--fpga", default="ecp5,ecp5-nodsp,ice40",
                        help="FPGA families: ecp5, ecp5-nodsp, ice40, or none (default all three)")
    parser.add_argument("--cycles", type=int, default=500, help="stimulus cycles per unit (default 500)")
    parser.add_argument("--no-energy", action="store_true",
                        help="skip the gate-level energy measurement (area, depth and FPGA only; the "
                             "Verilator build of a netlist over ~50k NAND2-eq takes many minutes)")
    parser.add_argument("--distribution", default="uniform", help="operands: uniform codes or gaussian")
    parser.add_argument("--seed", type=int, default=0, help="stimulus seed (default 0)")
    parser.add_argument("--csv", metavar="PATH", help="also write the table as CSV (and the published "
                                                       "ratios next to ours as PATH with .published.csv)")
    parser.add_argument("--cache", metavar="DIR", help="cache folder (default $LOWBIT_CACHE_DIR or ~/.cache/lowbit)")
    parser.add_argument("--reference", action="store_true",
                        help="print our predictions for Horowitz's 45 nm operators with the ratios")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="wall-clock limit of one yosys/nextpnr run, seconds (default 600)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _families(text: str) -> tuple[str, ...]:
    from hw.flow import FPGA_FAMILIES

    if text.strip().lower() == "none":
        return ()
    fams = tuple(f.strip() for f in text.split(",") if f.strip())
    for f in fams:
        if f not in FPGA_FAMILIES:
            raise ValueError(f"--fpga must list families among {', '.join(FPGA_FAMILIES)} or be none, not {f!r}")
    return fams


def _build(spec: str, *, acc: str, lanes: int):
    from hw.formats import parse
    from hw.units import build_mac
    from hw.units._factory import build_mxdot

    pair, _, own_acc = spec.partition("@")
    acc = own_acc or acc
    a, _, b = pair.partition(":")
    b = b or a
    fa, fb = parse(a), parse(b)
    if hasattr(fa, "block_size") or hasattr(fb, "block_size"):
        return build_mxdot(a=fa, b=fb)
    return build_mac(a=fa, b=fb, acc=acc, lanes=lanes)


def _print(df, columns: list[str]) -> None:
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 40,
                           "display.float_format", "{:.4g}".format):
        print(df[[c for c in columns if c in df.columns]].to_string(index=False))


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from hw.cost import (CostCache, UnitSpec, calibrate, characterize, cost_table, format_comparison,
                         horowitz_comparison, unit_ops_per_cycle, unit_stimulus)

    if args.lanes < 1:
        raise ValueError(f"--lanes must be a positive integer, not {args.lanes}")
    if args.cycles < 2:
        raise ValueError(f"--cycles must be at least 2, not {args.cycles}")
    if args.distribution not in ("uniform", "gaussian"):
        raise ValueError(f"--distribution must be uniform or gaussian, not {args.distribution!r}")
    if not args.timeout > 0:
        raise ValueError(f"--timeout must be a positive number of seconds, not {args.timeout}")
    from hw.errors import ToolError
    from hw.flow import _synth

    _synth.DEFAULT_TIMEOUT_S = args.timeout
    cache = CostCache(args.cache)
    if args.reference:
        bar = tqdm(total=7, desc="reference units", disable=args.no_progress, file=sys.stderr)
        df = horowitz_comparison(cache=cache, progress=lambda key: (bar.set_postfix_str(key), bar.update(1)))
        bar.close()
        cal = calibrate(cache=cache)
        print(f"calibration on {cal.anchor} ({cal.source}): {cal.um2_per_nand2:.4f} um2 per NAND2-eq, "
              f"{cal.pj_per_toggle * 1000:.4f} fJ per weighted toggle")
        _print(df, list(df.columns))
        if args.csv:
            df.to_csv(args.csv, index=False)
        return 0
    if not args.formats:
        raise ValueError("--formats must list at least one format (or give --reference), not nothing")
    fams = _families(args.fpga)
    specs = [s.strip() for s in args.formats.split(",") if s.strip()]
    units = [_build(s, acc=args.acc, lanes=args.lanes) for s in specs]  # validate all first
    cal = calibrate(cache=cache)
    records, failed = [], []
    for unit in tqdm(units, desc="units", disable=args.no_progress, file=sys.stderr):
        meta = {**unit.metadata, "ops_per_cycle": unit_ops_per_cycle(unit.metadata),
                "design_key": f"hw.units factory: {unit.name}"}  # the name encodes every parameter
        stim = (None if args.no_energy
                else unit_stimulus(meta, cycles=args.cycles, seed=args.seed, distribution=args.distribution))
        try:
            records.append(characterize(UnitSpec(unit.component, unit.name, meta), stimulus=stim,
                                        stimulus_description=f"{args.distribution} operands, seed {args.seed}",
                                        fpga=fams, cache=cache, calibration=cal))
        except ToolError as exc:  # a tool failed on this unit: say so, go on with the others
            unit.component._MustUse__silence = True
            failed.append(unit.name)
            print(f"lowbit cost: {unit.name}: {exc}", file=sys.stderr)
    if not records:
        return 1
    df = cost_table(records)
    fpga_cols = [f"{f}_{x}" for f in fams for x in ("luts", "ffs", "dsps", "carry", "fmax_mhz")]
    _print(df, _COLUMNS + fpga_cols)
    comparison = format_comparison(records)
    if len(comparison):
        print("\npublished ratios (relayed) next to ours:")
        _print(comparison, list(comparison.columns))
    if args.csv:
        from pathlib import Path

        df.to_csv(args.csv, index=False)
        if len(comparison):
            comparison.to_csv(Path(args.csv).with_suffix(".published.csv"), index=False)
    if failed:
        print(f"\nnot characterised (tool failure, see above): {', '.join(failed)}")
        return 1
    return 0
