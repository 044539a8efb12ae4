"""Regression tests for the golden-model bugs of issue 12 §1, each against an independent
reference: ``fractions.Fraction`` arithmetic, Python integers, numpy/ml_dtypes conversions and
IEEE float64 arithmetic (Python floats), the shared IEEE vectors, and Amaranth simulation of the
RTL decoder and adder."""
from __future__ import annotations

import functools
import math
import operator
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from hw.errors import FormatError, NumericsError
from hw.formats import FloatFormat, IntFormat, parse
from hw.numerics import add, convert, dot, fma, gemm, mul, reference_gemm
from hw.units import FloatAdder, OperandDecoder, decode_info
from hw.units._sim import simulate_comb

IEEE = {"float16": np.float16, "float32": np.float32, "bfloat16": ml_dtypes.bfloat16,
        "e5m2": ml_dtypes.float8_e5m2}


def _bits(x: np.ndarray, name: str) -> np.ndarray:
    """Codes of float64 ``x`` cast by numpy / ml_dtypes (RNE, inf kept)."""
    dt = np.dtype(IEEE[name])
    with np.errstate(over="ignore"):
        return x.astype(dt).view(np.uint8 if dt.itemsize == 1 else np.uint16 if dt.itemsize == 2 else np.uint32)


# ---- RTZ keeps exact infinities ------------------------------------------------------------
@pytest.mark.parametrize("name", list(IEEE))
def test_rtz_keeps_infinities(name: str) -> None:
    f = parse(name)
    inf = np.array([np.inf, -np.inf])
    ref = _bits(inf, name)  # numpy/ml_dtypes: the infinity codes
    for mode in ("rne", "rtz", "rna", "stochastic"):
        assert f.encode(inf, mode, seed=0).tolist() == ref.tolist(), mode
        assert f.encode(inf, mode, overflow="raise", seed=0).tolist() == ref.tolist(), mode
    # a *finite* result too large saturates under RTZ (IEEE 754 §7.4): the largest finite value
    big = np.array([f.max * 4, -f.max * 4])
    assert f.decode(f.encode(big, "rtz")).tolist() == [f.max, -f.max]
    # add/mul/fma/convert with an infinite operand in RTZ: infinity, as numpy computes in RNE
    one, pinf, ninf = f.encode([1.0]), ref[:1], ref[1:]
    assert add(pinf, one, f, "rtz").tolist() == ref[:1].tolist()
    assert mul(ninf, one, f, "rtz").tolist() == ref[1:].tolist()
    assert fma(one, one, ninf, f, "rtz").tolist() == ref[1:].tolist()
    assert convert(parse("float32").encode(inf), "float32", f, "rtz").tolist() == ref.tolist()
    # explicit saturation clamps infinities too
    assert f.decode(f.encode(inf, overflow="saturate")).tolist() == [f.max, -f.max]


# ---- integer GEMM wraps exactly ------------------------------------------------------------
def test_int_gemm_wrap_issue_example() -> None:
    i32 = parse("int32")
    a = i32.encode([[2 ** 31 - 1] * 3])
    b = i32.encode([[2 ** 31 - 1]] * 3)
    assert i32.decode(gemm(a, i32, b, i32, i32, overflow="wrap")).tolist() == [[3.0]]
    assert i32.decode(gemm(a, i32, b, i32, i32, overflow="saturate")).tolist() == [[2.0 ** 31 - 1]]


@pytest.mark.parametrize("a_name,b_name,out_name", [("int32", "int32", "int32"), ("int32", "int16", "int8"),
                                                    ("int16", "int16", "int16"), ("uint32", "int32", "int32"),
                                                    ("int32", "int32", "uint16")])
