"""Golden models of the integer nonlinear kernels (hw.nonlinear) against the third-party vectors
(README §4), the spec read literally (LayerNorm: no vectors here), numpy float references and
exact rationals."""
from __future__ import annotations

import gzip
import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from hw.errors import NumericsError, UnitConfigError
from hw.nonlinear import (DyadicRequantizer, IViTIntLayerNorm, batch_frexp, consts_from_scale,
                          from_scale, kernel)

VECTOR_KERNELS = ("ibert_int_gelu", "ibert_int_softmax", "ivit_shiftmax", "ivit_shiftgelu")


def load(vectors: Path, name: str) -> tuple[dict[int, dict], list[dict]]:
    path = vectors / "intkernels" / f"{name}.jsonl.gz"
    with gzip.open(path, "rt") as fh:
        recs = [json.loads(line) for line in fh]
    groups = {r["group"]: r for r in recs if r["type"] == "group"}
    rows = [r for r in recs if r["type"] == "row"]
    assert groups and rows
    return groups, rows


@pytest.mark.parametrize("variant", ["reference", "exact"])
@pytest.mark.parametrize("name", VECTOR_KERNELS)
def test_every_vector_row(vectors: Path, name: str, variant: str) -> None:
    groups, rows = load(vectors, name)
    by_group: dict[int, list[dict]] = {}
    for r in rows:
        by_group.setdefault(r["group"], []).append(r)
    checked = 0
    for g, rs in by_group.items():
        k = kernel(name, groups[g]["consts"], variant=variant)
        y = k.forward(np.array([r["x_int"] for r in rs], dtype=np.int64))
        key = "y_int" if variant == "reference" else "y_int_model"
        want = np.array([r.get(key, r["y_int"]) for r in rs], dtype=np.int64)
        assert y.dtype == np.int64
        np.testing.assert_array_equal(y, want, err_msg=f"{name} group {g}")
        checked += len(rs)
    assert checked == len(rows) >= 2040


def test_ibert_softmax_reference_and_exact_differ_only_on_documented_rows(vectors: Path) -> None:
    groups, rows = load(vectors, "ibert_int_softmax")
    differ = 0
    for r in rows:
        c = groups[r["group"]]["consts"]
        ref = kernel("ibert_int_softmax", c).forward(np.array(r["x_int"]))
        ex = kernel("ibert_int_softmax", c, variant="exact").forward(np.array(r["x_int"]))
        if not np.array_equal(ref, ex):
            differ += 1
            assert 256 in ref and ex.max() == 255 and r["model_match"] is False
    assert differ == sum(not r["model_match"] for r in rows) == 227


@pytest.mark.parametrize("name", VECTOR_KERNELS)
def test_from_scale_reproduces_recorded_consts(vectors: Path, name: str) -> None:
    groups, _ = load(vectors, name)
    for g in groups.values():
        got = consts_from_scale(name, g["s_in"], out_bit=g["consts"].get("out_bit"))
        assert got == g["consts"], (name, g["group"])


def test_one_row_input_gives_one_row() -> None:
    k = from_scale("ivit_shiftmax", 0.1)
    assert k.forward([1, 2, 3]).shape == (3,)
    np.testing.assert_array_equal(k.forward([1, 2, 3]), k.forward([[1, 2, 3]])[0])


