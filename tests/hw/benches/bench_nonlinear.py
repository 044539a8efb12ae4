"""cocotb bench for the exported nonlinear row units (hw.units.nonlinear): a driver feeding rows
on the ``i`` stream, a monitor collecting the ``o`` stream, the golden model
(``hw.nonlinear.kernel``; SwiGLU's (gate, up) pairs packed into the layout payload, rows x L x 2
for the model) and a checker. Design parameters, kernel constants and the timing
figures come from the metadata JSON exported beside the Verilog (``LOWBIT_META``); extra rows
(e.g. from the shared vectors) from ``LOWBIT_ROWS``."""
from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from hw.flow.tbkit import reset_dut, start_clock
from hw.nonlinear import kernel

TIMED_ROWS = 2  # rows streamed without gaps, used to check the timing figures


def field_ranges(meta: dict) -> list[tuple[int, int]]:
    """(lo, hi) of each field of one input element: x (or the gate), and ``up`` for SwiGLU."""
    p = meta["params"]
    bits = [p["x_bits"]] + ([p["up_bits"]] if p.get("gated") else [])
    return [(-(1 << (b - 1)), (1 << (b - 1)) - 1) for b in bits]


def pack(meta: dict, element) -> int:
    """The ``i__payload`` bits of one element (a layout payload: gate in the low bits, then up)."""
    if not meta["params"].get("gated"):
        return element
    xb = meta["params"]["x_bits"]
    return (element[0] & ((1 << xb) - 1)) | ((element[1] & ((1 << meta["params"]["up_bits"]) - 1)) << xb)


def make_rows(meta: dict, rng: random.Random) -> list[list]:
    p = meta["params"]
    length = p["length"]
    ranges = field_ranges(meta)

    def element():
        vals = [rng.randint(lo, hi) for lo, hi in ranges]
        return vals if p.get("gated") else vals[0]

    rows = [[element() for _ in range(length)] for _ in range(TIMED_ROWS)]
    if os.environ.get("LOWBIT_ROWS"):
        rows += json.loads(open(os.environ["LOWBIT_ROWS"]).read())
    rows += [[element() for _ in range(length)] for _ in range(4)]
    low = [lo for lo, _ in ranges] if p.get("gated") else ranges[0][0]
    rows.append([low] * length)
    if any(port["name"] == "row_error" for port in meta["ports"]) and length > 1:
        rows[-1][-1] = low + 1  # the exact LayerNorm golden models reject a constant row
    return rows


class Counter:
    def __init__(self) -> None:
        self.cycle = 0

    async def run(self, clk) -> None:
        while True:
            await RisingEdge(clk)
            self.cycle += 1


async def driver(dut, meta: dict, rows, counter: Counter, rng: random.Random, fired: list[int]) -> None:
    flat = [pack(meta, v) for row in rows for v in row]
    gap_from = TIMED_ROWS * len(rows[0])
    pos = 0
    while pos < len(flat):
        await FallingEdge(dut.clk)
        offer = pos < gap_from or rng.random() < 0.7
        dut.i__valid.value = int(offer)
        dut.i__payload.value = flat[pos]
        await ReadOnly()
        if offer and dut.i__ready.value:
            fired.append(counter.cycle)
            pos += 1
    await FallingEdge(dut.clk)
    dut.i__valid.value = 0


async def monitor(dut, n_out: int, n_timed: int, counter: Counter, rng: random.Random,
                  got: list[int], fired: list[int]) -> None:
    while len(got) < n_out:
        await FallingEdge(dut.clk)
        ready = len(got) < n_timed or rng.random() < 0.6
        dut.o__ready.value = int(ready)
        await ReadOnly()
        if ready and dut.o__valid.value:
            got.append(dut.o__payload.value.to_signed() if signed_out else int(dut.o__payload.value))
            fired.append(counter.cycle)


signed_out = True


@cocotb.test()
async def rows_match_golden_model(dut) -> None:
    global signed_out
    export = json.loads(open(os.environ["LOWBIT_META"]).read())
    meta = {**export["parameters"], "ports": export["ports"]}  # the unit metadata sits under "parameters"
    signed_out = {p["name"]: p["signed"] for p in meta["ports"]}["o__payload"]
    rng = random.Random(7)
    rows = make_rows(meta, rng)
    length = meta["params"]["length"]
    expected = kernel(meta["kernel"], meta["consts"], variant=meta["variant"]).forward(np.array(rows, dtype=np.int64))

    counter = Counter()
    start_clock(dut, export)  # clock and reset as the export's JSON describes them (hw.flow.tbkit)
    await reset_dut(dut, export)
    cocotb.start_soon(counter.run(dut.clk))
    got: list[int] = []
    in_fired: list[int] = []
    out_fired: list[int] = []
    cocotb.start_soon(driver(dut, meta, rows, counter, rng, in_fired))
    await monitor(dut, expected.size, TIMED_ROWS * length, counter, rng, got, out_fired)

    # checker: every element bit-identical to the golden model
    mismatches = [(i, g, int(e)) for i, (g, e) in enumerate(zip(got, expected.ravel())) if g != e]
    assert not mismatches, f"{len(mismatches)} mismatches, first {mismatches[:5]}"
    # timing figures of the metadata, measured on the gap-free rows
    assert in_fired[length] - in_fired[0] == meta["timing"]["cycles_per_row"]
    assert out_fired[0] - in_fired[0] == meta["timing"]["latency_cycles"]
