"""Golden arithmetic against independent references: the shared product and MX dot-product
vectors, numpy float16/float32 and ml_dtypes bfloat16 (RNE), and an exact-rational reference
(Python fractions, rounding by searching the sorted table of every value) for RTZ, FMA, GEMM."""
from __future__ import annotations

import bisect
from fractions import Fraction

import ml_dtypes
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hw.errors import FormatError, NumericsError
from hw.formats import parse
from hw.numerics import add, convert, dot, exact_accumulator_width, fma, gemm, mul

RNG = np.random.default_rng(1234)


def _finite_codes(fmt, n, rng=RNG):
    codes = rng.integers(0, fmt.code_count, n).astype(np.int64)
    v = fmt.decode(codes)
    return codes[np.isfinite(v)]


class TableRounder:
    """Reference rounding of exact rationals: nearest neighbours from the sorted value table."""

    def __init__(self, fmt):
        self.fmt = fmt
        codes = fmt.all_codes()
        vals = fmt.decode(codes)
        keep = np.isfinite(vals) & ~((vals == 0) & np.signbit(vals))
        order = np.argsort(vals[keep], kind="stable")
        self.vals = [Fraction(float(v)) for v in vals[keep][order]]
        self.codes = codes[keep][order]

    def __call__(self, v: Fraction, mode: str) -> float:
        i = bisect.bisect_left(self.vals, v)
        if i < len(self.vals) and self.vals[i] == v:
            return float(v)
        if i == 0 or i == len(self.vals):
            return None  # overflow: not exercised here
        lo, hi = self.vals[i - 1], self.vals[i]
        if mode == "rtz":
            return float(lo if v > 0 else hi)
        d_lo, d_hi = v - lo, hi - v
        if d_lo != d_hi:
            return float(lo if d_lo < d_hi else hi)
        even = lambda x: int(self.codes[self.vals.index(x)]) % 2 == 0  # noqa: E731
        return float(lo if even(lo) else hi)


@pytest.mark.parametrize("fa,name", [("float8_e4m3fn", "e4m3fn"), ("float8_e5m2", "e5m2"),
                                     ("float6_e2m3fn", "e2m3fn"), ("float6_e3m2fn", "e3m2fn"),
                                     ("float4_e2m1fn", "e2m1fn")])
def test_exhaustive_products_vectors(vectors, fa: str, name: str) -> None:
    df = pd.read_csv(vectors / "minifloat" / f"mul_{fa}_x_{fa}.csv.gz", dtype=str, keep_default_na=False)
    f = parse(name)
    a = df.a_bits_hex.map(lambda h: int(h, 16)).to_numpy()
    b = df.b_bits_hex.map(lambda h: int(h, 16)).to_numpy()
    expected = df["product"].astype(float).to_numpy()
    # a K = 1 exact GEMM rounded to FP32 reproduces the exact products (they fit FP32)
    vals = np.array([gemm(np.array([[x]]), f, np.array([[y]]), f, "fp32")[0, 0] for x, y in zip(a[::97], b[::97])])
    assert np.array_equal(parse("fp32").decode(vals), expected[::97], equal_nan=True)
    with np.errstate(invalid="ignore"):
        prod = f.decode(a) * f.decode(b)
    assert np.array_equal(prod, expected, equal_nan=True)
    assert np.array_equal(np.signbit(prod[~np.isnan(prod)]), np.signbit(expected[~np.isnan(expected)]))
    s = -2 * int(np.log2(f.min_subnormal))
    scaled = df[f"product_times_2^{s}"].to_numpy()
    finite = np.isfinite(expected)
    assert all(int(q) == int(Fraction(float(p)) * 2 ** s) for q, p in zip(scaled[finite][::13], expected[finite][::13]))


MX_DOT = {"fp8_e4m3": "mxfp8_e4m3", "fp8_e5m2": "mxfp8_e5m2", "fp6_e2m3": "mxfp6_e2m3",
          "fp6_e3m2": "mxfp6_e3m2", "fp4_e2m1": "mxfp4", "int8": "mxint8"}


