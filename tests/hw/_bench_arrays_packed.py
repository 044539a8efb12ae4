"""cocotb bench for an exported systolic array with packed PEs (``packing`` K elements per
operand lane), written from the port contract in ``hw.arrays.SystolicArray``'s docstring: a
driver playing the operand buffers (lane i, element p of a WS row of A = ``A[row, k0 + i*P + p]``;
of an OS packed column ``idx`` = ``A[m0 + i, k0 + idx*P + p]``; of packed row ``idx`` of B =
``B[k0 + idx*P + p, n0 + j]``), a monitor of the output rows, the golden model
``hw.numerics.gemm`` and a checker of codes and of cycles against ``hw.arrays.tile_cycles``.

Parameters come from the export's JSON (``LOWBIT_META``, its ``parameters``); GEMM shapes from
``LOWBIT_CASES`` (a JSON list of [m, k, n]).
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


async def _run_gemm(dut, p: dict, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
    R, C, df, Q = p["rows"], p["cols"], p["dataflow"], p["packing"]
    ea, eb, wo = parse(p["a_format"]).bits, parse(p["b_format"]).bits, parse(p["out_format"]).bits
    M, K = a.shape
    N = b.shape[1]
    ws = df == "ws"
    tiles = tile_shapes(rows=R, cols=C, dataflow=df, m=M, k=K, n=N, max_m=p["max_m"], max_k=p["max_k"], packing=Q)
    out = np.zeros((M, N), dtype=np.int64)
    acc_rows: dict = {}
    cycles = 0
    for m0, k0, n0, mt, kt, nt in tiles:

        def a_at(r: int, kk: int) -> int:
            return int(a[r, kk]) if r < m0 + mt and kk < k0 + kt else 0

        def b_at(kk: int, n: int) -> int:
            return int(b[kk, n]) if kk < k0 + kt and n < n0 + nt else 0

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
                    codes = [a_at(m0 + idx, k0 + i * Q + q) for i in range(R) for q in range(Q)]
                    dut.a_psum.value = 0 if prev is None else prev[idx]
                else:
                    codes = [a_at(m0 + i, k0 + idx * Q + q) for i in range(R) for q in range(Q)]
                dut.a_data.value = _pack(codes, ea)
            if int(dut.b_req.value):
                idx = int(dut.b_index.value)
                dut.b_data.value = _pack([b_at(k0 + idx * Q + q, n0 + j) for j in range(C) for q in range(Q)], eb)
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
        cycles += t
        if ws:
            acc_rows[(m0, n0)] = new_acc
    return out, cycles


@cocotb.test()
async def packed_gemm_bit_exact_and_cycle_exact(dut) -> None:
    meta = json.loads(Path(os.environ["LOWBIT_META"]).read_text())
    p = meta.get("parameters", meta)
    cases = json.loads(os.environ["LOWBIT_CASES"])
    assert p["packing"] > 1 and p["acc"] == "exact" and not p["double_buffer"]
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.start.value = 0
    dut.rst.value = 1
    await RisingEdge(dut.clk)
    dut.rst.value = 0
    fa, fb, fo = parse(p["a_format"]), parse(p["b_format"]), parse(p["out_format"])
    rng = np.random.default_rng(8)
    for m, k, n in cases:
        a = rng.integers(0, 1 << fa.bits, (m, k))
        b = rng.integers(0, 1 << fb.bits, (k, n))
        got, cycles = await _run_gemm(dut, p, a, b)
        want = gemm(a, fa, b, fb, fo, "exact").astype(np.int64)
        assert np.array_equal(got, want), (m, k, n, got, want)
        model = tile_cycles(rows=p["rows"], cols=p["cols"], dataflow=p["dataflow"], m=m, k=k, n=n, max_m=p["max_m"],
                            max_k=p["max_k"], pe_pipeline=p["pipeline"], packing=p["packing"])
        assert cycles == model.total, (m, k, n, cycles, model)
        dut._log.info("packed gemm %dx%dx%d: bit-exact, %d cycles == tile_cycles", m, k, n, cycles)
