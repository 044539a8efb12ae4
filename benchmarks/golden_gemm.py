"""Benchmark: bit-exact golden GEMM (exact accumulation, rounded once to FP32) against numpy's
float64 matmul of the same shape, in the same run.

Usage: python benchmarks/golden_gemm.py [--m 1024 --k 4096 --n 4096] [--formats ...] [--sparsity 0.9]
Prints one line per format: seconds, seconds of the float64 BLAS reference, ratio.
``--sparsity p`` zeroes a fraction p of the operand rows of A (signed zeros, half of them -0), so
many outputs are exact zeros and the signed-zero rule (-0 iff every product is -0) is exercised.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from hw.formats import BlockFormat, parse
from hw.numerics import gemm


def _operands(fmt, m, k, n, rng, sparsity=0.0):
    a = rng.standard_normal((m, k))
    b = rng.standard_normal((n, k))
    if sparsity:
        rows = rng.random(m) < sparsity
        a[rows] = np.where(rng.random((int(rows.sum()), k)) < 0.5, -0.0, 0.0)
    if isinstance(fmt, BlockFormat):
        sa, ca = fmt.quantize(a)
        sb, cb = fmt.quantize(b)
        return dict(a_codes=ca, b_codes=cb.T, a_scales=sa, b_scales=sb.T)
    scale = fmt.max / 4
    return dict(a_codes=fmt.encode(a * scale, overflow="saturate"),
                b_codes=fmt.encode(b.T * scale, overflow="saturate"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--m", type=int, default=1024)
    p.add_argument("--k", type=int, default=4096)
    p.add_argument("--n", type=int, default=4096)
    p.add_argument("--formats", default="e4m3fn,e5m2,e2m1fn,int8,mxfp8_e4m3")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--sparsity", type=float, default=0.0, help="fraction of all-zero rows of A")
    args = p.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.m, args.k))
    y = rng.standard_normal((args.k, args.n))
    print(f"GEMM {args.m}x{args.k}x{args.n}, exact accumulation, output fp32, zero rows of A {args.sparsity:g}")
    for name in args.formats.split(","):
        fmt = parse(name)
        ops = _operands(fmt, args.m, args.k, args.n, rng, args.sparsity)
        t_ours = min(_timed(lambda: gemm(ops["a_codes"], fmt, ops["b_codes"], fmt, "fp32",
                                         a_scales=ops.get("a_scales"), b_scales=ops.get("b_scales")))
                     for _ in range(args.repeat))
        t_ref = min(_timed(lambda: x @ y) for _ in range(args.repeat))
        print(f"{name:12s} golden {t_ours:7.3f} s   float64 matmul {t_ref:7.3f} s   ratio {t_ours / t_ref:5.2f}x",
              flush=True)


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