@pytest.mark.parametrize("vec,name", MX_DOT.items())
def test_mx_block_dot_vectors(vectors, vec: str, name: str) -> None:
    el = pd.read_csv(vectors / "mx" / f"mx_{vec}_even.csv.gz", dtype=str, keep_default_na=False)
    dots = pd.read_csv(vectors / "mx" / f"mx_dot_{vec}_even.csv.gz", dtype=str, keep_default_na=False)
    f = parse(name)
    codes = el.elem_bits_hex.to_numpy().reshape(512, 32)
    scale = el.scale_exp.to_numpy().reshape(512, 32)[:, 0]
    checked = 0
    for row in dots.itertuples():
        a, b = int(row.block_a), int(row.block_b)
        if row.dot_f32_rne_hex in ("nan", "NA") or "NA" in codes[a] or "NA" in codes[b] or scale[a] == "nan" \
                or scale[b] == "nan":
            continue
        ac = np.array([[int(h, 16) for h in codes[a]]])
        bc = np.array([[int(h, 16) for h in codes[b]]]).T
        sa = np.array([[int(scale[a]) + 127]])
        sb = np.array([[int(scale[b]) + 127]])
        out = gemm(ac, f, bc, f, "fp32", a_scales=sa, b_scales=sb)
        assert int(out[0, 0]) == int(row.dot_f32_rne_hex, 16), row
        checked += 1
    assert checked > 200


def test_nan_scale_propagates() -> None:
    f = parse("mxfp8_e4m3")
    ac = np.ones((1, 32), dtype=np.uint8) * 0x38
    out = gemm(ac, f, ac.T, f, "fp32", a_scales=np.array([[0xFF]]), b_scales=np.array([[127]]))
    assert np.isnan(parse("fp32").decode(out)).all()


@pytest.mark.parametrize("name,np_type", [("float16", np.float16), ("float32", np.float32),
                                          ("bfloat16", ml_dtypes.bfloat16)])
def test_add_mul_rne_match_numpy(name: str, np_type) -> None:
    f = parse(name)
    a = _finite_codes(f, 40000)
    b = _finite_codes(f, len(a))
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    av = f.decode(a).astype(np_type)
    bv = f.decode(b).astype(np_type)
    with np.errstate(over="ignore", invalid="ignore"):
        ref_add = (av + bv).astype(np.float64)
        ref_mul = (av * bv).astype(np.float64)
    assert np.array_equal(f.decode(add(a, b, f)), ref_add, equal_nan=True)
    assert np.array_equal(f.decode(mul(a, b, f)), ref_mul, equal_nan=True)
    # signed zeros
    z = f.encode([0.0, -0.0])
    assert np.signbit(f.decode(add(z[1:], z[1:], f)))[0] and not np.signbit(f.decode(add(z[:1], z[1:], f)))[0]


@pytest.mark.parametrize("name", ["float16", "bfloat16", "e4m3fn", "e5m2", "e2m3fn"])
@pytest.mark.parametrize("mode", ["rne", "rtz"])
def test_add_fma_against_exact_rationals(name: str, mode: str) -> None:
    f = parse(name)
    ref = TableRounder(f)
    rng = np.random.default_rng(7)
    a, b, c = (_finite_codes(f, 3000, rng)[:1500] for _ in range(3))
    av, bv, cv = f.decode(a), f.decode(b), f.decode(c)
    got_add = f.decode(add(a, b, f, mode))
    got_fma = f.decode(fma(a, b, c, f, mode))
    checked = 0
    for i in range(len(a)):
        s = Fraction(float(av[i])) + Fraction(float(bv[i]))
        r = ref(s, mode)
        if r is not None and s != 0:
            assert got_add[i] == r, (av[i], bv[i], got_add[i], r)
            checked += 1
        s = Fraction(float(av[i])) * Fraction(float(bv[i])) + Fraction(float(cv[i]))
        r = ref(s, mode)
        if r is not None and s != 0:
            assert got_fma[i] == r, (av[i], bv[i], cv[i], got_fma[i], r)
            checked += 1
    assert checked > 1000


