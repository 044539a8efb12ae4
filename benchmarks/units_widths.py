"""Print the exact-accumulator width of every headline operand pair (derived from the formats)
next to the FPGA minifloat literature's formula, with the MAC's product width and timing.

Usage: python benchmarks/units_widths.py [K ...]   (default K = 32 4096)
"""
from __future__ import annotations

import sys

import pandas as pd

from hw.units import (build_mac, exact_accumulator_bits, literature_accumulator_bits, mac_timing,
                      product_width)

PAIRS = [("int4", "int4"), ("int8", "int8"), ("int4", "int8"), ("uint8", "int8"), ("e4m3fn", "e4m3fn"),
         ("e5m2", "e5m2"), ("e4m3fn", "e5m2"), ("e2m3fn", "e2m3fn"), ("e3m2fn", "e3m2fn"),
         ("e2m1fn", "e2m1fn"), ("float16", "float16"), ("bfloat16", "bfloat16"), ("int4", "e4m3fn"),
         ("nf4", "bfloat16"), ("e2m1fn", "e4m3fn")]


def main(argv: list[str]) -> None:
    ks = [int(k) for k in argv] or [32, 4096]
    rows = []
    for a, b in PAIRS:
        row = {"a": a, "b": b, "product_bits": product_width(a, b)}
        for k in ks:
            ours = exact_accumulator_bits(a, b, k)
            lit = literature_accumulator_bits(a, b, k)
            row[f"acc_bits_K{k}"] = ours
            row[f"literature_K{k}"] = "-" if lit is None else lit
        rows.append(row)
    print(pd.DataFrame(rows).to_string(index=False))
    print()
    t = pd.DataFrame([{"lanes": ln, "pipeline": p, **mac_timing(lanes=ln, pipeline=p).as_dict(),
                       "cycles_K4096": mac_timing(lanes=ln, pipeline=p).reduction_cycles(4096)}
                      for ln in (1, 8, 32) for p in (0, 2)])
    print(t.to_string(index=False))
    u = build_mac(a="e4m3fn", b="e4m3fn", acc="exact", out="float32", lanes=8)
    print(f"\nexample: {u.name}: accumulator {u.metadata['accumulator_bits']} bits, "
          f"latency {u.metadata['latency_cycles']} cycles, II {u.metadata['initiation_interval']}")


if __name__ == "__main__":
    main(sys.argv[1:])
