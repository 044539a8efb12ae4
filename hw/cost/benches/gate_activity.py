"""cocotb bench that replays a stimulus on a synthesised gate-level netlist (Verilator, traced)
so that ``hw.cost`` can count net toggles in the VCD.

It reads the plan from the JSON file named by ``LOWBIT_STIMULUS``: ``clocked`` (drive ``clk``,
hold ``rst`` high for two cycles first), ``period_ns``, ``widths`` (input port -> bits) and
``cycles`` (one dict of input values per cycle). Inputs change at the falling clock edge (or
every ``period_ns`` for a combinational design); outputs are sampled half a period later. It
writes the sampled outputs and the time window of the stimulus (ps) to ``LOWBIT_ACTIVITY_OUT``.
"""
from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge, Timer
from cocotb.utils import get_sim_time

__all__ = ["replay"]


@cocotb.test()
async def replay(dut) -> None:
    plan = json.loads(open(os.environ["LOWBIT_STIMULUS"]).read())
    widths: dict[str, int] = plan["widths"]
    outputs: list[str] = plan["outputs"]
    period = float(plan["period_ns"])
    half = period / 2
    for name in widths:  # start from all-zero inputs
        getattr(dut, name).value = 0
    if plan["clocked"]:
        cocotb.start_soon(Clock(dut.clk, period, unit="ns").start())
        if plan["has_rst"]:
            dut.rst.value = 1
        await RisingEdge(dut.clk)
        await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        if plan["has_rst"]:
            dut.rst.value = 0
        await FallingEdge(dut.clk)
    else:
        await Timer(period, unit="ns")
    samples: list[dict[str, str]] = []
    t_start = get_sim_time(unit="ps")
    for values in plan["cycles"]:
        for name, value in values.items():
            getattr(dut, name).value = int(value) & ((1 << widths[name]) - 1)
        await Timer(half, unit="ns")
        if not plan["clocked"]:
            samples.append({o: str(getattr(dut, o).value) for o in outputs})
        if plan["clocked"]:
            await FallingEdge(dut.clk)
            samples.append({o: str(getattr(dut, o).value) for o in outputs})
        else:
            await Timer(half, unit="ns")
    t_end = get_sim_time(unit="ps")
    with open(os.environ["LOWBIT_ACTIVITY_OUT"], "w") as f:
        json.dump({"t_start_ps": t_start, "t_end_ps": t_end, "outputs": samples}, f)