def test_subnormal_rtz_cases() -> None:
    f = parse("fp16")
    tiny = f.min_subnormal
    a = f.encode([tiny * 3, -tiny * 3, 1.0])
    b = f.encode([0.5, 0.5, tiny])
    # 3 * 2**-24 * 0.5 = 1.5 ulp -> rtz 1 ulp, rne 2 ulp
    assert f.decode(mul(a[:2], b[:2], f, "rtz")).tolist() == [tiny, -tiny]
    assert f.decode(mul(a[:2], b[:2], f, "rne")).tolist() == [2 * tiny, -2 * tiny]
    assert f.decode(add(a[2:], b[2:], f, "rtz")).tolist() == [1.0]
    assert f.decode(add(a[2:], b[2:], f, "rne")).tolist() == [1.0]


def test_convert_matches_ml_dtypes() -> None:
    src, dst = parse("bf16"), parse("e4m3fn")
    codes = _finite_codes(src, 5000)
    ours = convert(codes, src, dst)
    ref = src.decode(codes).astype(np.float32).astype(ml_dtypes.float8_e4m3fn).view(np.uint8)
    assert np.array_equal(ours, ref)


def _exact_gemm_reference(av, bv, out):
    ref = TableRounder(out) if out.bits <= 16 else None
    res = np.empty((av.shape[0], bv.shape[1]))
    for i in range(av.shape[0]):
        for j in range(bv.shape[1]):
            s = sum((Fraction(float(x)) * Fraction(float(y)) for x, y in zip(av[i], bv[:, j])), Fraction(0))
            res[i, j] = ref(s, "rne") if ref else _round_f32(s)
    return res


def _round_f32(s: Fraction) -> float:
    """RNE of an exact rational to float32 via neighbours (independent of hw.numerics)."""
    x = np.float32(float(s))  # float(s) is correctly rounded to float64; then fix the tie cases
    lo = x if Fraction(float(x)) <= s else np.nextafter(x, np.float32(-np.inf))
    hi = np.nextafter(lo, np.float32(np.inf))
    d_lo, d_hi = s - Fraction(float(lo)), Fraction(float(hi)) - s
    if d_lo != d_hi:
        return float(lo if d_lo < d_hi else hi)
    return float(lo if (lo.view(np.uint32) % 2 == 0) else hi)


@pytest.mark.parametrize("a_name,b_name,out", [
    ("e4m3fn", "e4m3fn", "fp32"), ("e5m2", "e5m2", "fp32"), ("e4m3fn", "e5m2", "bf16"),
    ("int4", "e4m3fn", "fp32"), ("float16", "float16", "fp16"), ("bf16", "bf16", "fp32"),
    ("nf4", "bf16", "fp32"), ("e2m1fn", "e2m1fn", "e4m3fn"),
])
def test_exact_gemm_against_rationals(a_name: str, b_name: str, out: str) -> None:
    fa, fb, fo = parse(a_name), parse(b_name), parse(out)
    rng = np.random.default_rng(hash((a_name, b_name)) % 2 ** 32)
    m, k, n = 5, 67, 4
    def operand(f, shape):
        if f.bits <= 8:  # uniform over the codes: every binade and the specials' neighbours
            return _finite_codes(f, 4 * shape[0] * shape[1], rng)[: shape[0] * shape[1]].reshape(shape)
        return f.encode(rng.standard_normal(shape) * 2.0 ** rng.integers(-12, 5, shape))

    a, b = operand(fa, (m, k)), operand(fb, (k, n))
    got = fo.decode(gemm(a, fa, b, fb, fo))
    want = _exact_gemm_reference(fa.decode(a), fb.decode(b), fo)
    ok = np.isfinite(want)
    assert ok.sum() >= m * n // 2
    assert np.array_equal(got[ok], want[ok])


