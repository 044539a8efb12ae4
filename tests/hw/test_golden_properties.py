"""Property tests (hypothesis) of ``encode`` for each format family — integer, float, lookup and
block (MX) — against an exact-rational reference written here from the definitions with
``fractions.Fraction`` (no numpy rounding): every rounding mode ("rne", "rtz", "rna"), on values
drawn at every rounding tie and every overflow threshold and one float64 ulp either side of
them, plus arbitrary values. Stochastic rounding is checked for its law (one of the two RTZ
neighbours, same seed same codes).

The default run keeps each test to a few seconds (``DEFAULT`` settings); the same properties
with many more examples run under ``--full`` (``@pytest.mark.slow``).
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hw.errors import NumericsError
from hw.formats import BlockFormat, FloatFormat, IntFormat, LookupFormat, parse

DEFAULT = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BLOCK_DEFAULT = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
THOROUGH = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BLOCK_THOROUGH = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MODES = ("rne", "rtz", "rna")

FLOATS = ["e4m3fn", "e5m2", "e4m3fnuz", "e5m2fnuz", "e4m3b11fnuz", "e3m4", "e2m3fn", "e3m2fn", "e2m1fn",
          "float16", "bfloat16", "float32", "e5m3", "e3m0fn", "e4m3fnsat"]
INTS = ["int4", "int8", "uint4", "uint8", "int16", "int8_f6_sym", "int4_f2_sym", "int32", "int3_f5"]
LOOKUPS = ["nf4", "sf4", "apot4", "dint4_d1", "dint6_d3"]
BLOCKS = ["mxfp4", "mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e2m3", "mxfp6_e3m2", "mxint8", "mxint4", "int8_x16_e5m0fnu"]


# ---- the exact references -----------------------------------------------------------------
def _floor_log2(a: Fraction) -> int:
    k = a.numerator.bit_length() - a.denominator.bit_length()
    return k if Fraction(2) ** k <= a else k - 1


def _round_int(q: Fraction, mode: str) -> int:
    """q >= 0 rounded to an integer."""
    if mode == "rne":
        return round(q)  # Fraction.__round__: half to even
    if mode == "rtz":
        return math.floor(q)
    return math.floor(q + Fraction(1, 2))


def float_reference(v: Fraction, f: FloatFormat, mode: str) -> Fraction | None:
    """``v`` rounded to the regular grid of ``f`` (unbounded exponent), or None on overflow."""
    if v == 0:
        return Fraction(0)
    a, m = abs(v), f.man_bits
    e = max(_floor_log2(a), f.emin)
    step = Fraction(2) ** (e - m)
    mag = _round_int(a / step, mode) * step
    if mag > Fraction(f.max):
        return None
    return mag if v > 0 else -mag


def int_reference(v: Fraction, f: IntFormat, mode: str) -> int:
    """``v`` rounded to an integer number of steps (unclamped)."""
    q = v * 2 ** f.frac_bits
    r = _round_int(abs(q), mode)
    return r if q >= 0 else -r


def table_reference(v: Fraction, table: list[tuple[Fraction, int]], mode: str) -> Fraction:
    """Nearest table value (clamped at the ends): ties to the even code (two even codes: larger
    magnitude) or away from zero; "rtz" toward zero."""
    vals = [t[0] for t in table]
    if v <= vals[0]:
        return vals[0]
    if v >= vals[-1]:
        return vals[-1]
    lo = max(x for x in vals if x <= v)
    hi = min(x for x in vals if x >= v)
    if lo == hi:
        return lo
    if mode == "rtz":
        return lo if hi > 0 else hi
    if v - lo != hi - v:
        return lo if v - lo < hi - v else hi
    bigger = hi if abs(hi) >= abs(lo) else lo
    if mode == "rna":
        return bigger
    codes = dict(table)
    even_lo, even_hi = codes[lo] % 2 == 0, codes[hi] % 2 == 0
    if even_lo and even_hi:
        return bigger
    return lo if even_lo else hi


# ---- value strategies: ties, thresholds, one float64 ulp either side ------------------------
def _around(x: float, which: int) -> float:
    return x if which == 0 else float(np.nextafter(x, math.inf if which > 0 else -math.inf))


@st.composite
def float_inputs(draw, f: FloatFormat) -> float:
    m = f.man_bits
    top_e = math.frexp(f.max)[1] - 1
    kind = draw(st.sampled_from(["grid", "tie", "threshold", "any"]))
    if kind == "any":
        x = draw(st.floats(min_value=-4 * f.max, max_value=4 * f.max, allow_nan=False, width=64))
    elif kind == "threshold":
        x = f.max + math.ldexp(1.0, top_e - m - 1)  # max + half an ulp of the top binade
    else:
        e = draw(st.integers(f.emin, top_e))
        r = draw(st.integers(0 if e == f.emin else 1 << m, (1 << (m + 1)) - 1))
        x = math.ldexp(r + (0.5 if kind == "tie" else 0.0), e - m)
    x = _around(x, draw(st.sampled_from([-1, 0, 1])))
    return -x if draw(st.booleans()) else x


@st.composite
def int_inputs(draw, f: IntFormat) -> float:
    kind = draw(st.sampled_from(["tie", "threshold", "any"]))
    if kind == "any":
        x = draw(st.floats(min_value=f.min * 2 - 3, max_value=f.max * 2 + 3, allow_nan=False, width=64))
    elif kind == "threshold":
        x = draw(st.sampled_from([f.max + f.scale / 2, f.min - f.scale / 2]))
    else:
        k = draw(st.integers(f.min_int - 1, f.max_int))
        x = (k + 0.5) * f.scale
    return _around(x, draw(st.sampled_from([-1, 0, 1])))


@st.composite
def table_inputs(draw, values: list[float]) -> float:
    sv = sorted(values)
    kind = draw(st.sampled_from(["tie", "value", "any"]))
    if kind == "any":
        x = draw(st.floats(min_value=2 * sv[0] - 1, max_value=2 * sv[-1] + 1, allow_nan=False, width=64))
    elif kind == "value":
        x = draw(st.sampled_from(sv))
    else:
        i = draw(st.integers(0, len(sv) - 2))
        x = float((Fraction(sv[i]) + Fraction(sv[i + 1])) / 2)  # nearest float64 to the tie
    return _around(x, draw(st.sampled_from([-1, 0, 1])))


# ---- float family ---------------------------------------------------------------------------
def _check_float(name: str, xs: list[float], mode: str) -> None:
    f = parse(name)
    x = np.array(xs)
    got = f.decode(f.encode(x, mode))
    sat = f.decode(f.encode(x, mode, overflow="saturate"))
    for xi, g, s in zip(xs, got, sat):
        want = float_reference(Fraction(xi), f, mode)
        if want is None:  # overflow: the format's default policy, or ±max when saturating
            assert s == math.copysign(f.max, xi), (name, mode, xi, s)
            if f.specials == "ieee":
                assert g == (math.copysign(f.max, xi) if mode == "rtz" else math.copysign(math.inf, xi)), (xi, g)
            elif f.specials == "none":
                assert g == math.copysign(f.max, xi), (name, xi, g)
            else:
                assert math.isnan(g), (name, xi, g)
            with pytest.raises(NumericsError, match=rf"^values encoded to {name} must be within "):
                f.encode([xi], mode, overflow="raise")
        else:
            assert g == want and s == want, (name, mode, xi, g, float(want))
            if g == 0:  # the sign of a rounded-to-zero value is the input's, where -0 exists
                assert bool(np.signbit(g)) == (f.has_neg_zero and xi < 0 or xi == 0 and math.copysign(1, xi) < 0
                                               and f.has_neg_zero), (name, xi)
            assert f.decode(f.encode([xi], mode, overflow="raise"))[0] == want


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", FLOATS)
@DEFAULT
@given(data=st.data())
def test_float_encode_matches_exact_rationals(name: str, mode: str, data) -> None:
    xs = data.draw(st.lists(float_inputs(parse(name)), min_size=1, max_size=16))
    _check_float(name, xs, mode)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", FLOATS)
@THOROUGH
@given(data=st.data())
def test_float_encode_matches_exact_rationals_thorough(name: str, mode: str, data) -> None:
    xs = data.draw(st.lists(float_inputs(parse(name)), min_size=1, max_size=64))
    _check_float(name, xs, mode)


# ---- integer family -------------------------------------------------------------------------
def _check_int(name: str, xs: list[float], mode: str) -> None:
    f = parse(name)
    x = np.array(xs)
    got = f.to_int(f.encode(x, mode))
    wrap = f.to_int(f.encode(x, mode, overflow="wrap")) if not f.symmetric else None
    for i, xi in enumerate(xs):
        r = int_reference(Fraction(xi), f, mode)
        assert got[i] == min(max(r, f.min_int), f.max_int), (name, mode, xi, got[i], r)
        if wrap is not None:
            span = 1 << f.bits
            want = (r - f.min_int) % span + f.min_int
            assert wrap[i] == want, (name, mode, xi, wrap[i], want)
        if f.min_int <= r <= f.max_int:
            assert f.to_int(f.encode([xi], mode, overflow="raise"))[0] == r
        else:
            with pytest.raises(NumericsError, match=rf"^values encoded to {name} must be within "):
                f.encode([xi], mode, overflow="raise")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", INTS)
@DEFAULT
@given(data=st.data())
def test_int_encode_matches_exact_rationals(name: str, mode: str, data) -> None:
    xs = data.draw(st.lists(int_inputs(parse(name)), min_size=1, max_size=16))
    _check_int(name, xs, mode)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", INTS)
@THOROUGH
@given(data=st.data())
def test_int_encode_matches_exact_rationals_thorough(name: str, mode: str, data) -> None:
    xs = data.draw(st.lists(int_inputs(parse(name)), min_size=1, max_size=64))
    _check_int(name, xs, mode)


# ---- lookup family --------------------------------------------------------------------------
def _table(f: LookupFormat) -> list[tuple[Fraction, int]]:
    return sorted((Fraction(v), c) for c, v in enumerate(f.values))


def _check_lookup(name: str, xs: list[float], mode: str) -> None:
    f = parse(name)
    table = _table(f)
    got = f.decode(f.encode(np.array(xs), mode))
    for xi, g in zip(xs, got):
        want = table_reference(Fraction(xi), table, mode)
        assert Fraction(float(g)) == want, (name, mode, xi, g, float(want))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", LOOKUPS)
@DEFAULT
@given(data=st.data())
def test_lookup_encode_matches_exact_rationals(name: str, mode: str, data) -> None:
    xs = data.draw(st.lists(table_inputs(list(parse(name).values)), min_size=1, max_size=16))
    _check_lookup(name, xs, mode)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", LOOKUPS)
@THOROUGH
@given(data=st.data())
def test_lookup_encode_matches_exact_rationals_thorough(name: str, mode: str, data) -> None:
    xs = data.draw(st.lists(table_inputs(list(parse(name).values)), min_size=1, max_size=64))
    _check_lookup(name, xs, mode)


# ---- block family (power-of-two shared scale) -----------------------------------------------
def block_reference(block: list[float], f: BlockFormat, mode: str) -> tuple[int | None, list[Fraction]]:
    """(scale exponent or None for a NaN scale, element values) of one block, exactly: the scale
    from the exponent of amax (an all-zero block uses -126), elements rounded and saturated."""
    if not all(math.isfinite(v) for v in block):
        return None, []
    amax = max(abs(Fraction(v)) for v in block)
    el = f.element
    emax_elem = _floor_log2(Fraction(el.max))
    sexp = (_floor_log2(amax) if amax else -126) - emax_elem
    if sexp > f.scale.emax:
        return None, []
    sexp = max(sexp, f.scale.emin)
    out = []
    for v in block:
        q = Fraction(v) / Fraction(2) ** sexp
        if isinstance(el, IntFormat):
            r = int_reference(q, el, mode)
            out.append(Fraction(min(max(r, el.min_int), el.max_int), 2 ** el.frac_bits))
        else:
            r = float_reference(q, el, mode)
            out.append(Fraction(math.copysign(el.max, v)) if r is None else r)
    return sexp, out


@st.composite
def block_inputs(draw, f: BlockFormat) -> list[float]:
    """One block: a pinned amax (so the scale is known) and elements at the element format's ties
    and thresholds (one float64 ulp either side), all times a common power of two."""
    el = f.element
    s = draw(st.integers(-20, 20))
    elem = float_inputs(el) if isinstance(el, FloatFormat) else int_inputs(el)
    vals = draw(st.lists(elem, min_size=f.block_size - 1, max_size=f.block_size - 1))
    pin = draw(st.sampled_from([el.max, 2.0 ** math.floor(math.log2(el.max)), el.max * 1.01]))
    vals = [pin] + [max(min(v, el.max * 1.2), -el.max * 1.2) for v in vals]
    return [math.ldexp(v, s) for v in vals]


def _check_block(name: str, blocks: list[list[float]], mode: str) -> None:
    f = parse(name)
    x = np.array(blocks)
    scodes, codes = f.quantize(x, mode)
    elems = f.element.decode(codes)
    for b, block in enumerate(blocks):
        sexp, want = block_reference(block, f, mode)
        if sexp is None:
            assert scodes[b, 0] == f.scale.nan_code
            continue
        assert int(scodes[b, 0]) - f.scale.bias == sexp, (name, block)
        assert [Fraction(float(v)) for v in elems[b]] == want, (name, mode, block)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", BLOCKS)
@BLOCK_DEFAULT
@given(data=st.data())
def test_block_quantize_matches_exact_rationals(name: str, mode: str, data) -> None:
    f = parse(name)
    blocks = data.draw(st.lists(block_inputs(f), min_size=1, max_size=2))
    _check_block(name, blocks, mode)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", BLOCKS)
@BLOCK_THOROUGH
@given(data=st.data())
def test_block_quantize_matches_exact_rationals_thorough(name: str, mode: str, data) -> None:
    f = parse(name)
    blocks = data.draw(st.lists(block_inputs(f), min_size=1, max_size=8))
    _check_block(name, blocks, mode)


# ---- stochastic rounding: the law, for every family -----------------------------------------
@pytest.mark.parametrize("name", ["e4m3fn", "float16", "int8", "int4_f2_sym", "nf4", "e2m1fn_nz8.0"])
@DEFAULT
@given(xs=st.lists(st.floats(-3.0, 3.0, allow_nan=False, width=64), min_size=1, max_size=32),
       seed=st.integers(0, 2 ** 32 - 1))
def test_stochastic_is_a_neighbour_and_reproducible(name: str, xs: list[float], seed: int) -> None:
    f = parse(name)
    x = np.array(xs)
    got = f.encode(x, "stochastic", seed=seed)
    assert np.array_equal(got, f.encode(x, "stochastic", seed=seed))
    lo = f.decode(f.encode(x, "rtz", overflow="saturate"))
    v = f.decode(got)
    exact = f.decode(f.encode(x, "rne")) == x
    assert np.all(v[exact] == x[exact])
    # the other neighbour: one step away from zero (for values inside the range)
    above = np.abs(v) >= np.abs(lo)
    assert np.all(above)
    assert np.all((v == lo) | (np.abs(v) > np.abs(x)) | exact)
