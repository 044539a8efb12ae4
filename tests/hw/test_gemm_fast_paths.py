"""The exact GEMM's direct-BLAS paths (``hw.numerics._gemm._direct_blas``: one float32 BLAS
product, float32 chunks of K added in float64, one float64 BLAS product) and the float encode
fast paths (``FloatFormat.encode`` by numpy / ml_dtypes casts) give the same codes as the
general paths and as independent references (exact rationals, ml_dtypes)."""
from __future__ import annotations

from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hw.formats import parse
from hw.numerics import gemm
from hw.numerics import _gemm

F32 = parse("float32")


def _rational_f32(av: np.ndarray, bv: np.ndarray) -> np.ndarray:
    """Exact sums as rationals, rounded to float32 by neighbours (RNE), signed zero by the
    all-products-negative-zero rule."""
    out = np.empty((av.shape[0], bv.shape[1]), dtype=np.float32)
    for i in range(av.shape[0]):
        for j in range(bv.shape[1]):
            s = sum((Fraction(float(x)) * Fraction(float(y)) for x, y in zip(av[i], bv[:, j])), Fraction(0))
            x = np.float32(float(s))
            lo = x if Fraction(float(x)) <= s else np.nextafter(x, np.float32(-np.inf))
            hi = np.nextafter(lo, np.float32(np.inf))
            d_lo, d_hi = s - Fraction(float(lo)), Fraction(float(hi)) - s
            r = lo if d_lo < d_hi or (d_lo == d_hi and lo.view(np.uint32) % 2 == 0) else hi
            if s == 0:
                neg = all(np.signbit(x * y) for x, y in zip(av[i], bv[:, j]))
                r = np.float32(-0.0 if neg else 0.0)
            out[i, j] = r
    return out


def _general(a_codes, fa, b_codes, fb, out, a_scales=None, b_scales=None) -> np.ndarray:
    """The slice path (no direct BLAS), as gemm ran before the fast paths."""
    a = _gemm.operand_values(a_codes, fa, a_scales, axis=1)
    b = _gemm.operand_values(b_codes, fb, b_scales, axis=0)
    terms = _gemm.exact_sum_values(a, b)  # quanta unknown: always the slices
    codes = _gemm._round_terms(terms, out, "rne", "default", None)
    return _gemm._signed_zeros(codes, a, b, out)


@pytest.mark.parametrize("case", ["f32_one_chunk", "f32_chunks", "f64_direct", "zeros"])
def test_int8_direct_paths_against_rationals(case: str) -> None:
    f = parse("int8")
    rng = np.random.default_rng(7)
    if case == "f32_one_chunk":  # 127 * 127 * 300 < 2**24: one float32 product
        av = rng.integers(-127, 128, (3, 300)).astype(float)
        bv = rng.integers(-127, 128, (300, 4)).astype(float)
    elif case == "f32_chunks":  # extreme values, K = 2100 > 2**24 / 128**2: three chunks
        av = rng.choice([-128.0, 127.0, -127.0], (3, 2100))
        bv = rng.choice([-128.0, 127.0], (2100, 4))
    elif case == "f64_direct":  # wide quantum ratio through int16: float32 chunks too short
        f = parse("int16")
        av = rng.integers(-32768, 32768, (3, 200)).astype(float)
        bv = rng.integers(-32768, 32768, (200, 4)).astype(float)
    else:  # all-zero rows against negative columns: every product -0
        av = np.zeros((2, 40))
        av[1, :5] = 3.0
        bv = -rng.integers(1, 100, (40, 3)).astype(float)
        bv[:, 2] = 0.0
    a, b = f.encode(av), f.encode(bv)
    got = gemm(a, f, b, f, F32)
    want = _rational_f32(av, bv)
    assert np.array_equal(got, want.view(np.uint32))
    assert np.array_equal(got, _general(a, f, b, f, F32))
    if case == "zeros":
        c = F32.decode(got)  # -0 only where every product is -0 (a zero row, a negative column)
        assert list(np.signbit(c[:, 2])) == [False, False] and np.signbit(c[0, :2]).all() and c[0, 0] == 0


def test_direct_path_taken() -> None:
    """The benchmark's shapes run on the direct paths (float32 for int8 and MXFP4 with per-row
    quanta, float64 for e4m3fn), not on the slices."""
    rng = np.random.default_rng(3)
    a = rng.integers(-127, 128, (4, 384)).astype(float)
    b = rng.integers(-127, 128, (384, 5)).astype(float)
    assert _gemm._direct_blas(a, b, 1.0, 1.0).dtype == np.float32
    e = parse("e4m3fn")
    ea, eb = e.decode(e.encode(rng.standard_normal((4, 384)))), e.decode(e.encode(rng.standard_normal((384, 5))))
    assert _gemm._direct_blas(ea, eb, e.min_subnormal, e.min_subnormal).dtype == np.float64


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["mxfp4", "mxfp6_e3m2", "mxfp8_e4m3", "nvfp4", "mxint8"]),
       st.integers(-40, 40), st.integers(0, 30), st.randoms())