def test_cancellation_is_exact() -> None:
    """Huge terms that cancel leave a tiny exact remainder (a float64 BLAS sum loses it)."""
    f = parse("e5m2")
    a = f.encode([[57344.0, -57344.0, 2.0 ** -16, 3 * 2.0 ** -16]])
    b = f.encode([[57344.0], [57344.0], [2.0 ** -16], [1.0]])
    out = parse("fp32").decode(gemm(a, f, b, f, "fp32"))
    assert out[0, 0] == 2.0 ** -32 + 3 * 2.0 ** -16


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["e5m2", "e4m3fn", "int8", "float16", "mxfp4"]), st.integers(1, 70), st.randoms())
def test_exact_gemm_is_order_independent(name: str, k: int, rnd) -> None:
    f = parse(name)
    rng = np.random.default_rng(rnd.randrange(2 ** 32))
    if f.kind == "block":
        x = rng.standard_normal((3, 32)) * 2.0 ** rng.integers(-20, 20, (3, 1))
        y = rng.standard_normal((2, 32))
        sa, a = f.quantize(x)
        sb, bt = f.quantize(y)
        perm = rng.permutation(32)
        c1 = gemm(a, f, bt.T, f, "fp32", a_scales=sa, b_scales=sb.T)
        c2 = gemm(a[:, perm], f, bt.T[perm], f, "fp32", a_scales=sa, b_scales=sb.T)
    else:
        a = _finite_codes(f, 8 * k, rng)[: 2 * k].reshape(2, -1)
        b = _finite_codes(f, 8 * k, rng)[: a.shape[1] * 3].reshape(-1, 3)
        a = a[:, : b.shape[0]]
        perm = rng.permutation(b.shape[0])
        out = "int32" if f.kind == "int" else "fp32"
        c1 = gemm(a, f, b, f, out)
        c2 = gemm(a[:, perm], f, b[perm], f, out)
    assert np.array_equal(c1, c2)


def test_integer_accumulator_wraps_or_saturates() -> None:
    f = parse("int8")
    a = f.encode(np.full((1, 4), 127.0))
    b = f.encode(np.full((4, 1), 127.0))
    # 4 * 127 * 127 = 64516 > int16 max
    assert parse("int16").decode(gemm(a, f, b, f, "int16", overflow="saturate"))[0, 0] == 32767
    assert parse("int16").decode(gemm(a, f, b, f, "int16", overflow="wrap"))[0, 0] == 64516 - 65536
    assert parse("int32").decode(gemm(a, f, b, f, "int32"))[0, 0] == 64516


