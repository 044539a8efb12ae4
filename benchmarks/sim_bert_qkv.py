"""Benchmark: one BERT-base QKV GEMM (512 x 768 x 768, INT8) mapped and simulated on a 32x32
array (default preset). Goal: <= 50 ms. Prints the median of several runs (mapping + simpy
run), with a fresh timing cache each time, and the simulated cycles.
Run: ``python benchmarks/sim_bert_qkv.py``.
"""
from __future__ import annotations

import statistics
import time

from mapping import GemmOp, parse_recipe
from sim import PRESETS, simulate_op, step_timing
from sim._timing import _array_cached


def main() -> None:
    hw = PRESETS["default-32x32"]
    recipe = parse_recipe("INT8")
    op = GemmOp("qkv", 512, 768, 768)
    times = []
    for _ in range(7):
        _array_cached.cache_clear()
        t0 = time.perf_counter()
        mp, run = simulate_op(op, recipe, hw, step_timing(hw, recipe))
        times.append(time.perf_counter() - t0)
    print(f"benchmark: BERT-base QKV GEMM 512x768x768 INT8 on 32x32 ({hw.name}): median "
          f"{statistics.median(times) * 1e3:.1f} ms (min {min(times) * 1e3:.1f} ms) over {len(times)} runs; "
          f"tile {mp.Mt}x{mp.Kt}x{mp.Nt} {mp.dataflow} {mp.order}, {run.steps} steps, {run.cycles:.0f} cycles")


if __name__ == "__main__":
    main()
