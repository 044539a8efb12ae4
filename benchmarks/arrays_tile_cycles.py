"""Throughput of ``hw.arrays.tile_cycles``: GEMMs timed per second for the GEMM shapes of one
BERT-base layer (seq 512) and one LLaMA-7B layer (prefill seq 2048 and one decode step), on
32x32 and 128x128 arrays, both dataflows. Also prints the cycles of one layer's GEMMs.

Run: python benchmarks/arrays_tile_cycles.py [--seconds 0.5]
"""
from __future__ import annotations

import argparse
import time

from hw.arrays import tile_cycles


def bert_base(seq: int = 512) -> list[tuple[int, int, int]]:
    d, ff, heads, hd = 768, 3072, 12, 64
    return ([(seq, d, d)] * 4 + [(seq, d, ff), (seq, ff, d)]
            + [(seq, hd, seq)] * heads + [(seq, seq, hd)] * heads)


def llama_7b(seq: int) -> list[tuple[int, int, int]]:
    d, ff, heads, hd = 4096, 11008, 32, 128
    kv = seq if seq > 1 else 2048  # decode: one query row against a 2048-token KV cache
    return ([(seq, d, d)] * 4 + [(seq, d, ff)] * 2 + [(seq, ff, d)]
            + [(seq, hd, kv)] * heads + [(seq, kv, hd)] * heads)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=0.5, help="time per measurement (default 0.5 s)")
    args = ap.parse_args()
    workloads = {"bert-base L=512": bert_base(), "llama-7b prefill 2048": llama_7b(2048),
                 "llama-7b decode": llama_7b(1)}
    print(f"{'workload':24s} {'array':8s} {'df':3s} {'GEMMs':>6s} {'GEMMs/s':>12s} {'layer cycles':>14s} {'folds':>9s}")
    for name, shapes in workloads.items():
        for r in (32, 128):
            for df in ("ws", "os"):
                calls = 0
                t0 = time.perf_counter()
                while True:
                    for m, k, n in shapes:
                        tile_cycles(rows=r, cols=r, dataflow=df, m=m, k=k, n=n)
                    calls += len(shapes)
                    dt = time.perf_counter() - t0
                    if dt >= args.seconds:
                        break
                res = [tile_cycles(rows=r, cols=r, dataflow=df, m=m, k=k, n=n) for m, k, n in shapes]
                print(f"{name:24s} {r}x{r:<5d} {df:3s} {len(shapes):6d} {calls / dt:12,.0f} "
                      f"{sum(x.total for x in res):14,d} {sum(x.folds for x in res):9,d}")


if __name__ == "__main__":
    main()
