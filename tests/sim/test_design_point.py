"""``sim.run_design_point``: one row per recipe with cycles, energy, error and a trace file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim import run_design_point, simulate


def test_bert_layer_design_point(tmp_path):
    df = run_design_point(model="bert-base", recipes=("INT8", "MXFP4"), hw="edge-16x16", prefill=64, tokens=4,
                          out_dir=tmp_path, area=False)
    assert list(df.recipe) == ["INT8", "MXFP4"]
    for row in df.itertuples():
        ref = simulate("bert-base", row.recipe, "edge-16x16", prefill=64, layers=1)
        assert row.cycles == ref.summary["cycles"]
        assert json.loads(Path(row.trace).read_text())["traceEvents"]
        eq, n = map(int, row.gemm_outputs_checked.split("/"))
        assert eq == n > 0
    # MXFP4 moves fewer bytes than INT8 (4.25 vs 8 bits per weight and activation)
    assert df.dram_mb[1] < df.dram_mb[0]
    assert not df.energy_complete.any()  # MAC energy not characterised: memory only, and said so


def test_no_recipes():
    with pytest.raises(ValueError, match=r"^recipes must name at least one recipe, not \(\)$"):
        run_design_point(recipes=())


def test_array_area_is_pes_plus_column_converters():
    # the simulated array's area = rows x cols PEs (the array's build_pe datapath with its
    # partial-sum register) + cols output converters, each characterised by hw.cost on its own
    from amaranth.lib import wiring

    from hw.cost import characterize
    from hw.units import OutputConverter, build_pe, recipe_mac_formats
    from mapping import parse_recipe
    from sim._design_point import array_pe_unit

    formats = recipe_mac_formats(parse_recipe("INT8"))
    bare = characterize(build_pe(formats), stimulus=None, fpga=())
    conv = characterize((OutputConverter(formats), "test_cvt_int8", {}), stimulus=None, fpga=())
    pe_unit, _ = array_pe_unit(formats)
    assert isinstance(pe_unit[0]._pe, wiring.Component) and pe_unit[1] == "apr_" + build_pe(formats).name
    pe = characterize(pe_unit, stimulus=None, fpga=())
    # the PE itself holds no accumulator; the array's PE adds its partial-sum register
    assert bare.flip_flops == 0 < pe.flip_flops and pe.area_um2 > bare.area_um2
    df = run_design_point(model="bert-base", recipes=("INT8",), hw="edge-16x16", prefill=16, tokens=4,
                          mac_energy=False)
    assert df.array_area_um2[0] == pytest.approx(16 * 16 * pe.area_um2 + 16 * conv.area_um2, rel=1e-12)
    # not the old definition (rows x cols whole MAC units, each with its own converter)
    assert df.array_area_um2[0] < 16 * 16 * df.mac_area_um2[0]
    assert "16x16 x apr_pe_int8_int8_exact_float32_l1 + 16 x cvt_pe_int8_int8_exact_float32_l1" in df.notes[0]
