"""Overlap across ops (sim._overlap): a one-op chain is the engine alone; a chain is never
slower than its ops one after another, never faster than its units' compute or its bytes over
the bandwidth; a two-op chain's time computed here by hand from the transfer sizes and the
units' timing functions; the next op's prefetch bounded by the SRAM its predecessor frees;
chains reused across decode steps equal chains simulated afresh. With a global buffer: a one-op
chain is the op alone, layer chains on npu-8core and a100-like are never slower than their ops
alone (same bytes) nor faster than their ports and arrays, a two-op chain is timed by hand, and
the next op's fills wait for the buffer capacity the current op frees."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest
import simpy

from mapping import GemmOp, VectorOp, layer_ops, load_model, map_op, parse_recipe, steps_of
from sim import PRESETS, simulate, simulate_op, step_timing
from sim._engine import run_steps
from sim._fusion import plan_phase
from sim._run import simulate_chain

INT8 = parse_recipe("INT8")
HW = PRESETS["default-32x32"]
FIELDS = ("cycles", "compute_cycles", "stall_input", "stall_output", "stall_drain", "dram_read_bytes",
          "dram_write_bytes", "dram_busy_cycles", "array_fill", "array_steady", "array_drain", "array_weight_load",
          "steps")


def _chain(ops, hw, recipe=INT8):
    return simulate_chain([(op, None) for op in ops], recipe, hw, step_timing(hw, recipe))


@pytest.mark.parametrize("op", [GemmOp("q_proj", 64, 512, 768), GemmOp("v_proj", 1, 4096, 4096),
                                VectorOp("softmax", "softmax", 96, 200, in_role="accumulator"),
                                VectorOp("attn_residual", "add", 300, 512, inputs=2)], ids=lambda o: o.name)
def test_a_one_op_chain_is_the_engine_alone(op):
    timing = step_timing(HW, INT8)
    mp = map_op(op, INT8, HW.limits(), timing.array_cycles)
    alone = run_steps(steps_of(mp), HW, timing, dataflow=getattr(mp, "dataflow", "ws"))
    [(_, run)] = _chain([op], HW)
    assert {f: getattr(run, f) for f in FIELDS} == {f: getattr(alone, f) for f in FIELDS}


def _layer_chain_and_ops_alone(hw, tokens: int, past: int):
    """(fusion plan, chained (mapping, run) per op, runs of the ops one by one) of a LLaMA-2-7B
    layer step on ``hw``."""
    model = load_model("llama2-7b")
    planned = plan_phase([("layer", op) for op in layer_ops(model, tokens=tokens, past=past)], model, INT8, hw,
                         tokens=tokens, past=past, batch=1)
    timing = step_timing(hw, INT8)
    chain = simulate_chain([(op, res) for _, op, res in planned], INT8, hw, timing)
    alone = [simulate_op(op, INT8, hw, timing, residency=res)[1] for _, op, res in planned]
    return planned, chain, alone


CASES = [("default-32x32", 64, 0), ("default-32x32", 1, 200), ("tpuv1", 256, 0), ("tpuv1", 1, 300),
         ("edge-16x16", 32, 0), ("hbm-128x128", 128, 0), ("edge-npu", 1, 100)]


@pytest.mark.parametrize("preset, tokens, past", CASES)
def test_a_layer_chain_is_never_slower_than_its_ops_alone_nor_faster_than_its_units_or_bytes(preset, tokens, past):
    hw = PRESETS[preset]
    planned, chain, alone = _layer_chain_and_ops_alone(hw, tokens, past)
    cycles = sum(run.cycles for _, run in chain)
    assert cycles <= sum(run.cycles for run in alone)
    for (_, a), b in zip(chain, alone):  # the same transfers and compute, only their times move
        assert (a.dram_read_bytes, a.dram_write_bytes, a.compute_cycles) == (b.dram_read_bytes, b.dram_write_bytes,
                                                                             b.compute_cycles)
    nbytes = sum(r.dram_read_bytes + r.dram_write_bytes for _, r in chain)
    array = sum(r.compute_cycles for (_, r), (_, op, _) in zip(chain, planned) if isinstance(op, GemmOp))
    vector = sum(r.compute_cycles for (_, r), (_, op, _) in zip(chain, planned) if isinstance(op, VectorOp))
    assert cycles >= max(nbytes / hw.dram_bytes_per_cycle, array, vector) - 1e-6


@pytest.mark.parametrize("tokens, past", [(128, 0), (1, 300)])
def test_a_layer_chain_on_four_cores_is_never_slower_than_its_ops_alone(tokens, past):
    """Chained parts on four cores (no global buffer): producers on
    every core before a consumer, never slower than the ops one after another, same bytes."""
    hw = replace(PRESETS["npu-8core"], cores=4, gb_kib=0, gb_gbps=0.0)
    _, chain, alone = _layer_chain_and_ops_alone(hw, tokens, past)
    cycles = sum(run.cycles for _, run in chain)
    assert cycles <= sum(run.cycles for run in alone)
    nbytes = sum(r.dram_read_bytes + r.dram_write_bytes for _, r in chain)
    assert nbytes == sum(r.dram_read_bytes + r.dram_write_bytes for r in alone)
    assert cycles >= nbytes / hw.dram_bytes_per_cycle


def test_a_two_op_chain_prefetches_the_weights_during_the_producer():
    """RMSNorm (vector unit) then a one-tile GEMM reading its output: at 1 byte/cycle, no latency,
    the GEMM's weights cross the port right after the norm's input, its activations after the
    norm's store; the times below come from the transfer sizes and the units' timing alone."""
    hw = replace(HW, dram_channels=1, dram_gbps_per_channel=1.0, dram_latency_ns=0.0)
    timing = step_timing(hw, INT8)
    rows, d, n = 4, 64, 32
    norm = VectorOp("attn_norm", "rmsnorm", rows, d)
    proj = GemmOp("q_proj", rows, d, n)
    mp_norm = map_op(norm, INT8, hw.limits(), timing.array_cycles)
    mp_proj = map_op(proj, INT8, hw.limits(), timing.array_cycles)
    assert len(steps_of(mp_norm)) == 1 and len(steps_of(mp_proj)) == 1
    v1 = s1 = rows * d  # INT8: one byte per element, in and out
    a, b, s2 = rows * d, d * n, rows * n
    t1 = timing.step_cycles(("vector", "rmsnorm", rows, d), "")
    t2 = timing.array_cycles(mp_proj.dataflow, rows, d, n) + timing.tail_cycles(mp_proj.dataflow)
    alone = (v1 + t1 + s1) + (a + b + t2 + s2)
    norm_done = max(v1 + t1, v1 + b) + s1  # its store waits for the port behind the prefetched weights
    want = norm_done + a + t2 + s2
    chain = _chain([norm, proj], hw)
    assert sum(r.cycles for _, r in chain) == pytest.approx(want, abs=1e-9)
    assert want < alone
    assert [r.cycles for _, r in chain] == pytest.approx([norm_done, want - norm_done], abs=1e-9)


class _Watched(simpy.Container):
    """A Container recording its peak use and how many gets had to wait."""

    log: list = []

    def __init__(self, env, capacity, init):
        super().__init__(env, capacity=capacity, init=init)
        self.peak = 0.0
        self.waits = 0
        _Watched.log.append(self)

    def get(self, amount):
        ev = super().get(amount)
        if not ev.triggered:
            self.waits += 1
        ev.callbacks.append(lambda _: setattr(self, "peak", max(self.peak, self.capacity - self.level)))
        return ev


def test_the_next_ops_prefetch_is_bounded_by_the_sram_its_predecessor_frees(monkeypatch):
    """Two weight-streaming decode GEMVs with a weight buffer of two tiles: the second op's
    weight loads wait for bytes the first op frees, the buffer is never over-full, and a larger
    buffer (room for the prefetch) is never slower."""
    import sim._overlap as ov

    monkeypatch.setattr(ov.simpy, "Container", _Watched)
    ops = [GemmOp("k_proj", 1, 4096, 4096), GemmOp("v_proj", 1, 4096, 4096)]
    timing = step_timing(HW, INT8)
    mp = map_op(ops[0], INT8, HW.limits(), timing.array_cycles)
    tile = max(n for st in steps_of(mp) for buf, n in st.loads if buf == "b")
    small = replace(HW, sram_b_kib=math.ceil(2 * tile / 1024))
    assert map_op(ops[0], INT8, small.limits(), timing.array_cycles) == mp  # the same tiles fit
    _Watched.log.clear()
    tight = sum(r.cycles for _, r in _chain(ops, small))
    b = [c for c in _Watched.log if c.capacity == small.sram_b_kib * 1024]
    assert b and max(c.peak for c in b) <= small.sram_b_kib * 1024
    assert sum(c.waits for c in b) > 0  # the prefetch was held back by the buffer
    roomy = sum(r.cycles for _, r in _chain(ops, replace(small, sram_b_kib=4 * small.sram_b_kib)))
    assert roomy <= tight


def test_overlap_off_runs_every_op_alone():
    model = replace(load_model("llama2-7b"), n_layers=1)
    res = simulate(model, INT8, replace(HW, overlap=False), prefill=32, decode=2)
    assert not res.summary["overlap"]
    timing = step_timing(HW, INT8)
    for row in res.ops.itertuples():
        if row.step == 1 and row.scope == "layer" and row.op == "q_proj":
            op = [o for o in layer_ops(model, tokens=1, past=32) if o.name == "q_proj"][0]
            assert row.cycles == simulate_op(op, INT8, HW, timing)[1].cycles


@pytest.mark.parametrize("preset", ["default-32x32", "tpuv1"])
def test_chains_reused_across_decode_steps_equal_chains_simulated_afresh(preset):
    """The decode chains before and after attention are simulated once (the stats say so) and
    every step's rows equal that step's chains simulated without reuse."""
    hw = PRESETS[preset]
    model = replace(load_model("llama2-7b"), n_layers=1)
    res = simulate(model, INT8, hw, prefill=64, decode=3, decode_only=True)
    assert res.summary["overlap"]
    timing = step_timing(hw, INT8)
    dec = res.ops[res.ops.scope == "layer"]
    assert dec[dec.step > 1].reused.sum() > 0
    for step in (1, 2, 3):
        past = 64 + step - 1
        planned = plan_phase([("layer", op) for op in layer_ops(model, tokens=1, past=past)], model, INT8, hw,
                             tokens=1, past=past, batch=1)
        names = [op.name for _, op, _ in planned]
        i = min(names.index(n) for n in names if n in ("attn_scores", "attention"))
        j = max(names.index(n) for n in names if n in ("attn_context", "attention")) + 1
        fresh = []
        for part in (planned[:i], planned[i:j], planned[j:]):
            fresh += [r.cycles for _, r in simulate_chain([(op, res_) for _, op, res_ in part], INT8, hw, timing)]
        assert list(dec[dec.step == step].cycles) == pytest.approx(fresh, rel=1e-9)  # extended blocks: float order


# ---- ops simulated for their first blocks where they provably repeat (sim._repeat) ---------------
EXTENDED = ("cycles", "dram_read_bytes", "dram_write_bytes", "dram_busy_cycles", "compute_cycles", "stall_input",
            "stall_output", "stall_drain", "array_fill", "array_steady", "array_drain", "array_weight_load",
            "sram_read_bytes", "sram_write_bytes", "energy_pj", "total_cycles")


@pytest.mark.parametrize("preset", ["default-32x32", "tpuv1", "edge-16x16", "edge-npu"])
@pytest.mark.parametrize("overlap", [False, True])
@pytest.mark.parametrize("prefill, decode", [(300, 3), (96, 0)])
def test_extended_blocks_equal_every_step_simulated(preset, overlap, prefill, decode):
    """Decode attention heads and the blocks of prefill GEMMs and vector ops, extended, equal
    the same run with every tile step simulated."""
    hw = replace(PRESETS[preset], overlap=overlap)
    model = replace(load_model("llama2-7b"), n_layers=1)
    kw = dict(prefill=prefill, decode=decode, decode_only=bool(decode))
    fast = simulate(model, "W4A8", hw, **kw)
    full = simulate(model, "W4A8", hw, extend_blocks=False, **kw)
    assert full.summary["extended_ops"] == 0
    if not (overlap and hw.fusion and decode):  # pipelined fused attention has a prefix and a suffix: not extended
        assert fast.summary["extended_ops"] > 0
        assert any("extended to all" in n for n in fast.summary["notes"])
    for col in EXTENDED:  # equal up to the order of float additions (non-integer cycles per byte)
        assert list(fast.ops[col]) == pytest.approx(list(full.ops[col]), rel=1e-9, nan_ok=True), col
    assert fast.summary["cycles"] == pytest.approx(full.summary["cycles"], rel=1e-9)


def test_a_schedule_repeats_only_when_every_block_is_equal():
    from sim._repeat import HEADS, find_block, repeatable

    op = GemmOp("attn_scores", 1, 128, 300, count=12, b_role="kv", c_role="accumulator", b_shared=False)
    timing = step_timing(HW, INT8)
    steps = steps_of(map_op(op, INT8, HW.limits(), timing.array_cycles))
    assert find_block(steps) == len(steps) // 12  # one block per head
    assert find_block(steps[:-1] + [replace(steps[-1], store_bytes=steps[-1].store_bytes + 1)]) is None
    assert find_block(steps[:HEADS * len(steps) // 12]) is None  # too few blocks to extend
    assert repeatable(HW) and not repeatable(replace(HW, cores=2))


@pytest.mark.parametrize("row_units", [256, 2])  # softmax shorter than a QK, and longer
def test_fused_attention_runs_a_blocks_softmax_beside_the_next_blocks_qk(row_units):
    """Unlimited bandwidth, no latency: the pipelined fused attention (QK0, SM0, QK1, PV0, SM1,
    ...) takes the time of this recurrence over the units' step cycles: the array runs QK_j
    then P·V_{j-1} (waiting for SM_{j-1}), the vector unit runs SM_j once P·V_{j-1} is issued."""
    from sim._fusion import FusedAttention, fused_attention_steps

    hw = replace(PRESETS["tpuv1"], dram_gbps_per_channel=math.inf, dram_latency_ns=0.0, row_units=row_units)
    op = FusedAttention("attention", count=2, group=1, tokens=64, past=0, keys=64, head_dim=128, block=16,
                        causal=True)
    timing = step_timing(hw, INT8)
    mp, plain = fused_attention_steps(op, INT8, replace(hw, overlap=False), timing)
    d = [timing.step_cycles(st.work, mp.dataflow) for st in plain]
    qk, sm, pv = d[0::3], d[1::3], d[2::3]
    n = len(qk)
    t = qk[0]
    sm_end = [max(t, 0.0) + sm[0]]
    for j in range(1, n):
        t += qk[j]
        t = max(t, sm_end[j - 1]) + pv[j - 1]
        sm_end.append(max(t, sm_end[j - 1]) + sm[j])
    want = max(t, sm_end[-1]) + pv[-1] + timing.tail_cycles(mp.dataflow)
    [(_, run)] = simulate_chain([(op, None)], INT8, hw, timing)
    assert run.cycles == pytest.approx(want, abs=1e-9)
    assert run.cycles < sum(d)  # one after another without overlap
    alone = simulate_op(op, INT8, replace(hw, overlap=False), timing)[1]
    assert alone.cycles == pytest.approx(sum(d) + timing.tail_cycles(mp.dataflow), abs=1e-9)


def test_a_chain_leaves_the_resident_stream_its_bytes(monkeypatch):
    """tpuv1, LLaMA-2-7B prefill 2048: the residual stream (2048 x 4096 int8 = 8 MiB) stays in the
    24 MiB activation buffer (never spilled here), so the chained ops share only the other 16 MiB:
    the activation buffer's container holds the stream's bytes from the start and is never
    over-full."""
    import sim._overlap as ov

    monkeypatch.setattr(ov.simpy, "Container", _Watched)
    hw = PRESETS["tpuv1"]
    model = load_model("llama2-7b")
    planned = plan_phase([("layer", op) for op in layer_ops(model, tokens=2048, past=0)], model, INT8, hw,
                         tokens=2048, past=0, batch=1, spill=False)
    stream = 2048 * model.d_model * INT8.bytes_per_element("activation")
    _Watched.log.clear()
    simulate_chain([(op, res) for _, op, res in planned], INT8, hw, step_timing(hw, INT8))
    a = [c for c in _Watched.log if c.capacity == hw.sram_a_kib * 1024]
    assert a and all(c.peak >= stream for c in a)  # the stream's bytes taken at the start
    assert max(c.peak for c in a) <= hw.sram_a_kib * 1024  # the ops' own: at most the other 16 MiB


# ---- chains on hardware with a global buffer (sim._global_buffer inside sim._overlap) ------------
GB_FIELDS = FIELDS + ("gb_read_bytes", "gb_busy_cycles", "gb_fill_bytes")
GB4 = replace(HW, cores=4, gb_kib=4096, gb_gbps=512.0)  # 4 MiB shared, 512 B/cycle at 1 GHz
#: a 1 MiB buffer in front of a slow DRAM: larger GEMMs are tiled at the buffer's level
GB_SMALL = replace(GB4, gb_kib=1024, dram_channels=1, dram_gbps_per_channel=2.0)


@pytest.mark.parametrize("hw, op", [
    (GB4, GemmOp("q_proj", 256, 1024, 768)), (GB4, GemmOp("v_proj", 1, 2048, 1536)),
    (GB4, GemmOp("attn_scores", 128, 64, 128, count=12, b_role="kv", b_shared=False)),
    (GB4, VectorOp("attn_residual", "add", 300, 512, inputs=2)),
    (GB_SMALL, GemmOp("o_proj", 2048, 1024, 2048)), (GB_SMALL, GemmOp("up_proj", 64, 4096, 4096)),
    (replace(GB4, cores=1), GemmOp("k_proj", 256, 1024, 768)),
], ids=lambda x: getattr(x, "name", ""))
def test_with_a_global_buffer_a_one_op_chain_is_the_op_alone(hw, op):
    """The op's buffer plan, fills, port and cores in a chain of one are the op run alone
    (``sim._cores.run_cores``), field for field."""
    timing = step_timing(hw, INT8)
    _, alone = simulate_op(op, INT8, hw, timing)
    [(_, run)] = _chain([op], hw)
    assert {f: getattr(run, f) for f in GB_FIELDS} == {f: getattr(alone, f) for f in GB_FIELDS}
    if isinstance(op, GemmOp):
        assert run.gb_read_bytes > 0  # the buffer served it


GB_CASES = [("npu-8core", 128, 0), ("npu-8core", 1, 300), ("a100-like", 32, 0), ("a100-like", 1, 100)]


@pytest.mark.parametrize("preset, tokens, past", GB_CASES)
def test_with_a_global_buffer_a_layer_chain_is_never_slower_nor_faster_than_its_ports_and_units(preset, tokens,
                                                                                                   past):
    """LLaMA-2-7B layers on the presets with a global buffer: the chain is never slower than its
    ops one after another and never moves more DRAM bytes (an output it keeps in the buffer is
    stored there whole, its readers read it there), the same compute; it is never faster than
    its DRAM bytes over the bandwidth, its buffer bytes over the buffer's port or its busiest
    array. Where nothing is kept (decode: the outputs stay in the cores' SRAM) the bytes are
    the ops' alone."""
    hw = PRESETS[preset]
    assert hw.gb_kib and hw.overlap
    planned, chain, alone = _layer_chain_and_ops_alone(hw, tokens, past)
    cycles = sum(run.cycles for _, run in chain)
    assert cycles <= sum(run.cycles for run in alone)
    kept = 0
    for (_, a), b in zip(chain, alone):
        assert a.compute_cycles == b.compute_cycles
        assert a.dram_read_bytes <= b.dram_read_bytes
        assert a.dram_write_bytes in (b.dram_write_bytes, 0)
        kept += b.dram_write_bytes - a.dram_write_bytes
    if tokens == 1:
        assert kept == 0
        assert [(a.dram_read_bytes, a.gb_read_bytes) for _, a in chain] == [(b.dram_read_bytes, b.gb_read_bytes)
                                                                            for b in alone]
    else:
        assert kept > 0
    nbytes = sum(r.dram_read_bytes + r.dram_write_bytes for _, r in chain)
    gb_bytes = sum(r.gb_read_bytes + r.gb_fill_bytes for _, r in chain)  # over its port: loads, kept stores
    fills = sum(b.gb_fill_bytes for b in alone)  # DRAM -> buffer, not over the port to the cores
    array = sum(r.compute_cycles for (_, r), (_, op, _) in zip(chain, planned) if not isinstance(op, VectorOp))
    assert gb_bytes > 0
    port = (gb_bytes - fills) / hw.gb_bytes_per_cycle
    assert cycles >= max(nbytes / hw.dram_bytes_per_cycle, port, array) - 1e-6


def test_a_produced_tensor_kept_in_the_buffer_is_read_there_by_its_readers():
    """RMSNorm then two projections reading its output (256 x 1024 INT8 = 256 KiB) in a 4 MiB
    buffer: the norm stores its output into the buffer, the projections take it from there, so
    the chain reads and writes 3 x 256 KiB less DRAM than the ops alone (counted from the
    shapes), the buffer holds it (the norm's fill bytes) and it crosses the buffer's port."""
    m, d, n = 256, 1024, 768
    ops = [VectorOp("attn_norm", "rmsnorm", m, d), GemmOp("q_proj", m, d, n), GemmOp("k_proj", m, d, n)]
    timing = step_timing(GB4, INT8)
    alone = [simulate_op(op, INT8, GB4, timing)[1] for op in ops]
    chain = [r for _, r in _chain(ops, GB4)]
    assert [r.dram_write_bytes for r in alone] == [m * d, m * n, m * n]
    assert [r.dram_read_bytes for r in alone] == [m * d, m * d + d * n, m * d + d * n]  # A, B once each (fits)
    assert [r.dram_write_bytes for r in chain] == [0, m * n, m * n]
    assert [r.dram_read_bytes for r in chain] == [m * d, d * n, d * n]
    assert [r.gb_fill_bytes for r in chain] == [m * d, d * n, d * n]
    assert [r.gb_read_bytes for r in chain] == [r.gb_read_bytes for r in alone]  # the cores' tile loads, as alone
    assert sum(r.cycles for r in chain) <= sum(r.cycles for r in alone)
    port = (m * d + sum(r.gb_read_bytes for r in chain)) / GB4.gb_bytes_per_cycle
    assert sum(r.cycles for r in chain) >= port


def test_a_residual_add_reads_the_kept_half_of_its_inputs_from_the_buffer():
    """o_proj then the residual add: the add's input from o_proj (half its input bytes) comes
    from the buffer, the residual stream from DRAM; o_proj writes no DRAM."""
    m, d = 128, 1024
    ops = [GemmOp("o_proj", m, d, d), VectorOp("attn_residual", "add", m, d, inputs=2)]
    timing = step_timing(GB4, INT8)
    alone = [simulate_op(op, INT8, GB4, timing)[1] for op in ops]
    chain = [r for _, r in _chain(ops, GB4)]
    assert alone[1].dram_read_bytes == 2 * m * d
    assert [r.dram_write_bytes for r in chain] == [0, m * d]
    assert chain[1].dram_read_bytes == m * d and chain[1].gb_read_bytes == m * d
    assert chain[0].gb_fill_bytes == alone[0].gb_fill_bytes + m * d
    assert sum(r.cycles for r in chain) <= sum(r.cycles for r in alone)
    # SRAM traffic does not depend on where a store goes or a load comes from: o_proj still reads
    # its output out of SRAM to store it, the add still reads both inputs out of SRAM
    assert chain[0].gb_store_bytes == m * d and alone[0].gb_store_bytes == 0
    assert [r.sram for r in chain] == [r.sram for r in alone]


def test_an_output_is_kept_only_where_it_fits_beside_the_readers_operands():
    """The same norm and projection with a buffer holding the projection's A and B but not the
    norm's output beside them: nothing is kept, the bytes are the ops' alone."""
    m, d, n = 256, 1024, 768
    ops = [VectorOp("attn_norm", "rmsnorm", m, d), GemmOp("q_proj", m, d, n)]
    a, b = m * d, d * n
    hw = replace(GB4, gb_kib=math.ceil((a + b) / 1024))
    assert a + b <= hw.gb_kib * 1024 < 2 * a + b
    timing = step_timing(hw, INT8)
    alone = [simulate_op(op, INT8, hw, timing)[1] for op in ops]
    chain = [r for _, r in _chain(ops, hw)]
    assert [(r.dram_read_bytes, r.dram_write_bytes) for r in chain] == [(r.dram_read_bytes, r.dram_write_bytes)
                                                                        for r in alone]
    roomy = [r for _, r in _chain(ops, replace(hw, gb_kib=2 * hw.gb_kib))]
    assert roomy[0].dram_write_bytes == 0 and roomy[1].dram_read_bytes == b


def test_with_a_global_buffer_a_two_op_chain_fills_the_next_ops_operands_during_the_first():
    """Two one-tile GEMMs on one core with a 1 MiB buffer, DRAM at 1 byte/cycle and the buffer's
    port at 4, no latency. Alone each op fills A then B (a + b cycles), loads them over the port
    ((a + b) / 4), computes (t) and stores (s). Chained, the second op's fills follow the first's
    on the DRAM port (a + b more), the first's store waits behind them, the second loads once its
    fills are in and computes after the first; the times below come from the sizes alone."""
    hw = replace(HW, cores=1, gb_kib=1024, gb_gbps=4.0, dram_channels=1, dram_gbps_per_channel=1.0,
                 dram_latency_ns=0.0)
    timing = step_timing(hw, INT8)
    m, k, n = 4, 64, 32
    ops = [GemmOp("k_proj", m, k, n), GemmOp("v_proj", m, k, n)]
    mp = map_op(ops[0], INT8, hw.limits(), timing.array_cycles)
    assert len(steps_of(mp)) == 1
    a, b, s = m * k, k * n, m * n  # INT8: a byte per element
    g = hw.gb_bytes_per_cycle
    t = timing.array_cycles(mp.dataflow, m, k, n) + timing.tail_cycles(mp.dataflow)
    alone = (a + b) + (a + b) / g + t + s
    assert [simulate_op(op, INT8, hw, timing)[1].cycles for op in ops] == pytest.approx([alone, alone], abs=1e-9)
    fills = 2 * (a + b)  # both ops' fills, back to back on the DRAM port
    first_store = (a + b) + (a + b) / g + t
    assert first_store < fills  # (so the first op's store waits for the second's fills)
    first = fills + s
    second = max(fills + (a + b) / g, first_store) + t + s
    chain = _chain(ops, hw)
    assert [r.cycles for _, r in chain] == pytest.approx([first, second - first], abs=1e-9)
    assert second < 2 * alone
    assert [r.dram_read_bytes for _, r in chain] == [a + b, a + b]


def test_with_a_global_buffer_the_next_ops_fills_wait_for_the_capacity_the_current_op_frees(monkeypatch):
    """Two GEMMs whose operands each fit a 1 MiB buffer but not together: the second op's fills
    wait for the bytes the first releases, the buffer is never over-full, and a buffer holding
    both (room for the prefetch) is never slower."""
    import sim._overlap as ov

    monkeypatch.setattr(ov.simpy, "Container", _Watched)
    hw = replace(GB4, gb_kib=1024)
    ops = [GemmOp("gate_proj", 128, 2048, 256), GemmOp("up_proj", 128, 2048, 256)]
    one = 128 * 2048 + 2048 * 256  # A and B of one op, INT8
    assert one <= hw.gb_kib * 1024 < 2 * one
    _Watched.log.clear()
    tight = sum(r.cycles for _, r in _chain(ops, hw))
    cap = [c for c in _Watched.log if c.capacity >= hw.gb_kib * 1024]  # the buffer (+ a byte of slack a chunk)
    assert len(cap) == 1 and cap[0].peak <= hw.gb_kib * 1024
    assert cap[0].waits == 1  # the second op's fills waited for room
    roomy = sum(r.cycles for _, r in _chain(ops, replace(hw, gb_kib=2048)))
    assert roomy <= tight


def test_overlap_runs_chains_on_the_presets_with_a_global_buffer():
    model = replace(load_model("llama2-7b"), n_layers=1)
    # 512 tokens: the residual stream (2 MiB) does not stay in a core's 1 MiB activation buffer
    res = simulate(model, INT8, PRESETS["npu-8core"], prefill=512, decode=2)
    assert res.summary["overlap"]
    assert any(n.startswith("overlap (sim._overlap)") for n in res.summary["notes"])
    off = simulate(model, INT8, replace(PRESETS["npu-8core"], overlap=False), prefill=512, decode=2)
    assert res.summary["cycles"] <= off.summary["cycles"]
    assert res.summary["dram_read_bytes"] < off.summary["dram_read_bytes"]  # the prefill keeps tensors in it
    assert res.summary["dram_write_bytes"] < off.summary["dram_write_bytes"]


def test_a_two_op_chain_with_a_kept_tensor_timed_by_hand():
    """RMSNorm then a one-tile GEMM reading its output, one core, a 1 MiB buffer, DRAM at 1
    byte/cycle and the buffer's port at 4, no latency. The norm loads its input from DRAM (v),
    computes (t1) and stores its output into the buffer over the port (s1 / 4); meanwhile the
    GEMM's weights fill the buffer right after the norm's load (b); the GEMM loads A and B over
    the port once both are there, computes (t2) and stores to DRAM (s2). The times come from the
    sizes and the units' timing functions alone; DRAM moves v + b + s2 bytes, not v + s1 + a + b + s2."""
    hw = replace(HW, cores=1, gb_kib=1024, gb_gbps=4.0, dram_channels=1, dram_gbps_per_channel=1.0,
                 dram_latency_ns=0.0)
    timing = step_timing(hw, INT8)
    rows, d, n = 4, 64, 32
    norm, proj = VectorOp("attn_norm", "rmsnorm", rows, d), GemmOp("q_proj", rows, d, n)
    mp = map_op(proj, INT8, hw.limits(), timing.array_cycles)
    assert len(steps_of(mp)) == 1 and len(steps_of(map_op(norm, INT8, hw.limits(), timing.array_cycles))) == 1
    v = s1 = a = rows * d
    b, s2 = d * n, rows * n
    g = hw.gb_bytes_per_cycle
    t1 = timing.step_cycles(("vector", "rmsnorm", rows, d), "")
    t2 = timing.array_cycles(mp.dataflow, rows, d, n) + timing.tail_cycles(mp.dataflow)
    norm_done = v + t1 + s1 / g
    want = max(v + b, norm_done) + (a + b) / g + t2 + s2
    chain = [r for _, r in _chain([norm, proj], hw)]
    assert [r.cycles for r in chain] == pytest.approx([norm_done, want - norm_done], abs=1e-9)
    assert [(r.dram_read_bytes, r.dram_write_bytes) for r in chain] == [(v, 0), (b, s2)]
    assert [(r.gb_fill_bytes, r.gb_read_bytes) for r in chain] == [(s1, 0), (b, a + b)]


class _PerCoreView:
    """``sim._global_buffer.CoreView`` at 595be12 (per-core lists of chunk-id tuples), kept
    verbatim but for ``waits``, which is the load issue's test of that version (``OpLink.issue``)."""

    def __init__(self, gb, needs_a: list, needs_b: list, ends: dict, core: int):
        self.gb, self.needs_a, self.needs_b, self.ends, self.core = gb, needs_a, needs_b, ends, core

    def waits(self, t: int) -> list:
        return [ev for ids in (self.needs_a[t], self.needs_b[t]) for cid in ids
                if not (ev := self.gb.events[cid]).processed]

    def serve(self, t: int, nbytes: int, res, what: str):
        from sim._engine import cross_port

        gb = self.gb
        events = gb.events
        for ids in (self.needs_a[t], self.needs_b[t]):
            for cid in ids:
                ev = events[cid]
                if not ev.processed:
                    yield ev
        bw = gb.hw.gb_bytes_per_cycle
        if bw != math.inf and nbytes:
            def record(start: float, dt: float) -> None:
                res.gb_busy_cycles += dt
                if gb.trace:
                    res.events.append(("gb", what, start, dt, self.core, nbytes, 0))

            yield from cross_port(gb.env, gb.gport, nbytes, bw, record)

    def computed(self, t: int) -> None:
        blk = self.ends.get(t)
        if blk is not None:
            self.gb.block_done(blk)


def test_global_buffer_views_sharing_lists_give_the_timelines_of_per_core_lists(monkeypatch):
    """Layer chains on 8 random hardware variants with a global buffer (cores, arrays, buffer
    sizes from blocking every GEMM to holding it whole, prefill and decode): every op's figures
    and traced events are the same whether the cores read their chunk ids from the lists
    ``gb_schedules`` shares between cores (one id held alone as an int, read in place per part,
    one dataflow for a core given once) or from per-core lists of tuples with a dataflow per
    step through the view of 595be12 (``_PerCoreView``), as before the lists were shared."""
    import random

    import sim._overlap as overlap

    real = overlap.gb_schedules

    def per_core_lists(*args):
        out = []
        for mp, steps, df, dfs, view in real(*args):
            n = len(steps)
            flat = [tuple((x,) if isinstance(x, int) else x for x in view.needs(t)) for t in range(n)]
            copy = _PerCoreView(view.gb, [a for a, _ in flat], [b for _, b in flat], dict(view.ends), view.core)
            out.append((mp, list(steps), df, [df] * n if dfs is None else list(dfs), copy))
        return out

    rng = random.Random(5)
    model = load_model("llama2-7b")
    fields = FIELDS + ("gb_read_bytes", "gb_busy_cycles", "gb_fill_bytes", "gb_store_bytes")
    served = 0
    for _ in range(8):
        arr = rng.choice([32, 64, 128])
        hw = replace(PRESETS["npu-8core"], cores=rng.choice([2, 3, 5, 8]), array_rows=arr, array_cols=arr,
                     gb_kib=rng.choice([8192, 24576, 131072]))
        tokens, past = rng.choice([(rng.randint(32, 128), 0), (1, rng.randint(16, 100))])
        planned = plan_phase([("layer", op) for op in layer_ops(model, tokens=tokens, past=past)], model, INT8, hw,
                             tokens=tokens, past=past, batch=1)
        ops = [(op, res) for _, op, res in planned]
        timing = step_timing(hw, INT8)
        shared = simulate_chain(ops, INT8, hw, timing, trace=True)
        with monkeypatch.context() as m:
            m.setattr(overlap, "gb_schedules", per_core_lists)
            copied = simulate_chain(ops, INT8, hw, timing, trace=True)
        served += sum(1 for _, r in shared if r.gb_read_bytes)
        for (_, a), (_, b) in zip(shared, copied):
            assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]
            assert a.events == b.events
    assert served >= 16  # ops the buffer served
