"""cocotb bench for the flow smoke test: a registered multiplier whose widths come from the
metadata JSON exported next to its Verilog."""
from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge


@cocotb.test()
async def products_match_python(dut) -> None:
    meta = json.loads(open(os.environ["LOWBIT_META"]).read())
    width = {p["name"]: p["width"] for p in meta["ports"]}
    wa, wb = width["a"], width["b"]
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    await RisingEdge(dut.clk)
    dut.rst.value = 0
    rng = random.Random(1)
    for i in range(200):
        a = rng.randrange(-(1 << (wa - 1)), 1 << (wa - 1))
        b = rng.randrange(-(1 << (wb - 1)), 1 << (wb - 1))
        dut.a.value = a
        dut.b.value = b
        await RisingEdge(dut.clk)
        await ReadOnly()
        assert dut.p.value.to_signed() == a * b, (a, b, dut.p.value.to_signed())
        await FallingEdge(dut.clk)
