"""Benchmark: whole LLaMA-2-7B (32 layers), prefill 2048 tokens + 128 decode steps, timing mode,
default hardware preset, W4A8. Goal (issue 14): <= 5 s wall and <= 1 GB on a 2-core machine.

Prints wall time, CPU time of this process (less sensitive to other load on the machine), peak
resident memory, and the simulation's size (distinct ops simulated, tile steps, rows).
Run: ``python benchmarks/sim_llama7b.py [--recipe W4A8] [--hw default-32x32]``.
"""
from __future__ import annotations

import argparse
import resource
import time

from sim import simulate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="W4A8")
    ap.add_argument("--hw", default=None)
    ap.add_argument("--prefill", type=int, default=2048)
    ap.add_argument("--decode", type=int, default=128)
    args = ap.parse_args()
    w0, c0 = time.perf_counter(), time.process_time()
    res = simulate("llama2-7b", args.recipe, args.hw, prefill=args.prefill, decode=args.decode)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    s = res.summary
    print(res.summary_text())
    print(f"benchmark: llama2-7b 32 layers, prefill {args.prefill} + {args.decode} decode, {args.recipe}: "
          f"wall {wall:.2f} s, cpu {cpu:.2f} s, peak RSS {peak_mb:.0f} MB, "
          f"{s['distinct_ops_simulated']} distinct ops simulated, {int(res.ops.tiles[~res.ops.reused].sum())} "
          f"tile steps simulated, {len(res.ops)} op rows")


if __name__ == "__main__":
    main()
