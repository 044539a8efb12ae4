"""cocotb bench for the MX block dot unit and the requantizer on their exported Verilog:
driver, monitor, model (``hw.numerics.gemm`` with block scales / ``hw.nonlinear``'s dyadic
requantizer), checker; parameters from the metadata JSON (``unit`` selects the flavour)."""
from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from hw import numerics
from hw.formats import IntFormat, parse


def _pack(codes, bits: int) -> int:
    return sum(int(c) << (i * bits) for i, c in enumerate(codes))


async def _run(dut, beats: list[dict], latency: int) -> list[tuple[int, int]]:
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.valid.value = 0
    await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    seen: list[tuple[int, int]] = []
    cycle = 0

    async def monitor() -> None:
        nonlocal cycle
        while True:
            await RisingEdge(dut.clk)
            cycle += 1
            await ReadOnly()
            if dut.out_valid.value == 1:
                seen.append((dut.out.value, cycle))

    cocotb.start_soon(monitor())
    for beat in beats:
        for k, v in beat.items():
            getattr(dut, k).value = v
        dut.valid.value = 1
        await FallingEdge(dut.clk)
    dut.valid.value = 0
    for _ in range(latency + 3):
        await FallingEdge(dut.clk)
    return seen


@cocotb.test()
async def block_unit_matches_golden_model(dut) -> None:
    meta = json.loads(open(os.environ["LOWBIT_META"]).read())
    rng = random.Random(12)
    n = int(os.environ.get("LOWBIT_N", "60"))
    latency = meta["latency_cycles"]
    if meta["unit"] == "mxdot":
        fa, fb, out = parse(meta["a_format"]), parse(meta["b_format"]), parse(meta["out_format"])
        bs = meta["block_size"]

        def elems(f):
            c = np.array([[rng.randrange(f.element.code_count) for _ in range(bs)] for _ in range(n)])
            if isinstance(f.element, IntFormat) and f.element.symmetric:
                c[c == 1 << (f.element.bits - 1)] = 0
            return c

        def scales(f):
            s = f.scale
            return np.array([s.nan_code if i == 0 else min(max(rng.randrange(s.bias - 10, s.bias + 10), 0), s.nan_code - 1)
                             for i in range(n)])

        A, B, SA, SB = elems(fa), elems(fb), scales(fa), scales(fb)
        beats = [{"a": _pack(A[i], fa.element.bits), "b": _pack(B[i], fb.element.bits),
                  "a_scale": int(SA[i]), "b_scale": int(SB[i])} for i in range(n)]
        expected = np.array([numerics.gemm(A[i:i + 1], fa, B[i:i + 1].T, fb, out, a_scales=SA[i:i + 1, None],
                                           b_scales=SB[i:i + 1, None])[0, 0] for i in range(n)])
        seen = await _run(dut, beats, latency)
        got = np.array([int(v) for v, _ in seen])
        gv, ev = out.decode(got), out.decode(expected)
        ok = (got == expected) | (np.isnan(gv) & np.isnan(ev))
    else:  # requant
        from hw.nonlinear import DyadicRequantizer

        fi, fo = parse(meta["in_format"]), parse(meta["out_format"])
        X = [rng.randrange(-600, 600) if i % 2 else rng.randrange(fi.min_int, fi.max_int + 1) for i in range(n)]
        M = [rng.randrange(0, 9) if i % 2 else rng.randrange(0, 1 << meta["multiplier_bits"]) for i in range(n)]
        E = [rng.randrange(0, 6) if i % 2 else rng.randrange(0, meta["max_shift"] + 1) for i in range(n)]
        beats = [{"value": X[i], "multiplier": M[i], "shift": E[i]} for i in range(n)]
        expected = np.array([int(DyadicRequantizer(M[i], E[i], fo.min_int, fo.max_int, meta["rounding"])
                                 .forward(np.array([X[i]]))[0]) for i in range(n)])
        seen = await _run(dut, beats, latency)
        got = np.array([v.to_signed() for v, _ in seen])
        ok = got == expected
    assert len(seen) == n
    assert ok.all(), f"mismatches at {np.nonzero(~ok)[0][:5]}: got {got[~ok][:5]}, expected {expected[~ok][:5]}"
    assert [t for _, t in seen] == [i + latency for i in range(n)]
