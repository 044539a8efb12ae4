"""The mapper's search (issue 15 §3): the input-stationary dataflow is the WS array on the
transposed problem (mapper, step timing and engine agree with ``hw.arrays.tile_cycles``), A kept
resident across N tiles when one row block is all of M, operands kept on chip by the fusion plan
cost no DRAM bytes, and the search report. References: ``tile_cycles`` itself, compulsory bytes
computed here from the shapes, the schedules' own loads and stores, and the engine's cycles."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest

from hw.arrays import tile_cycles
from mapping import GemmMapping, GemmOp, MapperLimits, MappingError, map_op, parse_recipe, steps_of
from sim import PRESETS, run_steps, simulate, simulate_op
from sim._fusion import Residency, apply_residency
from sim._gemv import step_timing

INT8 = parse_recipe("INT8")
HW = PRESETS["default-32x32"]
UNLIMITED = replace(HW, dram_gbps_per_channel=math.inf, dram_latency_ns=0.0)
TPU = PRESETS["tpuv1"]


def _moved(steps) -> int:
    """DRAM bytes a schedule moves: every load and every store."""
    return sum(n for st in steps for _, n in st.loads) + sum(st.store_bytes for st in steps)


def _swap(order: str) -> str:
    return {"mnk": "nmk", "nmk": "mnk"}[order]


# ---- input-stationary = weight-stationary on the transposed problem ----------------------------
@pytest.mark.parametrize("shape", [(64, 4096, 1000), (200, 1024, 96), (96, 512, 3000)])
def test_is_is_ws_on_the_transposed_problem(shape):
    M, K, N = shape
    timing = step_timing(HW, INT8)
    # small a/b buffers: no row block of A (nor of B^T) stays resident ("mnk-ar" has no transposed twin)
    lim = MapperLimits(32, 32, 48 * 1024, 64 * 1024, 64 * 1024, 64 * 1024, 16.0, dataflows=("is",),
                       dram_latency_cycles=50.0)
    is_map = map_op(GemmOp("g", M, K, N), INT8, lim, timing.array_cycles)
    # C^T = B^T A^T: the roles (and the buffers holding them) swap, WS on the array
    t_lim = replace(lim, a_bytes=lim.b_bytes, b_bytes=lim.a_bytes, dataflows=("ws",))
    ws_map = map_op(GemmOp("gt", N, K, M, a_role="weight", b_role="activation"), INT8, t_lim, timing.array_cycles)
    assert is_map.dataflow == "is" and ws_map.dataflow == "ws"
    assert (is_map.Mt, is_map.Kt, is_map.Nt) == (ws_map.Nt, ws_map.Kt, ws_map.Mt)
    assert is_map.order == ws_map.order or _swap(is_map.order) == ws_map.order  # equal traffic: "mnk" first
    assert (is_map.compute_cycles, is_map.est_cycles) == (ws_map.compute_cycles, ws_map.est_cycles)
    assert (is_map.dram_read_bytes, is_map.dram_write_bytes) == (ws_map.dram_read_bytes, ws_map.dram_write_bytes)
    # the array cycles are tile_cycles of WS on every transposed SRAM tile
    steps = steps_of(is_map)
    assert is_map.compute_cycles == sum(
        tile_cycles(rows=32, cols=32, dataflow="ws", m=st.work[3], k=st.work[2], n=st.work[1]).total for st in steps)


@pytest.mark.parametrize("shape", [(256, 768, 2048), (200, 1000, 72)])
def test_engine_runs_is_tiles_in_exactly_tile_cycles_at_unlimited_bandwidth(shape):
    M, K, N = shape
    timing = step_timing(UNLIMITED, INT8)
    lim = replace(UNLIMITED.limits(), dataflows=("is",))
    mp = map_op(GemmOp("g", M, K, N), INT8, lim, timing.array_cycles)
    steps = steps_of(mp)
    run = run_steps(steps, UNLIMITED, timing, dataflow=mp.dataflow)
    want = sum(tile_cycles(rows=32, cols=32, dataflow="ws", m=st.work[3], k=st.work[2], n=st.work[1]).total
               for st in steps)
    assert mp.dataflow == "is" and run.cycles == want == mp.compute_cycles and run.stall_input == 0
    # the SRAM tile that is the whole GEMM: one call of tile_cycles on the transposed problem
    big = replace(lim, a_bytes=1 << 24, b_bytes=1 << 24, c_bytes=1 << 26)
    whole = map_op(GemmOp("g", M, K, N), INT8, big, timing.array_cycles)
    assert (whole.Mt, whole.Kt, whole.Nt) == (M, K, N)
    one = run_steps(steps_of(whole), UNLIMITED, timing, dataflow="is")
    assert one.cycles == tile_cycles(rows=32, cols=32, dataflow="ws", m=N, k=K, n=M).total


def test_is_is_offered_only_for_operands_of_equal_width():
    timing = step_timing(HW, parse_recipe("W4A8"))
    lim = replace(HW.limits(), dataflows=("ws", "is"))
    op = GemmOp("g", 64, 1024, 4096)
    mp = map_op(op, parse_recipe("W4A8"), lim, timing.array_cycles)
    assert {cd.dataflow for cd in mp.search.per_dataflow} == {"ws"}  # INT8 x INT4: the ports differ
    mp = map_op(op, INT8, lim, step_timing(HW, INT8).array_cycles)
    assert {cd.dataflow for cd in mp.search.per_dataflow} == {"ws", "is"}


def test_is_streams_long_n_where_ws_folds_would_stream_short_m():
    # 64 tokens x a wide layer on a 32x32 array: WS folds stream 64 rows each, IS folds stream N
    timing = step_timing(UNLIMITED, INT8)
    lim = replace(UNLIMITED.limits(), dataflows=("ws", "is"))
    mp = map_op(GemmOp("up", 64, 1024, 4096), INT8, lim, timing.array_cycles)
    ws = next(cd for cd in mp.search.per_dataflow if cd.dataflow == "ws")
    assert mp.dataflow == "is" and mp.compute_cycles < ws.compute_cycles


def test_smallest_is_tile_must_fit():
    lim = MapperLimits(16, 16, 16, 128 * 1024, 32 * 1024, 64 * 1024, 16.0, dataflows=("is",))
    with pytest.raises(MappingError) as e:
        map_op(GemmOp("q_proj", 512, 768, 768), INT8, lim)
    assert str(e.value) == ("SRAM buffer 'a' must hold two tiles of the smallest legal tile of q_proj "
                            "(16 x 16 x 1: 512 bytes), not 16 bytes")


# ---- DRAM traffic on tpuv1 against the compulsory bytes --------------------------------------
def _compulsory(M, K, N, *, a_on_chip=False, c_on_chip=False, c_bytes=1):
    """INT8 operands once each: A (M x K), weights (K x N), C (M x N, ``c_bytes`` per element)."""
    return (0 if a_on_chip else M * K) + K * N + (0 if c_on_chip else M * N * c_bytes)


@pytest.mark.parametrize("name, K, N", [("q_proj", 4096, 4096), ("down_proj", 11008, 4096)])
def test_tpuv1_projections_move_their_compulsory_bytes(name, K, N):
    # LLaMA-2-7B prefill 2048: one row block of A (2048 x K) fits the 24 MiB activation buffer,
    # so it stays resident across the N tiles and every operand crosses DRAM once
    op = GemmOp(name, 2048, K, N)
    mp, run = simulate_op(op, INT8, TPU)
    want = _compulsory(2048, K, N)
    assert _moved(steps_of(mp)) == want
    assert run.dram_read_bytes + run.dram_write_bytes == want
    assert mp.search.compulsory_bytes == want and mp.search.traffic_ratio == 1.0


def test_tpuv1_q_proj_in_the_fused_layer_moves_only_its_weights():
    res = simulate("llama2-7b", INT8, TPU, prefill=2048, layers=1)
    row = res.ops.set_index("op").loc["q_proj"]
    want = _compulsory(2048, 4096, 4096, a_on_chip=True, c_on_chip=True)  # the weights
    assert row.dram_read_bytes + row.dram_write_bytes == want == 4096 * 4096
    assert "= 1x compulsory 16.78 MB" in row.mapper


def test_down_proj_estimate_tracks_the_engine():
    # "mnk-ar" loads all of A during the first N pass: the estimate prices that pass apart (as in
    # the fused layer, the output stays on chip for the residual add)
    mp, run = simulate_op(GemmOp("down_proj", 2048, 11008, 4096), INT8, TPU, residency=Residency(0.0, True))
    assert mp.order == "mnk-ar" and abs(mp.est_cycles / run.cycles - 1) < 0.02


# ---- operands kept on chip ---------------------------------------------------------------------
def test_on_chip_operands_cost_no_dram_and_the_choice_is_no_slower():
    op = GemmOp("gate_proj", 2048, 4096, 11008, c_role="accumulator")
    timing = step_timing(TPU, INT8)
    lim = TPU.limits()
    blind = map_op(op, INT8, lim, timing.array_cycles)
    aware = map_op(op, INT8, lim, timing.array_cycles, inputs_on_chip=1.0, output_on_chip=True)
    assert aware.dram_read_bytes == 4096 * 11008 and aware.dram_write_bytes == 0
    assert aware.search.compulsory_bytes == 4096 * 11008
    res = Residency(1.0, True)
    cyc = [run_steps(apply_residency(steps_of(m), op, res), TPU, timing, dataflow=m.dataflow).cycles
           for m in (blind, aware)]
    assert cyc[1] <= cyc[0]
    assert _moved(apply_residency(steps_of(aware), op, res)) == aware.dram_read_bytes


@pytest.mark.parametrize("bad", [-0.1, 1.5, True, "1"])
def test_inputs_on_chip_is_checked(bad):
    with pytest.raises(MappingError) as e:
        map_op(GemmOp("g", 16, 16, 16), INT8, HW.limits(), inputs_on_chip=bad)
    assert str(e.value) == f"inputs_on_chip must be a number in [0, 1], not {bad!r}"


def test_output_on_chip_is_checked():
    with pytest.raises(MappingError) as e:
        map_op(GemmOp("g", 16, 16, 16), INT8, HW.limits(), output_on_chip=1)
    assert str(e.value) == "output_on_chip must be a bool, not 1"


# ---- the search report ---------------------------------------------------------------------------
def test_search_report_describes_real_candidates():
    timing = step_timing(HW, INT8)
    lim = replace(HW.limits(), dataflows=("ws", "os", "is"))
    op = GemmOp("o_proj", 512, 2048, 2048)
    mp = map_op(op, INT8, lim, timing.array_cycles)
    s = mp.search
    w = s.ranked[0]
    assert (w.Mt, w.Kt, w.Nt, w.order, w.dataflow, w.est_cycles) == (mp.Mt, mp.Kt, mp.Nt, mp.order, mp.dataflow,
                                                                       mp.est_cycles)
    assert s.evaluated >= len(s.ranked) > 1
    keys = [(float(f"{cd.est_cycles:.3g}"), cd.dram_read_bytes + cd.dram_write_bytes, cd.tiles) for cd in s.ranked]
    assert keys == sorted(keys)
    assert {cd.dataflow for cd in s.per_dataflow} == {"ws", "os", "is"}
    for cd in s.ranked + s.per_dataflow:  # each candidate's figures are those of its own schedule
        cand = GemmMapping(op, cd.Mt, cd.Kt, cd.Nt, cd.order, cd.dataflow, 1.0, 1.0, 1.0, cd.dram_read_bytes,
                           cd.dram_write_bytes, cd.compute_cycles)
        steps = steps_of(cand)
        assert _moved(steps) == cd.dram_read_bytes + cd.dram_write_bytes
        assert sum(timing.array_cycles(cd.dataflow, *st.work[1:]) for st in steps) == cd.compute_cycles
        assert cd.est_cycles >= max(cd.compute_cycles, (cd.dram_read_bytes + cd.dram_write_bytes) / lim.dram_bytes_per_cycle)
    assert s.compulsory_bytes == _compulsory(512, 2048, 2048)
    text = s.summary()
    assert text.startswith(f"{s.evaluated} tilings costed; chosen {w.Mt}x{w.Kt}x{w.Nt} {w.order} {w.dataflow} est ")
    assert f"next {s.ranked[1].label}" in text
    for cd in s.per_dataflow:
        if cd.dataflow != w.dataflow:
            assert f"{cd.dataflow} {cd.Mt}x{cd.Kt}x{cd.Nt} est {cd.est_cycles:.4g}" in text


def test_op_table_reports_the_search():
    res = simulate("llama2-7b", INT8, HW, prefill=64, layers=1)
    ops = res.ops
    gemm = ops[ops.unit == "array"]
    assert (gemm.mapper.str.contains(" tilings costed; chosen ")).all()
    assert (ops[ops.unit == "vector"].mapper == "").all()
    for _, row in gemm.iterrows():
        assert f"chosen {row.tile} {row.order} {row.dataflow} est " in row.mapper


# ---- weights resident across M tiles ("nmk-br") --------------------------------------------------
def test_edge_npu_down_proj_keeps_weight_columns_resident():
    # LLaMA-2-7B prefill 2048 down_proj on edge-npu: A (2048 x 11008) cannot stay in the 1 MiB
    # activation buffer, but two 11008 x Nt weight column blocks fit the 6 MiB weight buffer
    npu = PRESETS["edge-npu"]
    op = GemmOp("down_proj", 2048, 11008, 4096)
    timing = step_timing(npu, INT8)
    mp = map_op(op, INT8, npu.limits(), timing.array_cycles)
    assert mp.order == "nmk-br" and 2 * 11008 * mp.Nt <= npu.sram_b_kib * 1024
    steps = steps_of(mp)
    nn = math.ceil(4096 / mp.Nt)
    assert sum(n for st in steps for buf, n in st.loads if buf == "br") == 11008 * 4096  # weights once
    assert sum(n for st in steps for buf, n in st.loads if buf == "a") == nn * 2048 * 11008  # A per column block
    assert _moved(steps) == mp.dram_read_bytes + mp.dram_write_bytes == nn * 2048 * 11008 + 11008 * 4096 + 2048 * 4096
    assert sum(st.work[1] * st.work[2] * st.work[3] for st in steps) == op.macs
    # the engine: faster than the best schedule without resident weights (which rereads them)
    plain = next(cd for cd in map_op(op, INT8, replace(npu.limits(), b_bytes=2 * 11008 * mp.Nt - 1),
                                     timing.array_cycles).search.ranked if cd.order in ("mnk", "nmk"))
    other = GemmMapping(op, plain.Mt, plain.Kt, plain.Nt, plain.order, plain.dataflow, 1.0, 1.0, 1.0,
                        plain.dram_read_bytes, plain.dram_write_bytes, plain.compute_cycles)
    runs = [run_steps(steps_of(m), npu, timing, dataflow=m.dataflow) for m in (mp, other)]
    assert runs[0].dram_read_bytes < runs[1].dram_read_bytes and runs[0].cycles < runs[1].cycles
    assert abs(mp.est_cycles / runs[0].cycles - 1) < 0.05
