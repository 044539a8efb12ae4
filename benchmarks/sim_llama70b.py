"""Benchmark: whole LLaMA-2-70B (80 layers) on the 8-core ``npu-8core`` preset, prefill 2048 +
128 decode steps, INT8, and LLaMA-2-7B prefill 2048 + 2048 decode steps on the one-core
``default-32x32`` preset (unfused: three attention ops per decode step) and on one core of
``npu-8core`` (fused attention: one op per decode step). Goals (issue 15): each <= 10 s wall,
<= 1 GB peak RSS.

Each run goes in its own process (``--only LABEL``), so the peak resident memory printed is
that run's (and its workers'). Prints wall time, CPU time (the run's process and its workers),
peak RSS, the simulated time and how much was simulated. ``--workers N`` (default 2, the
machine's cores): processes simulating the decode steps' distinct groups ahead (``sim._parallel``;
the figures are those of one process, ``--workers 1``; on a busy machine that can be faster).
Run: ``python benchmarks/sim_llama70b.py [--only 70b-8core|7b-1core|7b-1core-fused] [--workers 1]``.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from dataclasses import replace

RUNS = {"70b-8core": ("llama2-70b", "INT8", "npu-8core", 2048, 128, None),
        "7b-1core": ("llama2-7b", "INT8", "default-32x32", 2048, 2048, None),
        "7b-1core-fused": ("llama2-7b", "INT8", "npu-8core", 2048, 2048, 1)}


def _run(label: str, workers: int) -> None:
    from sim import load_hardware, simulate

    model, recipe, hw, prefill, decode, cores = RUNS[label]
    h = load_hardware(hw)
    if cores is not None:
        h = replace(h, cores=cores)
    w0, c0 = time.perf_counter(), time.process_time()
    res = simulate(model, recipe, h, prefill=prefill, decode=decode, workers=workers)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    s = res.summary
    print(f"benchmark {label}: {model} prefill {prefill} + {decode} decode, {recipe} on {h.name} ({h.cores} cores, "
          f"overlap {'on' if s['overlap'] else 'off'}): wall {wall:.2f} s, cpu {cpu:.2f} s + workers "
          f"{kids.ru_utime + kids.ru_stime:.2f} s ({workers} processes), peak RSS {peak_mb:.0f} MB (worker "
          f"{kids.ru_maxrss / 1024:.0f} MB); "
          f"simulated {s['seconds']:.3f} s (prefill {s['phases']['prefill']['seconds']:.3f} s, decode "
          f"{s['phases'].get('decode', {}).get('seconds', 0.0):.3f} s), {s['distinct_ops_simulated']} distinct ops "
          f"({s['extended_ops']} from their first blocks)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=tuple(RUNS), default=None)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = ap.parse_args()
    if args.only is not None:
        _run(args.only, args.workers)
        return
    for label in RUNS:  # one process per run: its own peak RSS
        subprocess.run([sys.executable, __file__, "--only", label, "--workers", str(args.workers)], check=True)


if __name__ == "__main__":
    main()
