"""Hardware TOML and presets: fields parsed once, errors name the bad field."""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from sim import DEFAULT_PRESET, PRESETS, HardwareConfigError, load_hardware

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_default_and_presets():
    assert load_hardware(None) is PRESETS[DEFAULT_PRESET]
    hw = load_hardware("hbm-128x128")
    assert hw.dram_bytes_per_cycle == 8 * 256.0 * 1e3 / 1000.0
    assert hw.limits().array_rows == 128


def test_example_toml():
    hw = load_hardware(str(EXAMPLES / "hw_edge_16x16.toml"))
    assert (hw.name, hw.array_rows, hw.sram_b_kib, hw.dram_channels) == ("edge-16x16-example", 16, 128, 2)
    assert hw.dram_bytes_per_cycle == 2 * 12.8 * 1e3 / 500.0
    assert hw.nonlinear_unit_map["gelu"] == "ibert_int_gelu"


def test_preset_override_and_unlimited_bandwidth(tmp_path):
    p = tmp_path / "inf.toml"
    p.write_text('preset = "edge-16x16"\n[dram]\ngbps_per_channel = inf\nlatency_ns = 0.0\n')
    hw = load_hardware(str(p))
    assert hw.array_rows == 16 and math.isinf(hw.dram_bytes_per_cycle) and hw.name == "inf"


@pytest.mark.parametrize("text, message", [
    ('[array]\nrows = 0\n', "hardware field array.rows must be an integer in 1..4096, not 0"),
    ('[array]\nrows = 8.0\n', "hardware field array.rows must be an integer in 1..4096, not 8.0"),
    ('[array]\nsize = 4\n', "hardware field array.size must be one of array.rows, array.cols, array.dataflows, "
                            "array.area_mm2, array.double_buffer, array.chain ({p}), not unknown"),
    ('[array]\narea_mm2 = 2.0\nrows = 8\n', "hardware field array.area_mm2 must come without array.rows/cols "
                                            "(it sizes the array) ({p}), not 2.0"),
    ('[array]\ndataflows = ["gemv"]\n', "hardware field array.dataflows must be a non-empty list of 'ws', 'os', "
                                        "'gemv', 'is' with 'ws' or 'os', not ['gemv']"),
    ('[dram]\nlatency_ns = -1.0\n', "hardware field dram.latency_ns must be a number in [0, 1000000] (ns), not -1.0"),
    ('[dram]\nlatency_ns = 1e300\n', "hardware field dram.latency_ns must be a number in [0, 1000000] (ns), "
                                     "not 1e+300"),
    ('clock_mhz = 1e-300\n', "hardware field clock_mhz must be a number in [1, 100000] (MHz), not 1e-300"),
    ('clock_mhz = true\n', "hardware field clock_mhz must be a number in [1, 100000] (MHz), not True"),
    ('[dram]\ngbps_per_channel = 1e9\n', "hardware field dram.gbps_per_channel must be a number in (0, 100000] "
                                         "(GB/s) or inf, not 1000000000.0"),
    ('[dram]\ntechnology = "ddr9"\n', "hardware field dram.technology must be one of lpddr4, hbm2, hbm3, "
                                      "not 'ddr9'"),
    ('[sram]\na_kib = 1e12\n', "hardware field sram.a_kib must be an integer in 1..1048576 (KiB), "
                               "not 1000000000000.0"),
    ('array = 3\n', "hardware field [array] must be a table ({p}), not 3"),
    ('preset = "tpu"\n', "hardware field preset must be one of edge-16x16, default-32x32, hbm-128x128, tpuv1, edge-npu, npu-8core, a100-like ({p}), "
                        "not 'tpu'"),
    ('[nonlinear]\nsoftmax = "ibert_int_gelu"\n',
     "hardware field nonlinear.softmax must be one of ['ibert_int_softmax', 'ivit_shiftmax'], not 'ibert_int_gelu'"),
    ('clock = 3\n', "hardware field clock must be one of preset, name, clock_mhz, cores, [array], [sram], [dram], [dma], "
                    "[schedule], [chips], [global_buffer], [vector], [nonlinear] ({p}), not unknown"),
    ('[global_buffer]\nkib = -1\n', "hardware field global_buffer.kib must be an integer in 0..4194304 (KiB; 0: no "
                                    "global buffer), not -1"),
    ('[global_buffer]\nkib = 1024\n', "hardware field global_buffer.gbps must be a number in (0, 1000000] (GB/s) or "
                                      "inf when global_buffer.kib > 0, not 0.0 (not given)"),
    ('[global_buffer]\nkib = 1024\ngbps = 2e6\n', "hardware field global_buffer.gbps must be a number in (0, 1000000] "
                                                   "(GB/s) or inf when global_buffer.kib > 0, not 2000000.0"),
    ('[global_buffer]\ngbps = 512.0\n', "hardware field global_buffer.gbps must come with global_buffer.kib (the "
                                       "buffer's size; kib = 0 switches the buffer off) ({p}), not 512.0"),
    ('preset = "npu-8core"\n[global_buffer]\ngbps = 0.0\n', "hardware field global_buffer.gbps must come with "
                                                            "global_buffer.kib (the buffer's size; kib = 0 switches "
                                                            "the buffer off) ({p}), not 0.0"),
    ('[global_buffer]\nways = 4\n', "hardware field global_buffer.ways must be one of global_buffer.kib, "
                                    "global_buffer.gbps ({p}), not unknown"),
])
def test_errors_name_the_field(tmp_path, text, message):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(HardwareConfigError) as e:
        load_hardware(str(p))
    assert str(e.value) == message.format(p=p)