def test_int_gemm_wrap_and_saturate_against_python_ints(a_name: str, b_name: str, out_name: str) -> None:
    fa, fb, fo = parse(a_name), parse(b_name), parse(out_name)
    rng = np.random.default_rng(11)
    for k in (1, 3, 17, 200):
        ai = rng.integers(fa.min_int, fa.max_int, (3, k), endpoint=True)
        bi = rng.integers(fb.min_int, fb.max_int, (k, 4), endpoint=True)
        ai[0] = fa.max_int if k % 2 else fa.min_int  # extreme rows
        a, b = fa.from_int(ai), fb.from_int(bi)
        exact = [[sum(int(x) * int(y) for x, y in zip(ai[i], bi[:, j])) for j in range(4)] for i in range(3)]
        wrap = fo.to_int(gemm(a, fa, b, fb, fo, overflow="wrap"))
        m = 1 << fo.bits
        want = [[(v % m) - (m if fo.signed and v % m >= m // 2 else 0) for v in row] for row in exact]
        assert wrap.tolist() == want, k
        sat = fo.to_int(gemm(a, fa, b, fb, fo))
        assert sat.tolist() == [[min(max(v, fo.min_int), fo.max_int) for v in row] for row in exact], k


# ---- e8m0fnu and infinity ------------------------------------------------------------------
def test_e8m0_encode_matches_ml_dtypes_for_inf_and_overflow() -> None:
    f = parse("e8m0fnu")
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -2.0, 2.0 ** 127, 1.5 * 2.0 ** 127, 2.0 ** 128, 1e300,
                  3.0, 0.75, 1.5, 1.4999, 2.0 ** -127, 2.0 ** -128, 0.75 * 2.0 ** -127, 2.0 ** -126 * 1.5])
    with np.errstate(over="ignore", invalid="ignore"):
        ref = x.astype(ml_dtypes.float8_e8m0fnu).view(np.uint8)
    assert f.encode(x).tolist() == ref.tolist()
    assert f.encode([np.inf]).tolist() == [0xFF]  # never the plausible finite 1.0 (code 127)
    assert f.encode([np.inf, 2.0 ** 130], overflow="saturate").tolist() == [0xFE, 0xFE]
    with pytest.raises(NumericsError, match=r"^values encoded to e8m0fnu must be positive and at most 1\.70141e\+38, not inf$"):
        f.encode([1.0, np.inf], overflow="raise")


# ---- RNA just below a tie ------------------------------------------------------------------
def _rna_fraction(v: Fraction) -> int:
    """Round half away from zero, in exact rational arithmetic."""
    return int(math.copysign(math.floor(abs(v) + Fraction(1, 2)), v))


def test_rna_just_below_a_tie_issue_example() -> None:
    assert parse("int8").encode([0.49999999999999994], "rna").tolist() == [0]
    assert _rna_fraction(Fraction(0.49999999999999994)) == 0


@pytest.mark.parametrize("name", ["int8", "int16", "int8_f6", "uint8"])
def test_rna_rne_rtz_integers_against_fractions(name: str) -> None:
    f = parse(name)
    ks = np.arange(max(f.min_int, -300), min(f.max_int, 300))
    mids = np.ldexp(ks + 0.5, -f.frac_bits)
    x = np.concatenate([mids, np.nextafter(mids, -np.inf), np.nextafter(mids, np.inf)])
    x = x[(x >= f.min) & (x <= f.max)]
    for mode, ref in (("rna", _rna_fraction), ("rne", round), ("rtz", int)):
        want = [ref(Fraction(float(v)) * 2 ** f.frac_bits) for v in x]
        assert f.to_int(f.encode(x, mode)).tolist() == want, mode


@pytest.mark.parametrize("name", ["e4m3fn", "e5m2", "e2m1fn", "float16", "bfloat16", "float32"])
def test_rna_one_float64_ulp_below_every_tie(name: str) -> None:
    f = parse(name)
    vals = f.decode(f.all_codes()) if f.bits <= 16 else np.ldexp(1.0 + np.arange(64) / 64.0, np.arange(-120, 8, 2))
    vals = np.unique(vals[np.isfinite(vals) & (vals >= 0)])
    lo, hi = vals[:-1], vals[1:]
    mid = (lo + hi) / 2  # exact in float64
    below, above = np.nextafter(mid, -np.inf), np.nextafter(mid, np.inf)
    if f.bits > 16:  # only neighbours that are adjacent in float32
        keep = np.nextafter(lo.astype(np.float32), np.float32(np.inf)).astype(np.float64) == hi
        lo, hi, below, above = lo[keep], hi[keep], below[keep], above[keep]
    for mode in ("rna", "rne", "rtz"):
        assert np.array_equal(f.decode(f.encode(below, mode)), lo), mode
        assert np.array_equal(f.decode(f.encode(-below, mode)), -lo), mode
    assert np.array_equal(f.decode(f.encode(above, "rna")), hi)
    assert np.array_equal(f.decode(f.encode(above, "rne")), hi)


def test_rna_reaches_mx_quantize_and_gemm() -> None:
    f = parse("mxint8")  # elements int8 / 64; scale 2**0 for a block with amax in [1, 2)
    x = np.zeros((1, 32))
    x[0, 0] = 1.0
    x[0, 1] = np.nextafter(0.5 / 64, 0.0)  # just below half an element step
    _, codes = f.quantize(x, "rna")
    assert parse("int8_f6_sym").to_int(codes[:, :2]).tolist() == [[64, 0]]
    # an exact GEMM sum 0.25 - 2**-60 rounded to e2m1fn (grid 0, 0.5): just below the tie at 0.25
    f32, e2 = parse("float32"), parse("e2m1fn")
    a = f32.encode([[0.25, -2.0 ** -40]])
    b = f32.encode([[1.0], [2.0 ** -20]])
    exact = Fraction(1, 4) - Fraction(1, 2 ** 60)
    assert _rna_fraction(exact / Fraction(1, 2)) == 0  # in units of e2m1fn's step 0.5
    assert e2.decode(gemm(a, f32, b, f32, e2, rounding="rna")).tolist() == [[0.0]]
    assert e2.decode(reference_gemm(f32.decode(a), f32.decode(b), e2, "rna")).tolist() == [[0.0]]


# ---- stochastic rounding is seeded everywhere ----------------------------------------------
def test_stochastic_entry_points_are_seeded() -> None:
    f = parse("e4m3fn")
    rng = np.random.default_rng(5)
    a = rng.integers(0, 0x7E, 400)
    b = rng.integers(0, 0x7E, 400)
    c = rng.integers(0, 0x7E, 400)
    f32 = parse("float32")
    src = f32.encode(rng.standard_normal(400) * 10)
    A, B = a.reshape(20, 20), b.reshape(20, 20)
    calls = {
        "add": lambda s: add(a, b, f, "stochastic", seed=s),
        "mul": lambda s: mul(a, b, f, "stochastic", seed=s),
        "fma": lambda s: fma(a, b, c, f, "stochastic", seed=s),
        "convert": lambda s: convert(src, f32, f, "stochastic", seed=s),
        "gemm": lambda s: gemm(A, f, B, f, "e5m2", rounding="stochastic", seed=s),
        "gemm_fp32acc": lambda s: gemm(A, f, B, f, "e5m2", "fp32", "stochastic", seed=s),
        "dot": lambda s: dot(A, f, B, f, "e5m2", rounding="stochastic", seed=s),
    }
    for name, call in calls.items():
        first, again, other = call(1), call(1), call(2)
        assert np.array_equal(first, again), name
        assert not np.array_equal(first, other), name
        # a Generator is accepted and gives the same codes as the same-seeded int
        assert np.array_equal(call(np.random.default_rng(1)), first), name
    with pytest.raises(NumericsError, match=r"^seed must be an int, a numpy Generator or None, not 'x'$"):
        add(a, b, f, "stochastic", seed="x")


def test_stochastic_picks_a_neighbour_with_the_exact_probability() -> None:
    """Every result is the RTZ neighbour or the next value up; the up-frequency matches the exact
    fraction (x - lo) / (hi - lo) computed with Fractions."""
    f = parse("e5m2")
    x = np.full(40000, 1.0 + 0.1)  # between 1.0 and 1.25: p(up) = 0.4 (exactly, for the float64 1.1)
    got = f.decode(f.encode(x, "stochastic", seed=123))
    assert set(np.unique(got).tolist()) == {1.0, 1.25}
    p = float((Fraction(1.1) - 1) / Fraction(1, 4))
    assert abs((got == 1.25).mean() - p) < 4 * math.sqrt(p * (1 - p) / x.size)


# ---- NaN payloads: one rule for every mode -------------------------------------------------
def test_nan_payload_rule_is_the_same_in_every_mode() -> None:
    with np.errstate(invalid="ignore"):  # signalling NaNs
        payloads = np.array([0x7FC00000, 0x7FC00001, 0x7FA00000, 0x7F800001, 0xFFC00000, 0xFFBFFFFF],
                            dtype=np.uint32).view(np.float32).astype(np.float64)
    for name in ("float16", "float32", "bfloat16", "e5m2", "e4m3fn", "e4m3fnuz"):
        f = parse(name)
        by_mode = [f.encode(payloads, mode, seed=0).tolist() for mode in ("rne", "rtz", "rna", "stochastic")]
        assert all(m == by_mode[0] for m in by_mode), name
        sign = np.signbit(payloads)
        want = [f.nan_code if f.specials == "fnuz" else f.nan_code | (int(s) << (f.bits - 1)) for s in sign]
        assert by_mode[0] == want, name
    # ml_dtypes canonicalises too (sign kept): the same codes for bfloat16 and e5m2
    for name in ("bfloat16", "e5m2", "e4m3fn"):
        with np.errstate(invalid="ignore"):
            ref = payloads.astype(np.float32).astype(parse(name).to_ml_dtypes())
        ref = ref.view(np.uint16 if parse(name).bits == 16 else np.uint8)
        assert parse(name).encode(payloads).tolist() == ref.tolist(), name


# ---- IEEE M = 0 and the supernormal E2M1 ---------------------------------------------------
def test_ieee_specials_need_a_mantissa_bit() -> None:
    with pytest.raises(FormatError, match=r"^man_bits must be at least 1 for IEEE specials \(NaN needs a "
                                          r"non-zero mantissa\), not 0$"):
        parse("e5m0")
    f = parse("e5m0fnsat")  # the same field layout without specials is fine
    assert f.max == 2.0 ** 16 and not f.has_nan


def _supernormal_reference(v: Fraction, fmt: FloatFormat, mode: str) -> float | None:
    """Exact-rational rounding to the finite values of ``fmt`` (None: overflow), with the
    documented overflow rule: past half the last gap beyond the largest magnitude of each sign."""
    codes = fmt.all_codes()
    vals = fmt.decode(codes)
    table = sorted((Fraction(float(x)), int(c)) for x, c in zip(vals, codes)
                   if np.isfinite(x) and not (x == 0 and np.signbit(x)))
    fr = [t[0] for t in table]
    for side, top, nxt, code in ((1, fr[-1], fr[-2], table[-1][1]), (-1, fr[0], fr[1], table[0][1])):
        d = side * (v - top)
        if d > 0:
            half = abs(top - nxt) / 2
            over = {"rne": d > half or (d == half and code % 2 == 1), "rna": d >= half, "rtz": False}[mode]
            return None if over else float(top)
    lo = max(x for x in fr if x <= v)
    hi = min(x for x in fr if x >= v)
    if lo == hi:
        return float(lo)
    if mode == "rtz":
        return float(lo if v > 0 else hi)
    if v - lo != hi - v:
        return float(lo if v - lo < hi - v else hi)
    if mode == "rna":
        return float(hi if abs(hi) > abs(lo) else lo)
    even = {x: c % 2 == 0 for x, c in table}
    if even[lo] and even[hi]:  # only next to the extra value: the larger magnitude
        return float(hi if abs(hi) > abs(lo) else lo)
    return float(lo if even[lo] else hi)


@pytest.mark.parametrize("name", ["e2m1fn_nz8.0", "e2m1fn_nz-8.0", "e2m1fn_nz7.0", "e3m2fnnan_nz32.0"])
def test_supernormal_limits_encode_and_raise_agree(name: str) -> None:
    f = parse(name)
    vals = f.decode(f.all_codes())
    fin = vals[np.isfinite(vals)]
    assert f.max == fin.max() and f.min == fin.min() and f.decode([f.max_code])[0] == f.max
    # every finite value encodes to itself, also under "raise"
    assert np.array_equal(f.decode(f.encode(fin, overflow="raise")), fin)
    # every midpoint and overflow threshold, and one float64 ulp either side
    u = np.unique(fin)
    points = np.concatenate([(u[:-1] + u[1:]) / 2, [u[-1] + (u[-1] - u[-2]) / 2, u[0] - (u[1] - u[0]) / 2]])
    x = np.concatenate([points, np.nextafter(points, -np.inf), np.nextafter(points, np.inf)])
    for mode in ("rne", "rna", "rtz"):
        want = [_supernormal_reference(Fraction(float(v)), f, mode) for v in x]
        got = f.decode(f.encode(x, mode, overflow="saturate"))
        for v, w, g in zip(x, want, got):
            assert g == (w if w is not None else (f.max if v > 0 else f.min)), (mode, v, w, g)
            if w is None:
                with pytest.raises(NumericsError, match=r"^values encoded to "):
                    f.encode([v], mode, overflow="raise")
            else:
                assert f.decode(f.encode([v], mode, overflow="raise"))[0] == w


def test_supernormal_issue_example() -> None:
    f = parse("e2m1fn_nz8.0")
    assert f.max == 8.0 and f.min == -6.0
    assert f.decode(f.encode([7.5], overflow="raise")).tolist() == [8.0]
    with pytest.raises(NumericsError, match=r"^values encoded to e2m1fn_nz8\.0 must be within -6\.\.8, not 9\.5$"):
        f.encode([9.5], overflow="raise")


@pytest.mark.parametrize("name", ["e2m1fn_nz8.0", "e2m1fn_nz-8.0", "e2m1fn_nz7.0", "e3m2fnnan_nz32.0"])
def test_supernormal_rtl_decoder_every_code(name: str) -> None:
    """The RTL operand decoder in Amaranth simulation against the golden decode, all codes."""
    f = parse(name)
    info = decode_info(f)
    codes = f.all_codes()
    res = simulate_comb(OperandDecoder(f), {"code": codes}, ["out.sign", "out.sig", "out.shift", "out.nan", "out.inf"])
    sign, sig, shift = (np.array(res[k]) for k in ("out.sign", "out.sig", "out.shift"))
    vals = f.decode(codes)
    nan = np.array(res["out.nan"]) == 1
    assert np.array_equal(nan, np.isnan(vals)) and not any(res["out.inf"])
    rebuilt = np.where(sign == 1, -1.0, 1.0) * np.ldexp(sig.astype(float), shift + info.lsb_exp)
    assert np.array_equal(rebuilt[~nan], vals[~nan])
    assert (sig[~nan].astype(object) << shift[~nan].astype(object)).max() == info.max_fixed


def test_supernormal_mac_from_the_cli(tmp_path) -> None:
    from reports.cli import main

    assert main(["verilog", "mac", "--a", "e2m1fn_nz8.0", "--b", "e4m3fn", "-o", str(tmp_path)]) == 0
    assert (tmp_path / "mac_e2m1fn_nz8_0_e4m3fn_exact_float32_l1.v").stat().st_size > 0


def test_supernormal_mac_in_simulation_matches_golden() -> None:
    from hw.units import build_mac
    from hw.units._sim import run_stream

    f, g = parse("e2m1fn_nz8.0"), parse("e2m1fn")
    unit = build_mac(a=f, b=g, acc="exact", out="float32", lanes=4, max_k=4)
    A = np.array(np.meshgrid(f.all_codes(), g.all_codes())).reshape(2, -1)  # every pair of codes
    a, b = A[0].reshape(-1, 4), A[1].reshape(-1, 4)
    beats = [{"valid": 1, "first": 1, "last": 1, **{f"a.{j}": int(a[i, j]) for j in range(4)},
              **{f"b.{j}": int(b[i, j]) for j in range(4)}} for i in range(a.shape[0])]
    got = [r["out"] for r in run_stream(unit.component, beats, ["out"])[0]]
    want = dot(a, f, b, g, "float32")
    assert got == want.tolist()
    # independent check of the golden sums: Fractions of the decoded values
    f32 = parse("float32")
    ref = [float(sum(Fraction(float(x)) * Fraction(float(y)) for x, y in zip(f.decode(ra), g.decode(rb))))
           for ra, rb in zip(a, b)]
    assert f32.decode(want).tolist() == ref


# ---- signed zero of an exact sum -----------------------------------------------------------
def _ieee_sum(products: list[float]) -> float:
    """Python float (IEEE 754 binary64, RNE) sum from the first term."""
    return functools.reduce(operator.add, products)


@pytest.mark.parametrize("accumulate", ["exact", "fp32", "bf16"])
def test_signed_zero_of_an_exact_sum(accumulate: str) -> None:
    f = parse("e2m1fn")
    rng = np.random.default_rng(4)
    vals = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5])
    for k in (1, 2, 3, 8):
        av = rng.choice(vals, (40, k))
        bv = rng.choice(vals, (k, 30))
        a, b = f.encode(av), f.encode(bv)
        out = parse("float32")
        got = out.decode(gemm(a, f, b, f, out, accumulate))
        for i in range(40):
            for j in range(30):
                want = _ieee_sum([float(x) * float(y) for x, y in zip(av[i], bv[:, j])])
                assert got[i, j] == want and bool(np.signbit(got[i, j])) == (math.copysign(1, want) < 0), (k, i, j)
    # dot and fma follow the same rule
    nz, pz, one = f.encode([-0.0]), f.encode([0.0]), f.encode([1.0])
    assert np.signbit(f.decode(dot(np.array([nz, nz]).T, f, np.array([pz, one]).T, f, f)))[0]
    assert not np.signbit(parse("float32").decode(dot(np.array([[nz[0], one[0]]]), f,
                                                      np.array([[pz[0], pz[0]]]), f, "float32")))[0]
    for mode in ("rne", "rtz", "rna"):
        assert np.signbit(f.decode(fma(nz, one, nz, f, mode)))[0]
        assert not np.signbit(f.decode(fma(nz, one, pz, f, mode)))[0]


