"""The simpy engine against independent figures: the RTL units' timing functions with unlimited
bandwidth, bytes / bandwidth for memory-bound ops, totals = sum of the per-op table."""
from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import simpy
from pandas.testing import assert_frame_equal

from hw.units.nonlinear import shiftmax_timing
from mapping import GemmOp, VectorOp, layer_ops, load_model, map_op, parse_recipe, steps_of
from sim import PRESETS, simulate, simulate_op, timing_sources, write_result_trace
from sim._engine import _SLOTS, OpRun, cross_port
from sim._gemv import step_timing
from sim.errors import SimulationError

HW = PRESETS["default-32x32"]
UNLIMITED = replace(HW, dram_gbps_per_channel=math.inf, dram_latency_ns=0.0)


def test_softmax_with_unlimited_bandwidth_takes_the_unit_cycles():
    op = VectorOp("softmax", "softmax", 96, 200, in_role="accumulator")
    mp, run = simulate_op(op, parse_recipe("INT8"), UNLIMITED)
    per_row = shiftmax_timing(200, divider_bits_per_cycle=UNLIMITED.divider_bits_per_cycle).cycles_per_row
    chunks = [min(mp.rows_per_chunk, 96 - r) for r in range(0, 96, mp.rows_per_chunk)]
    assert run.cycles == sum(math.ceil(c / UNLIMITED.row_units) * per_row for c in chunks)
    assert run.stall_input == 0 and run.dram_busy_cycles == 0


@pytest.mark.parametrize("rows, length", [(4096, 64), (64, 4096)])
def test_memory_bound_op_takes_bytes_over_bandwidth(rows, length):
    slow = replace(HW, dram_channels=1, dram_gbps_per_channel=0.5)  # 0.5 byte/cycle at 1 GHz
    op = VectorOp("residual", "add", rows, length, inputs=2)
    r = parse_recipe("FP16")
    mp, run = simulate_op(op, r, slow)
    nbytes = run.dram_read_bytes + run.dram_write_bytes
    assert nbytes == 3 * rows * length * 2
    bound = nbytes / slow.dram_bytes_per_cycle
    steps = steps_of(mp)
    last = steps[-1]
    # documented overheads: last load latency + last step compute + last store latency
    overhead = 2 * slow.dram_latency_cycles + math.ceil(last.work[2] * last.work[3] / slow.vector_lanes)
    assert bound <= run.cycles <= bound + overhead
    assert run.dram_busy_cycles == pytest.approx(bound)


def test_dram_port_is_shared_by_loads_and_stores():
    # a decode GEMV's weight loads and output stores contend on one port: busy time = bytes / bw
    op = layer_ops(load_model("llama2-7b"), tokens=1, past=10)[1]
    mp, run = simulate_op(op, parse_recipe("FP16"), HW)
    assert run.dram_busy_cycles == pytest.approx((run.dram_read_bytes + run.dram_write_bytes) / HW.dram_bytes_per_cycle)
    assert run.cycles >= run.dram_busy_cycles


def test_totals_equal_the_sum_of_the_per_op_table(tmp_path):
    res = simulate("gpt2", "W4A8", "edge-16x16", prefill=64, decode=4, layers=3, trace=True)
    ops = res.ops
    assert res.summary["cycles"] == ops["total_cycles"].sum() == (ops["cycles"] * ops["layers"]).sum()
    assert res.summary["cycles"] == res.layers["total_cycles"].sum()
    assert res.summary["dram_read_bytes"] == (ops["dram_read_bytes"] * 3).sum()
    assert set(ops.phase) == {"prefill", "decode"} and list(res.layers.kv_len) == [64, 65, 66, 67, 68]
    # decode projections have the same shapes at every step: simulated once, reused
    dec = ops[ops.phase == "decode"]
    assert dec[dec.op == "q_proj"].reused.tolist() == [False, True, True, True]
    assert dec[dec.op == "attn_scores"].reused.tolist() == [False, False, False, False]
    p = tmp_path / "t.json"
    write_result_trace(res, p, PRESETS["edge-16x16"])
    tr = json.loads(p.read_text())
    names = {e["args"]["name"] for e in tr["traceEvents"] if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"array", "vector", "dma 0", "stall", "dram"} <= names
    spans = [e for e in tr["traceEvents"] if e["ph"] == "X"]
    assert spans and all(e["dur"] >= 0 for e in spans)


def test_missing_sources_leave_columns_empty():
    res = simulate("llama2-7b", "FP16", replace(HW, nonlinear_units=(("softmax", "ivit_shiftmax"),)), prefill=16,
                   layers=1)
    ops = res.ops.set_index("op")
    assert math.isnan(ops.loc["attn_norm", "compute_cycles"])  # no RTL unit for RMSNorm
    assert ops.loc["attn_norm", "timing_source"] == "missing: no RTL unit for rmsnorm"
    assert any("lower bound" in n for n in res.summary["notes"])
    assert math.isnan(res.summary["energy_mac_pj"]) and math.isnan(res.summary["energy_pj"])
    assert res.summary["energy_dram_pj"] > 0


