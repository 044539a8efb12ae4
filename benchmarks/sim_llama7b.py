"""Benchmark: whole LLaMA-2-7B (32 layers), prefill 2048 tokens + 128 decode steps (``--decode``),
timing mode, default hardware preset, W4A8. Goals: 2048 + 128 <= 5 s wall (issue 14), 2048 +
2048 <= 10 s wall (issue 15), <= 1 GB, on a 2-core machine.

Prints wall time, CPU time of this process and of its worker processes (less sensitive to other
load on the machine than the wall time), peak resident memory (this process; the largest
worker), the simulation's size (distinct ops simulated, ops extended from their first
blocks, rows) and the simulated prefill and decode time. ``--no-overlap`` / ``--no-extend``
switch off the chaining of a layer's ops (``HardwareConfig.overlap``) and the extension of
repeating blocks (``simulate(extend_blocks=False)``) to compare. ``--workers N`` (default 2, the
machine's cores): processes simulating the decode steps' distinct attention chains ahead
(``sim._parallel``; the figures are those of one process, ``--workers 1``); they help only
where the cores are idle: on a machine busy with other work ``--workers 1`` can be faster.
Run: ``python benchmarks/sim_llama7b.py [--recipe W4A8] [--hw default-32x32] [--decode 2048] [--workers 1]``.
"""
from __future__ import annotations

import argparse
import os
import resource
import time
from dataclasses import replace

from sim import load_hardware, simulate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="W4A8")
    ap.add_argument("--hw", default=None)
    ap.add_argument("--prefill", type=int, default=2048)
    ap.add_argument("--decode", type=int, default=128)
    ap.add_argument("--no-overlap", action="store_true")
    ap.add_argument("--no-extend", action="store_true")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = ap.parse_args()
    hw = load_hardware(args.hw)
    if args.no_overlap:
        hw = replace(hw, overlap=False)
    w0, c0 = time.perf_counter(), time.process_time()
    res = simulate("llama2-7b", args.recipe, hw, prefill=args.prefill, decode=args.decode,
                   extend_blocks=not args.no_extend, workers=args.workers)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    s = res.summary
    print(res.summary_text())
    print(f"benchmark: llama2-7b 32 layers, prefill {args.prefill} + {args.decode} decode, {args.recipe} on {hw.name} "
          f"(overlap {'on' if s['overlap'] else 'off'}, extension {'off' if args.no_extend else 'on'}): "
          f"wall {wall:.2f} s, cpu {cpu:.2f} s + workers {kids.ru_utime + kids.ru_stime:.2f} s ({args.workers} "
          f"processes), peak RSS {peak_mb:.0f} MB (worker {kids.ru_maxrss / 1024:.0f} MB), "
          f"{s['distinct_ops_simulated']} distinct ops "
          f"simulated ({s['extended_ops']} from their first blocks), {len(res.ops)} op rows; simulated prefill "
          f"{s['phases']['prefill']['seconds'] * 1e3:.1f} ms, decode "
          f"{s['phases'].get('decode', {}).get('seconds', 0.0) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