@pytest.mark.parametrize("name", ["e2m1fn", "e3m2fn", "bfloat16"])
def test_float_adder_signed_zeros_match_ieee(name: str) -> None:
    """FloatAdder (RTL, Amaranth simulation) and golden ``add`` in every mode against Python's
    IEEE binary64 addition on ±0 and ±x pairs: (-0) + (-0) = -0, x + (-x) = +0."""
    f = parse(name)
    if f.bits <= 6:
        c = f.all_codes()
    else:
        c = f.encode([0.0, -0.0, 1.0, -1.0, 3.5, -3.5, f.min_subnormal, -f.min_subnormal, f.max, -f.max])
    a, b = (x.ravel() for x in np.meshgrid(c, c))
    av, bv = f.decode(a), f.decode(b)
    want = np.array([float(x) + float(y) for x, y in zip(av, bv)])
    zero = want == 0
    assert zero.sum() >= len(c)
    rtl = np.array(simulate_comb(FloatAdder(f), {"a": a, "b": b}, ["sum"])["sum"])
    assert np.array_equal(np.signbit(f.decode(rtl))[zero], np.signbit(want[zero]))
    assert np.array_equal(f.decode(rtl)[zero], want[zero])
    for mode in ("rne", "rtz", "rna"):
        got = f.decode(add(a, b, f, mode))
        assert np.array_equal(np.signbit(got[zero]), np.signbit(want[zero])), mode


