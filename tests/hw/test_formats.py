"""Format descriptors: names, derived limits, encode/decode against ml_dtypes and the shared
reference vectors (``../shared/vectors/minifloat`` and ``mx``)."""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hw.errors import FormatError, NumericsError
from hw.formats import (HEADLINE_FORMATS, BlockFormat, FloatFormat, HybridFormat, IntFormat,
                        Quantizer, ScaleFormat, format_table, parse)

ML_FLOATS = ["e4m3fn", "e5m2", "e4m3fnuz", "e5m2fnuz", "e4m3b11fnuz", "e3m4", "e4m3", "e2m3fn",
             "e3m2fn", "e2m1fn", "bfloat16", "float16"]
VEC_FORMATS = {"float8_e4m3fn": "e4m3fn", "float8_e5m2": "e5m2", "float6_e2m3fn": "e2m3fn",
               "float6_e3m2fn": "e3m2fn", "float4_e2m1fn": "e2m1fn"}
ALL_NAMES = [*HEADLINE_FORMATS, *ML_FLOATS, "float32", "e8m0fnu", "nf4", "sf4", "apot4", "dint4_d1",
             "mxint4", "nvfp4", "nvint4", "uint4", "int2", "int16", "int8_x16_e5m0fnu", "e2m1fn_nz-8.0"]


@pytest.mark.parametrize("name", ALL_NAMES)
def test_names_round_trip_and_hash(name: str) -> None:
    f = parse(name)
    assert parse(str(f)) == f
    assert hash(parse(str(f))) == hash(f)
    assert eval(repr(f), {"FloatFormat": FloatFormat, "IntFormat": IntFormat, "ScaleFormat": ScaleFormat,
                          "BlockFormat": BlockFormat, "HybridFormat": HybridFormat}) == f \
        if f.kind != "lookup" else True


@pytest.mark.parametrize("alias,canonical", [("fp8_e4m3", "e4m3fn"), ("fp16", "float16"), ("bf16", "bfloat16"),
                                             ("mxfp4", "mxfp4"), ("int4", "int4"), ("FP32", "float32"),
                                             ("mxfp4_e2m1", "mxfp4"), ("fp4", "e2m1fn")])
def test_aliases(alias: str, canonical: str) -> None:
    assert str(parse(alias)) == canonical


@pytest.mark.parametrize("name", ML_FLOATS)
def test_every_code_matches_ml_dtypes(name: str) -> None:
    f = parse(name)
    dt = f.to_ml_dtypes()
    assert dt is not None
    codes = f.all_codes()
    # sub-byte ml_dtypes formats store one code per byte, right-aligned
    with np.errstate(invalid="ignore"):  # signalling NaN codes
        ref = (codes if f.bits in (8, 16) else codes.astype(np.uint8)).view(dt).astype(np.float64)
    ours = f.decode(codes)
    assert np.array_equal(ours, ref, equal_nan=True)
    assert np.array_equal(np.signbit(ours), np.signbit(ref))
    fi = ml_dtypes.finfo(dt)
    assert (f.max, f.min_normal, f.min_subnormal, f.eps) == (float(fi.max), float(fi.smallest_normal),
                                                            float(fi.smallest_subnormal), float(fi.eps))
    # encode of every decoded finite value gives back the canonical code
    finite = np.isfinite(ours)
    assert np.array_equal(f.decode(f.encode(ours[finite])), ours[finite])


@pytest.mark.parametrize("name", ML_FLOATS)
def test_identities(name: str) -> None:
    f = parse(name)
    assert f.eps == 2.0 ** -f.man_bits
    assert f.max == f.decode([f.max_code])[0]
    assert f.min_normal == 2.0 ** (1 - f.bias)
    assert f.code_count == 2 ** f.bits


@pytest.mark.parametrize("vec,name", [*VEC_FORMATS.items(), ("float8_e8m0fnu", "e8m0fnu")])
def test_decode_vectors(vectors, vec: str, name: str) -> None:
    df = pd.read_csv(vectors / "minifloat" / f"decode_{vec}.csv", dtype=str, keep_default_na=False)
    f = parse(name)
    codes = df.bits_hex.map(lambda h: int(h, 16)).to_numpy()
    ref = df.value.astype(float).to_numpy()
    ours = f.decode(codes)
    assert np.array_equal(ours, ref, equal_nan=True)
    assert np.array_equal(np.signbit(ours[~np.isnan(ref)]), np.signbit(ref[~np.isnan(ref)]))


