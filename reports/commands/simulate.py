"""Simulate a transformer model under a quantization recipe on an accelerator (timing, stats, trace, numerics).

Examples::

    lowbit simulate --model llama2-7b --recipe W4A8 --prefill 2048 --decode 128
    lowbit simulate --model bert-base --recipe INT8 --hw examples/hw_edge_16x16.toml --layers 1 --trace t.json
    lowbit simulate --model bert-base --recipe MXFP4 --numerics --tokens 32

Prints the summary and the per-layer table; ``--csv`` writes the per-op table. ``--numerics``
also runs one layer on the golden models and prints the error against float64.
"""
from __future__ import annotations

import argparse
import sys

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="built-in model name or path to a config.json")
    parser.add_argument("--recipe", required=True, help="recipe shorthand (FP16, INT8, W4A8, FP8, FP6, MXFP4, ...) or .toml")
    parser.add_argument("--hw", default=None, help="hardware preset name or .toml (default: the default preset)")
    parser.add_argument("--prefill", type=int, default=None, help="prompt tokens (default: the model's natural input)")
    parser.add_argument("--decode", type=int, default=0, help="decode steps after the prefill (decoders only)")
    parser.add_argument("--decode-only", action="store_true",
                        help="simulate only the decode steps (the prefill tokens are taken as cached)")
    parser.add_argument("--batch", type=int, default=1, help="sequences per batch")
    parser.add_argument("--layers", type=int, default=None, help="simulate only the first N layers")
    parser.add_argument("--trace", default=None, help="write a Perfetto/Chrome trace JSON here")
    parser.add_argument("--csv", default=None, help="write the per-op table as CSV here")
    parser.add_argument("--numerics", action="store_true", help="also run one layer on the golden models")
    parser.add_argument("--tokens", type=int, default=16, help="tokens of the numerics-mode layer (default 16)")
    parser.add_argument("--seed", type=int, default=0, help="seed of numerics-mode tensors")
    parser.add_argument("--weights", default=None, help="numerics mode: .npz/.safetensors of out x in weights (op names or HF LLaMA/BERT names)")
    parser.add_argument("--weights-layer", type=int, default=0, help="layer index of HF names in --weights")
    parser.add_argument("--cost", action="store_true",
                        help="characterise the recipe's MAC unit with hw.cost (area, energy per MAC; cached)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from sim import load_hardware, simulate, write_result_trace
    from sim._numerics import run_layer_numerics

    from mapping import parse_recipe
    from sim import mac_unit_cost

    hw = load_hardware(args.hw)
    mac = None
    if args.cost:
        mac = mac_unit_cost(parse_recipe(args.recipe))
        if isinstance(mac, str):
            print(f"cost: {mac}")
            mac = None
        else:
            print(f"MAC unit {mac.name}: {mac.area_um2:.1f} um2, {mac.energy_pj_per_op:.4g} pJ/MAC (hw.cost, 45 nm "
                  f"estimate); {hw.array_rows}x{hw.array_cols} array {mac.area_um2 * hw.array_rows * hw.array_cols / 1e6:.4f} mm2")
    res = simulate(args.model, args.recipe, hw, prefill=args.prefill, decode=args.decode, batch=args.batch,
                   layers=args.layers, trace=args.trace is not None, decode_only=args.decode_only,
                   progress=not args.no_progress and sys.stderr.isatty(), mac_cost=mac)
    print(res.summary_text())
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(res.layers.head(12).to_string(index=False))
    if args.trace:
        write_result_trace(res, args.trace, hw)
        print(f"trace written to {args.trace}")
    if args.csv:
        res.ops.to_csv(args.csv, index=False)
        print(f"per-op table written to {args.csv}")
    if args.numerics:
        nr = run_layer_numerics(args.model, args.recipe, tokens=args.tokens, seed=args.seed, weights=args.weights,
                                layer=args.weights_layer)
        print(f"numerics ({nr.tokens} tokens, one layer): output error vs float64: relative RMS "
              f"{nr.rel_rms_error:.4g}, max abs {nr.max_abs_error:.4g}")
        with pd.option_context("display.width", 200):
            print(nr.errors.to_string(index=False))
            checks = nr.gemm_checks()
            print(f"golden GEMMs vs exact-rational reference: {checks.equal.sum()}/{checks.checked.sum()} sampled "
                  f"outputs equal over {len(checks)} GEMMs")
    return 0