# ---- API consistency -----------------------------------------------------------------------
def test_convert_accepts_names() -> None:
    x = np.array([1.0, 2.5, -3.25, 1000.0])
    src = parse("float32").encode(x)
    assert np.array_equal(convert(src, "fp32", "e4m3fn"),
                          x.astype(np.float32).astype(ml_dtypes.float8_e4m3fn).view(np.uint8))
    assert np.array_equal(add(src, src, "fp32"), parse("fp32").encode(2 * x))


def test_gemm_into_integer_output_validates_rounding() -> None:
    i8 = parse("int8")
    a = i8.encode([[1.0, 2.0]])
    b = i8.encode([[3.0], [4.0]])
    with pytest.raises(FormatError, match=r"^rounding must be one of rne \(alias half_even\), rtz, rna, stochastic, not 'nearest'$"):
        gemm(a, i8, b, i8, "int32", rounding="nearest")
    assert parse("int32").to_int(gemm(a, i8, b, i8, "int32", rounding="rtz")).tolist() == [[11]]


@pytest.mark.parametrize("bad,kind", [(["1.0"], "<U3"), ([1 + 2j], "complex128"), ([b"x"], "|S1"),
                                      ([None, 1.0], "object")])
def test_string_and_complex_inputs_are_rejected(bad, kind: str) -> None:
    msg = rf"^values must be real numbers \(a bool, integer or float array\), not an array of {__import__('re').escape(kind)}$"
    for fmt in ("e4m3fn", "int8", "nf4", "float16"):
        with pytest.raises(TypeError, match=msg):
            parse(fmt).encode(bad)
    with pytest.raises(TypeError, match=msg):
        parse("mxfp4").quantize(np.array([bad[0]] * 32))
    with pytest.raises(TypeError, match=r"^codes of e4m3fn must be integers, not an array of <U1$"):
        parse("e4m3fn").decode(["1"])


