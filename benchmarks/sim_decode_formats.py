"""Benchmark: LLaMA-2-7B batch-1 decode under W4A8 and INT8 on every built-in hardware preset:
ms per decode step, its ratio to DRAM bytes / bandwidth, and the W4A8 vs INT8 speed-up next to
the byte ratio (what a memory-bound decode should approach). Also the same with the GEMV mode
switched off (``dataflows = ws, os``), where decode is array-bound and the format hardly matters.

Run: ``python benchmarks/sim_decode_formats.py [--prefill 512] [--decode 8]``.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

from sim import PRESETS, simulate


def _run(recipe: str, hw, prefill: int, decode: int) -> tuple[float, float, str]:
    s = simulate("llama2-7b", recipe, hw, prefill=prefill, decode=decode, decode_only=True).summary
    per_step = s["decode_cycles"] / decode / (hw.clock_mhz * 1e3)
    return per_step, s["decode_bytes_over_bandwidth_cycles"] / decode / (hw.clock_mhz * 1e3), s["decode_bound_text"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prefill", type=int, default=512, help="tokens already in the KV cache")
    ap.add_argument("--decode", type=int, default=8, help="decode steps simulated")
    args = ap.parse_args()
    t0 = time.perf_counter()
    for name, hw in PRESETS.items():
        for label, h in ((name, hw), (f"{name} without GEMV mode", replace(hw, dataflows=("ws", "os")))):
            w4, w4_bound, text = _run("W4A8", h, args.prefill, args.decode)
            i8, i8_bound, _ = _run("INT8", h, args.prefill, args.decode)
            print(f"{label}: W4A8 {w4:.3f} ms/step ({w4 / w4_bound:.3f}x bytes/bw), INT8 {i8:.3f} ms/step "
                  f"({i8 / i8_bound:.3f}x bytes/bw); W4A8 speed-up {i8 / w4:.3f}x, byte ratio "
                  f"{i8_bound / w4_bound:.3f}x")
            print(f"  W4A8: {text}")
    print(f"benchmark: llama2-7b decode, prefill {args.prefill} cached + {args.decode} steps, 3 presets x 2 modes "
          f"x 2 recipes: wall {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