def test_unknown_preset():
    with pytest.raises(HardwareConfigError) as e:
        load_hardware("tpu-v9")
    assert str(e.value) == ("hardware must be a preset (edge-16x16, default-32x32, hbm-128x128, tpuv1, edge-npu, npu-8core, a100-like) or a .toml path, "
                            "not 'tpu-v9'")


def test_one_set_of_defaults(tmp_path):
    # a TOML without preset starts from the default preset; HardwareConfig() is that preset
    from sim import HardwareConfig

    p = tmp_path / "plain.toml"
    p.write_text('name = "plain"\n')
    assert load_hardware(str(p)) == replace(PRESETS[DEFAULT_PRESET], name="plain")
    assert HardwareConfig() == PRESETS[DEFAULT_PRESET]
    text = PRESETS[DEFAULT_PRESET].describe()
    assert text.startswith("hardware default-32x32: 32x32 array [ws, os, gemv] at 1000 MHz;")
    assert "16 row units" in text and "4 x 16 GB/s = 64 GB/s lpddr4" in text


def test_direct_construction_is_validated():
    with pytest.raises(HardwareConfigError) as e:
        replace(PRESETS[DEFAULT_PRESET], dma_engines=0)
    assert str(e.value) == "hardware field dma.engines must be an integer in 1..64, not 0"


@pytest.mark.parametrize("area_mm2, pe_um2, side", [(1.0, 1000.0, 31), (1.0, 976.5625, 32), (0.5, 250.0, 44)])
def test_iso_area_sizes_a_square_array(area_mm2, pe_um2, side):
    hw = replace(PRESETS[DEFAULT_PRESET], array_area_mm2=area_mm2).sized_for(pe_um2)
    assert (hw.array_rows, hw.array_cols) == (side, side)
    assert side * side * pe_um2 <= area_mm2 * 1e6 < (side + 1) ** 2 * pe_um2


def test_iso_area_too_small():
    hw = replace(PRESETS[DEFAULT_PRESET], array_area_mm2=1e-4)
    with pytest.raises(HardwareConfigError) as e:
        hw.sized_for(200.0)
    assert str(e.value) == "hardware field array.area_mm2 must hold at least one PE of 200.0 um2, not 0.0001"


@pytest.mark.parametrize("recipe", ["INT8", "W4A8"])
def test_iso_area_example_sizes_the_array_from_the_cost_model(recipe):
    # the array's area: n x n PEs (the array's PE with its partial-sum register) + n column output
    # converters, both characterised by hw.cost (cached); the largest n that fits 1 mm2
    from hw.cost import characterize
    from hw.units import OutputConverter, recipe_mac_formats
    from mapping import parse_recipe
    from sim import simulate
    from sim._design_point import array_pe_unit

    hw = load_hardware(str(EXAMPLES / "hw_iso_area_1mm2.toml"))
    assert (hw.name, hw.array_area_mm2, hw.array_rows) == ("iso-area-1mm2", 1.0, 32)
    res = simulate("bert-base", recipe, hw, prefill=16, layers=1)
    formats = recipe_mac_formats(parse_recipe(recipe))
    pe_um2 = characterize(array_pe_unit(formats)[0], stimulus=None, fpga=()).area_um2
    conv_um2 = characterize((OutputConverter(formats), f"test_cvt_{recipe.lower()}", {}), stimulus=None,
                            fpga=()).area_um2
    n = res.summary["array_rows"]
    assert res.summary["array_cols"] == n
    assert n * n * pe_um2 + n * conv_um2 <= 1e6 < (n + 1) ** 2 * pe_um2 + (n + 1) * conv_um2
    assert res.summary["notes"][0].startswith(f"iso-area: 1.0 mm2 / {pe_um2:.1f} um2 per PE (apr_pe_")
    assert f"+ {conv_um2:.1f} um2 per column converter (cvt_pe_" in res.summary["notes"][0]


def test_kib_zero_switches_a_presets_global_buffer_off(tmp_path):
    p = tmp_path / "off.toml"
    p.write_text('preset = "npu-8core"\n[global_buffer]\nkib = 0\ngbps = 512.0\n')
    hw = load_hardware(str(p))
    assert hw.gb_kib == 0 and hw.gb_bytes_per_cycle == 0.0
    assert replace(hw, gb_gbps=0.0) == replace(PRESETS["npu-8core"], name="off", gb_kib=0, gb_gbps=0.0)