def test_symmetric_all_codes_are_decodable() -> None:
    for name in ("int8_sym", "int4_f2_sym", "int8_f6_sym"):
        f = parse(name)
        codes = f.all_codes()
        assert len(codes) == f.code_count - 1 and (1 << (f.bits - 1)) not in codes.tolist()
        ints = f.to_int(codes)
        assert sorted(ints.tolist()) == list(range(f.min_int, f.max_int + 1))


# ---- one rounding vocabulary, one integer checker, TypeError for wrong kinds (§3) ----------
def test_one_rounding_vocabulary() -> None:
    from amaranth.back import verilog

    from hw.formats import INTEGER_ROUNDINGS, ROUNDING_ALIASES, ROUNDINGS
    from hw.units import AccumulatorRounder, Requantizer

    assert ROUNDINGS == ("rne", "rtz", "rna", "stochastic") and INTEGER_ROUNDINGS == ("half_up", "floor")
    assert ROUNDING_ALIASES == {"half_even": "rne"}
    x = np.array([0.5, 1.5, 2.5, -2.5, 0.49999999999999994])
    for name in ("int8", "e4m3fn", "nf4"):
        f = parse(name)
        assert np.array_equal(f.encode(x, "half_even"), f.encode(x, "rne"))
    i8 = parse("int8")
    assert np.array_equal(gemm(i8.encode([[3.0]]), i8, i8.encode([[1.0]]), i8, "e2m1fn", rounding="half_even"),
                          gemm(i8.encode([[3.0]]), i8, i8.encode([[1.0]]), i8, "e2m1fn", rounding="rne"))
    # the requantizer and the accumulator rounder take the same names: "rne" and its alias build
    # the same hardware
    same = [verilog.convert(Requantizer(rounding=r), name="rq") for r in ("rne", "half_even")]
    assert same[0] == same[1]
    same = [verilog.convert(AccumulatorRounder(width=12, lsb_exp=-2, out_format="int8", rounding=r), name="ar")
            for r in ("rne", "half_even")]
    assert same[0] == same[1]


