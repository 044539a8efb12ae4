"""The SRAM model (``hw.cost.sram_cost``) against the published points it is built from, and the
per-operation energies the simulator uses (``hw.cost.datapath_energy``)."""
from __future__ import annotations

import pytest

from hw.cost import (BITCELL_UM2, SRAM_READ_64B_PJ, datapath_energy, node_scaling, sram_cost,
                     unit_stimulus)
from hw.errors import UnitConfigError
from hw.units import build_mac


def test_access_energy_fit_reproduces_horowitz_points() -> None:
    for key, kib in (("sram_8kb", 8), ("sram_32kb", 32), ("sram_1mb", 1024)):
        ours = sram_cost(capacity_kib=kib, width_bits=64, node_nm=45).access_pj
        assert ours == pytest.approx(SRAM_READ_64B_PJ[key], rel=0.15), key


def test_area_energy_scale_with_capacity_width_and_node() -> None:
    a = sram_cost(capacity_kib=64, width_bits=128, node_nm=45)
    b = sram_cost(capacity_kib=128, width_bits=128, node_nm=45)
    w = sram_cost(capacity_kib=64, width_bits=256, node_nm=45)
    assert b.area_um2 == pytest.approx(2 * a.area_um2)  # bits x cell area
    assert a.access_pj < b.access_pj < 2 * a.access_pj  # sub-linear in capacity
    assert w.access_pj == pytest.approx(2 * a.access_pj) and w.area_um2 == a.area_um2
    s7 = sram_cost(capacity_kib=64, width_bits=128, node_nm=7)
    assert s7.area_um2 / a.area_um2 == pytest.approx(BITCELL_UM2[7] / BITCELL_UM2[45])
    assert s7.access_pj / a.access_pj == pytest.approx(node_scaling(source_nm=45, target_nm=7).energy)
    assert a.leakage_mw is None and a.sources["leakage"] == "not modelled"


def test_bad_sram_inputs() -> None:
    with pytest.raises(UnitConfigError, match=r"^SRAM node must be one of 180, 90, 65, 45, 32, 14, 7 \(nm; a "
                                              r"published bit-cell area is needed\), not 20$"):
        sram_cost(capacity_kib=64, width_bits=64, node_nm=20)
    with pytest.raises(UnitConfigError, match=r"^SRAM capacity must be a number of KiB in \(0, 1048576\], not 0$"):
        sram_cost(capacity_kib=0, width_bits=64, node_nm=45)


def test_datapath_energy_for_the_simulator(standard_cells, tmp_path) -> None:
    e = datapath_energy(build_mac=lambda p: build_mac(a="int8", b="int8", pipeline=p),
                        stimulus=lambda u: unit_stimulus(u.metadata, cycles=60), clock_mhz=500, node_nm=45,
                        sram={"a": (64, 128)}, cache=tmp_path)
    assert 0 < e.mac_pj and 0 < e.convert_pj
    assert e.sram_pj_per_byte["a"] == pytest.approx(
        sram_cost(capacity_kib=64, width_bits=128, node_nm=45).access_pj / 16)
    assert e.provenance["pe"]["measured"]["library"]["name"] == "osu018"
