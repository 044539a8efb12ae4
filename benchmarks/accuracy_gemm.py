"""Benchmark: the bit-exact golden GEMM (``hw.numerics.gemm``, exact accumulation rounded once to
float32) on the GEMM shapes of the all-MiniLM-L6-v2 forward, against float64 BLAS (numpy matmul of
the decoded values) on the same shapes.

Usage: python benchmarks/accuracy_gemm.py [--tokens 357] [--repeat 5]
Prints milliseconds per call of each (best of --repeat) and the ratio, per format and shape, in
wall-clock and in CPU time (time.process_time: the figure to trust on a shared, loaded machine).
BLAS runs single-threaded unless OPENBLAS_NUM_THREADS / OMP_NUM_THREADS are set.
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


def main() -> None:
    from hw.formats import BlockFormat, Quantizer, parse
    from hw.numerics import gemm, operand_values

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokens", type=int, default=357, help="rows M (357: the shipped text's 32 lines stacked)")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    shapes = [(args.tokens, 384, 384), (args.tokens, 384, 1536), (args.tokens, 1536, 384)]
    quants = {"int8": (Quantizer(parse("int8"), "token"), Quantizer(parse("int8"), "channel")),
              "e4m3fn": (Quantizer(parse("e4m3fn"), "tensor"), Quantizer(parse("e4m3fn"), "channel")),
              "mxfp4": (Quantizer(parse("mxfp4"), "block"), Quantizer(parse("mxfp4"), "block"))}
    print(f"golden GEMM (exact, -> float32) vs float64 BLAS, BLAS threads {os.environ['OPENBLAS_NUM_THREADS']}")
    for name, (qa, qb) in quants.items():
        for m, k, n in shapes:
            sa, ca = qa.quantize(rng.standard_normal((m, k)))
            sb, cb = qb.quantize(rng.standard_normal((n, k)) / np.sqrt(k))
            block = isinstance(qa.format, BlockFormat)
            kw = dict(a_scales=sa, b_scales=sb.T) if block else {}
            a = operand_values(ca, qa.format, sa if block else None, axis=1)
            b = operand_values(cb.T, qb.format, sb.T if block else None, axis=0)
            g_wall, g_cpu = _best(lambda: gemm(ca, qa.format, cb.T, qb.format, "float32", **kw), args.repeat)
            b_wall, b_cpu = _best(lambda: a @ b, args.repeat)
            print(f"{name:7s} {m}x{k}x{n:<5d} wall: golden {g_wall * 1e3:7.2f} ms  BLAS {b_wall * 1e3:7.2f} ms"
                  f"  {g_wall / b_wall:5.2f}x   CPU: golden {g_cpu * 1e3:7.2f} ms  BLAS {b_cpu * 1e3:7.2f} ms"
                  f"  {g_cpu / b_cpu:5.2f}x", flush=True)


def _best(fn, repeat: int) -> tuple[float, float]:
    """(best wall-clock seconds, best CPU seconds) of ``repeat`` calls."""
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - t0)
    return min(wall), min(cpu)


if __name__ == "__main__":
    main()
