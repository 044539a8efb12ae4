"""Activations resident across N tiles (mapping order "mnk-ar"): A is read from DRAM once, the
schedule's bytes equal the mapping's, and with unlimited bandwidth the engine takes exactly the
array's tile cycles. The residual stream spilled to DRAM around a window of ops: its bytes are
the stream's, written and read once; it is chosen only where the estimate says faster."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest

from hw.arrays import tile_cycles
from mapping import GemmOp, layer_ops, load_model, map_op, parse_recipe, steps_of
from sim import PRESETS, simulate_op, step_timing
from sim._engine import run_steps
from sim._fusion import _estimate, plan_phase
from sim._run import simulate_chain

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
    # the preset's double-buffered weights without chained tiles (those: tests/sim/test_chain.py)
    hw = replace(TPU, dram_gbps_per_channel=math.inf, dram_latency_ns=0.0, array_chain=False)
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


# ---- the residual stream spilled around a window of ops (sim._fusion.SpillChoice) -------------
LLAMA = load_model("llama2-7b")
A = INT8.bytes_per_element("activation")


def _plan(hw=TPU, tokens=2048, spill=True):
    ops = [("layer", op) for op in layer_ops(LLAMA, tokens=tokens, past=0)]
    return plan_phase(ops, LLAMA, INT8, hw, tokens=tokens, past=0, batch=1, spill=spill)


def _chain(plan, hw=TPU):
    runs = simulate_chain([(op, r) for _, op, r in plan], INT8, hw)
    return {op.name: run for (_, op, _), (_, run) in zip(plan, runs)}


def test_spill_writes_and_reads_the_stream_once():
    """tpuv1, LLaMA-2-7B prefill 2048: the stream (2048 x 4096 INT8) leaves the activation buffer
    around the FFN: ffn_norm stores it as it reads it, ffn_residual reads it back; the bytes are
    the stream's, counted from the shapes."""
    plan = _plan()
    res = {op.name: r for _, op, r in plan}
    choice = res["ffn_norm"].spill
    stream = 2048 * LLAMA.d_model * A
    assert choice.chosen and choice.ops == ("gate_proj", "up_proj", "silu_mul", "down_proj")
    assert (choice.writer, choice.reader, choice.stream_bytes) == ("ffn_norm", "ffn_residual", stream)
    attn = res["attn_norm"].spill  # the attention block's window: evaluated, not faster spilled
    assert attn.ops[0] == "q_proj" and attn.reader == "attn_residual" and not attn.chosen
    assert res["ffn_norm"].spills_input and res["ffn_norm"].output_on_chip
    assert all(res[n].reserved_a_bytes == 0 for n in choice.ops)  # the whole buffer for the window
    assert all(r.reserved_a_bytes == stream for _, op, r in plan if op.name not in choice.ops)
    # SiLU's output (2048 x 11008) fits now, down_proj's beside it (22.5 + 8.4 MB) does not
    assert res["silu_mul"].output_on_chip and res["down_proj"].inputs_on_chip == 1.0
    assert not res["down_proj"].output_on_chip
    runs = _chain(plan)
    assert runs["ffn_norm"].dram_write_bytes == stream and runs["ffn_norm"].dram_read_bytes == 0
    assert runs["ffn_residual"].dram_read_bytes == stream + 2048 * LLAMA.d_model * A  # stream + down_proj's output
    assert runs["silu_mul"].dram_write_bytes == 0 and runs["down_proj"].dram_read_bytes == 11008 * 4096
    # the spilled plan moves the stream twice and saves SiLU's store and down_proj's re-reads
    kept = _chain(_plan(spill=False))
    moved = {n: r.dram_read_bytes + r.dram_write_bytes for n, r in runs.items()}
    moved_kept = {n: r.dram_read_bytes + r.dram_write_bytes for n, r in kept.items()}
    assert moved["ffn_norm"] - moved_kept["ffn_norm"] == stream
    assert moved["ffn_residual"] - moved_kept["ffn_residual"] == 2 * stream


