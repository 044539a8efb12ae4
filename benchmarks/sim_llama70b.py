"""Benchmark: whole LLaMA-2-70B (80 layers) on the 8-core ``npu-8core`` preset, prefill 2048 +
128 decode steps, INT8, and LLaMA-2-7B prefill 2048 + 2048 decode steps on the one-core
``default-32x32`` preset (unfused: three attention ops per decode step, each simulated) and on
one core of ``npu-8core`` (fused attention: one op per decode step) (``--only 7b`` / ``--only 70b``). Goals (issue 15): each <= 10 s wall, <= 1 GB peak RSS.

Prints wall time, CPU time, peak resident memory of this process (the peak over every run so
far in the process) and the simulated time. Run: ``python benchmarks/sim_llama70b.py``.
"""
from __future__ import annotations

import argparse
import resource
import time

from sim import simulate


def _run(label: str, model: str, recipe: str, hw: str, prefill: int, decode: int, cores: int | None) -> None:
    from dataclasses import replace

    from sim import load_hardware

    h = load_hardware(hw)
    if cores is not None:
        h = replace(h, cores=cores)
    w0, c0 = time.perf_counter(), time.process_time()
    res = simulate(model, recipe, h, prefill=prefill, decode=decode)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    s = res.summary
    print(f"benchmark {label}: {model} prefill {prefill} + {decode} decode, {recipe} on {h.name} ({h.cores} cores): "
          f"wall {wall:.2f} s, cpu {cpu:.2f} s, peak RSS {peak_mb:.0f} MB; simulated {s['seconds']:.3f} s "
          f"(prefill {s['phases']['prefill']['seconds']:.3f} s, decode "
          f"{s['phases'].get('decode', {}).get('seconds', 0.0):.3f} s), {s['distinct_ops_simulated']} distinct ops",
          flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("7b", "70b"), default=None)
    args = ap.parse_args()
    if args.only in (None, "70b"):
        _run("70b-8core", "llama2-70b", "INT8", "npu-8core", 2048, 128, None)
    if args.only in (None, "7b"):
        _run("7b-1core", "llama2-7b", "INT8", "default-32x32", 2048, 2048, None)
        _run("7b-1core-fused", "llama2-7b", "INT8", "npu-8core", 2048, 2048, 1)


if __name__ == "__main__":
    main()