def test_block_formats_per_row_quanta(name: str, base: int, spread: int, rnd) -> None:
    """MX operands with rows and columns scaled far apart (per-line quanta) equal the slice
    path and exact rationals."""
    f = parse(name)
    rng = np.random.default_rng(rnd.randrange(2 ** 32))
    k = 64
    x = rng.standard_normal((3, k)) * 2.0 ** (base + rng.integers(-spread, spread + 1, (3, 1)))
    y = rng.standard_normal((4, k)) * 2.0 ** rng.integers(-spread, spread + 1, (4, 1))
    sa, a = f.quantize(x)
    sb, bt = f.quantize(y)
    got = gemm(a, f, bt.T, f, F32, a_scales=sa, b_scales=sb.T)
    assert np.array_equal(got, _general(a, f, bt.T, f, F32, sa, sb.T))
    av = _gemm.operand_values(a, f, sa, axis=1)
    bv = _gemm.operand_values(bt.T, f, sb.T, axis=0)
    if np.isfinite(av).all() and np.isfinite(bv).all():
        assert np.array_equal(got, _rational_f32(av, bv).view(np.uint32))


@pytest.mark.parametrize("out", ["float32", "bfloat16", "float16", "e4m3fn"])
@pytest.mark.parametrize("name", ["int8", "e4m3fn", "e2m1fn", "int4"])
def test_direct_paths_equal_slices_for_every_output(name: str, out: str) -> None:
    f, fo = parse(name), parse(out)
    rng = np.random.default_rng(11)
    codes = lambda shape: rng.integers(0, f.code_count, shape)  # noqa: E731
    a, b = codes((6, 90)), codes((90, 7))
    ok = lambda c: np.isfinite(f.decode(c))  # noqa: E731
    a, b = np.where(ok(a), a, 0), np.where(ok(b), b, 0)
    assert np.array_equal(gemm(a, f, b, f, fo), _general(a, f, b, f, fo))


# ---- FloatFormat.encode: the cast fast path against the general (grid) path ------------------
CAST_FORMATS = ["float32", "float16", "bfloat16", "e4m3fn", "e5m2", "e3m4", "e2m3fn", "e3m2fn", "e2m1fn"]


def _grid(f, x: np.ndarray, overflow: str) -> np.ndarray:
    """The general path of ``encode`` (finite input)."""
    return f._encode_grid(x, "rne", f._overflow_policy(overflow, "rne"), None).astype(f.encode(x[:1]).dtype)


def _probe_values(f) -> np.ndarray:
    """Every finite value of the format (16-bit formats: every code), the midpoints between
    neighbours, and both sides of each midpoint by one float64 and one float32 ulp; values past
    the largest magnitude and below the smallest subnormal."""
    if f.bits <= 16:
        v = f.decode(f.all_codes())
    else:  # float32: every exponent with a few significands
        e = np.arange(-149, 128)
        v = np.concatenate([np.ldexp(m, e) for m in (1.0, 1.5, 1.9999998807907104)])
        v = np.concatenate([v, -v])
    v = np.unique(v[np.isfinite(v)])
    mids = (v[1:] + v[:-1]) / 2
    parts = [v, mids]
    for m in (mids, v):
        with np.errstate(over="ignore"):  # float32 neighbours past its largest value
            parts += [np.nextafter(m, np.inf), np.nextafter(m, -np.inf),
                      np.nextafter(m.astype(np.float32), np.float32(np.inf)).astype(np.float64),
                      np.nextafter(m.astype(np.float32), np.float32(-np.inf)).astype(np.float64)]
    top, step = f.max, f.max * f.eps / 2
    edge = [top + step / 2, top + step, top + step * 1.5, 2 * top, f.min_subnormal / 2,
            f.min_subnormal / 4, 1e-300, -0.0, 0.0]
    x = np.concatenate(parts + [np.array(edge), -np.array(edge)])
    return x[np.isfinite(x) & (np.abs(x) < 3.4e38)]


@pytest.mark.parametrize("overflow", ["default", "saturate"])
@pytest.mark.parametrize("name", CAST_FORMATS)
def test_encode_cast_equals_grid_on_every_code_and_midpoint(name: str, overflow: str) -> None:
    f = parse(name)
    x = _probe_values(f)
    if overflow == "default" and f.specials != "none":  # overflowing values take the general path
        x = x[np.abs(x) <= f.max]
    assert f._encode_cast(x, x, f._overflow_policy(overflow, "rne")) is not None
    fast = f.encode(x, overflow=overflow)
    assert np.array_equal(fast, _grid(f, x, overflow))
    dt = f.to_ml_dtypes()
    exact32 = x.astype(np.float32).astype(np.float64) == x  # ml_dtypes is one rounding from float32
    clipped = np.clip(x, -f.max, f.max) if overflow == "saturate" else x
    ref = clipped[exact32].astype(np.float32).astype(dt).view(fast.dtype)
    assert np.array_equal(fast[exact32], ref)
    x32 = x[exact32].astype(np.float32)  # float32 input: cast directly
    assert np.array_equal(f.encode(x32, overflow=overflow), fast[exact32])