def test_decode_bfloat16_vectors(vectors) -> None:
    df = pd.read_csv(vectors / "minifloat" / "decode_bfloat16.csv.gz", dtype=str, keep_default_na=False)
    ours = parse("bf16").decode(df.bits_hex.map(lambda h: int(h, 16)).to_numpy())
    assert np.array_equal(ours, df.value.astype(float).to_numpy(), equal_nan=True)


def _f32(hexes: pd.Series) -> np.ndarray:
    return np.array([int(h, 16) for h in hexes], dtype=np.uint32).view(np.float32)


@pytest.mark.parametrize("vec,name", VEC_FORMATS.items())
def test_conversion_vectors(vectors, vec: str, name: str) -> None:
    df = pd.read_csv(vectors / "minifloat" / f"cvt_f32_to_{vec}.csv.gz", dtype=str, keep_default_na=False)
    f = parse(name)
    x = _f32(df.in_f32_hex)
    expected = df.out_bits_hex.map(lambda h: int(h, 16)).to_numpy()
    ours = f.encode(x)
    # NaN -> a format without NaN is undefined (ml_dtypes flips the sign of a zero): excluded
    defined = ~np.isnan(x) | f.has_nan
    assert defined.sum() > 19000
    mismatch = np.flatnonzero((ours != expected) & defined)
    assert mismatch.size == 0, df.iloc[mismatch[:5]]


@pytest.mark.parametrize("name", ["e4m3fn", "e5m2", "e2m1fn", "float16", "bfloat16"])
def test_rtz_and_rna_against_exact_rounding(name: str) -> None:
    """RTZ/RNA built from the exact neighbours of every value (not from the encoder)."""
    f = parse(name)
    vals = np.unique(f.decode(f.all_codes()))
    vals = vals[np.isfinite(vals) & (vals >= 0)]
    lo, hi = vals[:-1], vals[1:]
    mid = (lo + hi) / 2
    quarter = lo + (hi - lo) / 4
    assert np.array_equal(f.decode(f.encode(mid, "rtz")), lo)
    assert np.array_equal(f.decode(f.encode(mid, "rna")), hi)
    assert np.array_equal(f.decode(f.encode(-quarter, "rna")), -lo)
    assert np.array_equal(f.decode(f.encode(quarter + (hi - lo) / 2, "rtz")), lo)


def test_float16_rne_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(20000) * 10.0 ** rng.integers(-9, 6, 20000),
                        [65519.99, 65520.0, 1e6, -1e6, 2.0 ** -25, 2.0 ** -25 * 1.0000001, -0.0]])
    ours = parse("fp16").encode(x)
    with np.errstate(over="ignore"):
        assert np.array_equal(ours, x.astype(np.float16).view(np.uint16))
        assert np.array_equal(parse("fp32").encode(x), x.astype(np.float32).view(np.uint32))


def test_overflow_policies() -> None:
    e4 = parse("e4m3fn")
    assert e4.decode(e4.encode([464.0, 465.0, np.inf]))[0] == 448.0
    assert np.isnan(e4.decode(e4.encode([465.0, np.inf]))).all()
    assert e4.decode(e4.encode([1e9], overflow="saturate"))[0] == 448.0
    e5 = parse("e5m2")
    assert e5.decode(e5.encode([61440.0, 1e9], "rtz")).tolist() == [57344.0, 57344.0]
    assert e5.decode(e5.encode([61440.0])).tolist() == [np.inf]
    fp4 = parse("fp4")
    assert fp4.decode(fp4.encode([100.0, -np.inf])).tolist() == [6.0, -6.0]
    with pytest.raises(NumericsError, match=r"^values encoded to e2m1fn must be within ±6, not 100.0$"):
        fp4.encode([1.0, 100.0], overflow="raise")
    with pytest.raises(NumericsError, match=r"^values encoded to e2m1fn must not be NaN: the format has no NaN$"):
        fp4.encode([np.nan], overflow="raise")
    with pytest.raises(FormatError, match=r"^overflow must not be 'inf' for e4m3fn, which has no infinity$"):
        e4.encode([1.0], overflow="inf")


def test_fnuz_has_no_negative_zero() -> None:
    f = parse("e4m3fnuz")
    assert f.encode([-0.0, -1e-9]).tolist() == [0, 0]
    assert f.encode([np.nan, -np.nan]).tolist() == [0x80, 0x80]


