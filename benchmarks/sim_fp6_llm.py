"""Seed reproduction: FP6-LLM (Xia et al. 2024) reports "1.69x-2.65x higher normalized inference
throughput than the FP16 baseline" for LLaMA-70b decode with FP6 (E3M2) weights.

Simulates LLaMA-2-70B decode steps (all 80 layers; the prompt is taken as already in the KV
cache: ``decode_only``), FP6 recipe (E3M2 weights with a per-channel FP16 scale, FP16
activations and KV cache) vs FP16, for several batch sizes, on

* ``bw-bound-128x128``: the ``hbm-128x128`` preset with its DRAM cut to 64 GB/s, so that decode
  GEMVs are bandwidth-bound for both recipes (a 128x128 array consumes at most 128 weights per
  cycle in a GEMV; FP16 would need 256 B/cycle, FP6 96 B/cycle), and
* ``hbm-128x128`` itself (2 TB/s), where the same array is compute-bound for GEMVs.

Prints decode throughput, the speedup and the 16/6 = 2.67 bandwidth bound. Run:
``python benchmarks/sim_fp6_llm.py [--steps 4] [--prefill 1024]``.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import pandas as pd

from sim import PRESETS, simulate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4, help="decode steps simulated per point")
    ap.add_argument("--prefill", type=int, default=1024, help="tokens already in the KV cache")
    ap.add_argument("--batches", default="1,4,16,64,128")
    args = ap.parse_args()
    hbm = PRESETS["hbm-128x128"]
    configs = [replace(hbm, name="bw-bound-128x128", dram_channels=4, dram_gbps_per_channel=16.0), hbm]
    rows = []
    t0 = time.perf_counter()
    for hw in configs:
        for b in map(int, args.batches.split(",")):
            tps = {}
            extra = {}
            for recipe in ("FP16", "FP6"):
                res = simulate("llama2-70b", recipe, hw, prefill=args.prefill, decode=args.steps, batch=b,
                               decode_only=True)
                s = res.summary
                tps[recipe] = s["decode_tokens_per_s"]
                extra[recipe] = (s["mac_utilisation"], s["dram_utilisation"], s["dram_read_bytes"])
            rows.append({"hw": hw.name, "dram_GB/s": hw.dram_channels * hw.dram_gbps_per_channel, "batch": b,
                         "fp16_tok/s": tps["FP16"], "fp6_tok/s": tps["FP6"], "speedup": tps["FP6"] / tps["FP16"],
                         "bound_16/6": 16 / 6, "fp16_dram_busy": extra["FP16"][1], "fp6_dram_busy": extra["FP6"][1],
                         "fp6_mac_util": extra["FP6"][0],
                         "read_ratio": extra["FP16"][2] / extra["FP6"][2]})
    df = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.3f}".format):
        print(df.to_string(index=False))
    print(f"FP6-LLM reports 1.69x-2.65x (LLaMA-70b, A100); wall time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
