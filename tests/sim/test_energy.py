"""The simulator's energy uses the figures of ``hw.cost`` (``datapath_energy``, ``sram_cost``,
the vector units' lines of ``accelerator_budget``) that ``lowbit cost --hw`` prints: the energy
breakdown of a small design point equals its counts (products, outputs, SRAM and DRAM bytes,
vector-unit compute cycles, from the op table) times per-event figures computed here directly
from ``hw.cost``."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest

from hw.cost import accelerator_budget, datapath_energy, memory_access_energy_pj, sram_cost, unit_stimulus
from hw.units import build_unit, recipe_mac
from mapping import parse_recipe
from sim import datapath_energy_of, hardware_buffers, load_hardware, simulate, vector_energies_of
from sim._energy import op_outputs

HW = load_hardware("edge-16x16")
INT8 = parse_recipe("INT8")
#: the kernel constants of benchmarks/nonlinear_units.py (LayerNorm biases 0), rows of 64, the hardware's
#: input width (``nonlinear_x_bits``)
VECTOR_UNITS = {"ibert_int_gelu": dict(b_int=-251, c_int=-69251, shift_int=-5),
                "ivit_int_layernorm": dict(bias_int=[0] * 64), "ivit_shiftmax": dict(x0_int=-20)}


def _multicycle(fmax_mhz: float, clock_mhz: float) -> int:
    """Clock cycles per cycle of a unit of Fmax ``fmax_mhz`` at ``clock_mhz`` (issue 13: a unit
    slower than the clock is a multicycle path of ceil(clock / Fmax) cycles)."""
    return 1 if fmax_mhz >= clock_mhz else math.ceil(clock_mhz / fmax_mhz)


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


def _budget_pj_per_cycle(hw, functions) -> dict[str, float]:
    """Energy per cycle of each function's row units (all ``row_units`` of them): the dynamic
    power of its line in ``hw.cost.accelerator_budget`` (what ``lowbit cost --hw`` prints) over
    the clock."""
    units, bits = dict(hw.nonlinear_units), hw.nonlinear_x_bits
    vec = [(f"{fn}: {units[fn]} (x_bits {bits}, row length 64, example constants)",
            build_unit(units[fn], x_bits=bits, length=64, **VECTOR_UNITS[units[fn]]), hw.row_units)
           for fn in functions]
    probe = recipe_mac(INT8)
    probe.component._MustUse__silence = True
    b = accelerator_budget(build_mac=lambda p: recipe_mac(INT8, pipeline=p),
                           stimulus=lambda u: unit_stimulus(u.metadata, cycles=500, distribution="uniform"),
                           rows=hw.array_rows, cols=hw.array_cols, clock_mhz=hw.clock_mhz, node_nm=45,
                           sram=hardware_buffers(hw, probe.metadata), k=64, vector_units=vec)
    lines = {ln.block.split("vector unit ", 1)[1].split(":")[0]: ln for ln in b.lines if ln.block.startswith("vector")}
    assert sorted(lines) == sorted(functions)
    return {fn: ln.dynamic_mw / hw.clock_mhz * 1e3 for fn, ln in lines.items()}  # mW / MHz = nJ per cycle


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
    rows_fns = sorted(set(ops.loc[~gemm, "function"]) & set(dict(HW.nonlinear_units)))
    assert rows_fns == ["gelu", "layernorm", "softmax"]
    per_cycle = _budget_pj_per_cycle(HW, rows_fns)
    vec_cycles = {fn: float((ops["compute_cycles"] * L)[ops["function"] == fn].sum()) for fn in rows_fns}
    assert all(c > 0 for c in vec_cycles.values()) and all(e > 0 for e in per_cycle.values())
    want = {"mac": products * ref.mac_pj + outputs * ref.convert_pj,
            "sram": float(sram_bytes[gemm].sum()) * array_byte + float(sram_bytes[~gemm].sum()) * ref.sram_pj_per_byte["v"],
            "dram": dram_bytes * memory_access_energy_pj(HW.dram_technology, bits=8),
            "vector": sum(vec_cycles[fn] * per_cycle[fn] for fn in rows_fns),
            "gb": 0.0}  # one core, no global buffer
    assert HW.gb_kib == 0
    assert sorted(s["energy_breakdown_pj"]) == sorted(want)
    for k, v in want.items():
        assert s["energy_breakdown_pj"][k] == pytest.approx(v, rel=1e-9), k
    assert s["energy_pj"] == pytest.approx(sum(want.values()), rel=1e-9)
    assert s["energy_pj"] == pytest.approx(sum(s["energy_breakdown_pj"].values()), rel=1e-12)
    cols = ["energy_mac_pj", "energy_dram_pj", "energy_sram_pj", "energy_vector_pj", "energy_gb_pj"]
    assert (ops[cols].sum(axis=1) - ops["energy_pj"]).abs().max() <= 1e-9 * ops["energy_pj"].abs().max()
    figs = vector_energies_of(HW, functions=tuple(rows_fns))
    for fn in rows_fns:  # the budget's figure per clock cycle: energy per unit cycle / the unit's multicycle
        assert per_cycle[fn] == pytest.approx(figs[fn].pj_per_cycle * HW.row_units
                                              / _multicycle(figs[fn].record.derived["fmax_mhz"], HW.clock_mhz),
                                              rel=1e-9), fn
    for fn in rows_fns:  # each op of a row function: its own compute cycles x its unit's figure
        r = ops[ops["function"] == fn].iloc[0]
        assert r["energy_vector_pj"] == pytest.approx(r["compute_cycles"] * per_cycle[fn], rel=1e-9), fn
    assert (ops.loc[gemm, "energy_vector_pj"] == 0).all()
    # elementwise ops (residual add) run on the lanes with no RTL unit: no figure, said so
    assert (ops.loc[ops["function"] == "add", "energy_vector_pj"] == 0).all()
    assert ("energy: compute energy of the elementwise ops on the 16 vector lanes (add, kv_append, rope, embedding, "
            "relu): no RTL unit, not counted") in s["notes"]
    vstated = [n for n in s["notes"] if n.startswith("energy source: vector units: hw.cost.vector_unit_energy")]
    assert len(vstated) == 1 and all(f"{fn} vec_{fn}_" in vstated[0] for fn in rows_fns)
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
    # no standard-cell datapath: the vector units are not characterised either, and it is said
    assert s["energy_vector_pj"] == 0.0
    assert ("energy: vector units' compute energy not characterised in this run (standard-cell figures come with "
            "a hw.cost DatapathEnergy mac_cost): not counted") in s["notes"]


def test_vector_unit_without_a_figure_is_listed_missing(standard_cells):
    """A unit kind the energy model has no figure for (the I-BERT softmax: its constants follow
    the input scale, no example constants) adds no energy to its ops and is named in the notes;
    the other units keep theirs."""
    hw = replace(HW, nonlinear_units={**dict(HW.nonlinear_units), "softmax": "ibert_int_softmax"})
    res = simulate("bert-base", INT8, hw, prefill=16, layers=1, mac_cost=datapath_energy_of(hw, INT8))
    ops, s = res.ops, res.summary
    assert ("energy: vector unit ibert_int_softmax (softmax) not characterised: no example constants; its ops' "
            "compute energy not counted") in s["notes"]
    soft = ops["function"] == "softmax"
    assert soft.any() and (ops.loc[soft, "compute_cycles"] > 0).all()
    assert (ops.loc[soft, "energy_vector_pj"] == 0).all()
    assert (ops.loc[ops["function"] == "gelu", "energy_vector_pj"] > 0).all()
    assert s["energy_pj"] == pytest.approx(sum(s["energy_breakdown_pj"].values()), rel=1e-12)


def test_fused_attention_outputs_are_scores_and_context():
    from sim._fusion import FusedAttention

    op = FusedAttention("attn", count=2, group=3, tokens=5, past=0, keys=5, head_dim=4, block=2, causal=True)
    # query blocks of 2, 2, 1 tokens seeing 2, 4, 5 keys; each row: `keys` scores and head_dim context outputs
    rows = [(2, 2), (2, 4), (1, 5)]
    assert op.blocks() == rows
    assert op_outputs(op) == 2 * 3 * sum(t * (k + 4) for t, k in rows)
    assert op.macs == 2 * 3 * sum(t * k * 4 * 2 for t, k in rows)



def test_global_buffer_bytes_are_priced_at_its_sram_figure():
    """A multi-core run with a global buffer: the bytes its DRAM fills write into it and the
    bytes the cores read out of it cost the global buffer's SRAM energy per byte (sram_cost of
    its capacity at its port width: bandwidth per cycle x 8 bits), and the breakdown adds up."""
    from pathlib import Path

    hw = load_hardware(Path(__file__).resolve().parents[2] / "examples" / "hw_4core_global_buffer.toml")
    assert hw.cores == 4 and hw.gb_kib == 4096
    res = simulate("bert-base", INT8, hw, prefill=64, layers=1)
    ops, s = res.ops, res.summary
    width = round(hw.gb_gbps * 1e3 / hw.clock_mhz * 8)
    per_byte = sram_cost(capacity_kib=4096, width_bits=width, node_nm=45).access_pj / (width / 8)
    nbytes = float(((ops["gb_fill_bytes"] + ops["gb_read_bytes"]) * ops["layers"]).sum())
    assert float((ops["gb_fill_bytes"] * ops["layers"]).sum()) > 0 and float((ops["gb_read_bytes"]).sum()) > 0
    assert s["energy_gb_pj"] == pytest.approx(nbytes * per_byte, rel=1e-9) and s["energy_gb_pj"] > 0
    assert s["energy_breakdown_pj"]["gb"] == s["energy_gb_pj"]
    assert ops["energy_gb_pj"].to_numpy() == pytest.approx(
        ((ops["gb_fill_bytes"] + ops["gb_read_bytes"]) * per_byte).to_numpy(), rel=1e-9)
    assert ops["energy_pj"].equals(ops["energy_dram_pj"] + ops["energy_sram_pj"] + ops["energy_gb_pj"]
                                   + ops["energy_mac_pj"] + ops["energy_vector_pj"])
    # the fills are DRAM reads too (priced as DRAM as well), plus the outputs a chain keeps in the
    # buffer (sim._overlap), which then go to no DRAM: at most the op's DRAM reads and the DRAM
    # writes it saved against the ops alone
    off = simulate("bert-base", INT8, replace(hw, overlap=False), prefill=64, layers=1).ops
    assert (ops["gb_fill_bytes"] <= ops["dram_read_bytes"] + off["dram_write_bytes"] - ops["dram_write_bytes"]).all()


def _rounds_and_rows(ops, ref, sel, spec, hw, depth: int) -> tuple[list[int], list[int]]:
    """For the row ops ``sel`` of a unit ``spec``: the cycles per row of its timing function at
    depth 0 and at ``depth`` (rows of the op's SRAM tile length, the hardware's x_bits and
    divider), per op."""
    kw = {"x_bits": hw.nonlinear_x_bits, "divider_bits_per_cycle": hw.divider_bits_per_cycle}
    at0 = [spec.row_timing(int(t.split("x")[1]), **kw).cycles_per_row for t in ref.loc[sel, "tile"]]
    atd = [spec.row_timing(int(t.split("x")[1]), **kw, **({"pipeline": depth} if depth else {})).cycles_per_row
           for t in ops.loc[sel, "tile"]]
    return at0, atd


def test_vector_units_pipelined_to_the_clock_or_multicycle(standard_cells):
    """At the default preset's 1 GHz, 45 nm, with standard-cell figures: each row unit is at the
    shallowest depth of its pipeline parameter whose Fmax meets the clock (the depths before it
    miss it), or, when none up to the rule's maximum does (or it has no parameter, or its
    loop-carried path, which no register cuts, already bounds it to as many cycles), a multicycle
    path of ceil(clock / Fmax). Every row op's compute cycles are those of the same run without
    the figures (generic flow: depth 0, one unit cycle per clock cycle) with each row's depth-0
    cycles replaced by the chosen depth's (the timing functions), x that factor, exactly; the
    array's ops unchanged; its vector energy is its unit cycles x the unit's energy per unit
    cycle; both runs say how their vector units were clocked."""
    from hw.cost import MAX_ROW_PIPELINE
    from hw.units.nonlinear import ROW_UNITS

    hw = load_hardware("default-32x32")
    res = simulate("bert-base", INT8, hw, prefill=16, layers=1, mac_cost=datapath_energy_of(hw, INT8))
    base = simulate("bert-base", INT8, hw, prefill=16, layers=1)
    ops, ref = res.ops, base.ops
    assert list(ops["op"]) == list(ref["op"])
    rows_fns = sorted(set(ops.loc[ops["unit"] == "vector", "function"]) & set(dict(hw.nonlinear_units)))
    assert rows_fns == ["gelu", "layernorm", "softmax"]
    figs = vector_energies_of(hw, functions=tuple(rows_fns))
    units = dict(hw.nonlinear_units)
    factor, depth = {}, {}
    for fn in rows_fns:
        e, spec = figs[fn], ROW_UNITS[units[fn]]
        fmax = e.record.derived["fmax_mhz"]
        factor[fn], depth[fn] = _multicycle(fmax, hw.clock_mhz), e.pipeline
        deepest = min(MAX_ROW_PIPELINE, spec.build.max_pipeline)
        assert e.max_pipeline == deepest and e.fmax_by_pipeline[e.pipeline] == fmax, fn
        # the depths before the chosen one miss the clock; the chosen one meets it, or none up to the maximum does
        assert all(f < hw.clock_mhz for d, f in e.fmax_by_pipeline.items() if d < e.pipeline), fn
        if factor[fn] > 1:  # every depth tried, or none can beat its loop-carried path (no register cuts it)
            loop = e.record.derived["timing_fmax_mhz"]["loop"]
            assert (sorted(e.fmax_by_pipeline) == list(range(deepest + 1))
                    or (loop < hw.clock_mhz and math.ceil(hw.clock_mhz / loop) == factor[fn])), fn
    # the cases this test is for: a unit pipelined to meet the clock, one that meets it as it is,
    # one with no pipeline parameter that misses it
    assert depth["softmax"] > 0 and factor["softmax"] == 1, (depth, factor)
    assert min(factor.values()) == 1 and max(factor.values()) > 1, factor
    for fn in rows_fns:
        sel = ops["function"] == fn
        assert (ops.loc[sel, "compute_cycles"] > 0).all()
        at0, atd = _rounds_and_rows(ops, ref, sel, ROW_UNITS[units[fn]], hw, depth[fn])
        rounds = [int(c) // r for c, r in zip(ref.loc[sel, "compute_cycles"], at0)]
        assert [r * c for r, c in zip(rounds, at0)] == ref.loc[sel, "compute_cycles"].tolist(), fn
        assert ops.loc[sel, "compute_cycles"].tolist() == [r * c * factor[fn] for r, c in zip(rounds, atd)], fn
        unit_cycles = ops.loc[sel, "compute_cycles"] / factor[fn]
        unit_energy = unit_cycles * figs[fn].pj_per_cycle * hw.row_units * hw.cores
        assert ops.loc[sel, "energy_vector_pj"].to_numpy() == pytest.approx(unit_energy.to_numpy(), rel=1e-9), fn
        src = set(ops.loc[sel, "timing_source"])
        assert len(src) == 1, fn
        src = src.pop()
        assert (f"x {factor[fn]} clock cycles per unit cycle (multicycle" in src) == (factor[fn] > 1), fn
        assert (f", pipeline {depth[fn]}: the shallowest depth whose Fmax meets the clock" in src) == (depth[fn] > 0)
    gemm = ops["unit"] != "vector"
    assert ops.loc[gemm, "compute_cycles"].tolist() == ref.loc[gemm, "compute_cycles"].tolist()
    stated = [n for n in res.summary["notes"] if n.startswith("energy source: vector-unit clock (hw.cost")]
    assert len(stated) == 1
    for fn in rows_fns:
        assert f"{fn}: {figs[fn].record.name}: pipeline {depth[fn]}" in stated[0]
        assert (f"a multicycle path, {factor[fn]} clock cycles per unit cycle" in stated[0]) == (factor[fn] > 1)
    assert ("energy source: vector-unit clock: gelu, layernorm, softmax timed at one unit cycle per 1000 MHz clock "
            "cycle, unchecked: no Fmax without the standard-cell figures (a hw.cost DatapathEnergy mac_cost)"
            ) in base.summary["notes"]


def test_tpuv1_softmax_pipelined_to_its_clock(standard_cells):
    """tpuv1 (700 MHz, 45 nm) with standard-cell figures: the I-ViT Shiftmax unit misses the clock
    as it is, and the rule takes the shallowest depth of its pipeline parameter whose Fmax (OpenSTA
    on the mapped netlist of that depth's RTL, derived to the node) meets it; the simulator's
    softmax row op then takes exactly that depth's timing-function cycles per row (no multicycle
    factor), and its energy is those cycles x the depth's energy per cycle."""
    from hw.cost import characterize_asic
    from hw.cost._scaling import node_scaling
    from hw.units.nonlinear import shiftmax_timing

    hw = replace(load_hardware("tpuv1"), fusion=False)  # softmax as its own row op (fused, it is a step)
    assert dict(hw.nonlinear_units)["softmax"] == "ivit_shiftmax"
    e = vector_energies_of(hw, functions=("softmax",))["softmax"]
    d = e.pipeline
    assert d > 0 and e.fmax_by_pipeline[d] >= hw.clock_mhz
    assert all(e.fmax_by_pipeline[p] < hw.clock_mhz for p in range(d))
    # the chosen depth's own RTL on the flow, at the library clock of 700 MHz at 45 nm
    unit = build_unit("ivit_shiftmax", x_bits=hw.nonlinear_x_bits, length=64, x0_int=-20, pipeline=d)
    lib_clock = hw.clock_mhz * node_scaling(source_nm=180, target_nm=45).delay
    rec = characterize_asic(unit, clock_mhz=lib_clock, target_nm=45, name=e.record.name)
    assert rec.provenance["measured"]["rtlil_sha256"] == e.record.provenance["measured"]["rtlil_sha256"]
    assert rec.fmax_mhz >= lib_clock and rec.derived["fmax_mhz"] >= hw.clock_mhz
    assert e.record.pipeline == d
    res = simulate("llama2-7b", INT8, hw, prefill=64, layers=1, mac_cost=datapath_energy_of(hw, INT8))
    base = simulate("llama2-7b", INT8, hw, prefill=64, layers=1)
    sm, sm0 = res.ops[res.ops["function"] == "softmax"], base.ops[base.ops["function"] == "softmax"]
    assert len(sm) == 1
    k = hw.divider_bits_per_cycle
    length = int(sm["tile"].iloc[0].split("x")[1])
    per_row0 = shiftmax_timing(length, divider_bits_per_cycle=k).cycles_per_row
    rounds, rest = divmod(int(sm0["compute_cycles"].iloc[0]), per_row0)
    assert rest == 0 and rounds >= -(-int(sm["M"].iloc[0]) // hw.row_units)
    want = rounds * shiftmax_timing(length, divider_bits_per_cycle=k, pipeline=d).cycles_per_row
    assert int(sm["compute_cycles"].iloc[0]) == want
    assert sm["energy_vector_pj"].iloc[0] == pytest.approx(want * e.pj_per_cycle * hw.row_units * hw.cores, rel=1e-9)
    src = sm["timing_source"].iloc[0]
    assert "multicycle" not in src and f"(ivit_shiftmax, pipeline {d}: the shallowest depth whose Fmax meets" in src


def test_fused_attention_prices_its_softmax_steps(standard_cells):
    """tpuv1 fuses attention (scores, softmax and context as one op on the array and the row
    units): the op's vector energy is its softmax steps' row-unit cycles (every head and causal
    query block, at the depth the clock rule chose) x the unit's energy per cycle, computed here
    from the model's shapes and the unit's timing function; the breakdown's vector part is the sum
    of the rows'."""
    from hw.units.nonlinear import shiftmax_timing
    from mapping import load_model

    hw = load_hardware("tpuv1")
    assert hw.fusion and dict(hw.nonlinear_units)["softmax"] == "ivit_shiftmax"
    tokens = 64
    res = simulate("llama2-7b", INT8, hw, prefill=tokens, layers=1, mac_cost=datapath_energy_of(hw, INT8))
    ops = res.ops
    att = ops[ops["unit"] == "fused"]
    assert len(att) == 1 and not (ops["function"] == "softmax").any()
    r = att.iloc[0]
    model = load_model("llama2-7b")
    group = model.n_heads // model.n_kv_heads
    block = int(r["tile"].split("x")[0]) // group
    assert int(r["count"]) == model.n_kv_heads and int(r["N"]) == tokens and 1 <= block <= tokens
    e = vector_energies_of(hw, functions=("softmax",))["softmax"]
    f = _multicycle(e.fmax_by_pipeline[e.pipeline], hw.clock_mhz)
    k = hw.divider_bits_per_cycle
    cycles = model.n_kv_heads * sum(
        -(-group * min(block, tokens - t0) // hw.row_units)
        * shiftmax_timing(t0 + min(block, tokens - t0), divider_bits_per_cycle=k, pipeline=e.pipeline).cycles_per_row
        for t0 in range(0, tokens, block)) * f
    want = cycles / hw.cores * e.pj_per_cycle * hw.row_units * hw.cores / f
    assert want > 0 and r["energy_vector_pj"] == pytest.approx(want, rel=1e-9)
    assert r["energy_pj"] == pytest.approx(r[["energy_mac_pj", "energy_dram_pj", "energy_sram_pj", "energy_vector_pj",
                                              "energy_gb_pj"]].sum(), rel=1e-12)
    total = float((ops["energy_vector_pj"] * ops["layers"]).sum())
    assert res.summary["energy_breakdown_pj"]["vector"] == pytest.approx(total, rel=1e-9)
    assert not any("softmax" in n and "not counted" in n for n in res.summary["notes"])
