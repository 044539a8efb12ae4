"""Chained WS tiles in the simulator (``HardwareConfig.array_chain``, the RTL's ``chain``): at
unlimited bandwidth an op takes the exact RTL cycles (``hw.arrays.tile_cycles(chain=True)``,
asserted against the RTL in ``tests/hw/test_arrays.py``) where the simulator's per-step form is
exact, and the steps' intervals plus one tail otherwise; the option is checked like every field."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest

from hw.arrays import chain_tail_cycles, chained_tile_cycles, tile_cycles
from mapping import GemmOp, parse_recipe, steps_of
from sim import PRESETS, simulate_op
from sim.errors import HardwareConfigError

INT8 = parse_recipe("INT8")
CHAINED = replace(PRESETS["default-32x32"], dram_gbps_per_channel=math.inf, dram_latency_ns=0.0, dataflows=("ws",),
                  array_double_buffer=True, array_chain=True, sram_a_kib=4096, sram_b_kib=4096, sram_c_kib=4096)


def test_one_tile_op_with_unlimited_bandwidth_takes_the_rtl_cycles():
    """A GEMM held in one SRAM tile, full K folds, rows of A >= 2 * rows + cols: the op's cycles
    are the chained RTL's exactly, and fewer than the unchained array's."""
    mp, run = simulate_op(GemmOp("g", 512, 768, 256), INT8, CHAINED)
    assert (mp.Mt, mp.Kt, mp.Nt, mp.dataflow) == (512, 768, 256, "ws")
    want = tile_cycles(rows=32, cols=32, dataflow="ws", m=512, k=768, n=256, double_buffer=True, chain=True)
    assert run.cycles == want.total and run.stall_input == 0
    assert run.array_steady == want.steady
    plain = tile_cycles(rows=32, cols=32, dataflow="ws", m=512, k=768, n=256, double_buffer=True)
    assert want.total < plain.total


@pytest.mark.parametrize("shape", [(512, 768, 768), (200, 1000, 72), (3, 4096, 1000)])
def test_tiled_op_is_its_steps_intervals_and_one_tail(shape):
    mp, run = simulate_op(GemmOp("g", *shape), INT8, replace(CHAINED, sram_a_kib=64, sram_b_kib=64, sram_c_kib=64))
    steps = steps_of(mp)
    assert len(steps) > 1
    want = sum(chained_tile_cycles(rows=32, cols=32, m=s.work[1], k=s.work[2], n=s.work[3]).total for s in steps)
    assert run.cycles == want + chain_tail_cycles(rows=32, cols=32)
    assert run.array_fill + run.array_steady == run.cycles


def test_chain_needs_double_buffered_weights():
    with pytest.raises(HardwareConfigError, match=r"^hardware field array\.chain must be true or false, and true "
                                                  r"only with array\.double_buffer = true, not True "
                                                  r"\(array\.double_buffer is false\)$"):
        replace(PRESETS["default-32x32"], array_chain=True)