@pytest.mark.parametrize("call,message", [
    (lambda: parse(8), "format name must be a string, not 8"),
    (lambda: FloatFormat(4.0, 3), "exp_bits must be an integer in 1..8, not 4.0"),
    (lambda: IntFormat(True), "bits must be an integer in 1..32, not True"),
    (lambda: IntFormat(8, signed=1), "signed must be a bool, not 1"),
    (lambda: FloatFormat(2, 1, specials=None), "specials must be one of ieee, fn, fnuz, none, not None"),
    (lambda: FloatFormat(2, 1, specials="none", neg_zero_value="8"), "neg_zero_value must be a finite non-zero number, not '8'"),
    (lambda: __import__("hw.formats", fromlist=["BlockFormat"]).BlockFormat("e2m1fn", 32),
     "element must be a float or integer format, not 'e2m1fn'"),
    (lambda: __import__("hw.formats", fromlist=["Quantizer"]).Quantizer("int8"),
     "format must be a format descriptor, not 'int8'"),
    (lambda: parse("e4m3fn").encode([1.0], 3), "rounding must be a string, one of rne (alias half_even), rtz, rna, "
                                               "stochastic, not 3"),
    (lambda: parse("e4m3fn").encode([1.0], overflow=None), "overflow must be a string, one of default, saturate, inf, "
                                                           "nan, raise, wrap, not None"),
    (lambda: __import__("hw.units", fromlist=["Requantizer"]).Requantizer(multiplier_bits="8"),
     "multiplier_bits must be an integer in 1..32, not '8'"),
    (lambda: __import__("hw.units", fromlist=["AccumulatorRounder"]).AccumulatorRounder(
        width=2.0, lsb_exp=0, out_format="int8"), "width must be an integer >= 2, not 2.0"),
    (lambda: __import__("hw.numerics", fromlist=["exact_accumulator_width"]).exact_accumulator_width(
        "int8", "int8", 4.0), "max_k must be a positive integer, not 4.0"),
])
def test_wrong_kinds_raise_type_errors(call, message: str) -> None:
    with pytest.raises(TypeError, match="^" + __import__("re").escape(message) + "$") as info:
        call()
    assert isinstance(info.value, ValueError)  # also the project's value error: old callers keep working


