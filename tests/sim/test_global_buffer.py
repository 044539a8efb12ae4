"""The global buffer shared by the cores (sim._global_buffer, sim._cores): operands that fit are
read from DRAM exactly once (bytes counted here from the shapes); larger ones are tiled at the
global-buffer level with one operand resident; the runs are never faster than the roofline or
the global buffer's own port; with unlimited bandwidths the cores take their parts' step
cycles; a bad field is one line and exit code 2 from the CLI."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest

from mapping import GemmOp, VectorOp, map_op, parse_recipe, steps_of
from sim import PRESETS, HardwareConfigError, simulate, simulate_op, step_timing
from sim._cores import split_op
from sim._global_buffer import plan_gemm

INT8 = parse_recipe("INT8")
FP16 = parse_recipe("FP16")
BASE = replace(PRESETS["default-32x32"], cores=4)
GB = replace(BASE, gb_kib=4096, gb_gbps=512.0)  # 4 MiB shared, 512 B/cycle at 1 GHz

#: (op, bytes of A, of B under INT8): A and B of every instance, B once when shared; INT8 keeps
#: weights and activations in 1 byte, the KV cache in 2
FITTING = [
    (GemmOp("proj", 256, 1024, 768), 256 * 1024, 1024 * 768),
    (GemmOp("gemv", 1, 2048, 1536), 2048, 2048 * 1536),
    (GemmOp("heads", 128, 64, 128, count=12, a_role="activation", b_role="kv", b_shared=False),
     12 * 128 * 64, 12 * 64 * 128 * 2),
    (GemmOp("odd", 37, 300, 101), 37 * 300, 300 * 101),
]


@pytest.mark.parametrize("op, a_bytes, b_bytes", FITTING, ids=lambda x: getattr(x, "name", ""))
def test_fitting_operands_are_read_from_dram_once(op, a_bytes, b_bytes):
    assert a_bytes + b_bytes <= GB.gb_kib * 1024
    _, run = simulate_op(op, INT8, GB)
    assert run.dram_read_bytes == a_bytes + b_bytes
    assert run.dram_write_bytes == op.count * op.M * op.N  # INT8 activations out, stored once
    _, direct = simulate_op(op, INT8, BASE)  # without it each core loads what it needs, re-reads included
    assert direct.dram_read_bytes >= run.dram_read_bytes
    assert run.gb_read_bytes == direct.dram_read_bytes  # the cores' tile loads, now from the buffer
    assert run.gb_busy_cycles == pytest.approx(run.gb_read_bytes / GB.gb_bytes_per_cycle)


def test_one_core_with_a_buffer_reads_its_operands_once():
    hw = replace(GB, cores=1)
    op, a_bytes, b_bytes = FITTING[0]
    _, run = simulate_op(op, INT8, hw)
    _, direct = simulate_op(op, INT8, replace(hw, gb_kib=0, gb_gbps=0.0))
    assert run.dram_read_bytes == a_bytes + b_bytes < direct.dram_read_bytes == run.gb_read_bytes


#: a 1 MiB buffer in front of a slow DRAM (2 GB/s): staging through the buffer pays off
SMALL = replace(GB, gb_kib=1024, dram_channels=1, dram_gbps_per_channel=2.0)


def test_a_resident_operand_is_read_once_even_when_the_op_does_not_fit():
    # A (64 x 4096 INT8 = 256 KiB) stays in the 1 MiB buffer while B (16 MiB) streams past it
    hw = SMALL
    op = GemmOp("wide", 64, 4096, 4096)
    assert 64 * 4096 + 4096 * 4096 > 1024 * 1024
    _, run = simulate_op(op, INT8, hw)
    assert run.dram_read_bytes == 64 * 4096 + 4096 * 4096


def test_two_level_tiling_moves_the_resident_operand_once_and_the_other_per_block():
    # A and B 2 MiB each (1 KiB per row of A, per column of B), 1 MiB buffer: the fewest row
    # blocks of A whose resident block leaves room for two blocks of one array width (32
    # columns) of B: A is read once and B once per row block (the mirror image moves as much)
    hw = SMALL
    op = GemmOp("square", 2048, 1024, 2048)
    plan = plan_gemm(op, INT8, hw)
    assert plan.scheme in ("a-stationary", "b-stationary")
    kib, mib = 1 << 10, 1 << 20
    blocks = next(r for r in range(1, 2049) if math.ceil(2048 / r) * kib + 2 * 32 * kib <= mib)
    assert blocks == 3
    _, run = simulate_op(op, INT8, hw)
    assert run.gb_read_bytes > 0 and run.dram_read_bytes == 2 * mib + blocks * 2 * mib
    _, direct = simulate_op(op, INT8, replace(hw, gb_kib=0, gb_gbps=0.0))
    assert run.dram_read_bytes < direct.dram_read_bytes and run.cycles < direct.cycles


def test_a_buffer_too_small_to_help_is_not_used():
    # 64 KiB cuts the op into blocks so small that their core parts would re-read more over the
    # buffer's port than the cores read from DRAM: the op runs exactly as without a buffer
    op = GemmOp("square", 2048, 1024, 2048)
    _, run = simulate_op(op, INT8, replace(GB, gb_kib=64, gb_gbps=64.0))
    _, direct = simulate_op(op, INT8, BASE)
    assert run.gb_read_bytes == 0
    assert (run.cycles, run.dram_read_bytes) == (direct.cycles, direct.dram_read_bytes)


def test_plan_blocks_fit_the_buffer_double_buffered():
    hw = replace(GB, gb_kib=1024)
    for op in (GemmOp("square", 2048, 1024, 2048), GemmOp("tall", 8192, 512, 300), GemmOp("wide", 64, 4096, 4096),
               GemmOp("heads", 512, 128, 512, count=8, b_shared=False, b_role="kv")):
        plan = plan_gemm(op, INT8, hw)
        cap = hw.gb_kib * 1024
        for blk in plan.blocks:  # this block's groups and the next block's streamed ones fit together
            a = sum(math.ceil((g.hi - g.lo) * g.K) for g in blk.a_groups)
            b = sum(math.ceil((g.hi - g.lo) * g.K) for g in blk.b_groups)
            if plan.scheme == "a-stationary":
                assert a + 2 * b <= cap
            elif plan.scheme == "b-stationary":
                assert 2 * a + b <= cap
            else:
                assert 2 * (a + b) <= cap or len(plan.blocks) == 1
        # the blocks cover the op once
        assert sum((b.i1 - b.i0) * (b.m1 - b.m0) * (b.n1 - b.n0) for b in plan.blocks) == op.count * op.M * op.N


@pytest.mark.parametrize("op", [GemmOp("proj", 512, 2048, 2048), GemmOp("square", 2048, 1024, 2048),
                                GemmOp("gemv", 1, 4096, 11008), VectorOp("residual", "add", 300, 512, inputs=2)],
                         ids=lambda o: o.name)
@pytest.mark.parametrize("gb_kib", [1024, 16384])
def test_never_faster_than_the_roofline_or_the_buffer_port(op, gb_kib):
    hw = replace(GB, gb_kib=gb_kib)
    _, run = simulate_op(op, INT8, hw)
    if isinstance(op, GemmOp):
        macs, compulsory = op.macs, op.M * op.K + op.K * op.N + op.M * op.N
    else:
        macs, compulsory = 0, 3 * op.rows * op.length
    roof = max(macs / hw.peak_macs_per_cycle(), compulsory / hw.dram_bytes_per_cycle)
    assert run.cycles >= roof
    assert run.cycles >= run.gb_read_bytes / hw.gb_bytes_per_cycle
    assert run.dram_read_bytes + run.dram_write_bytes >= compulsory


@pytest.mark.parametrize("op", [GemmOp("proj", 256, 1024, 768), FITTING[2][0]], ids=lambda o: o.name)
def test_unlimited_bandwidths_take_the_parts_step_cycles(op):
    # the buffer adds no time of its own: with infinite DRAM and buffer bandwidth and no latency
    # each core takes the sum of its part's step cycles (computed here from the mapper's steps)
    hw = replace(GB, dram_gbps_per_channel=math.inf, dram_latency_ns=0.0, gb_gbps=math.inf)
    timing = step_timing(hw, INT8)
    _, run = simulate_op(op, INT8, hw)
    expect = []
    for part in split_op(op, hw.cores, (hw.array_rows, hw.array_cols)):
        mp = map_op(part, INT8, hw.limits(), timing.array_cycles)
        steps = steps_of(mp)
        expect.append(sum(timing.step_cycles(s.work, mp.dataflow) for s in steps) + timing.tail_cycles(mp.dataflow))
    assert run.cycles == max(expect)


def test_the_buffer_port_is_contended():
    # a slow buffer port bounds the op: its busy time is the tile bytes over its bandwidth
    slow = replace(GB, gb_gbps=8.0)
    op = GemmOp("proj", 256, 1024, 768)
    _, run = simulate_op(op, INT8, slow)
    _, fast = simulate_op(op, INT8, GB)
    assert run.cycles >= run.gb_read_bytes / slow.gb_bytes_per_cycle > fast.cycles


def test_no_buffer_is_todays_run():
    hw = replace(GB, gb_kib=0, gb_gbps=0.0)
    assert hw == BASE
    for op, _, _ in FITTING:
        _, a = simulate_op(op, INT8, hw)
        assert a.gb_read_bytes == 0 and a.gb_busy_cycles == 0


def test_whole_model_reads_less_dram_with_the_buffer():
    a = simulate("gpt2", "INT8", GB, prefill=128, layers=2)
    b = simulate("gpt2", "INT8", BASE, prefill=128, layers=2)
    assert a.summary["dram_read_bytes"] < b.summary["dram_read_bytes"]
    assert a.summary["macs"] == b.summary["macs"]
    assert "global buffer 4096 KiB at 512 GB/s" in a.summary["hw_description"]


def test_fused_attention_reads_q_k_v_of_each_head_once():
    # LLaMA-2-7B attention fused per head over query blocks: without the buffer K and V are
    # loaded again for each block when the weight buffer cannot hold them; with it, from DRAM once
    hw = replace(GB, fusion=True, sram_b_kib=64, gb_kib=16384)
    tokens, heads, hd = 512, 32, 128
    q = tokens * heads * hd  # INT8 activations
    kv = 2 * tokens * heads * hd * 2  # K and V in 16 bits
    assert q + kv <= hw.gb_kib * 1024
    alone = replace(hw, overlap=False)  # each op alone: Q too from DRAM
    att = simulate("llama2-7b", "INT8", alone, prefill=tokens, layers=1).ops.set_index("op").loc["attention"]
    direct = simulate("llama2-7b", "INT8", replace(alone, gb_kib=0, gb_gbps=0.0), prefill=tokens,
                      layers=1).ops.set_index("op").loc["attention"]
    assert att.dram_read_bytes == q + kv < direct.dram_read_bytes
    # chained (sim._overlap), rope_q's output stays in the buffer for the attention: K and V from DRAM
    ops = simulate("llama2-7b", "INT8", hw, prefill=tokens, layers=1).ops.set_index("op")
    assert ops.loc["attention"].dram_read_bytes == kv and ops.loc["rope_q"].dram_write_bytes == 0
    assert ops.loc["rope_q"].gb_fill_bytes == q


def test_fills_follow_the_order_the_cores_need_them():
    # decode attention, 32 KV heads on 8 cores (heads 4c..4c+3 on core c): the buffer reads K of
    # each core's first head first, not heads 0, 1, 2, ... (core 7 would wait for 28 heads)
    from sim._fusion import FusedAttention

    hw = replace(GB, cores=8, gb_kib=65536)
    op = FusedAttention("attention", 32, 1, 1, 511, 512, 128, 1, True)
    _, run = simulate_op(op, INT8, hw, trace=True)
    fills = sorted((e for e in run.events if e[0] == "dram" and e[1].startswith("fill K")), key=lambda e: e[2])
    assert len(fills) == 32
    assert sorted(int(e[1].split("[")[1].split("]")[0]) for e in fills[:8]) == [0, 4, 8, 12, 16, 20, 24, 28]


def test_example_toml_runs(capsys):
    from pathlib import Path

    from reports.cli import main
    from sim import load_hardware

    path = Path(__file__).resolve().parents[2] / "examples" / "hw_4core_global_buffer.toml"
    hw = load_hardware(str(path))
    assert (hw.cores, hw.gb_kib, hw.gb_gbps, hw.array_rows) == (4, 4096, 512.0, 32)
    assert main(["simulate", "--model", "gpt2", "--recipe", "INT8", "--hw", str(path), "--layers", "1",
                 "--prefill", "32", "--no-energy", "--no-progress"]) == 0
    assert "global buffer 4096 KiB at 512 GB/s" in capsys.readouterr().out


def test_presets_take_their_sources_figures():
    a100 = PRESETS["a100-like"]
    assert a100.gb_kib * 1024 == 40 * 1024 ** 2  # LLMCompass compute_module.py A100_fp16 l2_size
    assert a100.gb_bytes_per_cycle == pytest.approx(5120)  # its l2_bandwidth_per_cycle
    assert PRESETS["npu-8core"].gb_kib == 128 * 1024


def test_bad_field_is_one_line_and_exit_two(tmp_path, capsys):
    from reports.cli import main

    p = tmp_path / "gb.toml"
    p.write_text('preset = "default-32x32"\ncores = 2\n[global_buffer]\nkib = 2048\ngbps = -1.0\n')
    assert main(["simulate", "--model", "gpt2", "--recipe", "INT8", "--hw", str(p), "--layers", "1",
                 "--no-energy", "--no-progress"]) == 2
    assert capsys.readouterr().err == ("lowbit: error: hardware field global_buffer.gbps must be a number in "
                                       "(0, 1000000] (GB/s) or inf when global_buffer.kib > 0, not -1.0\n")
    with pytest.raises(HardwareConfigError) as e:
        replace(BASE, gb_kib=1 << 23, gb_gbps=1.0)
    assert str(e.value) == ("hardware field global_buffer.kib must be an integer in 0..4194304 (KiB; 0: no global "
                            "buffer), not 8388608")


def test_a_bandwidth_without_a_size_is_one_line_and_exit_two(tmp_path, capsys):
    """``gbps`` alone was silently ignored (no buffer) or silently kept (a preset's buffer): it must
    come with ``kib``; ``kib = 0`` switches the buffer off."""
    from reports.cli import main

    p = tmp_path / "gbps.toml"
    p.write_text('preset = "npu-8core"\n[global_buffer]\ngbps = 512.0\n')
    assert main(["simulate", "--model", "gpt2", "--recipe", "INT8", "--hw", str(p), "--layers", "1",
                 "--no-energy", "--no-progress"]) == 2
    assert capsys.readouterr().err == (f"lowbit: error: hardware field global_buffer.gbps must come with "
                                       f"global_buffer.kib (the buffer's size; kib = 0 switches the buffer off) "
                                       f"({p}), not 512.0\n")