def test_timing_sources_resolve_landed_units():
    t = timing_sources(HW)
    assert t.row_timing["softmax"] is not None and t.row_timing["layernorm"] is not None
    assert t.source_of(("vector", "softmax", 1, 1)) == "hw.units.nonlinear.shiftmax_timing (ivit_shiftmax)"


# ---- the MAC array: durations from hw.arrays.tile_cycles ---------------------------------
BIG_SRAM = replace(UNLIMITED, sram_a_kib=1024, sram_b_kib=2048, sram_c_kib=4096)


def test_single_gemm_with_unlimited_bandwidth_takes_exactly_tile_cycles():
    from hw.arrays import tile_cycles
    from mapping import GemmOp

    mp, run = simulate_op(GemmOp("qkv", 512, 768, 768), parse_recipe("INT8"), BIG_SRAM)
    assert (mp.Mt, mp.Kt, mp.Nt) == (512, 768, 768)  # one SRAM tile: the whole GEMM
    want = tile_cycles(rows=32, cols=32, dataflow=mp.dataflow, m=512, k=768, n=768).total
    assert run.cycles == want and run.compute_cycles == want and run.stall_input == 0


@pytest.mark.parametrize("shape", [(512, 768, 768), (200, 1000, 72), (1, 4096, 4096)])
def test_tiled_gemm_with_unlimited_bandwidth_is_the_sum_over_its_tiles(shape):
    from hw.arrays import tile_cycles
    from mapping import GemmOp

    from hw.units import recipe_mac_formats

    r = parse_recipe("W4A8")
    packing = recipe_mac_formats(r).packing
    assert packing == 2  # INT8 activations x INT4 weights: two products per PE per cycle
    mp, run = simulate_op(GemmOp("g", *shape), r, replace(UNLIMITED, dataflows=("ws", "os")))
    steps = steps_of(mp)
    assert len(steps) > 1
    want = sum(tile_cycles(rows=32, cols=32, dataflow=mp.dataflow, m=s.work[1], k=s.work[2], n=s.work[3],
                           packing=packing).total for s in steps)
    assert run.cycles == want


@pytest.mark.parametrize("recipe", ["FP16", "FP6", "W4A8"])
def test_memory_bound_decode_gemv_takes_bytes_over_bandwidth(recipe):
    from hw.arrays import tile_cycles
    from mapping import GemmOp

    slow = replace(HW, dram_channels=1, dram_gbps_per_channel=4.0)  # 4 bytes/cycle
    mp, run = simulate_op(GemmOp("down_proj", 1, 11008, 4096), parse_recipe(recipe), slow)
    nbytes = run.dram_read_bytes + run.dram_write_bytes
    r = parse_recipe(recipe)
    assert run.dram_read_bytes >= math.ceil(11008 * 4096 * r.bytes_per_element("weight"))
    bound = nbytes / slow.dram_bytes_per_cycle
    last = steps_of(mp)[-1].work
    timing = step_timing(slow)  # tile_cycles (WS/OS) or the GEMV model, whichever the mapper chose
    overhead = (2 * slow.dram_latency_cycles + timing.step_cycles(last, mp.dataflow)
                + timing.tail_cycles(mp.dataflow))
    assert run.compute_cycles < bound  # memory-bound
    assert bound <= run.cycles <= bound + overhead


@pytest.mark.parametrize("model", ["bert-base", "gpt2", "llama3-8b", "vit-b16", "whisper-large-v2-encoder"])
def test_every_model_simulates(model):
    res = simulate(model, "INT8", "edge-16x16", prefill=32, decode=2 if load_model(model).decoder else 0, layers=1)
    ops = res.ops
    assert res.summary["cycles"] == ops.total_cycles.sum() > 0
    assert (ops.loc[ops.unit == "array", "macs"] > 0).all()
    assert ops.loc[ops.unit == "array", "compute_cycles"].notna().all()  # tile_cycles for every GEMM


def test_array_breakdown_adds_up():
    res = simulate("bert-base", "INT8", "edge-16x16", prefill=64, layers=1)
    g = res.ops[res.ops.unit == "array"]
    parts = g.array_fill + g.array_steady + g.array_drain + g.array_weight_load
    assert (parts == g.compute_cycles).all()
    # steady-state cycles of every GEMM are at least MACs / PEs
    assert (g.array_steady * 16 * 16 >= g.macs).all()


def test_bound_column():
    slow = replace(HW, dram_channels=1, dram_gbps_per_channel=1.0)
    res = simulate("llama2-7b", "FP16", slow, prefill=8, decode=1, layers=1, decode_only=True)
    q = res.ops.set_index("op").loc["q_proj"]
    assert q.bound == "memory" and q.dram_busy_cycles > q.compute_cycles
    res = simulate("llama2-7b", "FP16", UNLIMITED, prefill=8, decode=1, layers=1, decode_only=True)
    assert res.ops.set_index("op").loc["q_proj", "bound"] == "compute"