def test_supernormal_variant() -> None:
    f = parse("e2m1fn_nz-8.0")
    assert f.decode([0b1000])[0] == -8.0
    assert f.decode(f.encode([-7.5, -6.9, -100.0, -0.1, 7.5])).tolist() == [-8.0, -6.0, -8.0, 0.0, 6.0]


def test_stochastic_rounding_is_seeded_and_unbiased() -> None:
    f = parse("e2m1fn")
    x = np.full(20000, 2.25)  # between 2 and 3
    a = f.decode(f.encode(x, "stochastic", seed=3))
    assert np.array_equal(a, f.decode(f.encode(x, "stochastic", seed=3)))
    assert set(np.unique(a)) == {2.0, 3.0}
    assert abs(a.mean() - 2.25) < 0.02


@pytest.mark.parametrize("name", ["int4", "uint4", "int8", "int16", "int2", "uint1"])
def test_integers_match_numpy(name: str) -> None:
    f = parse(name)
    codes = f.all_codes()
    vals = f.decode(codes)
    assert vals.min() == f.min and vals.max() == f.max
    assert np.array_equal(f.encode(vals), codes)
    dt = f.to_ml_dtypes()
    assert np.array_equal(np.asarray(vals, dtype=np.int64).astype(dt).astype(np.float64), vals)
    x = np.array([f.max + 3.2, f.min - 7.0, 0.5, 1.5, -2.5])
    assert f.decode(f.encode(x)).tolist() == [f.max, f.min] + [np.clip(v, f.min, f.max) for v in np.rint(x[2:])]


def test_integer_wrap() -> None:
    f = parse("int4")
    assert f.decode(f.encode([8.0, 9.0, -9.0], overflow="wrap")).tolist() == [-8.0, -7.0, 7.0]


def test_lookup_nearest() -> None:
    f = parse("nf4")
    vals = f.decode(f.all_codes())
    assert np.array_equal(f.encode(vals), f.all_codes())
    mid = (vals[3] + vals[4]) / 2
    assert f.encode([mid + 1e-9, mid - 1e-9]).tolist() == [4, 3]
    assert f.encode([5.0, -5.0]).tolist() == [15, 0]
    sf4 = parse("sf4")
    assert sf4.decode([0, 7, 15]).tolist() == [-1.0, 0.0, 1.0]
    assert np.all(np.diff(sf4.values) > 0)


def test_dint_is_integer_grid_with_denormal_subrange() -> None:
    f = parse("dint4")
    vals = np.sort(f.decode(f.all_codes()))
    assert 0.5 in vals and -0.5 in vals and 0.0 in vals
    assert np.array_equal(f.encode(f.decode(f.all_codes())), f.all_codes())


def test_e8m0() -> None:
    f = parse("e8m0fnu")
    assert f.decode([0, 127, 254]).tolist() == [2.0 ** -127, 1.0, 2.0 ** 127]
    assert np.isnan(f.decode([255])[0])
    x = np.array([3.0, 0.75, 1.5, 1.0, 2.0 ** 100])
    assert np.array_equal(f.encode(x), x.astype(ml_dtypes.float8_e8m0fnu).view(np.uint8))


def _mx_frame(vectors, name: str) -> pd.DataFrame:
    return pd.read_csv(vectors / "mx" / f"mx_{name}_even.csv.gz", dtype=str, keep_default_na=False)


MX_VEC = {"fp8_e4m3": "mxfp8_e4m3", "fp8_e5m2": "mxfp8_e5m2", "fp6_e2m3": "mxfp6_e2m3",
          "fp6_e3m2": "mxfp6_e3m2", "fp4_e2m1": "mxfp4", "int8": "mxint8"}


@pytest.mark.parametrize("vec,name", MX_VEC.items())
def test_mx_quantize_matches_exact_reference(vectors, vec: str, name: str) -> None:
    df = _mx_frame(vectors, vec)
    f = parse(name)
    x = _f32(df.x_f32_hex).astype(np.float64).reshape(512, 32)
    scale_codes, elems = f.quantize(x)
    exp_scale = df.exact_scale_exp.to_numpy().reshape(512, 32)[:, 0]
    nan_block = exp_scale == "nan"
    ours_scale = scale_codes[:, 0].astype(np.int64) - 127
    assert np.array_equal(ours_scale[~nan_block], exp_scale[~nan_block].astype(int))
    assert np.all(scale_codes[nan_block, 0] == 0xFF)
    exp_el = df.exact_elem_bits_hex.to_numpy().reshape(512, 32)
    ok = ~nan_block[:, None] & (exp_el != "NA")
    exp_vals = f.element.decode(np.array([int(h, 16) for h in exp_el[ok]]))
    # zeros compare by value (README pitfall 7)
    assert np.array_equal(f.element.decode(elems[ok]), exp_vals)
    # where microxcaling agrees with the exact rule, our dequantised values equal its output
    agree = (df.mx_matches_exact.to_numpy().reshape(512, 32) == "1") & ok
    deq = f.dequantize(scale_codes, elems)
    assert np.array_equal(deq[agree], df.dequant_value.astype(float).to_numpy().reshape(512, 32)[agree])
    assert np.isnan(deq[nan_block]).all()


