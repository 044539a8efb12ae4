"""Simulate a transformer model under a quantization recipe on an accelerator (timing, stats, energy, trace, numerics).

Examples::

    lowbit simulate --model llama2-7b --recipe W4A8 --prefill 2048 --decode 128
    lowbit simulate --model bert-base --recipe INT8 --hw examples/hw_edge_16x16.toml --layers 1 --trace t.json
    lowbit simulate --model bert-base --recipe MXFP4 --numerics --tokens 32

Prints the summary (scaled units; energy including the MAC array, from the recipe's MAC datapath
characterised by ``hw.cost.datapath_energy`` at the hardware's clock, the figures ``lowbit cost
--hw`` prints, cached; ``--no-energy`` leaves it out; ``--distribution`` picks its operands,
uniform by default as ``lowbit cost``), the provenance of every energy figure, and the
per-phase-step table. ``--csv`` writes the per-op table, ``--json`` the summary, ``--trace`` a Perfetto trace.
``--numerics`` also runs one layer on the golden models and prints the error against float64.

Every input file and output path is checked before the run; the output files are written at the
end, each atomically, so a failed run leaves none of them (and no temporary file) behind.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from ._checks import check_output_file, check_text_file, read_weights_file, write_outputs

__all__ = ["add_arguments", "run"]

#: rows of the per-step table printed in full; longer tables print the first and last rows
TABLE_ROWS = 12


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="built-in model name or path to a config.json")
    parser.add_argument("--recipe", required=True, help="recipe shorthand (FP16, INT8, W4A8, FP8, FP6, MXFP4, ...) or .toml")
    parser.add_argument("--hw", default=None, help="hardware preset name or .toml (default: the default preset)")
    parser.add_argument("--cores", type=int, default=None,
                        help="cores sharing the DRAM (overrides the hardware's count; see sim._cores)")
    parser.add_argument("--chips", type=int, default=None,
                        help="chips in tensor parallel over the hardware's link (overrides its count; sim._chips)")
    parser.add_argument("--prefill", type=int, default=None, help="prompt tokens (default: the model's natural input)")
    parser.add_argument("--decode", type=int, default=0, help="decode steps after the prefill (decoders only)")
    parser.add_argument("--decode-only", action="store_true",
                        help="simulate only the decode steps (the prefill tokens are taken as cached)")
    parser.add_argument("--batch", type=int, default=1, help="sequences per batch")
    parser.add_argument("--layers", type=int, default=None, help="simulate only the first N layers")
    parser.add_argument("--trace", default=None, help="write a Perfetto/Chrome trace JSON here")
    parser.add_argument("--csv", default=None, help="write the per-op table as CSV here")
    parser.add_argument("--json", default=None, help="write the summary (and numerics errors) as JSON here")
    parser.add_argument("--numerics", action="store_true", help="also run one layer on the golden models")
    parser.add_argument("--tokens", type=int, default=16, help="tokens of the numerics-mode layer (default 16)")
    parser.add_argument("--seed", type=int, default=0, help="seed of numerics-mode tensors")
    parser.add_argument("--weights", default=None,
                        help="with --numerics: .npz/.safetensors of out x in weights (op names or HF LLaMA/BERT names)")
    parser.add_argument("--weights-layer", type=int, default=0, help="layer index of HF names in --weights")
    energy = parser.add_mutually_exclusive_group()
    energy.add_argument("--no-energy", action="store_true",
                        help="leave the MAC energy out (no characterisation of the recipe's MAC unit)")
    energy.add_argument("--cost", action="store_true", help=argparse.SUPPRESS)  # the default now; kept for old scripts
    parser.add_argument("--distribution", default="uniform",
                        help="operands of the MAC energy characterisation: uniform codes or gaussian "
                             "(default uniform, as lowbit cost)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _check_inputs(args: argparse.Namespace) -> dict | None:
    """Every input and output before any work: files readable as what they claim to be, output
    folders writable, the weights file sound. Returns the weights (or ``None``)."""
    if args.weights is not None and not args.numerics:
        raise ValueError(f"--weights must be given with --numerics (weights are used only by the numerics-mode "
                         f"layer), not alone: {args.weights!r}")
    if args.model.endswith(".json") or Path(args.model).is_file():
        check_text_file(args.model, "--model config")
    if args.recipe.endswith(".toml"):
        check_text_file(args.recipe, "--recipe file")
    if args.hw is not None and args.hw.endswith(".toml"):
        check_text_file(args.hw, "--hw file")
    outputs = {opt: getattr(args, opt.lstrip("-")) for opt in ("--trace", "--csv", "--json")}
    seen: dict[Path, str] = {}
    for opt, path in outputs.items():
        if path is None:
            continue
        p = check_output_file(path, opt)
        key = p.resolve()
        if key in seen:
            raise ValueError(f"{opt} must be another file than {seen[key]}, not the same {path!r}")
        seen[key] = opt
    return read_weights_file(args.weights) if args.weights is not None else None


def _mac_cost(recipe, hw, no_energy: bool, distribution: str):
    """``(energies, fallback)``: the recipe's datapath energies from ``sim.datapath_energy_of``
    (``hw.cost.datapath_energy``, cached), or when the standard-cell flow cannot give them (a
    clock no pipeline depth meets, a missing tool) the generic flow's record
    (``sim.mac_unit_cost``) and why; or the reason there are none."""
    if no_energy:
        return "MAC energy left out (--no-energy)", ""
    from hw.cost import DISTRIBUTIONS
    from hw.errors import ToolError
    from sim import SimulationError, datapath_energy_of

    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"--distribution must be uniform or gaussian, not {distribution!r}")
    try:
        return datapath_energy_of(hw, recipe, distribution=distribution), ""
    except (SimulationError, ToolError) as exc:  # e.g. a clock no pipeline depth meets: the generic flow, said so
        from sim import mac_unit_cost

        return mac_unit_cost(recipe), (f"MAC energy from the generic flow (no clock target, Gaussian operands) "
                                       f"because the standard-cell {exc}")


def _summary_lines(s: dict, hw, mac) -> list[str]:
    from .._units import fmt_bytes, fmt_count, fmt_energy_pj, fmt_seconds

    lines = [f"model {s['model']}  recipe {s['recipe']}  hw {s['hw']}  batch {s['batch']}  "
             f"prefill {s['prefill']}  decode {s['decode']}  layers {s['layers']}",
             s["hw_description"] + (f"; PEs packed {s['packing']} products/cycle" if s["packing"] > 1 else ""),
             f"time {fmt_seconds(s['seconds'])}  ({fmt_count(s['cycles'])} cycles at {hw.clock_mhz:g} MHz)"
             + (f"  decode {s['decode_tokens_per_s']:.3g} tokens/s" if s['decode'] else ""),
             f"cycles: prefill {fmt_count(s['prefill_cycles'])}  decode {fmt_count(s['decode_cycles'])}",
             f"MAC utilisation {s['mac_utilisation']:.1%}  DRAM busy {s['dram_utilisation']:.1%}",
             f"stall cycles (array/vector waiting): input {fmt_count(s['stall_input'])}  "
             f"output {fmt_count(s['stall_output'])}  drain {fmt_count(s['stall_drain'])}",
             f"array busy cycles: steady {fmt_count(s['array_steady'])}  fill {fmt_count(s['array_fill'])}  "
             f"drain {fmt_count(s['array_drain'])}  weight load {fmt_count(s['array_weight_load'])}",
             f"DRAM read {fmt_bytes(s['dram_read_bytes'])}  write {fmt_bytes(s['dram_write_bytes'])}   "
             f"SRAM read {fmt_bytes(s['sram_read_bytes'])}  write {fmt_bytes(s['sram_write_bytes'])}"]
    parts = "  ".join(f"{k} {fmt_energy_pj(s['energy_' + k + '_pj'])}" for k in ("dram", "sram", "gb", "mac", "vector"))
    total = s["energy_pj"]
    lines.append(f"energy {fmt_energy_pj(total)}  ({parts})" if not math.isnan(total)
                 else f"energy: total not available ({parts})")
    if s["decode"]:
        lines.append(s["decode_bound_text"])
    if isinstance(mac, str):
        lines.append(f"MAC energy: {mac}")
    elif not hasattr(mac, "mac_pj"):  # a generic-flow CostRecord (sim.mac_unit_cost)
        stim = mac.provenance.measured.get("stimulus", {}).get("description", "") or "not recorded"
        lines.append(f"MAC unit {mac.name}: {mac.area_um2:.4g} µm², {mac.energy_pj_per_op:.4g} pJ/MAC (converter "
                     f"included); hw.cost generic flow, 45 nm estimate, no clock target, stimulus: {stim}")
    else:
        stim = (mac.provenance["pe"]["measured"].get("stimulus") or {}).get("description") or "not recorded"
        rows, cols = s["array_rows"], s["array_cols"]  # the simulated array (iso-area sizing included)
        lines.append(f"MAC unit {mac.pe_name} (pipeline {mac.pipeline}): PE {mac.pe_area_um2:.4g} µm² "
                     f"({rows}x{cols} array {mac.pe_area_um2 * rows * cols / 1e6:.4g} mm²), {mac.mac_pj:.4g} pJ/MAC, "
                     f"{mac.convert_pj:.4g} pJ/output conversion; hw.cost.datapath_energy at {mac.node_nm} nm "
                     f"(derived), stimulus: {stim}")
        clock = mac.provenance["pe"]["measured"].get("clock") or {}  # hw.cost.meet_clock's statement
        lines.append(f"MAC energy from the standard-cell flow ({mac.provenance['pe']['measured']['library']['name']}, "
                     f"OpenSTA) because {clock.get('statement', 'the hardware clock is met')}")
    lines += [f"note: {n}" for n in s["notes"] if "pass a hw.cost DatapathEnergy" not in n]
    return lines


def _layer_table(layers) -> str:
    """The per-(phase, step) table with scaled units and its column meaning; elided rows said."""
    import pandas as pd

    from .._units import fmt_bytes, fmt_count

    t = pd.DataFrame({
        "phase": layers["phase"], "step": layers["step"], "kv_len": layers["kv_len"], "layers": layers["layers"],
        "cycles/layer": layers["cycles_per_layer"].map(fmt_count),
        "cycles (all layers)": layers["total_cycles"].map(fmt_count),
        "DRAM read/layer": layers["dram_read_bytes"].map(fmt_bytes),
        "DRAM write/layer": layers["dram_write_bytes"].map(fmt_bytes),
        "MACs/layer": layers["macs"].map(fmt_count),
    })
    head = ("per phase step: '/layer' columns are one layer's figures, 'cycles (all layers)' is cycles/layer "
            "x layers")
    n = len(t)
    if n <= TABLE_ROWS:
        return head + "\n" + t.to_string(index=False)
    shown = pd.concat([t.head(TABLE_ROWS - 2), t.tail(2)])
    text = shown.to_string(index=False).splitlines()
    text.insert(TABLE_ROWS - 1, f"  ... {n - TABLE_ROWS} rows elided (all {n} in --csv) ...")
    return head + f"; {TABLE_ROWS} of {n} rows shown\n" + "\n".join(text)


def _jsonable(v):
    """``v`` with NaN as ``null`` and numpy scalars as Python numbers (strict JSON)."""
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from mapping import parse_recipe
    from sim import load_hardware, simulate, trace_dict
    from sim._numerics import run_layer_numerics

    # 1. validate every input and output path before any work
    weights = _check_inputs(args)
    hw = load_hardware(args.hw)
    if args.cores is not None:
        from dataclasses import replace

        hw = replace(hw, cores=args.cores)  # validated by HardwareConfig (one-line error)
    if args.chips is not None:
        from dataclasses import replace

        hw = replace(hw, chips=args.chips)
    recipe = parse_recipe(Path(args.recipe) if args.recipe.endswith(".toml") else args.recipe)

    # 2. the work: MAC characterisation (cached), simulation, numerics
    mac, fallback = _mac_cost(recipe, hw, args.no_energy, args.distribution)
    rec = None if isinstance(mac, str) or getattr(mac, "energy_pj_per_op", 0.0) is None else mac
    if not isinstance(mac, str) and rec is None:
        mac = f"{mac.name} has no energy figure"
    res = simulate(args.model, recipe, hw, prefill=args.prefill, decode=args.decode, batch=args.batch,
                   layers=args.layers, trace=args.trace is not None, decode_only=args.decode_only,
                   progress=not args.no_progress and sys.stderr.isatty(), mac_cost=rec)
    nr = checks = None
    if args.numerics:
        nr = run_layer_numerics(args.model, recipe, tokens=args.tokens, seed=args.seed, weights=weights,
                                layer=args.weights_layer)
        if not math.isfinite(nr.rel_rms_error):
            raise ValueError(f"numerics output must be finite, not relative RMS error {nr.rel_rms_error} "
                             f"(a NaN or infinity in the layer's inputs or weights)")
        checks = nr.gemm_checks()

    # 3. print, then write every output file at the end
    print("\n".join(_summary_lines(res.summary, hw, mac) + ([f"note: {fallback}"] if fallback else [])))
    print(_layer_table(res.layers))
    if nr is not None:
        print(f"numerics ({nr.tokens} tokens, one layer): output error vs float64: relative RMS "
              f"{nr.rel_rms_error:.4g}, max abs {nr.max_abs_error:.4g}")
        with pd.option_context("display.width", 200, "display.float_format", "{:.4g}".format):
            print(nr.errors.to_string(index=False))
        print(f"golden GEMMs vs exact-rational reference: {checks.equal.sum()}/{checks.checked.sum()} sampled "
              f"outputs equal over {len(checks)} GEMMs")
    files: dict[Path, bytes | str] = {}
    if args.trace:
        files[Path(args.trace)] = json.dumps(trace_dict(res.trace_events, hw))
    if args.csv:
        files[Path(args.csv)] = res.ops.to_csv(index=False)
    if args.json:
        doc = {"summary": res.summary, "mac_unit": mac if isinstance(mac, str) else
               {"name": mac.name, "area_um2": mac.area_um2, "energy_pj_per_op": mac.energy_pj_per_op,
                "flow": "generic"} if not hasattr(mac, "mac_pj") else
               {"name": mac.pe_name, "pipeline": mac.pipeline, "area_um2": mac.pe_area_um2,
                "energy_pj_per_op": mac.mac_pj, "convert_pj_per_output": mac.convert_pj, "node_nm": mac.node_nm,
                "clock_mhz": mac.clock_mhz, "provenance": mac.provenance}}
        if nr is not None:
            doc["numerics"] = {"tokens": nr.tokens, "rel_rms_error": nr.rel_rms_error,
                               "max_abs_error": nr.max_abs_error, "errors": nr.errors.to_dict(orient="records")}
        files[Path(args.json)] = json.dumps(_jsonable(doc), indent=2, allow_nan=False) + "\n"
    write_outputs(files)
    for path, what in ((args.trace, "trace (open in ui.perfetto.dev)"), (args.csv, "per-op table"),
                       (args.json, "summary JSON")):
        if path:
            print(f"{what} written to {path}")
    return 0
