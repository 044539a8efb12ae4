"""cocotb bench for an exported systolic array: a driver that plays the operand buffers through
the tile interface, a monitor collecting output rows, the golden model ``hw.numerics.gemm``
(through ``hw.arrays.golden_gemm``'s choice of accumulation) and a checker of both the codes and
the measured cycles against ``hw.arrays.tile_cycles``.

Design parameters (rows, cols, dataflow, formats, lane widths) come from the metadata JSON
exported next to the Verilog (``LOWBIT_META``); the GEMM shapes to run from ``LOWBIT_CASES``
(a JSON list of [m, k, n]).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

from hw.arrays import tile_cycles, tile_shapes
from hw.formats import parse
from hw.numerics import gemm


def _pack(values, width: int) -> int:
    out = 0
    for i, v in enumerate(values):
        out |= (int(v) & ((1 << width) - 1)) << (i * width)
    return out


def _unpack(word: int, width: int, count: int) -> list[int]:
    return [(word >> (i * width)) & ((1 << width) - 1) for i in range(count)]


async def _run_gemm(dut, meta: dict, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int, list[int]]:
    R, C, df = meta["rows"], meta["cols"], meta["dataflow"]
    wa, wb = meta["lane_bits"]["a"], meta["lane_bits"]["b"]
    width = {p["name"]: p["width"] for p in meta["ports"]}
    wo = width["c_data"] // C
    M, K = a.shape
    N = b.shape[1]
    ws = df == "ws"
    tiles = tile_shapes(rows=R, cols=C, dataflow=df, m=M, k=K, n=N, max_m=meta["max_m"], max_k=meta["max_k"])
    out = np.zeros((M, N), dtype=np.int64)
    acc_rows: dict = {}
    measured = []
    for m0, k0, n0, mt, kt, nt in tiles:
        await FallingEdge(dut.clk)
        dut.start.value = 1
        dut.tile_m.value, dut.tile_k.value, dut.tile_n.value = mt, kt, nt
        prev = acc_rows.get((m0, n0)) if ws and k0 > 0 else None
        last_fold = (not ws) or k0 + kt >= K
        new_acc = [0] * mt
        t = 0
        while True:
            if int(dut.a_req.value):
                idx = int(dut.a_index.value)
                if ws:
                    lanes = list(a[m0 + idx, k0:k0 + kt]) + [0] * (R - kt)
                    dut.a_psum.value = 0 if prev is None else prev[idx]
                else:
                    lanes = list(a[m0:m0 + mt, k0 + idx]) + [0] * (R - mt)
                dut.a_data.value = _pack(lanes, wa)
            if int(dut.b_req.value):
                idx = int(dut.b_index.value)
                dut.b_data.value = _pack(list(b[k0 + idx, n0:n0 + nt]) + [0] * (C - nt), wb)
            if int(dut.c_valid.value):
                idx = int(dut.c_index.value)
                if ws:
                    new_acc[idx] = int(dut.c_acc.value)
                if last_fold:
                    out[m0 + idx, n0:n0 + nt] = _unpack(int(dut.c_data.value), wo, nt)
            done = int(dut.done.value)
            await FallingEdge(dut.clk)
            t += 1
            if t == 1:
                dut.start.value = 0
            if done:
                break
            assert t < 1 << 20, "array did not finish a tile"
        measured.append(t)
        if ws:
            acc_rows[(m0, n0)] = new_acc
    return out, sum(measured), measured


@cocotb.test()
async def gemm_bit_exact_and_cycle_exact(dut) -> None:
    meta = json.loads(Path(os.environ["LOWBIT_META"]).read_text())
    cases = json.loads(os.environ["LOWBIT_CASES"])
    assert not meta["block"], "this bench drives element formats"
    assert not meta.get("double_buffer"), "this bench drives arrays without weight prefetch"
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.start.value = 0
    dut.rst.value = 1
    await RisingEdge(dut.clk)
    dut.rst.value = 0
    a_fmt, b_fmt, out_fmt = parse(meta["a_format"]), parse(meta["b_format"]), parse(meta["out_format"])
    acc = meta["acc"] if meta["acc"] == "exact" else parse(meta["acc"])
    rng = np.random.default_rng(7)
    for m, k, n in cases:
        a = rng.integers(0, 1 << a_fmt.bits, (m, k))
        b = rng.integers(0, 1 << b_fmt.bits, (k, n))
        got, cycles, per_tile = await _run_gemm(dut, meta, a, b)
        want = gemm(a, a_fmt, b, b_fmt, out_fmt, acc, order="sequential").astype(np.int64)
        assert np.array_equal(got, want), (m, k, n, got, want)
        model = tile_cycles(rows=meta["rows"], cols=meta["cols"], dataflow=meta["dataflow"], m=m, k=k, n=n,
                            max_m=meta["max_m"], max_k=meta["max_k"], pe_pipeline=meta.get("pipeline", 0))
        assert cycles == model.total, (m, k, n, cycles, model)
        dut._log.info("gemm %dx%dx%d: bit-exact, %d cycles == tile_cycles (%d tiles)", m, k, n, cycles, len(per_tile))
