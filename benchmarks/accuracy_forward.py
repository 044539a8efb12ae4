"""Benchmark: the whole all-MiniLM-L6-v2 forward over the shipped 32-line text under INT8, FP8 and
MXFP4 (every GEMM on the bit-exact golden model), and the float64 reference forward.

Usage: python benchmarks/accuracy_forward.py [--recipes INT8,FP8,MXFP4] [--text FILE]
Prints wall-clock and CPU seconds per recipe and in total. BLAS runs single-threaded unless
OPENBLAS_NUM_THREADS / OMP_NUM_THREADS are set (on a shared 2-core machine one thread per
process is faster for these small GEMMs).
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from all_minilm_l6_v2 import extract_model

    from mapping import load_checkpoint, parse_recipe
    from sim import RecipeForward, reference_forward, tokenize_lines

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipes", default="INT8,FP8,MXFP4")
    p.add_argument("--text", default=str(ROOT / "examples" / "texts" / "sentences.txt"))
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = load_checkpoint(extract_model(tmp))
        lines = [ln for ln in Path(args.text).read_text(encoding="utf-8").splitlines() if ln.strip()]
        seqs = tokenize_lines(ckpt, lines, max_tokens=128)
        print(f"all-MiniLM-L6-v2, {len(seqs)} lines, {sum(map(len, seqs))} tokens, "
              f"BLAS threads {os.environ['OPENBLAS_NUM_THREADS']}")
        w0, c0 = time.perf_counter(), time.process_time()
        reference_forward(ckpt, seqs)
        print(f"{'float64 ref':12s} wall {time.perf_counter() - w0:6.2f} s   cpu {time.process_time() - c0:6.2f} s")
        tw, tc = 0.0, 0.0
        for name in args.recipes.split(","):
            fwd = RecipeForward(ckpt, parse_recipe(name))
            w0, c0 = time.perf_counter(), time.process_time()
            fwd.run(seqs)
            w, c = time.perf_counter() - w0, time.process_time() - c0
            tw, tc = tw + w, tc + c
            print(f"{name:12s} wall {w:6.2f} s   cpu {c:6.2f} s", flush=True)
        print(f"{'total':12s} wall {tw:6.2f} s   cpu {tc:6.2f} s  ({args.recipes}, weights quantized inside)")


if __name__ == "__main__":
    main()
