"""cocotb bench for MAC / dot-product-lane units on their exported Verilog.

Driver (random reductions, back to back), monitor (``out`` on every ``out_valid``), model
(``hw.numerics.dot``, the golden model), checker (bit-exact codes, NaN for NaN; latency equal to
the metadata's ``latency_cycles``). All design parameters come from the metadata JSON.
"""
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


@cocotb.test()
async def mac_matches_golden_model(dut) -> None:
    meta = json.loads(open(os.environ["LOWBIT_META"]).read())
    a_fmt, b_fmt, out_fmt = parse(meta["a_format"]), parse(meta["b_format"]), parse(meta["out_format"])
    acc = meta["acc"]
    lanes, latency = meta["lanes"], meta["latency_cycles"]
    n, beats = int(os.environ.get("LOWBIT_N", "40")), int(os.environ.get("LOWBIT_BEATS", "3"))
    k = lanes * beats
    rng = random.Random(11)

    def codes(f, shape):
        c = np.array([rng.randrange(f.code_count) for _ in range(shape[0] * shape[1])]).reshape(shape)
        if isinstance(f, IntFormat) and f.symmetric:
            c[c == 1 << (f.bits - 1)] = 0
        return c

    A, B = codes(a_fmt, (n, k)), codes(b_fmt, (n, k))
    order = "sequential" if lanes == 1 else ("tree", lanes)
    expected = numerics.dot(A, a_fmt, B, b_fmt, out_fmt, accumulate=acc, order=order, overflow=meta["overflow"])

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
                seen.append((int(dut.out.value), cycle))

    cocotb.start_soon(monitor())
    last_cycle = []
    for r in range(n):  # driver: beats presented just after a falling edge, taken at the next rising edge
        for j in range(beats):
            sl = slice(j * lanes, (j + 1) * lanes)
            dut.a.value = _pack(A[r, sl], a_fmt.bits)
            dut.b.value = _pack(B[r, sl], b_fmt.bits)
            dut.valid.value, dut.first.value, dut.last.value = 1, int(j == 0), int(j == beats - 1)
            if j == beats - 1:
                last_cycle.append(cycle)
            await FallingEdge(dut.clk)
    dut.valid.value = 0
    for _ in range(latency + 3):
        await FallingEdge(dut.clk)
    got = np.array([c for c, _ in seen])
    assert len(got) == n, f"{len(got)} results for {n} reductions"
    gv, ev = out_fmt.decode(got), out_fmt.decode(expected)
    bad = ~((got == expected) | (np.isnan(gv) & np.isnan(ev)))
    assert not bad.any(), f"mismatches at {np.nonzero(bad)[0][:5]}: got {got[bad][:5]}, expected {expected[bad][:5]}"
    # the last beat is taken at rising edge (last_cycle + 1); the result is seen `latency` edges later
    assert [t - lc for (_, t), lc in zip(seen, last_cycle)] == [latency] * n