# ---- GEMV mode and the decode bound -------------------------------------------------------
def test_gemv_tiles_with_unlimited_bandwidth_take_the_gemv_formula():
    from mapping import GemmOp

    mp, run = simulate_op(GemmOp("down_proj", 1, 11008, 4096), parse_recipe("W4A8"), UNLIMITED)
    assert mp.dataflow == "gemv"
    # independent arithmetic of the documented model: ceil(k/(R*packing)) * ceil(n/C) per row of A
    # and tile, tiles streamed back to back, rows + 1 fill once; W4A8 packs 2 products per PE
    want = 32 + 1 + sum(s.work[1] * -(-s.work[2] // 64) * -(-s.work[3] // 32) for s in steps_of(mp))
    assert run.cycles == want == run.compute_cycles
    assert run.array_steady == 11008 * 4096 // (64 * 32)


def test_gemv_is_offered_only_below_the_array_rows():
    from mapping import GemmOp

    mp, _ = simulate_op(GemmOp("q", 32, 512, 512), parse_recipe("INT8"), UNLIMITED)
    assert mp.dataflow in ("ws", "os")
    mp, _ = simulate_op(GemmOp("q", 31, 512, 512), parse_recipe("INT8"), UNLIMITED)
    assert mp.dataflow == "gemv"


def _decode(recipe: str, hw, steps: int = 2):
    res = simulate("llama2-7b", recipe, hw, prefill=512, decode=steps, decode_only=True)
    s = res.summary
    return res, s["decode_cycles"], s["decode_bytes_over_bandwidth_cycles"]


@pytest.mark.parametrize("preset", ["edge-16x16", "default-32x32"])
def test_llama_decode_is_within_ten_percent_of_bytes_over_bandwidth(preset):
    res, cycles, bound = _decode("W4A8", PRESETS[preset])
    assert bound <= cycles <= 1.10 * bound
    assert res.summary["decode_bound_text"].startswith("decode is memory-bound: ")


def test_hbm_decode_is_memory_bound():
    # 2 TB/s x 120 ns = 245 KB in flight per slot pair: per-op latencies are exposed, but the
    # array is not the bound
    res, cycles, bound = _decode("W4A8", PRESETS["hbm-128x128"])
    assert bound <= cycles and res.summary["decode_array_cycles"] < bound
    assert res.summary["decode_bound_text"].startswith("decode is memory-bound: ")


def test_w4a8_decode_speed_up_over_int8_follows_the_byte_ratio():
    _, c4, b4 = _decode("W4A8", HW)
    _, c8, b8 = _decode("INT8", HW)
    byte_ratio = b8 / b4  # bytes / bandwidth of each, from the per-op DRAM traffic
    assert 1.5 < byte_ratio < 2.0
    assert c8 / c4 == pytest.approx(byte_ratio, rel=0.05)


def test_array_bound_decode_says_so_and_by_how_much():
    small = replace(HW, array_rows=4, array_cols=4, dataflows=("ws", "os"))
    res = simulate("llama2-7b", "W4A8", small, prefill=16, decode=1, decode_only=True, layers=1)
    s = res.summary
    ratio = s["decode_array_cycles"] / s["decode_bytes_over_bandwidth_cycles"]
    assert ratio > 1
    assert s["decode_bound_text"].startswith("decode is array-bound: the array needs ")
    assert f"{ratio:.2f}x the" in s["decode_bound_text"]
    assert s["decode_bound_text"] in res.summary_text().splitlines()


def test_whole_model_includes_embedding_and_lm_head_once():
    res = simulate("llama2-7b", "INT8", HW, prefill=8, decode=1)
    ops = res.ops
    head = ops[ops.op == "lm_head"]
    assert list(head.layers) == [1, 1] and list(head.scope) == ["model", "model"]
    assert (head.M == 1).all() and (head.N == 32000).all()
    emb = ops[(ops.op == "embedding") & (ops.phase == "prefill")].iloc[0]
    assert emb.dram_read_bytes == 8 * 4096 * 1  # INT8 weights: one byte per element of 8 rows
    assert res.layers.total_cycles.sum() == res.summary["cycles"]
    part = simulate("llama2-7b", "INT8", HW, prefill=8, layers=2)
    assert "lm_head" not in set(part.ops.op)


def test_size_limits_refuse_up_front():
    from sim import SimulationError

    with pytest.raises(SimulationError) as e:
        simulate("llama2-7b", "INT8", HW, prefill=2048, batch=1000000)
    assert str(e.value) == ("batch x tokens per phase step must be at most 4194304, not 2048000000 "
                            "(batch 1000000 x 2048 tokens)")
    with pytest.raises(SimulationError) as e:
        simulate("llama2-7b", "INT8", HW, prefill=2048, batch=2048)
    assert str(e.value).startswith("simulation size must be at most 5000000 tile steps, not about ")


def test_packed_pes_speed_up_compute_bound_prefill():
    from hw.units import recipe_mac_formats
    from mapping import GemmOp

    op = GemmOp("ffn", 512, 1024, 1024)
    _, r8 = simulate_op(op, parse_recipe("INT8"), BIG_SRAM)
    _, r4 = simulate_op(op, parse_recipe("W4A8"), BIG_SRAM)
    assert recipe_mac_formats(parse_recipe("W4A8")).packing == 2
    assert r4.array_steady * 2 == r8.array_steady  # half the K folds at two products per PE
    assert r4.cycles < r8.cycles


@pytest.mark.parametrize("model", ["llama2-7b", "mistral-7b", "qwen2-7b"])
def test_supported_decoders_have_every_op_timed(model):
    res = simulate(model, "W4A8", HW, prefill=16, decode=1, layers=1)
    assert res.ops.compute_cycles.notna().all()
    assert not any("lower bound" in n for n in res.summary["notes"])
    ops = res.ops.set_index(["phase", "op"])
    assert ops.loc[("prefill", "attn_norm"), "timing_source"].endswith("(int_rmsnorm)")
    assert ops.loc[("prefill", "silu_mul"), "timing_source"].endswith("(int_silu)")
    assert ops.loc[("prefill", "rope_q"), "timing_source"].startswith("assumed: 1 element/lane/cycle")


def test_integer_recipes_time_their_own_kernels_where_registered():
    src = lambda res: res.ops.drop_duplicates("op").set_index("op").timing_source  # noqa: E731
    ivit = src(simulate("bert-base", "I-ViT", "edge-16x16", prefill=32, layers=1))
    assert ivit["gelu"].endswith("(ivit_shiftgelu)") and ivit["attn_norm"].endswith("(ivit_int_layernorm)")
    res = simulate("bert-base", "I-BERT", "edge-16x16", prefill=32, layers=1)
    ibert = src(res)
    assert ibert["gelu"].endswith("(ibert_int_gelu)") and ibert["attn_norm"].endswith("(ibert_int_layernorm)")
    # I-BERT's softmax on its own unit (timed at the scale its x_bits inputs span), no caveat
    assert ibert["softmax"] == "hw.units.nonlinear.ibert_softmax_timing (ibert_int_softmax)"
    assert "softmax=ibert_int_softmax" in res.summary["notes"][0] and "no hardware-timed unit" not in res.summary["notes"][0]
    fp = src(simulate("bert-base", "INT8", "edge-16x16", prefill=32, layers=1))
    assert fp["attn_norm"].endswith("(ivit_int_layernorm)") and fp["gelu"].endswith("(ibert_int_gelu)")


def _same_result(a, b) -> None:
    """Every column of the op and layer tables and every summary figure equal (NaN equals NaN)."""
    assert_frame_equal(a.ops, b.ops, check_exact=True)
    assert_frame_equal(a.layers, b.layers, check_exact=True)
    assert json.dumps(a.summary, sort_keys=True, default=str) == json.dumps(b.summary, sort_keys=True, default=str)


@pytest.mark.parametrize("hw", ["default-32x32", "npu-8core"])
def test_decode_groups_simulated_in_worker_processes_change_no_figure(hw):
    # the decode steps' distinct groups (attention chains whose shapes follow the KV length)
    # simulated ahead by two forked workers: the same tables, reuse flags and notes as one process
    h = replace(PRESETS[hw], cores=2) if hw == "npu-8core" else PRESETS[hw]
    kw = dict(prefill=48, decode=5, layers=2)
    one = simulate("gpt2", "W4A8", h, **kw)
    two = simulate("gpt2", "W4A8", h, workers=2, **kw)
    _same_result(one, two)
    dec = two.ops[two.ops.phase == "decode"]
    assert not dec.reused.all() and dec.reused.any() and two.summary["extended_ops"] == one.summary["extended_ops"]


def test_workers_must_be_positive():
    with pytest.raises(SimulationError, match=r"^workers must be a positive integer, not 0$"):
        simulate("gpt2", "W4A8", HW, prefill=8, decode=1, layers=1, workers=0)


def test_find_block_same_with_shared_and_copied_steps():
    """``sim._repeat.find_block`` gives step objects met again their first id without hashing:
    the blocks it finds on schedules sharing objects (mapping.gemm_steps' repeated instances)
    equal those found on the same schedules made of distinct copies (every step hashed)."""
    import copy
    import random

    from mapping import Step
    from sim._repeat import find_block

    rng = random.Random(15)
    pool = [Step((("a", rng.randint(1, 3)),), ("a",), ("gemm", 1, rng.randint(1, 3), 4), True, 0) for _ in range(6)]
    for _ in range(300):
        unit = [rng.choice(pool) for _ in range(rng.randint(1, 6))]
        steps = unit * rng.randint(1, 40)
        if rng.random() < 0.3 and steps:
            steps[rng.randrange(len(steps))] = rng.choice(pool)
        copies = [copy.copy(s) for s in steps]
        assert all(a == b and a is not b for a, b in zip(steps, copies))
        for min_blocks in (2, 9, 17):
            assert find_block(steps, min_blocks) == find_block(copies, min_blocks)


def _chain(group, recipe, hw, *, counted: bool, repeat: bool, mappings: dict | None = None):
    """``simulate_chain`` of a phase step's group of ops, with every SRAM byte counted (the
    path ``sim._engine.sram_never_full`` replaces: no buffer exempt) or as it runs."""
    import sim._overlap
    from sim._run import simulate_chain

    with pytest.MonkeyPatch.context() as m:
        if counted:
            m.setattr(sim._overlap, "sram_never_full", lambda *args: frozenset())
        return simulate_chain([(op, res) for _, op, res in group], recipe, hw, trace=not repeat, repeat=repeat,
                              mappings=mappings)


def test_sram_buffers_that_never_fill_are_not_counted_and_nothing_changes():
    """A chain leaves out the byte accounting of the SRAM buffers its ops cannot fill
    (``sim._engine.sram_never_full``): on random chains (prefill layers, decode steps' three
    chains; random SRAM sizes, bandwidth, latency, DMA engines, cores, fusion) every op's
    figures and trace events equal those with every byte counted, traced and run by repeated
    blocks (``sim._repeat``); the cases include chains where some buffers are exempt and
    others fill."""
    import random

    from sim._fusion import plan_phase
    from sim._run import _groups, _phase_ops

    import sim._overlap

    rng = random.Random(15)
    model = load_model("gpt2")
    seen = {"exempt": 0, "mixed": 0, "resident": 0}
    real = sim._overlap.sram_never_full

    def spy(capacity, physical, schedules):
        out = real(capacity, physical, schedules)
        seen["exempt"] += bool(out)
        seen["mixed"] += bool(out) and out != frozenset(capacity)
        return out

    for case in range(21):
        forced = case >= 15  # GEMMs mapped as a random one of the search's best candidates (resident orders too)
        hw = replace(HW, sram_a_kib=rng.choice([16, 32, 64, 256]), sram_b_kib=rng.choice([16, 32, 64, 512]),
                     sram_v_kib=rng.choice([16, 64, 256]), dma_engines=rng.randint(1, 3),
                     dram_gbps_per_channel=rng.choice([4.0, 16.0, 64.0]), dram_latency_ns=rng.choice([0.0, 100.0]),
                     fusion=not forced and rng.random() < 0.25, cores=1 if forced else rng.choice([1, 1, 2]))
        recipe = parse_recipe(rng.choice(["INT8", "W4A8"]))
        decode = not forced and rng.random() < 0.6
        tokens, past = (1, rng.randint(0, 300)) if decode else (rng.randint(2, 48), 0)
        timing = step_timing(hw, recipe)
        planned = plan_phase(_phase_ops(model, tokens, past, 1, False), model, recipe, hw, tokens=tokens, past=past,
                             batch=1, timing=timing)
        mappings = {}
        for _, op, _ in planned if forced else ():
            if isinstance(op, GemmOp):
                mp = map_op(op, recipe, hw.limits(), timing.array_cycles)
                cd = rng.choice([cd for cd in mp.search.ranked if cd.order.endswith(("-ar", "-br"))]
                                or mp.search.ranked)
                mappings[replace(op, name="")] = replace(mp, Mt=cd.Mt, Kt=cd.Kt, Nt=cd.Nt, order=cd.order,
                                                         dataflow=cd.dataflow)
                seen["resident"] += cd.order != mp.order and cd.order.endswith(("-ar", "-br"))
        for group in _groups(planned, "decode" if decode else "prefill", True):
            for repeat in (False, True):
                want = _chain(group, recipe, hw, counted=True, repeat=repeat, mappings=mappings)
                with pytest.MonkeyPatch.context() as m:
                    m.setattr(sim._overlap, "sram_never_full", spy)
                    got = _chain(group, recipe, hw, counted=False, repeat=repeat, mappings=mappings)
                assert [(mp, vars(run)) for mp, run in got] == [(mp, vars(run)) for mp, run in want]
    assert seen["exempt"] >= 20 and seen["mixed"] >= 10 and seen["resident"] >= 5, seen


def _most_held(steps) -> dict[str, int]:
    """The most bytes a schedule's loads hold per engine buffer when the loader runs as far ahead
    as the double-buffer slots let it (compute infinitely slow): replayed load by load."""
    from collections import deque

    from sim._engine import _SLOTS

    held: dict[str, deque] = {}
    most: dict[str, int] = {}
    loads = [(t, buf, n) for t, st in enumerate(steps) for buf, n in st.loads]
    i = 0
    for t, st in enumerate(steps):
        while i < len(loads) and (loads[i][0] <= t or len(held.get(loads[i][1], ())) < _SLOTS[loads[i][1]]):
            _, buf, n = loads[i]
            q = held.setdefault(buf, deque())
            assert len(q) < _SLOTS[buf]  # this step's own loads always find a slot
            q.append(n)
            most[buf] = max(most.get(buf, 0), sum(q))
            i += 1
        for buf in st.release:
            if held.get(buf):
                held[buf].popleft()
    return most


def test_held_bytes_bound_covers_the_loader_running_ahead():
    """``sim._engine.held_bytes_bound`` is at least what a schedule's loads hold when its loader
    runs as far ahead as the slots allow, for random GEMM tilings in every loop order (resident
    blocks of A or B held across passes) and vector chunkings."""
    import random

    from mapping import VectorMapping, vector_steps
    from sim._engine import held_bytes_bound

    rng = random.Random(7)
    recipe = parse_recipe("INT8")
    lim = HW.limits()
    beyond_two = 0
    for _ in range(300):
        op = GemmOp("g", rng.randint(1, 300), rng.randint(1, 600), rng.randint(1, 600), count=rng.choice([1, 3]),
                    b_shared=rng.random() < 0.5)
        mp = map_op(op, recipe, lim)
        mp = replace(mp, Mt=rng.randint(1, op.M), Kt=rng.randint(1, op.K), Nt=rng.randint(1, op.N),
                     order=rng.choice(["mnk", "nmk", "mnk-ar", "nmk-br"]))
        steps = steps_of(mp)
        bound, most = held_bytes_bound(steps), _most_held(steps)
        assert bound.keys() == most.keys() and all(bound[b] >= most[b] for b in most), (mp, bound, most)
        largest = {b: max(n for st in steps for buf, n in st.loads if buf == b) for b in most}
        beyond_two += any(most[b] > 2 * largest[b] for b in most)
    for _ in range(50):
        op = VectorOp("v", "softmax", rng.randint(1, 64), rng.randint(1, 4000))
        steps = vector_steps(VectorMapping(op, rng.randint(1, op.rows), 1.0, 1.0, 0, 0, op.length))
        bound, most = held_bytes_bound(steps), _most_held(steps)
        assert bound.keys() == most.keys() == {"v"} and bound["v"] >= most["v"]
    assert beyond_two >= 20  # resident blocks held beyond two of their pieces: not a two-slot bound


def test_group_keys_equal_exactly_when_the_nameless_ops_are_equal():
    """``sim._run._nameless`` (the memo's key of an op) is equal for two ops exactly when
    ``replace(op, name="")`` is, for random ops of each kind (names, shapes, roles differing)."""
    import random

    from sim._fusion import FusedAttention
    from sim._run import _nameless

    rng = random.Random(3)

    def op():
        kind = rng.randrange(3)
        name = rng.choice(["a", "b"])
        if kind == 0:
            return GemmOp(name, rng.randint(1, 2), 2, rng.randint(1, 2), count=rng.choice([1, 2]),
                          b_role=rng.choice(["weight", "kv"]), b_shared=rng.random() < 0.5)
        if kind == 1:
            return VectorOp(name, rng.choice(["softmax", "add"]), rng.randint(1, 2), 3)
        return FusedAttention(name, 1, 1, rng.randint(1, 2), 0, rng.randint(1, 2), 64, 16, rng.random() < 0.5)

    ops = [op() for _ in range(200)]
    pairs = [(a, b) for a in ops[:60] for b in ops[60:120]]
    assert {(_nameless(a) == _nameless(b)) == (replace(a, name="") == replace(b, name="")) for a, b in pairs} == {True}
    assert any(_nameless(a) == _nameless(b) and a.name != b.name for a, b in pairs)
    assert all(hash(_nameless(a)) == hash(_nameless(b)) for a, b in pairs if _nameless(a) == _nameless(b))


def test_sram_bytes_counted_per_distinct_tile_equal_the_per_step_sum():
    """``sim._run._sram_bytes`` (each distinct tile's reads counted once, times its steps) equals
    the sum over every step, for random GEMM tilings in every dataflow and order."""
    import random

    from sim._engine import OpRun
    from sim._run import _sram_bytes

    rng = random.Random(5)
    for _ in range(200):
        op = GemmOp("g", rng.randint(1, 200), rng.randint(1, 400), rng.randint(1, 400), count=rng.choice([1, 3]))
        recipe = parse_recipe(rng.choice(["INT8", "W4A8"]))
        mp = map_op(op, recipe, HW.limits())
        mp = replace(mp, Mt=rng.randint(1, op.M), Kt=rng.randint(1, op.K), Nt=rng.randint(1, op.N),
                     order=rng.choice(["mnk", "nmk", "mnk-ar", "nmk-br"]), dataflow=rng.choice(["ws", "os", "gemv", "is"]))
        steps = steps_of(mp)
        run = OpRun(dram_read_bytes=rng.randint(0, 10**6), dram_write_bytes=rng.randint(0, 10**6))
        R, C = HW.array_rows, HW.array_cols
        read = run.dram_write_bytes
        for st in steps:
            _, m, k, n = st.work
            if mp.dataflow == "is":
                read += math.ceil(m * k * mp.a_bpe) + math.ceil(k * n * mp.b_bpe) * math.ceil(m / C)
            else:
                read += (math.ceil(m * k * mp.a_bpe) * math.ceil(n / C)
                         + math.ceil(k * n * mp.b_bpe) * {"ws": 1, "os": math.ceil(m / R), "gemv": m}[mp.dataflow])
        assert _sram_bytes(mp, steps, HW, run) == (read, run.dram_read_bytes + run.dram_write_bytes)


# ---- the engine against its version before the speed changes ---------------------------------
def _reference_start_op(env, port, steps, hw, timing, *,
             dataflow: str = "ws", trace: bool = False, dataflows: list[str] | None = None, gb=None,
             core: int = 0, link=None):
    """``sim._engine.start_op`` as of 595be12 (verbatim but for this docstring): one store
    process per output waiting for its transfer process, the DRAM port crossed by ``cross_port``."""
    bw = hw.dram_bytes_per_cycle
    lat = hw.dram_latency_cycles
    dma = simpy.Resource(env, capacity=hw.dma_engines) if link is None else link.dma
    res = OpRun(steps=len(steps))
    ev = res.events
    if not hasattr(dma, "lanes"):  # free DMA engine indices (trace only), shared by the ops using ``dma``
        dma.lanes = list(range(dma.capacity))
    lanes = dma.lanes
    unlimited = bw == float("inf")
    n = len(steps)
    load_done: list = [None] * n
    # slot bookkeeping: tiles loaded / released per buffer, outputs started / stored
    loaded = dict.fromkeys(_SLOTS, 0)
    released = dict.fromkeys(_SLOTS, 0)
    state = {"issued": -1, "stored": 0, "started": 0}
    waiters: dict = {}

    def wake(key: str) -> None:
        w = waiters.pop(key, None)
        if w is not None:
            w.succeed()

    def transfer(nbytes: int, what: str, t: int | None = None):
        with dma.request() as rq:
            yield rq
            t0 = env.now
            if trace:
                lane = min(lanes)
                lanes.remove(lane)
            served = t is not None and gb is not None
            if served:
                yield from gb.serve(t, nbytes, res, what)
            elif not unlimited and nbytes:
                def record(start: float, dt: float) -> None:
                    res.dram_busy_cycles += dt
                    if trace:
                        ev.append(("dram", what, start, dt, core, nbytes, 0))

                yield from cross_port(env, port, nbytes, bw, record)
            if trace:
                lanes.append(lane)
                ev.append(("dma", what, t0, env.now - t0, core, nbytes, lane))
        if lat and not served:  # pipelined: neither the DMA engine nor the port is held during the latency
            yield env.timeout(lat)

    def loader():
        if link is not None:
            yield from link.before_loads()
        for t, st in enumerate(steps):
            if st.loads:
                total = 0
                for buf, nbytes in st.loads:
                    j = loaded[buf]
                    while j - released[buf] >= _SLOTS[buf]:  # every slot holds a tile still in use
                        w = waiters["slot " + buf] = env.event()
                        yield w
                    loaded[buf] = j + 1
                    total += nbytes
                    if link is not None:
                        yield from link.acquire(buf, nbytes)
                if gb is not None:  # a core with a global-buffer view loads every step from it
                    res.gb_read_bytes += total
                else:
                    res.dram_read_bytes += total
                if link is not None:
                    load_done[t] = link.issue(st.loads, lambda nb, what, t=t: transfer(nb, what, t))
                else:
                    load_done[t] = env.process(transfer(total, "load " + "+".join(b for b, _ in st.loads)
                                                        + f" {total} B", t))
            state["issued"] = t
            wake("issued")
        if link is not None:
            link.loads_issued()

    def store(nbytes: int):
        what = f"store {nbytes} B"  # a chain may keep it in the global buffer (sim._overlap)
        yield env.process(transfer(nbytes, what)) if link is None else link.store(nbytes, what, transfer)
        state["stored"] += 1
        wake("out")
        if state["stored"] == state["started"]:
            wake("drained")

    def compute():
        if link is not None:
            yield from link.before_compute()
        for t, st in enumerate(steps):
            t0 = env.now
            while state["issued"] < t:
                w = waiters["issued"] = env.event()
                yield w
            d = load_done[t]
            if d is not None and not d.processed:
                yield d
            load_done[t] = None  # a long schedule's finished transfers are not kept
            if env.now > t0:
                res.stall_input += env.now - t0
                if trace:
                    ev.append(("stall", "wait input", t0, env.now - t0, core, 0, 0))
            if st.new_output:
                t1 = env.now
                while state["started"] - state["stored"] >= 2:
                    w = waiters["out"] = env.event()
                    yield w
                state["started"] += 1
                if env.now > t1:
                    res.stall_output += env.now - t1
                    if trace:
                        ev.append(("stall", "wait output slot", t1, env.now - t1, core, 0, 0))
            cyc = durations[t]
            if cyc is None:
                res.compute_missing_steps += 1
            elif cyc:
                t2 = env.now
                yield env.timeout(cyc) if link is None else link.step(st.work, cyc)
                if trace:
                    unit = "array" if st.work[0] == "gemm" else "vector"
                    ev.append((unit, " x ".join(map(str, st.work[1:])), t2, cyc, core, 0, 0))
            for buf in st.release:
                released[buf] += 1
                wake("slot " + buf)
                if link is not None:
                    link.release(buf)
            if gb is not None:
                gb.computed(t)
            if st.store_bytes:
                res.dram_write_bytes += st.store_bytes
                env.process(store(st.store_bytes))
        if link is not None:
            link.computed()
        t3 = env.now
        while state["stored"] < state["started"]:
            w = waiters["drained"] = env.event()
            yield w
        res.stall_drain = env.now - t3
        if link is not None:
            link.finished()

    # durations per step, one timing call per distinct tile shape
    cache: dict = {}
    durations = []
    for i, st in enumerate(steps):
        df = dataflow if dataflows is None else dataflows[i]
        w = st.work
        key = (df, w)
        if key not in cache:
            cache[key] = timing.step_cycles(w, df)
            if w[0] == "gemm" and cache[key] is not None:
                parts = timing.array_parts(df, w[1], w[2], w[3])
                cache[("parts",) + key] = parts
        c = cache[key]
        durations.append(c)
        if c is not None:
            res.compute_cycles += c
            if w[0] == "gemm":
                f, sd, dr, wl = cache[("parts",) + key]
                res.array_fill += f
                res.array_steady += sd
                res.array_drain += dr
                res.array_weight_load += wl

    last_df = dataflow if dataflows is None or not steps else dataflows[-1]
    tail = timing.tail_cycles(last_df) if steps and steps[-1].work[0] == "gemm" else 0
    if tail and durations[-1] is not None:  # a pipelined array mode: its fill, once, after the last tile
        durations[-1] += tail
        res.compute_cycles += tail
        res.array_fill += tail

    env.process(loader())
    return env.process(compute()), res


def _with_engine(start_op, fn):
    """``fn()`` with every op started by ``start_op`` (alone and in chains)."""
    import sim._engine
    import sim._overlap

    with pytest.MonkeyPatch.context() as m:
        m.setattr(sim._engine, "start_op", start_op)
        m.setattr(sim._overlap, "start_op", start_op)
        return fn()


def test_engine_equals_its_version_before_the_speed_changes():
    """The engine (stores freed by a callback on their transfer, the port crossing written out,
    labels built once per tile) gives every figure and every trace event of the engine as it
    was (kept above), on random schedules run alone (GEMM tilings in every order and dataflow,
    vector chunkings; random bandwidth, latency, DMA engines) and on random chains (prefill
    layers and decode steps of default-32x32 and one- and two-core npu-8core: fused attention,
    residency, the global buffer), traced and by repeated blocks."""
    import random

    from mapping import VectorMapping, vector_steps
    from sim import run_steps
    from sim._fusion import plan_phase
    from sim._run import _groups, _phase_ops, simulate_chain

    rng = random.Random(11)
    for _ in range(60):
        hw = replace(HW, dma_engines=rng.randint(1, 3), dram_gbps_per_channel=rng.choice([4.0, 16.0, math.inf]),
                     dram_latency_ns=rng.choice([0.0, 100.0]))
        recipe = parse_recipe(rng.choice(["INT8", "W4A8"]))
        timing = step_timing(hw, recipe)
        if rng.random() < 0.7:
            op = GemmOp("g", rng.randint(1, 200), rng.randint(1, 400), rng.randint(1, 400), count=rng.choice([1, 3]))
            mp = map_op(op, recipe, hw.limits(), timing.array_cycles)
            mp = replace(mp, Mt=rng.randint(1, op.M), Kt=rng.randint(1, op.K), Nt=rng.randint(1, op.N),
                         order=rng.choice(["mnk", "nmk", "mnk-ar", "nmk-br"]))
            steps, df = steps_of(mp), mp.dataflow
        else:
            op = VectorOp("v", rng.choice(["softmax", "add"]), rng.randint(1, 64), rng.randint(1, 3000))
            steps, df = vector_steps(VectorMapping(op, rng.randint(1, op.rows), 1.0, 1.0, 0, 0, op.length)), "ws"
        new = run_steps(steps, hw, timing, dataflow=df, trace=True)
        old = _with_engine(_reference_start_op, lambda: run_steps(steps, hw, timing, dataflow=df, trace=True))
        assert vars(new) == vars(old)
    model = load_model("gpt2")
    npu = PRESETS["npu-8core"]
    for case in range(12):
        hw = [HW, replace(npu, cores=1), replace(npu, cores=2)][case % 3]
        hw = replace(hw, dma_engines=rng.randint(1, 3), dram_latency_ns=rng.choice([0.0, 100.0]))
        recipe = parse_recipe(rng.choice(["INT8", "W4A8"]))
        decode = case % 2 == 1
        tokens, past = (1, rng.randint(0, 300)) if decode else (rng.randint(2, 64), 0)
        timing = step_timing(hw, recipe)
        planned = plan_phase(_phase_ops(model, tokens, past, 1, False), model, recipe, hw, tokens=tokens, past=past,
                             batch=1, timing=timing)
        for group in _groups(planned, "decode" if decode else "prefill", True):
            ops = [(op, res) for _, op, res in group]
            for repeat in (False, True):
                def chain():
                    return simulate_chain(ops, recipe, hw, trace=not repeat, repeat=repeat)

                new, old = chain(), _with_engine(_reference_start_op, chain)
                assert [(mp, vars(run)) for mp, run in new] == [(mp, vars(run)) for mp, run in old]


def test_decode_gemms_mapped_in_one_pass_change_no_figure():
    """``simulate`` maps the decode steps' KV-length GEMMs in one pass (``mapping.map_gemms``)
    before simulating them: the op and layer tables and the summary equal those of a run mapping
    each op where it is simulated (``map_op``), on one core with two workers and without."""
    import sim._run

    kw = dict(prefill=40, decode=6, layers=2)
    premapped = []
    real = sim._run._map_decode_gemms

    def spy(*args):
        before = len(args[-1])
        real(*args)
        premapped.append(len(args[-1]) - before)

    for workers in (1, 2):
        with pytest.MonkeyPatch.context() as m:
            m.setattr(sim._run, "_map_decode_gemms", spy)
            fast = simulate("gpt2", "W4A8", HW, workers=workers, **kw)
        with pytest.MonkeyPatch.context() as m:
            m.setattr(sim._run, "_map_decode_gemms", lambda *args: None)
            slow = simulate("gpt2", "W4A8", HW, workers=workers, **kw)
        _same_result(fast, slow)
    assert premapped == [2 * 5, 2 * 5]  # attn_scores and attn_context of each decode step but the last (_size_check's)