# ------------------------------------------------------------------ requantizer
def test_batch_frexp_and_requantizer_against_rationals() -> None:
    rng = np.random.default_rng(3)
    for ratio in [1e-3, 0.3333, 0.75, 2.5e-5]:
        M, E = batch_frexp(ratio)
        assert 2 ** 30 <= M <= 2 ** 31
        assert abs(Fraction(M, 2 ** E) - Fraction(ratio)) <= Fraction(1, 2 ** (E + 1))
        for rounding in ("half_even", "half_up", "floor"):
            rq = DyadicRequantizer(M, E, -128, 127, rounding)
            x = rng.integers(-(1 << 20), 1 << 20, size=(4, 50))
            x[0, :3] = [0, (1 << E) // M, -((1 << E) // M)]
            y = rq.forward(x)
            for xi, yi in zip(x.ravel(), y.ravel()):
                v = Fraction(int(xi) * M, 2 ** E)
                if rounding == "floor":
                    r = math.floor(v)
                elif rounding == "half_up":
                    r = math.floor(v + Fraction(1, 2))
                else:
                    r = round(v)  # Fraction.__round__ is half to even
                assert yi == max(-128, min(127, r))


def test_requantizer_half_even_ties() -> None:
    rq = DyadicRequantizer(1, 1, -100, 100, "half_even")
    np.testing.assert_array_equal(rq.forward([[1, 3, 5, -1, -3]]), [[0, 2, 2, 0, -2]])
    rq = DyadicRequantizer(1, 1, -100, 100, "half_up")
    np.testing.assert_array_equal(rq.forward([[1, 3, 5, -1, -3]]), [[1, 2, 3, 0, -1]])


# ------------------------------------------------------------------ LayerNorm (no vectors here)
def spec_ivit_layernorm(row: list[int], bias_int: list[int], exact: bool) -> list[int]:
    """README §4.6 read literally, one Python int at a time."""
    N = len(row)
    mean = round(Fraction(sum(row), N))  # half to even
    y = [v - mean for v in row]
    var = sum(v * v for v in y)
    if exact:
        std = math.isqrt(var)
    else:
        k = 2 ** 16
        for _ in range(10):
            k = (k + var // k) // 2
        std = k
    factor = (2 ** 31 - 1) // std
    return [math.floor(Fraction(v * factor, 2)) + b for v, b in zip(y, bias_int)]


def spec_ibert_layernorm(row: list[int], bias_int: list[int]) -> list[int]:
    """README §4.3 read literally (fresh module: stored shift 0, exact shift choice)."""
    N = len(row)
    mean = round(Fraction(sum(row), N))
    y = [v - mean for v in row]
    total = sum(v * v for v in y)
    shift = 0
    if total >= 2 ** 32:
        while not total <= 2 ** (32 + 2 * shift):
            shift += 1
    var = sum((v // 2 ** shift) ** 2 for v in y)
    std = math.isqrt(var) * 2 ** shift
    factor = 2 ** 31 // std
    return [math.floor(Fraction(v * factor, 2)) + b for v, b in zip(y, bias_int)]


def ln_case(seed: int, N: int, bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 1.5, N).astype(np.float32)
    b = rng.uniform(-0.5, 0.5, N).astype(np.float32)
    x = rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), size=(12, N))
    x[1] = x[1] // 64  # small variance
    x[2, :] = 5
    x[2, 0] = 6  # nearly constant row: var tiny, Newton far from isqrt
    return x, w, b


@pytest.mark.parametrize("N,bits", [(16, 8), (64, 8), (48, 16), (32, 22)])
def test_ivit_layernorm_matches_spec_reading(N: int, bits: int) -> None:
    x, w, b = ln_case(N + bits, N, bits)
    for variant in ("reference", "exact"):
        k = from_scale("ivit_int_layernorm", 0.05, weight=w, bias=b, variant=variant)
        got = k.forward(x)
        want = [spec_ivit_layernorm(list(map(int, r)), list(k.bias_int), variant == "exact") for r in x]
        np.testing.assert_array_equal(got, np.array(want))


def test_ivit_layernorm_newton_does_not_converge_for_small_variance() -> None:
    k_ref = IViTIntLayerNorm((0,) * 4)
    var = np.array([[0], [100], [2 ** 14], [2 ** 40], [2 ** 50]], dtype=object)
    std = k_ref.std_int(var)
    assert std[0, 0] == 64  # constant row: 10 halvings of 2^16
    assert std[1, 0] != math.isqrt(100) and std[3, 0] == math.isqrt(2 ** 40)
    assert std[4, 0] != math.isqrt(2 ** 50)


@pytest.mark.parametrize("N,bits", [(16, 8), (64, 12), (32, 20), (24, 26)])
def test_ibert_layernorm_matches_spec_reading(N: int, bits: int) -> None:
    x, w, b = ln_case(N * bits, N, bits)
    k = from_scale("ibert_int_layernorm", 0.05, weight=w, bias=b, variant="exact")
    want = [spec_ibert_layernorm(list(map(int, r)), list(k.bias_int)) for r in x]
    np.testing.assert_array_equal(k.forward(x), np.array(want))
    # the float shift formula of the reference agrees with the exact choice on these rows
    ref = from_scale("ibert_int_layernorm", 0.05, weight=w, bias=b)
    np.testing.assert_array_equal(ref.forward(x), np.array(want))


@pytest.mark.parametrize("name", ["ibert_int_layernorm", "ivit_int_layernorm"])
def test_layernorm_against_float64_layernorm(name: str) -> None:
    rng = np.random.default_rng(11)
    N = 64
    w = rng.uniform(0.5, 1.5, N).astype(np.float32)
    b = rng.uniform(-0.5, 0.5, N).astype(np.float32)
    x = rng.integers(-128, 128, size=(50, N))
    c = consts_from_scale(name, 0.05, weight=w, bias=b)
    y = kernel(name, c, variant="exact").forward(x) * np.array(c["s_out"])
    xf = x.astype(np.float64)
    ref = (xf - xf.mean(1, keepdims=True)) / xf.std(1, keepdims=True) * w + b
    assert np.max(np.abs(y - ref)) < 0.02


# ------------------------------------------------------------------ bad input
def test_row_length_zero_is_an_error() -> None:
    k = from_scale("ivit_shiftmax", 0.1)
    with pytest.raises(NumericsError, match=r"^ivit_shiftmax row length must be at least 1, not 0$"):
        k.forward(np.zeros((3, 0), dtype=np.int64))


def test_constant_row_layernorm_exact_is_an_error() -> None:
    k = kernel("ivit_int_layernorm", {"bias_int": [1, 2, 3, 4]}, variant="exact")
    x = np.array([[1, 2, 3, 5], [7, 7, 7, 7]])
    with pytest.raises(NumericsError, match=r"^ivit_int_layernorm row variance must be positive, "
                                            r"not 0 \(constant row 1\)$"):
        k.forward(x)
    # the reference's 10 Newton steps give std = 64: the output is just bias_int
    np.testing.assert_array_equal(kernel("ivit_int_layernorm", {"bias_int": [1, 2, 3, 4]}).forward(x)[1],
                                  [1, 2, 3, 4])
    with pytest.raises(NumericsError, match=r"^ibert_int_layernorm row variance must be positive, "
                                            r"not 0 \(constant row 1\)$"):
        kernel("ibert_int_layernorm", {"bias_int": [1, 2, 3, 4]}).forward(x)


@pytest.mark.parametrize("name,consts,message", [
    ("ivit_shiftmax", {"x0_int": 3}, "ivit_shiftmax constant x0_int must be in [-2**20, -1], not 3"),
    ("ivit_shiftgelu", {"x0_int": -6, "out_bit": 40}, "ivit_shiftgelu constant out_bit must be in [1, 31], not 40"),
    ("ibert_int_gelu", {"b_int": 5, "c_int": -1, "shift_int": -1}, "ibert_int_gelu constant b_int must be negative, not 5"),
    ("ibert_int_gelu", {"b_int": -5, "c_int": -1}, "ibert_int_gelu consts must contain 'shift_int', not only ['b_int', 'c_int']"),
    ("ibert_int_softmax", {"x0_int": -7, "b_int": 27, "c_int": 279, "exp_sf": -1.0, "act_sf16": 1.0},
     "ibert_int_softmax constant exp_sf must be a positive finite float, not -1.0"),
    ("ivit_shiftmax", {"x0_int": 2.5}, "ivit_shiftmax constant x0_int must be an integer, not 2.5"),
    ("ivit_int_layernorm", {"bias_int": []}, "ivit_int_layernorm constant bias_int must be a non-empty list of integers, not []"),
    ("softmax", {}, "kernel name must be one of ['dyadic_requant', 'ibert_int_gelu', 'ibert_int_layernorm', "
                    "'ibert_int_softmax', 'int_rmsnorm', 'int_silu', 'ivit_int_layernorm', 'ivit_shiftgelu', "
                    "'ivit_shiftmax'], not 'softmax'"),
    ("ibert_int_gelu", {"b_int": -26, "c_int": -693, "shift_int": -1},  # I-BERT's constants at s_in = 0.1
     "ibert_int_gelu constant c_int must be at most -2**n = -16384 (the erf polynomial must stay resolved "
     "after I-BERT's 2**n shift), not -693"),
    ("int_rmsnorm", {"N": 0}, "int_rmsnorm constant N must be in [1, 2**20], not 0"),
    ("int_silu", {"x0_int": -5, "den_bits": 1}, "int_silu constant den_bits must be in [2, 31], not 1"),
])
def test_constants_out_of_range(name: str, consts: dict, message: str) -> None:
    with pytest.raises(UnitConfigError) as info:
        kernel(name, consts)
    assert str(info.value) == message


def test_bad_variant_and_scale() -> None:
    with pytest.raises(UnitConfigError, match=r"^variant must be one of \('reference', 'exact'\), not 'float'$"):
        kernel("ivit_shiftmax", {"x0_int": -4}, variant="float")
    with pytest.raises(UnitConfigError, match=r"^input scale must be a positive finite float32, not -0.1$"):
        from_scale("ivit_shiftmax", -0.1)


def test_input_out_of_range_and_wrong_length() -> None:
    with pytest.raises(NumericsError, match=r"^ivit_shiftgelu input must be in \[-2\*\*31, 2\*\*31 - 1\], not 2147483648$"):
        from_scale("ivit_shiftgelu", 0.1).forward([[2 ** 31, 0]])
    with pytest.raises(NumericsError, match=r"^ivit_shiftgelu input must be integers, not non-integral floats$"):
        from_scale("ivit_shiftgelu", 0.1).forward([[0.5, 0]])
    with pytest.raises(NumericsError, match=r"^ivit_int_layernorm row length must equal len\(bias_int\) = 2, not 3$"):
        kernel("ivit_int_layernorm", {"bias_int": [0, 0]}).forward([[1, 2, 3]])


def test_variant_differences_locates_documented_rows(vectors: Path) -> None:
    from hw.nonlinear import variant_differences
    groups, rows = load(vectors, "ibert_int_softmax")
    for g, grp in groups.items():
        rs = [r for r in rows if r["group"] == g]
        diff = variant_differences("ibert_int_softmax", grp["consts"], np.array([r["x_int"] for r in rs]))
        np.testing.assert_array_equal(diff, [not r["model_match"] for r in rs])
    # I-ViT LayerNorm: a constant row is accepted by the reference (std 64) and rejected exactly
    x = np.array([[3, 3, 3, 3], [0, 1000, -1000, 500], [0, 0, 0, 1]])
    diff = variant_differences("ivit_int_layernorm", {"bias_int": [0, 0, 0, 0]}, x)
    assert diff[0] and not diff[1]
    # 10 Newton steps from 2^16 leave std far above isqrt(var) for a tiny variance
    assert diff[2]


def test_kernel_is_callable_like_forward() -> None:
    k = from_scale("ibert_int_gelu", 0.01)
    x = np.array([[-300, -1, 0, 1, 300]])
    np.testing.assert_array_equal(k(x), k.forward(x))


# ------------------------------------------------------------------ constants round trip, scale rules
@pytest.mark.parametrize("name,s_in,extra", [
    ("ibert_int_gelu", 0.001, {}), ("ibert_int_softmax", 0.01, {}), ("ivit_shiftmax", 0.05, {"out_bit": 16}),
    ("ivit_shiftgelu", 0.02, {}), ("int_silu", 0.03, {}), ("int_rmsnorm", 0.01, {"length": 8, "eps": 1e-5}),
    ("ibert_int_layernorm", 0.1, {"weight": [1.0, 2.0], "bias": [0.0, 0.5]}),
    ("ivit_int_layernorm", 0.1, {"weight": [1.0, 2.0], "bias": [0.0, 0.5]}),
])
@pytest.mark.parametrize("variant", ["reference", "exact"])
def test_consts_round_trip(name: str, s_in: float, extra: dict, variant: str) -> None:
    k = from_scale(name, s_in, variant=variant, **extra)
    assert kernel(name, k.consts(), variant=variant) == k


def test_requantizer_consts_round_trip() -> None:
    for r in (DyadicRequantizer.from_scale(0.3, 0.01, bits=8), DyadicRequantizer(5, 3, -7, 100, "floor")):
        assert kernel("dyadic_requant", r.consts(), variant=r.variant) == r


def test_ibert_gelu_rejects_scales_its_derivation_does_not_cover() -> None:
    """Above s_in ~ 0.0206, |c_int| < 2**14: after I-BERT's 2**14 shift the erf polynomial is -1, 0
    or 1 and the output error grows with x (max error 290 on outputs of 12.8 at s_in = 0.1)."""
    with pytest.raises(UnitConfigError) as info:
        consts_from_scale("ibert_int_gelu", 0.1)
    assert str(info.value) == ("ibert_int_gelu input scale must give c_int <= -2**14 (I-BERT's erf polynomial "
                               "stays resolved after its 2**14 shift: s_in up to about 0.0206), not 0.1 (c_int = -693)")
    assert consts_from_scale("ibert_int_gelu", 0.0205)["c_int"] <= -(1 << 14)
    with pytest.raises(UnitConfigError):
        consts_from_scale("ibert_int_gelu", 0.0207)


# ------------------------------------------------------------------ RMSNorm and SiLU, from their definitions
def test_rmsnorm_against_exact_integers() -> None:
    rng = np.random.default_rng(11)
    x = rng.integers(-(1 << 15), 1 << 15, size=(20, 33))
    x[0] = 0  # all-zero row: zeros, no error
    x[1] = 0
    x[1, 5] = -(1 << 15)  # one element holds the whole norm: |out| just below 2**30
    k = kernel("int_rmsnorm", {"N": 33, "eps_int": 7})
    y = k.forward(x)
    for row, out in zip(x, y):
        std = max(math.isqrt(sum(int(v) ** 2 for v in row) + 7), 1)
        assert out.tolist() == [(int(v) * (((1 << 31) - 1) // std)) // 2 for v in row]
    assert np.all(y[0] == 0) and abs(int(y[1, 5])) < (1 << 30)
    s_mid = consts_from_scale("int_rmsnorm", 0.01, length=33)["s_mid"]
    ref = x[2:] / np.sqrt(np.mean(x[2:].astype(np.float64) ** 2, axis=1, keepdims=True))
    np.testing.assert_allclose(y[2:] * s_mid, ref, atol=1e-3)


def test_rmsnorm_eps_and_errors() -> None:
    c = consts_from_scale("int_rmsnorm", 0.01, length=64, eps=1e-5)
    assert c["eps_int"] == round(64 * 1e-5 / float(np.float32(0.01)) ** 2) and c["N"] == 64
    assert len(consts_from_scale("int_rmsnorm", 0.01, weight=[1.0, 0.5, 2.0])["s_out"]) == 3
    with pytest.raises(NumericsError, match=r"^int_rmsnorm row length must equal N = 4, not 3$"):
        kernel("int_rmsnorm", {"N": 4}).forward([[1, 2, 3]])
    with pytest.raises(UnitConfigError, match=r"^int_rmsnorm length must equal len\(weight\) = 2, not 3$"):
        consts_from_scale("int_rmsnorm", 0.01, weight=[1.0, 1.0], length=3)
    with pytest.raises(UnitConfigError, match=r"^int_rmsnorm needs length \(or weight\) with 1 to 2\*\*20 channels, not None$"):
        consts_from_scale("int_rmsnorm", 0.01)


def _silu_by_definition(k, v: int) -> int:
    """SiLU of one integer from IntSiLU's docstring, with the exp from README §4.4 literally."""
    a = -abs(v)
    t = a + (a >> 1) - (a >> 4)
    t = max(t, k.n * k.x0_int)
    q, r = t // k.x0_int, t - k.x0_int * (t // k.x0_int)
    base, sh = r - 2 * k.x0_int, k.n - 1 - q
    e = base << sh if sh >= 0 else base >> -sh
    e0 = -k.x0_int << k.n
    num = e0 if v > 0 else e
    d = max(0, e0.bit_length() - k.den_bits)
    return v * (((num >> d) << (k.out_bit - 1)) // ((e + e0) >> d))


@pytest.mark.parametrize("s_in,x_bits", [(0.1, 8), (0.01, 16), (0.5, 8), (3e-4, 20)])
def test_silu_against_its_definition(s_in: float, x_bits: int) -> None:
    k = from_scale("int_silu", s_in)
    rng = np.random.default_rng(x_bits)
    x = rng.integers(-(1 << (x_bits - 1)), 1 << (x_bits - 1), size=200)
    x[:3] = [0, 1, -1]
    y = k.forward(x)
    assert y.tolist() == [_silu_by_definition(k, int(v)) for v in x]
    sig = k.sigmoid(x)
    assert sig[0] == 1 << (k.out_bit - 2) and sig.min() >= 0 and sig.max() <= 1 << (k.out_bit - 1)
    # sigmoid(x) + sigmoid(-x) = 1 up to the two floors of the integer division
    assert np.all(np.abs(k.sigmoid(x) + k.sigmoid(-x) - (1 << (k.out_bit - 1))) <= 2)


def test_swiglu_is_silu_times_up() -> None:
    k = from_scale("int_silu", 0.05)
    rng = np.random.default_rng(4)
    g = rng.integers(-128, 128, size=(3, 40))
    u = rng.integers(-128, 128, size=(3, 40))
    np.testing.assert_array_equal(k.swiglu(g, u), k.forward(g) * u)
    np.testing.assert_array_equal(k.forward(np.stack([g, u], axis=-1)), k.swiglu(g, u))  # pairs, rows x L x 2
    with pytest.raises(NumericsError, match=r"^int_silu up must have the shape of gate \(3, 40\), not \(3, 39\)$"):
        k.swiglu(g, u[:, 1:])