def test_spill_is_chosen_because_the_estimate_is_faster():
    """The choice compares the estimates of the two plans from the writer to the reader; the
    simulated chain agrees with it here."""
    spilled, kept = _plan(), _plan(spill=False)
    names = [op.name for _, op, _ in kept]
    w, r = names.index("ffn_norm"), names.index("ffn_residual")
    timing = step_timing(TPU, INT8)
    choice = spilled[w][2].spill
    assert choice.kept_cycles == sum(_estimate(op, res, INT8, TPU, timing) for _, op, res in kept[w:r + 1])
    assert choice.spilled_cycles == sum(_estimate(op, res, INT8, TPU, timing) for _, op, res in spilled[w:r + 1])
    assert choice.spilled_cycles < choice.kept_cycles
    assert (sum(run.cycles for run in _chain(spilled).values())
            < sum(run.cycles for run in _chain(kept).values()))


@pytest.mark.parametrize("hw, tokens", [(TPU, 256), (replace(TPU, sram_a_kib=1 << 20), 2048)],
                         ids=["short-prefill", "unlimited-sram"])
def test_no_spill_where_it_is_not_estimated_faster(hw, tokens):
    """Where everything fits beside the stream (a short prefill; an unlimited activation buffer)
    spilling only adds the stream's bytes: it is not chosen and the plan is the one that never
    spills (same residencies, so the same run)."""
    plan, never = _plan(hw, tokens), _plan(hw, tokens, spill=False)
    choice = {op.name: r for _, op, r in plan}["ffn_norm"].spill
    assert not choice.chosen and choice.spilled_cycles >= choice.kept_cycles
    assert [(op, r) for _, op, r in plan] == [(op, r) for _, op, r in never]
    assert not any(r.spills_input for _, _, r in plan)


def test_spilled_window_on_four_cores_has_the_whole_buffer_in_the_chain():
    """npu-8core on four cores (no global buffer), LLaMA-2-7B prefill 128: the stream (512 KiB)
    holds half of each core's 1 MiB activation buffer; spilled around the FFN, down_proj maps
    its resident A blocks in the whole buffer and the chain gives the stream's bytes back to
    it (sim._overlap): every op completes with its bytes as alone, and the chain is faster than
    with the stream kept, as the estimate said."""
    hw = replace(PRESETS["npu-8core"], cores=4, gb_kib=0, gb_gbps=0.0)
    ops = [("layer", op) for op in layer_ops(LLAMA, tokens=128, past=0)]
    plans = [plan_phase(ops, LLAMA, INT8, hw, tokens=128, past=0, batch=1, spill=s) for s in (True, False)]
    res = {op.name: r for _, op, r in plans[0]}
    assert res["ffn_norm"].spill.chosen and res["down_proj"].reserved_a_bytes == 0
    timing = step_timing(hw, INT8)
    chained = simulate_chain([(op, r) for _, op, r in plans[0]], INT8, hw, timing)
    for (_, op, r), (_, run) in zip(plans[0], chained):
        _, alone = simulate_op(op, INT8, hw, timing, residency=r)
        assert (run.dram_read_bytes, run.dram_write_bytes) == (alone.dram_read_bytes, alone.dram_write_bytes)
    kept = simulate_chain([(op, r) for _, op, r in plans[1]], INT8, hw, timing)
    assert sum(run.cycles for _, run in chained) < sum(run.cycles for _, run in kept)


def test_no_spill_is_considered_with_a_global_buffer():
    """The estimate prices DRAM bytes, not a global buffer's fills: on hardware with one
    (npu-8core) no window is evaluated, although the stream is resident (512 KiB of a core's
    1 MiB at 128 tokens)."""
    hw = PRESETS["npu-8core"]
    assert hw.gb_kib and 2 * 128 * LLAMA.d_model * A <= hw.sram_a_kib * 1024
    plan = _plan(hw, 128)
    assert plan == _plan(hw, 128, spill=False)
    assert all(r.spill is None and not r.spills_input for _, _, r in plan)
