"""Print how fast units simulate in Amaranth's simulator (products per second of wall time) and
how large their exported Verilog is, for a few headline configurations.

Usage: python benchmarks/units_sim_rate.py [BEATS]   (default 500 beats per unit)
"""
from __future__ import annotations

import sys
import tempfile
import time

import numpy as np

from hw.flow import export_verilog
from hw.units import build_mac, build_mxdot, run_stream

CONFIGS = [
    dict(a="int8", b="int8", acc="exact", out="int32", lanes=1),
    dict(a="e4m3fn", b="e4m3fn", acc="exact", out="float32", lanes=1),
    dict(a="e4m3fn", b="e4m3fn", acc="exact", out="float32", lanes=8),
    dict(a="e4m3fn", b="e4m3fn", acc="float32", out="float32", lanes=8),
    dict(a="int4", b="e4m3fn", acc="exact", out="bfloat16", lanes=8),
    dict(a="bfloat16", b="bfloat16", acc="exact", out="float32", lanes=8),
]


def main(argv: list[str]) -> None:
    beats = int(argv[0]) if argv else 500
    rng = np.random.default_rng(0)
    print(f"{'unit':48s} {'acc bits':>8s} {'verilog lines':>13s} {'export s':>8s} {'products/s':>10s}")
    units = [build_mac(**c) for c in CONFIGS] + [build_mxdot(a="mxfp8_e4m3", b="mxfp8_e4m3")]
    for u in units:
        meta = u.metadata
        lanes = meta.get("lanes", 1) if meta["unit"] != "mxdot" else meta["block_size"]
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            res = export_verilog(u.component, name=u.name, out_dir=tmp, metadata=meta)
            t_export = time.perf_counter() - t0
            lines = res.verilog_path.read_text().count("\n")
        if meta["unit"] == "mxdot":
            seq = [{"valid": 1, "a_scale": 127, "b_scale": 127,
                    **{f"a.{j}": int(rng.integers(0, 0x7F)) for j in range(lanes)},
                    **{f"b.{j}": int(rng.integers(0, 0x7F)) for j in range(lanes)}} for _ in range(beats)]
        else:
            key = (lambda p, j: p) if lanes == 1 else (lambda p, j: f"{p}.{j}")
            seq = [{"valid": 1, "first": int(i % 16 == 0), "last": int(i % 16 == 15),
                    **{key("a", j): int(rng.integers(0, 1 << 4)) for j in range(lanes)},
                    **{key("b", j): int(rng.integers(0, 1 << 4)) for j in range(lanes)}} for i in range(beats)]
        t0 = time.perf_counter()
        run_stream(u.component, seq, ["out"], max_idle=8)
        dt = time.perf_counter() - t0
        acc_bits = meta.get("accumulator_bits", meta.get("dot_bits"))
        print(f"{u.name:48s} {acc_bits:8d} {lines:13d} {t_export:8.2f} {beats * lanes / dt:10.0f}")


if __name__ == "__main__":
    main(sys.argv[1:])
