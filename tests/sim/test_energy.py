"""The simulator's energy uses the figures of ``hw.cost`` (``datapath_energy``, ``sram_cost``)
that ``lowbit cost --hw`` prints: the energy breakdown of a small design point equals its
counts (products, outputs, SRAM and DRAM bytes, from the op table) times per-event figures
computed here directly from ``hw.cost``."""
from __future__ import annotations

import math

import pytest

from hw.cost import datapath_energy, memory_access_energy_pj, sram_cost, unit_stimulus
from hw.units import recipe_mac
from mapping import parse_recipe
from sim import datapath_energy_of, hardware_buffers, load_hardware, simulate
from sim._energy import op_outputs

HW = load_hardware("edge-16x16")
INT8 = parse_recipe("INT8")


def _reference_energy(hw, recipe):
    """hw.cost.datapath_energy called as H5's note says, with the buffers spelled out here."""
    a, b = recipe.activations.format, recipe.weights.format
    probe = recipe_mac(recipe)
    probe.component._MustUse__silence = True
    acc = probe.metadata["accumulator_bits"]
    sram = {"a": (hw.sram_a_kib, hw.array_rows * a.bits), "b": (hw.sram_b_kib, hw.array_cols * b.bits),
            "c": (hw.sram_c_kib, hw.array_cols * acc), "v": (hw.sram_v_kib, hw.vector_lanes * hw.nonlinear_x_bits)}
    return datapath_energy(build_mac=lambda p: recipe_mac(recipe, pipeline=p),
                           stimulus=lambda u: unit_stimulus(u.metadata, cycles=500, distribution="uniform"),
                           clock_mhz=hw.clock_mhz, node_nm=45, sram=sram)


def test_simulate_energy_is_counts_times_cost_figures(standard_cells):
    ref = _reference_energy(HW, INT8)
    e = datapath_energy_of(HW, INT8)
    assert (e.mac_pj, e.convert_pj, dict(e.sram_pj_per_byte)) == (ref.mac_pj, ref.convert_pj,
                                                                 dict(ref.sram_pj_per_byte))
    res = simulate("bert-base", INT8, HW, prefill=16, layers=1, mac_cost=e)
    ops, s = res.ops, res.summary
    L = ops["layers"]
    gemm = ops["unit"] == "array"
    assert gemm.any() and (~gemm).any()
    products = float((ops["macs"] * L).sum())
    outputs = float((ops["M"] * ops["N"] * ops["count"] * L)[gemm].sum())
    sram_bytes = (ops["sram_read_bytes"] + ops["sram_write_bytes"]) * L
    array_byte = max(ref.sram_pj_per_byte[x] for x in ("a", "b", "c"))
    dram_bytes = float(((ops["dram_read_bytes"] + ops["dram_write_bytes"]) * L).sum())
    want = {"mac": products * ref.mac_pj + outputs * ref.convert_pj,
            "sram": float(sram_bytes[gemm].sum()) * array_byte + float(sram_bytes[~gemm].sum()) * ref.sram_pj_per_byte["v"],
            "dram": dram_bytes * memory_access_energy_pj(HW.dram_technology, bits=8)}
    for k, v in want.items():
        assert s["energy_breakdown_pj"][k] == pytest.approx(v, rel=1e-9), k
    assert s["energy_pj"] == pytest.approx(sum(want.values()), rel=1e-9)
    assert products > 0 and ref.mac_pj > 0 and ref.convert_pj > 0
    stated = [n for n in s["notes"] if n.startswith("energy source: datapath")]
    assert len(stated) == 1 and "stimulus: uniform operands" in stated[0] and "500 MHz" in stated[0]


def test_sram_figures_without_a_datapath_come_from_sram_cost():
    res = simulate("bert-base", INT8, HW, prefill=16, layers=1)
    ops, s = res.ops, res.summary
    probe = recipe_mac(INT8)
    probe.component._MustUse__silence = True
    per_byte = {k: sram_cost(capacity_kib=kib, width_bits=w, node_nm=45).access_pj / (w / 8)
                for k, (kib, w) in hardware_buffers(HW, probe.metadata).items()}
    vec = ops["unit"] == "vector"
    nbytes = (ops["sram_read_bytes"] + ops["sram_write_bytes"]) * ops["layers"]
    want = (float(nbytes[~vec].sum()) * max(per_byte[x] for x in "abc")
            + float(nbytes[vec].sum()) * per_byte["v"])
    assert s["energy_sram_pj"] == pytest.approx(want, rel=1e-9)
    assert math.isnan(s["energy_mac_pj"])


def test_fused_attention_outputs_are_scores_and_context():
    from sim._fusion import FusedAttention

    op = FusedAttention("attn", count=2, group=3, tokens=5, past=0, keys=5, head_dim=4, block=2, causal=True)
    # query blocks of 2, 2, 1 tokens seeing 2, 4, 5 keys; each row: `keys` scores and head_dim context outputs
    rows = [(2, 2), (2, 4), (1, 5)]
    assert op.blocks() == rows
    assert op_outputs(op) == 2 * 3 * sum(t * (k + 4) for t, k in rows)
    assert op.macs == 2 * 3 * sum(t * k * 4 * 2 for t, k in rows)

