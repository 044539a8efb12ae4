"""Hardware TOML and presets: fields parsed once, errors name the bad field."""
from __future__ import annotations

import math
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
    ('[array]\nrows = 0\n', "hardware field array_rows must be a positive integer, not 0"),
    ('[array]\nsize = 4\n', "hardware field array.size must be one of array.rows, array.cols, array.dataflows "
                            "({p}), not unknown"),
    ('[dram]\nlatency_ns = -1.0\n', "hardware field dram_latency_ns must be a finite number >= 0, not -1.0"),
    ('[nonlinear]\nsoftmax = "ibert_int_gelu"\n',
     "hardware field nonlinear.softmax must be one of ['ivit_shiftmax'], not 'ibert_int_gelu'"),
    ('clock = 3\n', "hardware field clock must be one of preset, name, clock_mhz, [array], [sram], [dram], [dma], "
                    "[vector], [nonlinear] ({p}), not unknown"),
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
    assert str(e.value) == ("hardware must be a preset (edge-16x16, default-32x32, hbm-128x128) or a .toml path, "
                            "not 'tpu-v9'")
