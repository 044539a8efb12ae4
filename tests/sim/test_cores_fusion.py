"""Fusion and residency (sim._fusion): fused attention's MACs, bytes and cycles against counts
made here from the shapes, hw.arrays.tile_cycles and the softmax unit's timing; a fused layer
never moves fewer bytes than its weights and KV cache."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest

from hw.arrays import tile_cycles
from hw.units.nonlinear import shiftmax_timing
from mapping import GemmOp, layer_ops, load_model, parse_recipe
from sim import PRESETS, simulate, simulate_op
from sim._fusion import FusedAttention, Residency, plan_phase

HW = replace(PRESETS["default-32x32"], fusion=True)
INT8 = parse_recipe("INT8")


@pytest.mark.parametrize("tokens, block, past", [(64, 1, 0), (64, 16, 0), (100, 32, 7), (1, 1, 300)])
def test_causal_macs(tokens, block, past):
    op = FusedAttention("attention", count=4, group=2, tokens=tokens, past=past, keys=past + tokens, head_dim=64,
                        block=block, causal=True)
    exact = 4 * 2 * 2 * 64 * sum(past + t + 1 for t in range(tokens))  # QK and PV of each query row
    full = 4 * 2 * 2 * 64 * tokens * (past + tokens)
    assert exact <= op.macs <= full
    if block == 1:
        assert op.macs == exact
    # blocks cover the tokens, key counts never exceed the cache
    assert sum(bt for bt, _ in op.blocks()) == tokens and all(kv <= past + tokens for _, kv in op.blocks())


def test_fused_attention_bytes_and_cycles_at_unlimited_bandwidth():
    hw = replace(HW, dram_gbps_per_channel=math.inf, dram_latency_ns=0.0)
    op = FusedAttention("attention", count=3, group=1, tokens=128, past=0, keys=128, head_dim=64, block=32,
                        causal=True)
    mp, run = simulate_op(op, INT8, hw)
    kvb = INT8.bytes_per_element("kv")
    a = INT8.bytes_per_element("activation")
    assert mp.kv_resident
    assert run.dram_read_bytes == 3 * (128 * 64 * a + 2 * math.ceil(128 * 64 * kvb))  # Q, K, V once per head
    assert run.dram_write_bytes == 3 * 128 * 64 * a  # the context only: no scores
    expect = 0
    per_row = {}
    for bt, kv in op.blocks():
        qk = tile_cycles(rows=32, cols=32, dataflow=mp.dataflow, m=bt, k=64, n=kv).total
        pv = tile_cycles(rows=32, cols=32, dataflow=mp.dataflow, m=bt, k=kv, n=64).total
        if kv not in per_row:
            per_row[kv] = shiftmax_timing(kv, divider_bits_per_cycle=hw.divider_bits_per_cycle).cycles_per_row
        sm = math.ceil(bt / hw.row_units) * per_row[kv]
        expect += qk + sm + pv
    assert run.cycles == 3 * expect


def test_plan_keeps_weights_and_cache_in_dram():
    model = load_model("llama2-7b")
    ops = [("layer", op) for op in layer_ops(model, tokens=1, past=99)]
    plan = plan_phase(ops, model, INT8, HW, tokens=1, past=99, batch=1)
    names = [op.name for _, op, _ in plan]
    assert "attention" in names and "attn_scores" not in names and "softmax" not in names
    res = {op.name: r for _, op, r in plan}
    stream = model.d_model * INT8.bytes_per_element("activation")  # one token's residual stream
    assert res["q_proj"] == Residency(1.0, True, stream)  # a decode step's activations fit on chip
    assert res["kv_append"].output_on_chip is False  # the cache
    off = plan_phase(ops, model, INT8, replace(HW, fusion=False), tokens=1, past=99, batch=1)
    assert [r for _, _, r in off] == [None] * len(ops) and [o for _, o, _ in off] == [o for _, o in ops]


@pytest.mark.parametrize("prefill, decode", [(256, 0), (128, 2)])
def test_fused_layer_moves_at_least_weights_and_cache(prefill, decode):
    model = load_model("llama2-7b")
    fused = simulate(model, INT8, HW, prefill=prefill, decode=decode, layers=1)
    plain = simulate(model, INT8, replace(HW, fusion=False), prefill=prefill, decode=decode, layers=1)
    sf, sp = fused.summary, plain.summary
    assert sf["dram_read_bytes"] + sf["dram_write_bytes"] < sp["dram_read_bytes"] + sp["dram_write_bytes"]
    # compulsory: every weight once per phase step, K and V written once per token
    w = sum(op.K * op.N for op in layer_ops(model, tokens=1, past=0)
            if isinstance(op, GemmOp) and op.b_role == "weight")
    steps = (1 if prefill and not decode else 1 + decode)
    kv_write = (prefill + decode) * 2 * model.n_kv_heads * model.head_dim * INT8.bytes_per_element("kv")
    assert sf["dram_read_bytes"] >= steps * w * INT8.bytes_per_element("weight")
    assert sf["dram_write_bytes"] >= kv_write
    assert sf["macs"] <= sp["macs"]  # causal blocks skipped


def test_resident_stream_leaves_the_rest_of_the_activation_buffer_to_the_ops():
    """With the residual stream resident (tpuv1, LLaMA-2-7B prefill 2048: 8.4 MB of its 24 MiB)
    and never spilled, an op's resident A blocks and A tiles fit beside it: down_proj's input
    (22.5 MB) no longer stays whole in the buffer (the mapper's "ar" block is checked against
    the rest; tests/sim/test_cores_residency.py has the spill)."""
    from sim import PRESETS

    hw = PRESETS["tpuv1"]
    model = load_model("llama2-7b")
    ops = [("layer", op) for op in layer_ops(model, tokens=2048, past=0)]
    plan = plan_phase(ops, model, INT8, hw, tokens=2048, past=0, batch=1, spill=False)  # the stream never spilled
    a = INT8.bytes_per_element("activation")
    stream = 2048 * model.d_model * a
    assert all(r.reserved_a_bytes == stream for _, _, r in plan)
    (op, res), = [(op, r) for _, op, r in plan if op.name == "down_proj"]
    mp, _ = simulate_op(op, INT8, hw, residency=res)
    if mp.order == "mnk-ar":  # A row blocks kept across N tiles: one when it covers M, else two
        a_held = (1 if mp.Mt >= op.M else 2) * mp.Mt * op.K * a
    else:  # double-buffered A tiles
        a_held = 2 * mp.Mt * mp.Kt * a
    assert a_held + stream <= hw.sram_a_kib * 1024
    assert op.M * op.K * a + stream > hw.sram_a_kib * 1024  # so down_proj's whole A cannot stay
