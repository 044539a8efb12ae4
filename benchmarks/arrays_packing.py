"""Packed PEs: for each operand pair, the products per PE per cycle (``MacFormats.packing``), the
PE's area from ``hw.cost.characterize`` (generic-CMOS synthesis of ``hw.units.build_pe``, the
module the arrays instantiate; cached), its area per product per cycle, and the cycles of one
LLaMA-7B layer (prefill 2048 tokens, one decode step) on a 32x32 weight-stationary array from
``hw.arrays.tile_cycles`` with that packing. Packing must show up as area, not as a free speed-up.

Run: python benchmarks/arrays_packing.py
"""
from __future__ import annotations

from hw.arrays import tile_cycles
from hw.cost import characterize
from hw.units import MacFormats, build_pe

PAIRS = [("int8", "int8"), ("int4", "int8"), ("int4", "int4"), ("e4m3fn", "e4m3fn"), ("e2m1fn", "e4m3fn"),
         ("e2m1fn", "e2m1fn")]


def llama_7b(seq: int) -> list[tuple[int, int, int]]:
    d, ff, heads, hd = 4096, 11008, 32, 128
    kv = seq if seq > 1 else 2048
    return ([(seq, d, d)] * 4 + [(seq, d, ff)] * 2 + [(seq, ff, d)]
            + [(seq, hd, kv)] * heads + [(seq, kv, hd)] * heads)


def main() -> None:
    print(f"{'a x b':16s} {'packing':>7s} {'PE um2':>9s} {'um2/product':>12s} {'prefill cycles':>15s} "
          f"{'decode cycles':>14s}")
    for a, b in PAIRS:
        f = MacFormats(a_format=a, b_format=b)
        rec = characterize(build_pe(f), stimulus=None, fpga=())
        cyc = {}
        for label, seq in (("prefill", 2048), ("decode", 1)):
            cyc[label] = sum(tile_cycles(rows=32, cols=32, dataflow="ws", m=m, k=k, n=n, packing=f.packing).total
                             for m, k, n in llama_7b(seq))
        print(f"{a + ' x ' + b:16s} {f.packing:7d} {rec.area_um2:9.1f} {rec.area_um2 / f.packing:12.1f} "
              f"{cyc['prefill']:15,d} {cyc['decode']:14,d}")


if __name__ == "__main__":
    main()
