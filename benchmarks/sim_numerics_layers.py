"""Evidence: numerics mode on one BERT-base layer and one LLaMA-2-7B layer (full width, reduced
sequence length) for the INT8, W4A8, FP8 and MXFP4 recipes (FP16 for comparison) and the I-BERT
integer-only recipe (the forward pass's integer layer: integer requantisation between ops): error
of the layer output against a float64 run, and a check of sampled golden-GEMM outputs against an
exact-rational reference computed from the decoded codes.
Run: ``python benchmarks/sim_numerics_layers.py [--tokens 8] [--models bert-base,llama2-7b]
[--recipes FP16,INT8,W4A8,FP8,MXFP4,I-BERT]``.
"""
from __future__ import annotations

import argparse
import time

import pandas as pd

from sim import run_layer_numerics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=8)
    ap.add_argument("--models", default="bert-base,llama2-7b")
    ap.add_argument("--recipes", default="FP16,INT8,W4A8,FP8,MXFP4,I-BERT")
    ap.add_argument("--samples", type=int, default=4, help="sampled outputs checked per GEMM")
    args = ap.parse_args()
    rows = []
    for model in args.models.split(","):
        for recipe in args.recipes.split(","):
            t0 = time.perf_counter()
            r = run_layer_numerics(model, recipe, tokens=args.tokens)
            checks = r.gemm_checks(samples=args.samples)
            err = r.errors.set_index("op")["rel_rms_error"]
            rows.append({"model": model, "recipe": recipe, "tokens": r.tokens,
                         "layer_rel_rms_error": r.rel_rms_error, "layer_max_abs_error": r.max_abs_error,
                         "worst_gemm": err.drop("layer_output").idxmax(),
                         "worst_gemm_error": err.drop("layer_output").max(),
                         "gemms": len(checks), "golden_eq_exact": f"{checks.equal.sum()}/{checks.checked.sum()}",
                         "seconds": time.perf_counter() - t0})
            print(rows[-1], flush=True)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.4g}".format):
        print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
