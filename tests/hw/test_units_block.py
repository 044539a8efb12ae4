"""MX/MXINT4/BFP block dot unit, dyadic requantizer and quantize unit in Amaranth's simulator,
against the microxcaling block-dot vectors, ``hw.numerics`` and ``hw.nonlinear``."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hw import numerics
from hw.errors import UnitConfigError
from hw.formats import parse
from hw.nonlinear import DyadicRequantizer
from hw.units import MxDotUnit, QuantizeUnit, Requantizer, mxdot_timing, requant_timing, run_stream

MX_FILES = {"fp8_e4m3": "mxfp8_e4m3", "fp8_e5m2": "mxfp8_e5m2", "fp6_e2m3": "mxfp6_e2m3",
            "fp6_e3m2": "mxfp6_e3m2", "fp4_e2m1": "mxfp4", "int8": "mxint8"}


def _same(got, exp, fmt) -> np.ndarray:
    got, exp = np.asarray(got), np.asarray(exp)
    return (got == exp) | (np.isnan(fmt.decode(got)) & np.isnan(fmt.decode(exp)))


def _mx_beats(A, B, SA, SB):
    bs = A.shape[1]
    return [dict(valid=1, a_scale=int(SA[i]), b_scale=int(SB[i]),
                 **{f"a.{j}": int(A[i, j]) for j in range(bs)}, **{f"b.{j}": int(B[i, j]) for j in range(bs)})
            for i in range(A.shape[0])]


def _mx_vector_check(vectors, vec: str, every: int) -> None:
    el = pd.read_csv(vectors / "mx" / f"mx_{vec}_even.csv.gz", dtype=str, keep_default_na=False)
    dots = pd.read_csv(vectors / "mx" / f"mx_dot_{vec}_even.csv.gz", dtype=str, keep_default_na=False)
    blocks = {}
    for blk, g in el.groupby(el.block.astype(int)):
        g = g.sort_values("idx", key=lambda s: s.astype(int))
        if (g.elem_bits_hex == "NA").any():
            continue  # pitfall 4: element code not recoverable
        scale = g.scale_e8m0_hex.iloc[0]
        scale = 0xFF if scale.lower() == "nan" else int(scale, 16)
        # a NaN-scale block (pitfall 5) has no element codes: any code will do
        elems = [0 if h.lower() == "nan" else int(h, 16) for h in g.elem_bits_hex]
        blocks[blk] = (elems, scale)
    rows = [r for r in dots.itertuples() if int(r.block_a) in blocks and int(r.block_b) in blocks]
    assert len(rows) >= 200
    # a subset keeps every block category (NaN scales, extreme ranges) when every > 1
    rows = [r for i, r in enumerate(rows) if i % every == 0 or r.dot_f32_rne_hex.lower() == "nan"
            or abs(float(r.scale_exp_a if r.scale_exp_a != "nan" else 0)) > 100]
    A = np.array([blocks[int(r.block_a)][0] for r in rows])
    B = np.array([blocks[int(r.block_b)][0] for r in rows])
    SA = np.array([blocks[int(r.block_a)][1] for r in rows])
    SB = np.array([blocks[int(r.block_b)][1] for r in rows])
    fmt = MX_FILES[vec]
    unit = MxDotUnit(a_format=fmt, b_format=fmt, out_format="float32")
    got = np.array([x["out"] for x in run_stream(unit, _mx_beats(A, B, SA, SB), ["out"])[0]])
    exp = np.array([int(r.dot_f32_rne_hex, 16) if r.dot_f32_rne_hex.lower() != "nan" else 0x7FC00000
                    for r in rows])
    assert _same(got, exp, parse("float32")).all()


@pytest.mark.parametrize("vec", ["fp8_e4m3", "fp4_e2m1", "int8"])
def test_mxdot_matches_microxcaling_vectors(vectors, vec: str) -> None:
    """An eighth of the block pairs (plus all NaN and extreme-scale ones) of the third-party
    vectors: exact dot products rounded to float32 (every pair of every file under --full)."""
    _mx_vector_check(vectors, vec, 8)


@pytest.mark.slow
@pytest.mark.parametrize("vec", list(MX_FILES))
def test_mxdot_matches_microxcaling_vectors_all(vectors, vec: str) -> None:
    _mx_vector_check(vectors, vec, 1)


@pytest.mark.parametrize("a,b,out", [("mxfp8_e4m3", "mxfp4", "bfloat16"), ("mxfp6_e3m2", "mxfp8_e5m2", "float16"),
                                     ("mxint4", "mxint4", "float32"), ("int8_x16_e5m0fnu", "int8_x16_e5m0fnu", "float32"),
                                     ("mxfp8_e4m3", "mxfp8_e4m3", "e4m3fn"), ("nvfp4", "nvfp4", "float32"),
                                     ("nvint4", "nvfp4", "bfloat16")])
def test_mxdot_matches_golden(a: str, b: str, out: str) -> None:
    unit = MxDotUnit(a_format=a, b_format=b, out_format=out, pipeline=1)
    fa, fb = unit.a_format, unit.b_format
    rng = np.random.default_rng(8)
    n, bs = 40, fa.block_size

    def elems(f):
        c = rng.integers(0, f.element.code_count, (n, bs))
        if getattr(f.element, "symmetric", False):
            c[c == 1 << (f.element.bits - 1)] = 0
        return c

    def scales(f):
        s = f.scale
        c = np.clip(rng.integers(s.bias - 12, s.bias + 12, n), 0, s.nan_code - 1)
        c[:3] = [s.nan_code, 0, s.nan_code - 1]  # NaN scale, smallest (zero for float scales), largest
        if s.kind == "float":
            c[3:8] |= 1 << (s.bits - 1)  # negative float scales
        return c

    A, B, SA, SB = elems(fa), elems(fb), scales(fa), scales(fb)
    got = np.array([x["out"] for x in run_stream(unit, _mx_beats(A, B, SA, SB), ["out"])[0]])
    exp = np.array([numerics.gemm(A[i:i + 1], fa, B[i:i + 1].T, fb, unit.out_format,
                                  a_scales=SA[i:i + 1, None], b_scales=SB[i:i + 1, None])[0, 0] for i in range(n)])
    assert _same(got, exp, unit.out_format).all()
    assert np.isnan(unit.out_format.decode(got[:1])).all()  # a NaN scale propagates


@pytest.mark.parametrize("pipeline", [0, 1])
def test_mxdot_timing(pipeline: int) -> None:
    unit = MxDotUnit(a_format="mxfp4", b_format="mxfp4", pipeline=pipeline)
    n = 6
    z = np.zeros((n, 32), dtype=int)
    _, cycles = run_stream(unit, _mx_beats(z, z, [127] * n, [127] * n), ["out"])
    t = mxdot_timing(pipeline=pipeline)
    assert [c - i for i, c in enumerate(cycles)] == [t.latency] * n
    assert set(np.diff(cycles)) == {t.initiation_interval} and unit.timing == t


def test_mxdot_rejects_non_block_format() -> None:
    with pytest.raises(UnitConfigError) as exc:
        MxDotUnit(a_format="e4m3fn", b_format="mxfp4")
    assert str(exc.value) == ("a_format must be a block format (mxfp8_e4m3, mxfp4, mxint8, mxint4, BFP, nvfp4), "
                              "not e4m3fn")
    with pytest.raises(UnitConfigError, match=r"^block sizes must be equal, not 32 and 4$"):
        MxDotUnit(a_format="mxfp4", b_format="mxint4")


@pytest.mark.parametrize("rounding", ["half_even", "half_up", "floor"])
@pytest.mark.parametrize("pipeline", [0, 1])
def test_requantizer_matches_golden(rounding: str, pipeline: int) -> None:
    unit = Requantizer(in_format="int32", out_format="int8", rounding=rounding, max_shift=40, pipeline=pipeline)
    rng = np.random.default_rng(9)
    n = 400
    # small values with small shifts: many exact ties; large ones: clamping and long shifts
    X = np.concatenate([rng.integers(-600, 600, 300), rng.integers(-2**31, 2**31, 100)])
    M = np.concatenate([rng.integers(0, 9, 300), rng.integers(0, 2**32, 100)])
    E = np.concatenate([rng.integers(0, 6, 300), rng.integers(20, 41, 100)])
    rows, cycles = run_stream(unit, [dict(valid=1, value=int(X[i]), multiplier=int(M[i]), shift=int(E[i]))
                                     for i in range(n)], ["out"])
    got = np.array([r["out"] for r in rows])
    exp = np.array([int(DyadicRequantizer(int(M[i]), int(E[i]), -128, 127, rounding).forward(np.array([int(X[i])]))[0])
                    for i in range(n)])
    assert np.array_equal(got, exp)
    assert cycles[0] == requant_timing(pipeline=pipeline).latency


@pytest.mark.parametrize("src,dst", [("float32", "e4m3fn"), ("float32", "e2m1fn"), ("bfloat16", "int8"),
                                     ("float32", "e5m2"), ("float16", "e3m2fn")])
def test_quantize_unit_matches_convert(src: str, dst: str) -> None:
    unit = QuantizeUnit(src=src, dst=dst)
    s = unit.src
    rng = np.random.default_rng(10)
    # values spread around the destination's range: random sign/exponent/mantissa bits
    codes = rng.integers(0, 1 << s.bits, 800)
    rows, cycles = run_stream(unit, [dict(valid=1, a=int(c)) for c in codes], ["code"])
    got = np.array([r["code"] for r in rows])
    assert _same(got, numerics.convert(codes, s, unit.dst), unit.dst).all()
    assert cycles[0] == unit.timing.latency == 1


def test_requantizer_negative_shifts() -> None:
    unit = Requantizer(in_format="int16", out_format="int16", multiplier_bits=8, min_shift=-8, max_shift=12)
    rng = np.random.default_rng(11)
    n = 200
    X, M, E = rng.integers(-400, 400, n), rng.integers(0, 256, n), rng.integers(-8, 13, n)
    rows, _ = run_stream(unit, [dict(valid=1, value=int(X[i]), multiplier=int(M[i]), shift=int(E[i]))
                                for i in range(n)], ["out"])
    got = np.array([r["out"] for r in rows])
    exp = np.array([int(DyadicRequantizer(int(M[i]), int(E[i]), -(1 << 15), (1 << 15) - 1).forward(np.array([int(X[i])]))[0])
                    for i in range(n)])
    assert np.array_equal(got, exp) and (E < 0).sum() > 50


def test_requantizer_rejects_bad_rounding() -> None:
    with pytest.raises(UnitConfigError, match=r"^rounding must be one of rne \(alias half_even\), half_up, floor, not 'rtz'$"):
        Requantizer(rounding="rtz")


@pytest.mark.parametrize("fmt", ["mxfp8_e4m3", "mxfp4", "nvfp4"])
def test_mxdot_sum_of_negative_zeros_is_negative_zero(fmt: str) -> None:
    """A block dot whose products (elements x scales) are all -0 is -0; one +0 product makes it
    +0 (numpy's float64 products say which, the golden model agrees)."""
    unit = MxDotUnit(a_format=fmt, b_format=fmt, out_format="float32")
    f = unit.a_format
    bs, e, s = f.block_size, f.element, f.scale
    neg0, one = 1 << (e.bits - 1), int(e.encode(np.array([1.0]))[0])
    A = np.full((3, bs), neg0)
    B = np.full((3, bs), one)
    A[1, bs // 2] = 0  # one +0 product
    B[2] = neg0  # -0 x -0 = +0 products
    scale_one = s.bias if s.kind != "float" else int(s.encode(np.array([1.0]))[0])
    SA = SB = np.full(3, scale_one)
    got = [x["out"] for x in run_stream(unit, _mx_beats(A, B, SA, SB), ["out"])[0]]
    va = e.decode(A).astype(np.float64) * s.decode(SA).astype(np.float64)[:, None]
    vb = e.decode(B).astype(np.float64) * s.decode(SB).astype(np.float64)[:, None]
    prods = va * vb
    neg_zero = np.all((prods == 0) & np.signbit(prods), axis=1)
    assert neg_zero.tolist() == [True, False, False]
    assert got == [0x80000000, 0, 0]
    exp = [int(numerics.gemm(A[i:i + 1], f, B[i:i + 1].T, f, "float32", "exact", a_scales=SA[i:i + 1, None],
                             b_scales=SB[i:i + 1, None])[0, 0]) for i in range(3)]
    assert got == exp