@pytest.mark.parametrize("name", CAST_FORMATS)
def test_encode_cast_random_and_specials(name: str) -> None:
    f = parse(name)
    rng = np.random.default_rng(5)
    x = rng.standard_normal(20000) * np.ldexp(1.0, rng.integers(f.emin - f.man_bits - 3, f.emax + 1, 20000))
    x = x[np.abs(x) < min(f.max, 3e38)]
    assert np.array_equal(f.encode(x), _grid(f, x, "default"))
    assert np.array_equal(f.encode(x, overflow="saturate"), _grid(f, x, "saturate"))
    # inf, NaN and overflow under a non-saturating policy go through the general path
    y = np.concatenate([x[:5], [np.inf, -np.inf, np.nan, -np.nan]])
    ref = f.encode(y, rounding="rne", overflow="saturate")
    assert np.array_equal(ref[:5], _grid(f, x[:5], "saturate"))
    if f.has_nan:
        assert np.isnan(f.decode(f.encode(y)[-2:])).all()


@pytest.mark.slow
@settings(max_examples=3000, deadline=None)
@given(st.sampled_from(CAST_FORMATS), st.sampled_from(["default", "saturate"]),
       st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=64))
def test_encode_cast_equals_grid_hypothesis(name: str, overflow: str, values: list[float]) -> None:
    f = parse(name)
    x = np.array(values)
    x = x[np.abs(x) < 3.4e38]
    if x.size == 0:
        return
    if overflow == "default" and f.specials != "none":
        x = np.clip(x, -f.max, f.max)
    assert np.array_equal(f.encode(x, overflow=overflow), _grid(f, x, overflow))


def test_float32_decode_view_equals_arithmetic_decode() -> None:
    """float32 decode by a bit view gives the arithmetic decode's float64 bits, NaNs included
    (canonical, with the code's sign): every exponent with edge mantissas, and random codes."""
    exps = np.arange(256, dtype=np.uint64)
    mants = np.array([0, 1, 2, 0x3FFFFF, 0x400000, 0x400001, 0x7FFFFE, 0x7FFFFF], dtype=np.uint64)
    edge = ((exps[:, None] << np.uint64(23)) | mants[None, :]).ravel()
    edge = np.concatenate([edge, edge | np.uint64(1 << 31)]).astype(np.uint32)
    rand = np.random.default_rng(2).integers(0, 2 ** 32, 200_000, dtype=np.uint64).astype(np.uint32)
    for codes in (edge, rand, edge.reshape(64, -1), edge[:1].reshape(())):
        got, want = F32.decode(codes), F32._decode_arith(codes)
        assert got.shape == want.shape and np.array_equal(got.view(np.uint64), want.view(np.uint64))


def test_work_arrays_never_leak_into_results() -> None:
    """``gemm`` decodes 8-bit operands into per-thread work arrays (``_gemm._scratch``): a result
    is not changed by later calls, and GEMMs run concurrently in threads give the codes the same
    calls give one after the other (references: float64 BLAS on the decoded values, exact for
    these small integer-valued sums, and the sequential results)."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(7)
    fmt = parse("e4m3fn")
    cases = []
    for m, k, n in [(5, 40, 3), (9, 17, 6), (5, 40, 3), (30, 64, 8)]:
        a = rng.integers(0, 256, (m, k), dtype=np.uint8)
        b = rng.integers(0, 256, (k, n), dtype=np.uint8)
        a[(a & 0x7F) == 0x7F] = 0  # no NaN codes: the reference is a plain product
        b[(b & 0x7F) == 0x7F] = 0
        cases.append((a, b))
    first = [gemm(a, fmt, b, fmt, F32) for a, b in cases]
    kept = [c.copy() for c in first]
    for (a, b), c in zip(cases, first):
        ref = (fmt.decode(a) @ fmt.decode(b)).astype(np.float32)  # |sums| < 2**24 steps: exact
        nonzero = ref != 0
        assert np.array_equal(c.view(np.float32)[nonzero], ref[nonzero])
    assert all(np.array_equal(c, k) for c, k in zip(first, kept))  # later calls changed nothing
    assert _gemm._scratch_array("a", (_gemm._SCRATCH_MAX + 1,)) is None  # large operands: fresh arrays
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            got = list(pool.map(lambda ab: gemm(ab[0], fmt, ab[1], fmt, F32), cases * 8))
            assert all(np.array_equal(g, k) for g, k in zip(got, kept * 8))
