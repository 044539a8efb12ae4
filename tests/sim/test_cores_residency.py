"""Activations resident across N tiles (mapping order "mnk-ar"): A is read from DRAM once, the
schedule's bytes equal the mapping's, and with unlimited bandwidth the engine takes exactly the
array's tile cycles."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest

from hw.arrays import tile_cycles
from mapping import GemmOp, map_op, parse_recipe, steps_of
from sim import PRESETS, simulate_op, step_timing
from sim._engine import run_steps

TPU = PRESETS["tpuv1"]
INT8 = parse_recipe("INT8")


def _resident(op, hw=TPU):
    timing = step_timing(hw, INT8)
    mp = map_op(op, INT8, hw.limits(), timing.array_cycles)
    return mp, steps_of(mp), timing


@pytest.mark.parametrize("M, K, N", [(2048, 4096, 4096), (1000, 4096, 11008), (512, 11008, 4096)])
def test_activations_are_read_once(M, K, N):
    op = GemmOp("proj", M, K, N)
    mp, steps, _ = _resident(op)
    assert mp.order == "mnk-ar"
    nm = math.ceil(M / mp.Mt)
    a_bytes = sum(n for s in steps for b, n in s.loads if b == "ar")
    b_bytes = sum(n for s in steps for b, n in s.loads if b == "b")
    assert a_bytes == M * K  # INT8: one byte per element, read once
    assert b_bytes == nm * K * N  # the weights once per M block
    assert 2 * mp.Mt * K <= TPU.sram_a_kib * 1024  # two row blocks fit the activation buffer
    assert mp.dram_read_bytes == a_bytes + b_bytes
    assert sum(s.store_bytes for s in steps) == mp.dram_write_bytes
    # every resident piece is released once, after the last N tile of its row block
    assert sum(s.release.count("ar") for s in steps) == sum(1 for s in steps for b, _ in s.loads if b == "ar")


def test_unlimited_bandwidth_takes_the_tile_cycles():
    hw = replace(TPU, dram_gbps_per_channel=math.inf, dram_latency_ns=0.0)
    mp, steps, timing = _resident(GemmOp("q", 2048, 4096, 4096), hw)
    assert mp.order == "mnk-ar"
    run = run_steps(steps, hw, timing, dataflow=mp.dataflow)
    assert hw.array_double_buffer and mp.dataflow == "ws"  # the preset's array preloads weights (the RTL option)
    expect = sum(tile_cycles(rows=256, cols=256, dataflow="ws", m=s.work[1], k=s.work[2], n=s.work[3],
                             double_buffer=True).total for s in steps)
    assert run.cycles == expect
    single = replace(hw, array_double_buffer=False)
    run1 = run_steps(steps, single, step_timing(single, INT8), dataflow="ws")
    assert run1.cycles == sum(tile_cycles(rows=256, cols=256, dataflow="ws", m=s.work[1], k=s.work[2],
                                          n=s.work[3]).total for s in steps) > run.cycles


def test_resident_mapping_moves_fewer_bytes_than_without():
    op = GemmOp("q", 2048, 4096, 4096)
    mp, run = simulate_op(op, INT8, TPU)
    assert run.dram_read_bytes == mp.dram_read_bytes == 2048 * 4096 + 4096 * 4096
    # the same op with the activation buffer too small for a row block re-reads A per N tile
    small = replace(TPU, sram_a_kib=1024)
    mp2, run2 = simulate_op(op, INT8, small)
    assert mp2.order != "mnk-ar" and run2.dram_read_bytes > run.dram_read_bytes
