"""Print the cost (area, Fmax, energy) of MAC units per number format, measured on their own RTL.

Print the cost of MAC units built from number formats, characterised from their own RTL on a
real standard-cell library (OSU 0.18 um) with static timing and power (OpenSTA): area, Fmax at
a clock target, energy per product, leakage, split into line items (operand decode, multiply,
align, scale, accumulate, registers, output conversion), scaled to a target node (Stillmaker &
Baas, derived); or the budget of a whole accelerator (``--hw FILE``); or the calibrated
generic-gate estimate (``--flow generic``, with FPGA resources) and its Horowitz check
(``--reference``).

Examples::

    lowbit cost --formats int4,int8,e4m3fn,e5m2,e2m1fn,mxfp8_e4m3,mxint8,nvfp4 --csv out.csv
    lowbit cost --formats int8,e4m3fn --clock-mhz 1000 --node 7
    lowbit cost --formats int4:e4m3fn,e4m3fn@fp32 --node 45 --k 256
    lowbit cost --hw examples/hw_edge_16x16.toml --recipe W4A8 --node 7
    lowbit cost --flow generic --formats int8,e4m3fn --fpga ecp5
    lowbit cost --reference

A format ``A:B`` is a mixed pair (A operand x B operand, e.g. ``int4:e4m3fn`` for W4A8); ``@ACC``
after one entry overrides ``--acc`` for it (``e4m3fn@fp32``); a block format (``mxfp4``,
``mxint8`` ...) builds the MX block dot-product unit instead of a MAC.

``--clock-mhz`` is the clock at ``--node``: the units are mapped and timed on the library at the
clock that corresponds to it there (Stillmaker & Baas delay factor) and the shallowest
``pipeline`` depth that meets it is used; a target no depth meets is an error. Energy per
product amortises the output conversion over ``--k`` products. Every figure carries its
provenance (printed under the table; columns of the CSV). Results are cached
(``$LOWBIT_CACHE_DIR`` or ``~/.cache/lowbit``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_arguments", "run"]

_GENERIC_COLUMNS = ["name", "area_um2", "gates_nand2", "flip_flops", "logic_depth", "energy_pj_per_op"]
_ACCS = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--formats", help="comma-separated formats; A:B for a mixed pair, @ACC for "
                                          "a per-entry accumulator (e.g. int4,int8,e4m3fn@fp32,int4:e4m3fn,mxfp4)")
    parser.add_argument("--acc", default="exact", help="accumulator: exact or fp32/fp16/bf16 (default exact)")
    parser.add_argument("--lanes", type=int, default=1, help="products per cycle (default 1)")
    parser.add_argument("--flow", default="liberty", help="liberty (standard cells + OpenSTA, default) or "
                                                           "generic (calibrated generic gates, FPGA)")
    parser.add_argument("--library", default="osu018", help="standard-cell library (default osu018)")
    parser.add_argument("--node", type=int, default=45, help="node (nm) to scale to, derived (default 45)")
    parser.add_argument("--clock-mhz", type=float, default=None,
                        help="clock target at --node, MHz (default: none, units mapped for area)")
    parser.add_argument("--pipeline", type=int, default=0, help="pipeline depth without --clock-mhz (default 0)")
    parser.add_argument("--k", type=int, default=4096, help="products per output for the amortised "
                                                            "energy per product (default 4096)")
    parser.add_argument("--hw", metavar="FILE", help="print the area and power budget of the accelerator of a "
                                                      "hardware TOML (or preset name)")
    parser.add_argument("--recipe", default="INT8", help="recipe whose MAC the --hw array uses (default INT8)")
    parser.add_argument("--row-length", type=int, default=64, help="row length of the --hw vector units (default 64)")
    parser.add_argument("--fpga", default="none",
                        help="generic flow: FPGA families ecp5, ecp5-nodsp, ice40, or none (default none)")
    parser.add_argument("--cycles", type=int, default=500, help="stimulus cycles per unit (default 500)")
    parser.add_argument("--no-energy", action="store_true", help="skip the gate-level activity and energy")
    parser.add_argument("--distribution", default="uniform", help="operands: uniform codes or gaussian")
    parser.add_argument("--seed", type=int, default=0, help="stimulus seed (default 0)")
    parser.add_argument("--csv", metavar="PATH", help="also write the table as CSV (and the published "
                                                       "ratios next to ours as PATH with .published.csv)")
    parser.add_argument("--cache", metavar="DIR", help="cache folder (default $LOWBIT_CACHE_DIR or ~/.cache/lowbit)")
    parser.add_argument("--reference", action="store_true",
                        help="print our generic-flow predictions for Horowitz's 45 nm operators with the ratios")
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


def _entries(text: str | None) -> list[tuple[str, str, str | None]]:
    """``--formats`` -> (a, b, acc or None) per entry; every part must be named."""
    if not text or not text.strip():
        raise ValueError("--formats must list at least one format (or give --reference or --hw), not nothing")
    out = []
    for raw in text.split(","):
        spec = raw.strip()
        pair, at, acc = spec.partition("@")
        a, colon, b = pair.partition(":")
        if not spec or not a or (colon and not b) or (at and not acc):
            raise ValueError(f"--formats entry must be A, A:B or A@ACC with every part named, not {spec!r}")
        out.append((a, b or a, acc or None))
    return out


def _build(a: str, b: str, acc: str, *, lanes: int, pipeline: int):
    from hw.formats import parse
    from hw.units import build_mac
    from hw.units._factory import build_mxdot

    fa, fb = parse(a), parse(b)
    if hasattr(fa, "block_size") or hasattr(fb, "block_size"):
        unit = build_mxdot(a=fa, b=fb, pipeline=pipeline)
    else:
        unit = build_mac(a=fa, b=fb, acc=_ACCS.get(acc, acc), lanes=lanes, pipeline=pipeline)
    unit.metadata["design_key"] = f"hw.units factory: {unit.name}"  # the name encodes every parameter
    return unit


def _print(df, columns: list[str]) -> None:
    import pandas as pd

    with pd.option_context("display.width", 250, "display.max_columns", 60,
                           "display.float_format", "{:.4g}".format):
        print(df[[c for c in columns if c in df.columns]].to_string(index=False))


def _validate(args: argparse.Namespace) -> None:
    from hw.cost import DISTRIBUTIONS
    from hw.cost._scaling import node_scaling
    from hw.flow import library

    if args.flow not in ("liberty", "generic"):
        raise ValueError(f"--flow must be liberty or generic, not {args.flow!r}")
    if _families(args.fpga) and args.flow != "generic":
        raise ValueError(f"--fpga must be none with --flow {args.flow} (FPGA resources come from --flow generic), "
                         f"not {args.fpga!r}")
    if args.lanes < 1:
        raise ValueError(f"--lanes must be a positive integer, not {args.lanes}")
    if args.cycles < 2:
        raise ValueError(f"--cycles must be at least 2, not {args.cycles}")
    if args.distribution not in DISTRIBUTIONS:
        raise ValueError(f"--distribution must be uniform or gaussian, not {args.distribution!r}")
    if not args.timeout > 0:
        raise ValueError(f"--timeout must be a positive number of seconds, not {args.timeout}")
    if not 1 <= args.k <= 1 << 24:
        raise ValueError(f"--k must be an integer in 1 .. 16777216, not {args.k}")
    if args.pipeline not in (0, 1, 2):
        raise ValueError(f"--pipeline must be 0, 1 or 2, not {args.pipeline}")
    if args.clock_mhz is not None and not 0.1 <= args.clock_mhz <= 1e5:
        raise ValueError(f"--clock-mhz must be a number of MHz in 0.1 .. 100000, not {args.clock_mhz}")
    if not 1 <= args.row_length <= 4096:
        raise ValueError(f"--row-length must be an integer in 1 .. 4096, not {args.row_length}")
    try:
        library(args.library)
    except ValueError as exc:
        raise ValueError(f"--{exc}") from None
    try:
        node_scaling(source_nm=180, target_nm=args.node)
    except ValueError:
        from hw.cost import NODES

        raise ValueError(f"--node must be one of {', '.join(map(str, NODES))} (nm), not {args.node}") from None
    if args.csv:
        parent = Path(args.csv).resolve().parent
        if not parent.is_dir():
            raise ValueError(f"--csv must be in an existing folder, not {args.csv!r}")


def run(args: argparse.Namespace) -> int:
    from hw.flow import _synth

    _validate(args)
    _synth.DEFAULT_TIMEOUT_S = args.timeout
    if args.reference:
        return _reference(args)
    if args.hw:
        return _budget(args)
    entries = _entries(args.formats)
    if args.flow == "generic":
        return _generic(args, entries)
    return _liberty(args, entries)


def _stimulus_for(args: argparse.Namespace):
    from hw.cost import unit_stimulus

    if args.no_energy:
        return None
    return lambda unit: unit_stimulus(unit.metadata, cycles=args.cycles, seed=args.seed, distribution=args.distribution)


def _characterise(args: argparse.Namespace, a: str, b: str, acc: str, cache):
    """One entry on the liberty flow (the pipeline chosen for --clock-mhz)."""
    from hw.cost import characterize_asic, meet_clock, node_scaling
    from hw.flow import library

    stim = _stimulus_for(args)
    desc = f"{args.distribution} operands, seed {args.seed}, {args.cycles} cycles"
    if args.clock_mhz is None:
        unit = _build(a, b, acc, lanes=args.lanes, pipeline=args.pipeline)
        return characterize_asic(unit, library_name=args.library, target_nm=args.node,
                                 stimulus=None if stim is None else stim(unit), stimulus_description=desc,
                                 cache=cache), None
    lib = library(args.library)
    delay = node_scaling(source_nm=lib.node_nm, target_nm=args.node).delay
    lib_clock = args.clock_mhz * delay
    build = (lambda p: _build(a, b, acc, lanes=args.lanes, pipeline=p))
    try:
        rec = meet_clock(build, clock_mhz=lib_clock, library_name=lib.name, target_nm=args.node, stimulus=stim,
                         stimulus_description=desc, cache=cache)
    except ValueError as exc:
        if not str(exc).startswith("clock target must be at most"):
            raise
        best = max((characterize_asic(build(p), library_name=lib.name, clock_mhz=lib_clock, cache=cache)
                    for p in (0, 1, 2)), key=lambda r: r.fmax_mhz)
        raise ValueError(f"--clock-mhz must be at most {best.fmax_mhz / delay:.1f} MHz at {args.node} nm for "
                         f"{best.name} (pipeline {best.pipeline}: {best.fmax_mhz:.1f} MHz on {lib.name} at "
                         f"{lib.node_nm} nm), not {args.clock_mhz:g}") from None
    return rec, lib_clock


def _row(rec, args: argparse.Namespace, lib_clock: float | None) -> dict:
    from hw.cost import LINE_ITEM_ORDER

    m, d = rec.metadata, rec.derived
    node = args.node
    row = {"name": rec.name, "a_format": m.get("a_format"), "b_format": m.get("b_format"),
           "acc": m.get("acc", "-"), "ops_per_cycle": rec.ops_per_cycle, "pipeline": rec.pipeline,
           "clock_target_mhz": args.clock_mhz, "library_clock_mhz": lib_clock,
           f"fmax_mhz_{node}nm": d["fmax_mhz"], f"area_um2_{node}nm": d["area_um2"],
           f"energy_pj_per_op_{node}nm": d["energy_pj_per_op"]}
    amort = None if rec.energy_pj_per_op is None else rec.amortised(k=args.k)
    if amort is not None:
        row[f"energy_pj_per_product_k{args.k}_{node}nm"] = sum(v["energy_pj"] for v in amort.values()) * \
            d["scaling"]["energy"]
    row.update({"fmax_mhz": rec.fmax_mhz, "critical_path_ns": rec.critical_path_ns, "area_um2": rec.area_um2,
                "energy_pj_per_op": rec.energy_pj_per_op, "leakage_mw": rec.leakage_mw,
                "flip_flops": rec.flip_flops})
    for item in LINE_ITEM_ORDER:
        li = rec.line_items.get(item)
        row[f"area_{item}_um2"] = 0.0 if li is None else li.area_um2
        row[f"energy_{item}_pj_per_cycle"] = (None if rec.energy_pj_per_op is None
                                              else 0.0 if li is None else li.energy_pj_per_cycle)
    p = rec.provenance["measured"]
    row.update({"library": p["library"]["name"], "library_node_nm": p["library"]["node_nm"],
                "library_sha256": p["library"]["sha256"], "node_nm": node, "node_figures": "derived",
                "scaling": d["scaling"]["source"],
                "tools": "; ".join(f"{k} {v}" for k, v in p["tools"].items()),
                "rtlil_sha256": p["rtlil_sha256"], "verilog_sha256": p["verilog_sha256"],
                "stimulus": "none" if p["stimulus"] is None else
                f"{p['stimulus']['description']} (sha256 {p['stimulus']['sha256'][:12]})",
                "calibration": rec.provenance["calibrated"], "flow": p["flow"]})
    return row


def _liberty(args: argparse.Namespace, entries) -> int:
    import pandas as pd
    from tqdm import tqdm

    from hw.cost import CostCache, check_costable

    units = []
    for a, b, acc in entries:  # validate every entry before any synthesis
        u = _build(a, b, acc or args.acc, lanes=args.lanes, pipeline=args.pipeline)
        u.component._MustUse__silence = True
        check_costable(u.metadata)
        units.append((a, b, acc or args.acc))
    cache = CostCache(args.cache)
    rows = []
    for a, b, acc in tqdm(units, desc="units", disable=args.no_progress, file=sys.stderr):
        rec, lib_clock = _characterise(args, a, b, acc, cache)
        rows.append(_row(rec, args, lib_clock))
    df = pd.DataFrame(rows)
    node = args.node
    cols = ["name", "pipeline", f"fmax_mhz_{node}nm", f"area_um2_{node}nm", f"energy_pj_per_op_{node}nm",
            f"energy_pj_per_product_k{args.k}_{node}nm", "fmax_mhz", "area_um2", "leakage_mw"]
    _print(df, cols)
    items = df[[c for c in df.columns if c.startswith("area_") and c.endswith("_um2") and c != "area_um2"
                and not c.startswith(f"area_um2_")]]
    share = items.div(df["area_um2"], axis=0).mul(100).round(1)
    share.columns = [c[len("area_"):-len("_um2")] for c in share.columns]
    share.insert(0, "name", df["name"])
    print(f"\nline items, % of each unit's area ({args.library} cells; output conversion is priced once per "
          f"output in an array: energy per product above divides it by k={args.k}):")
    _print(share, list(share.columns))
    first = rows[0]
    print(f"\nprovenance: {args.library} ({first['library_sha256'][:12]}), figures at {node} nm derived "
          f"({first['scaling']}); tools: {first['tools']}; clock target "
          f"{'none (area mapping)' if args.clock_mhz is None else f'{args.clock_mhz:g} MHz at {node} nm'}; "
          f"stimulus: {first['stimulus']}; calibration: {first['calibration']}; RTL: rtlil_sha256 per unit in the CSV")
    if args.csv:
        df.to_csv(args.csv, index=False)
    return 0


def _generic(args: argparse.Namespace, entries) -> int:
    from tqdm import tqdm

    from hw.cost import (CostCache, UnitSpec, calibrate, characterize, cost_table, format_comparison,
                         unit_ops_per_cycle, unit_stimulus)
    from hw.errors import ToolError

    fams = _families(args.fpga)
    units = []
    for a, b, acc in entries:
        u = _build(a, b, acc or args.acc, lanes=args.lanes, pipeline=args.pipeline)
        units.append(u)
    cache = CostCache(args.cache)
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
    df["tools"] = ["; ".join(f"{k} {v}" for k, v in r.provenance.measured["tools"].items()) for r in records]
    df["rtlil_sha256"] = [r.provenance.measured["rtlil_sha256"] for r in records]
    df["stimulus"] = [r.provenance.measured.get("stimulus", {}).get("description", "none") for r in records]
    df["calibration"] = (f"{cal.anchor} = {cal.anchor_area_um2} um2, {cal.anchor_energy_pj} pJ ({cal.source}); "
                         f"{cal.um2_per_nand2:.4g} um2/NAND2-eq, {cal.pj_per_toggle * 1e3:.4g} fJ/toggle")
    df["node_nm"] = 45
    fpga_cols = [f"{f}_{x}" for f in fams for x in ("luts", "ffs", "dsps", "carry", "fmax_mhz")]
    _print(df, _GENERIC_COLUMNS + fpga_cols)
    print(f"\nprovenance: generic CMOS gates (yosys abc -g cmos2), 45 nm estimate calibrated on "
          f"{df['calibration'].iloc[0]}; stimulus {df['stimulus'].iloc[0]}; tools {df['tools'].iloc[0]}")
    comparison = format_comparison(records)
    if len(comparison):
        print("\npublished ratios (relayed) next to ours:")
        _print(comparison, list(comparison.columns))
    if args.csv:
        df.to_csv(args.csv, index=False)
        if len(comparison):
            comparison.to_csv(Path(args.csv).with_suffix(".published.csv"), index=False)
    if failed:
        print(f"\nnot characterised (tool failure, see above): {', '.join(failed)}")
        return 1
    return 0


def _reference(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from hw.cost import CostCache, calibrate, horowitz_comparison

    cache = CostCache(args.cache)
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


def _budget(args: argparse.Namespace) -> int:
    import pandas as pd

    from hw.cost import CostCache, accelerator_budget, unit_stimulus
    from hw.units import recipe_mac
    from mapping import parse_recipe
    from sim import hardware_buffers, hardware_vector_units, load_hardware
    from sim._energy import hardware_global_buffer

    hw = load_hardware(args.hw)
    recipe = parse_recipe(args.recipe)
    probe = recipe_mac(recipe)
    probe.component._MustUse__silence = True
    from hw.cost import check_costable

    check_costable(probe.metadata)
    labels = {"a": "A (activations)", "b": "B (weights)", "c": "C (accumulators)", "v": "V (vector)"}
    sram = {labels[k]: v for k, v in hardware_buffers(hw, probe.metadata).items()}  # as the simulator's energy
    vec = []
    for fn, kind, label, unit in hardware_vector_units(hw, row_length=args.row_length):  # as the simulator's energy
        if unit is None:
            print(f"lowbit cost: vector unit {kind} ({fn}) not costed: no example constants", file=sys.stderr)
            continue
        vec.append((label, unit, hw.row_units))
    stim = _stimulus_for(args) or (lambda unit: unit_stimulus(unit.metadata, cycles=args.cycles, seed=args.seed))
    b = accelerator_budget(build_mac=lambda p: recipe_mac(recipe, pipeline=p), stimulus=stim,
                           rows=hw.array_rows, cols=hw.array_cols, clock_mhz=hw.clock_mhz, node_nm=args.node,
                           sram=sram, k=args.k, vector_units=vec, library_name=args.library,
                           cache=CostCache(args.cache), vector_cycles=None if args.no_energy else args.cycles,
                           seed=args.seed, cores=hw.cores, global_buffer=hardware_global_buffer(hw))
    df = pd.DataFrame([{"block": ln.block, "count": ln.count, "area_mm2": ln.area_um2 / 1e6,
                        "dynamic_mw": ln.dynamic_mw, "leakage_mw": ln.leakage_mw, "source": ln.source}
                       for ln in b.lines])
    print(f"accelerator {hw.name}: {hw.cores} core(s), each a {hw.array_rows}x{hw.array_cols} array of {b.pe.name} "
          f"at {hw.clock_mhz:g} MHz, "
          f"{args.node} nm (derived from {b.library}), recipe {args.recipe}")
    _print(df, ["block", "count", "area_mm2", "dynamic_mw", "leakage_mw"])
    print(f"total: {b.area_mm2:.4g} mm2, {b.dynamic_mw:.4g} mW dynamic at peak, {b.leakage_mw:.4g} mW leakage")
    if b.dynamic_missing:
        print(f"dynamic power not modelled for: {', '.join(b.dynamic_missing)}")
    if b.leakage_missing:
        print(f"leakage not modelled at {args.node} nm for: {', '.join(b.leakage_missing)}")
    for note in b.notes:
        print(f"note: {note}")
    print("sources:")
    for ln in b.lines:
        print(f"  {ln.block}: {ln.source}")
    if args.csv:
        df.to_csv(args.csv, index=False)
    return 0