def test_quantizer_granularities() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 64))
    for q in [Quantizer(parse("int8")), Quantizer(parse("int8"), "channel"),
              Quantizer(parse("int4"), "group", 16), Quantizer(parse("e4m3fn"), "token", None, parse("e8m0fnu")),
              Quantizer(parse("mxfp4"), "block")]:
        s, c = q.quantize(x)
        y = q.dequantize(s, c)
        assert y.shape == x.shape
        rel = np.abs(y - x).max() / np.abs(x).max()
        assert rel < 0.5 * 2 ** -(q.format.bits - 4) + 0.15
    assert Quantizer(parse("int4"), "group", 128, parse("fp16")).bits_per_element == 4.125


def test_quantizer_int_shift_scale() -> None:
    """"INT with shift" scales: the power of two 2**ceil(log2(amax/max)) stored as its exponent."""
    q = Quantizer(parse("int8"), "channel", None, parse("int6"))
    x = np.array([[1.0, -300.0, 2.0], [0.001, 0.002, -0.0005]])
    s, c = q.quantize(x)
    shifts = parse("int6").decode(s)
    assert shifts.tolist() == [2.0, -15.0]  # ceil(log2(300/127)) = 2, ceil(log2(0.002/127)) = -15
    assert np.array_equal(q.dequantize(s, c), np.round(x / 2.0 ** shifts[:, None]) * 2.0 ** shifts[:, None])
    with pytest.raises(FormatError, match=r"^scale_format must be a float, power-of-two scale or signed integer"):
        Quantizer(parse("int8"), "channel", None, parse("uint4"))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([n for n in ALL_NAMES if parse(n).kind not in ("block",)]), st.data())
def test_decode_encode_decode_is_identity(name: str, data) -> None:
    f = parse(name)
    codes = np.array(data.draw(st.lists(st.integers(0, f.code_count - 1), min_size=1, max_size=50)))
    if f.kind == "int" and f.symmetric:
        codes = codes[codes != 1 << (f.bits - 1)]
    v = f.decode(codes)
    assert np.array_equal(f.decode(f.encode(v)), v, equal_nan=True)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["e2m1fn", "e2m3fn", "e3m2fn", "int4", "nf4", "mxfp4"]),
       st.lists(st.floats(allow_nan=False, min_value=-1e38, max_value=1e38), min_size=1, max_size=64))
def test_saturating_formats_never_produce_nan_or_inf(name: str, xs) -> None:
    f = parse(name)
    x = np.array(xs)
    if f.kind == "block":
        s, c = f.quantize(x)
        assert np.all(np.isfinite(f.dequantize(s, c)) | ~np.isfinite(x).all())
    else:
        assert np.isfinite(f.decode(f.encode(x))).all()


@pytest.mark.parametrize("bad,message", [
    ("e9m2", "exp_bits must be an integer in 1..8, not 9"),
    ("e4m24", "man_bits must be an integer in 0..23, not 24"),
    ("int33", "bits must be an integer in 1..32, not 33"),
    ("fp7", "format name must be a known format (e.g. int8, e4m3fn, e5m2, mxfp4, bf16, nf4; see `lowbit formats`), not 'fp7'"),
])
def test_bad_names(bad: str, message: str) -> None:
    with pytest.raises(FormatError, match="^" + __import__("re").escape(message) + "$"):
        parse(bad)


def test_codes_out_of_range() -> None:
    with pytest.raises(NumericsError, match=r"^codes of e2m1fn must be in 0..15, not 16$"):
        parse("e2m1fn").decode([1, 16])


def test_format_table_is_derived() -> None:
    t = format_table()
    row = t.set_index("name").loc["mxfp4"]
    assert row.bits_per_element == 4 + 8 / 32 and row["max"] == 6.0 * 2.0 ** 127
    assert math.isclose(t.set_index("name").loc["e4m3fn", "max"], 448.0)
