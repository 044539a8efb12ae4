"""Chips in tensor parallel (sim._chips): a chip runs 1/c of the heads and FFN; the ring
all-reduces follow 2 (c - 1) (bytes / c / link + latency); one chip equals no chips."""
from __future__ import annotations

from dataclasses import replace

import pytest

from mapping import load_model
from sim import PRESETS, SimulationError, simulate
from sim._chips import allreduce_cycles, shard_model

HW = PRESETS["default-32x32"]


def test_shard_divides_heads_and_ffn():
    m = load_model("llama2-70b")
    s = shard_model(m, 4)
    assert (s.n_heads, s.n_kv_heads, s.d_ff, s.d_model) == (m.n_heads // 4, m.n_kv_heads // 4, m.d_ff // 4, m.d_model)
    assert shard_model(m, 16).n_kv_heads == 1  # 8 KV heads over 16 chips: one (replicated) per chip
    assert shard_model(m, 1) is m
    with pytest.raises(SimulationError) as e:
        shard_model(load_model("llama2-7b"), 3)
    assert str(e.value) == "chips must divide the 32 heads and the FFN size 11008 of llama2-7b, not 3"


def test_ring_allreduce_cycles():
    hw = replace(HW, chips=4, link_gbps=100.0, link_latency_ns=1000.0)  # 1 GHz clock
    nbytes = 4 * 4096 * 2
    assert allreduce_cycles(nbytes, hw) == pytest.approx(2 * 3 * (nbytes / 4 / 100e9 + 1e-6) * 1e9)
    assert allreduce_cycles(nbytes, HW) == 0.0


def test_chips_add_their_allreduces_to_one_chips_share():
    model = load_model("llama2-7b")
    hw = replace(HW, chips=2, link_gbps=50.0, link_latency_ns=2000.0)
    res = simulate(model, "INT8", hw, prefill=64, decode=2, layers=2)
    share = simulate(shard_model(model, 2), "INT8", replace(hw, chips=1), prefill=64, decode=2, layers=2)
    ar = res.ops[res.ops.op == "allreduce"]
    assert len(ar) == 3  # prefill + 2 decode steps
    per = [2 * 2 * allreduce_cycles(t * 4096 * 1, hw) for t in (64, 1, 1)]  # INT8 activations, 2 layers
    assert ar.cycles.tolist() == pytest.approx(per)
    assert res.summary["cycles"] == pytest.approx(share.summary["cycles"] + sum(per))
    assert res.summary["chips"] == 2


def test_one_chip_is_no_chip():
    a = simulate("gpt2", "INT8", HW, prefill=32, decode=1, layers=1)
    b = simulate("gpt2", "INT8", replace(HW, chips=1), prefill=32, decode=1, layers=1)
    assert a.summary["cycles"] == b.summary["cycles"] and "allreduce" not in set(b.ops.op)


def test_cli_chips(tmp_path, capsys):
    from reports.cli import main

    assert main(["simulate", "--model", "llama2-7b", "--recipe", "INT8", "--chips", "2", "--prefill", "16",
                 "--layers", "1", "--no-progress", "--no-energy"]) == 0
    assert "2 chips (300 GB/s, 8920 ns link) x 32x32 array" in capsys.readouterr().out
    assert main(["simulate", "--model", "gpt2", "--recipe", "INT8", "--chips", "0", "--no-energy"]) == 2
    assert capsys.readouterr().err == "lowbit: error: hardware field chips.count must be an integer in 1..64, not 0\n"