def test_float_accumulation_orders() -> None:
    """FP16 accumulation: order matters, and each mode matches a plain-numpy float16 loop."""
    f = parse("e4m3fn")
    rng = np.random.default_rng(3)
    a = _finite_codes(f, 400, rng)[:64].reshape(1, 64)
    b = _finite_codes(f, 400, rng)[:64].reshape(64, 1)
    av, bv = f.decode(a)[0].astype(np.float16), f.decode(b)[:, 0].astype(np.float16)
    prods = [np.float16(x) * np.float16(y) for x, y in zip(av, bv)]  # exact: 8-bit significands
    seq = np.float16(0)
    for p in prods:
        seq = np.float16(seq + p)
    fp16 = parse("fp16")
    assert fp16.decode(gemm(a, f, b, f, "fp16", accumulate="fp16"))[0, 0] == float(seq)
    tree_total = np.float16(0)
    for c0 in range(0, 64, 8):
        level = prods[c0:c0 + 8]
        while len(level) > 1:
            level = [np.float16(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
        tree_total = np.float16(tree_total + level[0])
    assert fp16.decode(gemm(a, f, b, f, "fp16", accumulate="fp16", order=("tree", 8)))[0, 0] == float(tree_total)
    chunks = []
    for c0 in range(0, 64, 16):
        s = np.float16(0)
        for p in prods[c0:c0 + 16]:
            s = np.float16(s + p)
        chunks.append(s)
    tot = np.float16(0)
    for s in chunks:
        tot = np.float16(tot + s)
    assert fp16.decode(gemm(a, f, b, f, "fp16", accumulate="fp16", order=("chunked", 16)))[0, 0] == float(tot)


def test_dot_matches_gemm() -> None:
    f = parse("e4m3fn")
    a = _finite_codes(f, 400)[:96].reshape(3, 32)
    b = _finite_codes(f, 400)[:96].reshape(3, 32)
    d = dot(a, f, b, f, "fp32")
    assert np.array_equal(d, np.diag(gemm(a, f, b.T, f, "fp32")))


def test_accumulator_width_formula() -> None:
    e4, e5, i8 = parse("e4m3fn"), parse("e5m2"), parse("int8")
    # literature: minifloat 2**ea + ma + 2**eb + mb + ceil(log2 K) - 1
    assert exact_accumulator_width(e4, e4, 4096) == 2 ** 4 + 3 + 2 ** 4 + 3 + 12 - 1
    # e5m2's top binade is inf/NaN: one binade less on each side than the formula counts
    assert exact_accumulator_width(e5, e5, 4096) == 2 ** 5 + 2 + 2 ** 5 + 2 + 12 - 1 - 2
    # INT: ra + rb + ceil(log2 K) + 1 spends one bit we do not need (-128 * -128 = 2**14)
    assert exact_accumulator_width(i8, i8, 4096) == 8 + 8 + 12 + 1 - 1
    # holds the extreme sum, and one bit less would not
    k = 1000
    top = k * 128 * 128
    w = exact_accumulator_width(i8, i8, k)
    assert -(2 ** (w - 1)) <= top < 2 ** (w - 1) and not top < 2 ** (w - 2)


def test_gemm_errors() -> None:
    f = parse("int8")
    with pytest.raises(NumericsError, match=r"^operands must be M x K and K x N code arrays, not \(2, 3\) and \(2, 3\)$"):
        gemm(np.zeros((2, 3), int), f, np.zeros((2, 3), int), f, "fp32")
    with pytest.raises(NumericsError, match=r"^codes of int8 must be in 0..255, not 300$"):
        gemm(np.array([[300]]), f, np.array([[1]]), f, "fp32")
    with pytest.raises(FormatError, match=r"^an integer out_fmt needs integer operands, not e4m3fn x int8$"):
        gemm(np.array([[1]]), "e4m3fn", np.array([[1]]), f, "int32")
    with pytest.raises(NumericsError, match=r"^scales must be given for the block format mxfp4$"):
        gemm(np.zeros((1, 32), int), "mxfp4", np.zeros((32, 1), int), "mxfp4", "fp32")


def test_wide_range_fp32_operands_fall_back_to_exact_rationals() -> None:
    """Sums spanning ~250 bits (FP32 operands) are still rounded exactly once."""
    f = parse("fp32")
    a = f.encode([[2.0 ** 100, 1.0 + 2.0 ** -23, -(2.0 ** 100), 2.0 ** -120, 3.0]])
    b = f.encode([[2.0 ** 27], [2.0 ** -24], [2.0 ** 27], [2.0 ** -30], [2.0 ** -26]])
    got = f.decode(gemm(a, f, b, f, "fp32"))[0, 0]
    exact = (Fraction(1) + Fraction(1, 2 ** 23)) / 2 ** 24 + Fraction(1, 2 ** 150) + Fraction(3, 2 ** 26)
    assert got == _round_f32(exact)
    assert got != float(np.float32(float(np.float64(2.0 ** -24) + 3 * 2.0 ** -26)))


def test_arithmetic_nan_is_canonical_positive() -> None:
    f = parse("bf16")
    inf, ninf = f.encode([np.inf]), f.encode([-np.inf])
    assert add(inf, ninf, f).tolist() == [f.nan_code]
    a = f.encode([[np.inf, 1.0]])
    b = f.encode([[-1.0], [np.inf]])
    assert gemm(a, f, b, f, "bf16", accumulate="fp32").tolist() == [[f.nan_code]]