def test_bad_values_raise_value_errors() -> None:
    from hw.errors import UnitConfigError
    from hw.units import Requantizer

    for call, message in [(lambda: FloatFormat(9, 3), "exp_bits must be an integer in 1..8, not 9"),
                          (lambda: Requantizer(max_shift=97), "max_shift must be an integer in 0..96, not 97"),
                          (lambda: parse("int8").encode([1.0], "nearest"),
                           "rounding must be one of rne (alias half_even), rtz, rna, stochastic, not 'nearest'")]:
        with pytest.raises(ValueError, match="^" + __import__("re").escape(message) + "$") as info:
            call()
        assert not isinstance(info.value, TypeError)
    assert issubclass(UnitConfigError, ValueError)


def test_integer_encode_wrap_is_exact_for_any_finite_value() -> None:
    """``overflow="wrap"`` of values beyond 2**52 (integers in float64) against Python ints."""
    xs = [2.0 ** 52 + 3, -(2.0 ** 60) - 2 ** 9, 2.0 ** 70, 1e300, -(2.0 ** 63), 12345.5, -7.5]
    for name in ("int8", "uint16", "int32", "int4_f2"):
        f = parse(name)
        got = f.to_int(f.encode(xs, overflow="wrap"))
        span = 1 << f.bits
        lo = f.min_int
        want = [(round(Fraction(x) * 2 ** f.frac_bits) - lo) % span + lo for x in xs]
        assert got.tolist() == want, name
    with pytest.raises(NumericsError, match=r"^values wrapped to int8 must be finite, not inf$"):
        parse("int8").encode([np.inf], overflow="wrap")


@pytest.mark.parametrize("name", ["int8_sym", "int4_f2_sym", "int8", "e2m1fn_nz8.0"])
def test_gemm_operand_decoding_against_fractions(name: str) -> None:
    """Every decodable code of small formats through the exact GEMM (its table-lookup decode)
    against Fraction sums; the code a symmetric format excludes is rejected, as decode does."""
    f = parse(name)
    codes = f.all_codes()
    vals = f.decode(codes)
    fin = np.isfinite(vals)
    a = codes[fin].reshape(1, -1)
    b = np.full((a.shape[1], 1), int(f.encode([1.0])[0]))
    b[::2] = f.encode([-1.0])[0]
    got = parse("float32").decode(gemm(a, f, b, f, "float32"))[0, 0]
    want = sum(Fraction(float(x)) * Fraction(float(y)) for x, y in zip(f.decode(a[0]), f.decode(b[:, 0])))
    assert got == float(want)
    if isinstance(f, IntFormat) and f.symmetric:
        with pytest.raises(NumericsError, match=rf"^codes of {name} must not be the excluded code {1 << (f.bits - 1)}$"):
            gemm(np.array([[1 << (f.bits - 1)]]), f, np.array([[0]]), f, "float32")
