"""Non-ideal DRAM (sim._dram): the engine's port runs at peak x efficiency, memory-bound ops take
bytes / sustained bandwidth, every technology entry names its source."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest

from mapping import VectorOp, parse_recipe
from sim import PRESETS, HardwareConfigError, load_hardware, simulate_op
from sim._dram import DRAM_EFFICIENCY, sustained_fraction

HW = PRESETS["default-32x32"]


def test_every_technology_has_a_fraction_and_a_source():
    for tech, e in DRAM_EFFICIENCY.items():
        assert 0 < e.fraction <= 1 and e.technology == tech
        assert e.source.startswith(("relayed: ", "assumed: "))
    # assumed entries copy a measured one and say which
    assert sustained_fraction("hbm3") == sustained_fraction("hbm2e")
    assert sustained_fraction("lpddr5") == sustained_fraction("lpddr4")


def test_unknown_technology():
    with pytest.raises(HardwareConfigError) as e:
        sustained_fraction("ddr9")
    assert str(e.value) == ("DRAM technology must be one of ddr4, lpddr4, lpddr5, hbm2, hbm2e, hbm3, "
                            "not 'ddr9'")


@pytest.mark.parametrize("eff", [1.0, 0.78, 0.5])
def test_memory_bound_op_takes_bytes_over_sustained_bandwidth(eff):
    hw = replace(HW, dram_channels=1, dram_gbps_per_channel=1.0, dram_efficiency=eff)  # 1 byte/cycle peak
    assert hw.dram_peak_bytes_per_cycle == 1.0 and hw.dram_bytes_per_cycle == eff
    _, run = simulate_op(VectorOp("residual", "add", 256, 512, inputs=2), parse_recipe("FP16"), hw)
    nbytes = run.dram_read_bytes + run.dram_write_bytes
    assert nbytes == 3 * 256 * 512 * 2
    assert run.dram_busy_cycles == pytest.approx(nbytes / eff)  # bytes at peak x efficiency
    assert run.cycles >= nbytes / eff


def test_efficiency_from_toml_and_its_rule(tmp_path):
    p = tmp_path / "hw.toml"
    p.write_text('[dram]\nefficiency = 0.8\n')
    assert load_hardware(str(p)).dram_efficiency == 0.8
    p.write_text('[dram]\nefficiency = 1.5\n')
    with pytest.raises(HardwareConfigError) as e:
        load_hardware(str(p))
    assert str(e.value) == ("hardware field dram.efficiency must be a number in (0, 1] (sustained / peak bandwidth), "
                            "not 1.5")


def test_presets_of_real_machines_use_their_technology_fraction():
    assert PRESETS["tpuv1"].dram_efficiency == sustained_fraction("ddr4")
    assert PRESETS["a100-like"].dram_efficiency == sustained_fraction("hbm2e")
    assert PRESETS["npu-8core"].dram_efficiency == sustained_fraction("hbm2")
    # tpuv1's published 34 GB/s at 700 MHz
    assert PRESETS["tpuv1"].dram_peak_bytes_per_cycle == pytest.approx(34e9 / 700e6)
    assert math.isclose(PRESETS["tpuv1"].peak_macs_per_cycle(), 256 * 256)
