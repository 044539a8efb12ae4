"""Systolic arrays in Amaranth's simulator: outputs bit-identical to ``hw.numerics.gemm`` with
the matching accumulation, measured cycles equal to ``tile_cycles`` (per tile and per GEMM);
``tile_cycles`` against SCALE-Sim's closed forms; bad input raises exact messages."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from hw.arrays import (MAX_EXPORT_PES, SystolicArray, build_array, demo_check, run_gemm, scalesim_fold_cycles,
                       scalesim_gemm_cycles, single_tile_cycles, tile_cycles, tile_shapes)
from hw.errors import UnitConfigError
from hw.formats import BlockFormat, parse
from hw.numerics import gemm
from hw.units import MacFormats

#: (a format, b format, accumulation, output format) of the PE pairings under test
PAIRINGS = {
    "int8": ("int8", "int8", "exact", "int32"),
    "e4m3fn": ("e4m3fn", "e4m3fn", "exact", "float32"),
    "bf16": ("bfloat16", "bfloat16", "float32", "float32"),
    "mxfp4": ("mxfp4", "mxfp4", "float32", "float32"),
    "w4a8": ("e4m3fn", "int4", "exact", "float32"),  # a mixed pair: FP8 activations x INT4 weights
    # packed PEs (MacFormats.packing products per PE per cycle)
    "int4xint8": ("int4", "int8", "exact", "int32"),
    "fp4xfp8": ("e2m1fn", "e4m3fn", "exact", "float32"),
    "int4": ("int4", "int4", "exact", "int32"),
    "fp4": ("e2m1fn", "e2m1fn", "exact", "float32"),
}


def _operands(a_name: str, b_name: str, m: int, k: int, n: int, rng: np.random.Generator):
    """Codes (and block scales) of A (m x k) and B (k x n): every code of the element formats
    (NaN, inf, -0, subnormals included); MX blocks quantized from Gaussian data with spread
    scales."""
    fa, fb = parse(a_name), parse(b_name)
    if isinstance(fa, BlockFormat):
        sa, a = fa.quantize(rng.standard_normal((m, k)) * np.exp2(rng.integers(-6, 7, (m, 1))))
        sbt, bt = fb.quantize(rng.standard_normal((n, k)) * np.exp2(rng.integers(-6, 7, (n, 1))))
        return a, bt.T, sa, sbt.T
    return rng.integers(0, 1 << fa.bits, (m, k)), rng.integers(0, 1 << fb.bits, (k, n)), None, None


def _assert_same_codes(got: np.ndarray, want: np.ndarray, acc: str) -> None:
    """Bit-identical codes. Float accumulation only: a NaN result may differ in its sign bit
    (``hw.units.FloatAdder`` signs the NaN of inf - inf after an operand, numpy's float64 gives
    x86's negative default NaN; IEEE 754 leaves the sign of a NaN result unspecified), so NaN
    positions must match and every other code must be identical."""
    assert got.dtype == want.dtype
    if acc == "exact":
        np.testing.assert_array_equal(got, want)
        return
    f32 = parse("float32")
    nan_got, nan_want = np.isnan(f32.decode(got)), np.isnan(f32.decode(want))
    np.testing.assert_array_equal(nan_got, nan_want)
    np.testing.assert_array_equal(got[~nan_got], want[~nan_want])


def _check(pairing: str, rows: int, cols: int, dataflow: str, m: int, k: int, n: int, seed: int = 0,
           pipeline: int = 0, packing: int | None = None) -> None:
    fa, fb, acc, out = PAIRINGS[pairing]
    arr = SystolicArray(rows=rows, cols=cols, dataflow=dataflow, a_format=fa, b_format=fb, acc=acc,
                        out_format=out, max_k=max(k, 64), pipeline=pipeline, packing=packing)
    P = arr.packing
    rng = np.random.default_rng(seed)
    a, b, sa, sb = _operands(fa, fb, m, k, n, rng)
    run = run_gemm(arr, a, b, a_scales=sa, b_scales=sb)
    want = gemm(a, fa, b, fb, out, acc, a_scales=sa, b_scales=sb, order="sequential")
    _assert_same_codes(run.codes, want, acc)
    for (m0, k0, n0, mt, kt, nt), measured in zip(run.tiles, run.tile_cycles):
        assert measured == tile_cycles(rows=rows, cols=cols, dataflow=dataflow, m=mt, k=kt, n=nt,
                                       pe_pipeline=pipeline, packing=P).total
    model = tile_cycles(rows=rows, cols=cols, dataflow=dataflow, m=m, k=k, n=n, max_m=arr.max_m, max_k=arr.max_k,
                        pe_pipeline=pipeline, packing=P)
    assert run.cycles == model.total
    assert len(run.tiles) == model.folds


# (pairing, rows, cols, dataflow, m, k, n): M, K or N of 1, not multiples of the array, K over
# several folds (WS), N over several folds, non-square arrays
FAST_CASES = [
    ("int8", 2, 2, "ws", 3, 5, 3), ("int8", 2, 2, "os", 3, 5, 3),
    ("int8", 3, 4, "ws", 1, 1, 1), ("int8", 3, 4, "os", 1, 1, 1),
    ("int8", 4, 4, "ws", 5, 9, 6), ("int8", 4, 4, "os", 6, 9, 5),
    ("int8", 8, 8, "ws", 3, 11, 10), ("int8", 8, 8, "os", 10, 6, 3),
    ("e4m3fn", 2, 2, "ws", 1, 5, 3), ("e4m3fn", 2, 2, "os", 3, 4, 1),
    ("e4m3fn", 4, 4, "ws", 6, 9, 5), ("e4m3fn", 4, 3, "os", 5, 7, 4),
    ("bf16", 2, 3, "ws", 3, 5, 4), ("bf16", 2, 3, "os", 3, 5, 4),
    ("mxfp4", 2, 2, "ws", 3, 64, 3), ("mxfp4", 2, 2, "os", 3, 64, 3),
    ("w4a8", 3, 2, "ws", 4, 7, 3), ("w4a8", 3, 2, "os", 4, 7, 3),
]

SLOW_CASES = [
    (p, 8, 8, df, m, k, n) for p in ("e4m3fn", "bf16", "mxfp4") for df in ("ws", "os")
    for (m, k, n) in ((9, 64, 11), (1, 32, 1))
] + [
    ("int8", 5, 7, "ws", 12, 23, 15), ("int8", 5, 7, "os", 12, 23, 15),
    ("bf16", 4, 4, "ws", 1, 13, 9), ("bf16", 4, 4, "os", 9, 1, 4),
    ("mxfp4", 4, 4, "ws", 6, 96, 5), ("mxfp4", 3, 5, "os", 7, 64, 6),
]


@pytest.mark.parametrize("case", FAST_CASES, ids=lambda c: "-".join(map(str, c)))
def test_rtl_bit_exact_and_cycle_exact(case) -> None:
    _check(*case)


# PEs with a register after the product (pipeline=1)
PIPELINED_CASES = [
    ("int8", 2, 3, "ws", 3, 5, 4), ("int8", 3, 2, "os", 4, 5, 1),
    ("bf16", 2, 3, "ws", 3, 5, 4), ("bf16", 2, 3, "os", 3, 5, 4),
]


@pytest.mark.parametrize("case", PIPELINED_CASES, ids=lambda c: "-".join(map(str, c)))
def test_rtl_pipelined_pes(case) -> None:
    _check(*case, seed=2, pipeline=1)


@pytest.mark.slow
@pytest.mark.parametrize("case", SLOW_CASES, ids=lambda c: "-".join(map(str, c)))
def test_rtl_bit_exact_and_cycle_exact_large(case) -> None:
    _check(*case, seed=1)


# ---- packed PEs ------------------------------------------------------------------------------

@pytest.mark.parametrize("a,b,acc,packing", [
    ("int8", "int8", "exact", 1), ("int4", "int8", "exact", 2), ("int8", "int4", "exact", 2),
    ("e2m1fn", "e4m3fn", "exact", 2), ("int4", "e4m3fn", "exact", 2), ("int4", "int4", "exact", 4),
    ("e2m1fn", "e2m1fn", "exact", 4), ("e2m1fn", "int4", "exact", 4), ("e4m3fn", "e4m3fn", "exact", 1),
    ("e3m2fn", "e3m2fn", "exact", 1), ("bfloat16", "bfloat16", "float32", 1),
    ("e2m1fn", "e2m1fn", "float32", 1), ("mxfp4", "mxfp4", "float32", 1),
])
def test_packing_follows_the_operand_widths(a: str, b: str, acc: str, packing: int) -> None:
    """Issue 14's pairs: two <= 4-bit operands to an 8-bit slot, exact accumulation only."""
    f = MacFormats(a_format=a, b_format=b, acc=acc)
    assert f.packing == packing
    arr = SystolicArray(rows=3, cols=2, a_format=a, b_format=b, acc=acc)
    arr._MustUse__silence = True
    assert arr.packing == packing and arr.limits == (4096, 3 * packing, 2)


# (pairing, rows, cols, dataflow, m, k, n): K not a multiple of the packing, over several folds
PACKED_CASES = [
    ("int4xint8", 2, 3, "ws", 3, 11, 4), ("int4xint8", 3, 2, "os", 4, 9, 3),
    ("fp4xfp8", 2, 2, "ws", 3, 9, 3), ("fp4xfp8", 2, 2, "os", 3, 7, 2),
    ("int4", 2, 2, "ws", 3, 19, 3), ("int4", 3, 2, "os", 4, 13, 3),
    ("fp4", 2, 3, "ws", 2, 10, 4), ("fp4", 2, 2, "os", 3, 6, 3), ("fp4", 2, 2, "ws", 1, 1, 1),
]


@pytest.mark.parametrize("case", PACKED_CASES, ids=lambda c: "-".join(map(str, c)))
def test_packed_pes_bit_exact_and_cycle_exact(case) -> None:
    _check(*case, seed=3)


@pytest.mark.parametrize("case", [("int4", 2, 3, "ws", 3, 9, 4), ("fp4xfp8", 3, 2, "os", 4, 7, 1)],
                         ids=lambda c: "-".join(map(str, c)))
def test_packed_pipelined_pes(case) -> None:
    _check(*case, seed=4, pipeline=1)


@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_packing_shortens_the_k_stream(dataflow: str) -> None:
    """The same INT4 GEMM unpacked (packing=1) and packed (4 products per PE per cycle): both
    bit-exact; the packed array's measured cycles are its ``tile_cycles``, with K streamed or
    loaded in a quarter of the cycles."""
    rng = np.random.default_rng(9)
    m, k, n = 3, 16, 2
    a, b = rng.integers(0, 16, (m, k)), rng.integers(0, 16, (k, n))
    want = gemm(a, "int4", b, "int4", "int32", "exact")
    runs = {}
    for packing in (1, 4):
        arr = SystolicArray(rows=4, cols=2, dataflow=dataflow, a_format="int4", b_format="int4", packing=packing)
        run = run_gemm(arr, a, b)
        np.testing.assert_array_equal(run.codes, want)
        t = tile_cycles(rows=4, cols=2, dataflow=dataflow, m=m, k=k, n=n, max_m=arr.max_m, max_k=arr.max_k,
                        packing=packing)
        assert run.cycles == t.total
        runs[packing] = t
    if dataflow == "ws":  # 4 K folds of 4 rows, or one fold of 16 packed into 4 rows
        assert (runs[1].folds, runs[4].folds) == (4, 1)
        assert (runs[1].weight_load, runs[4].weight_load) == (k, k // 4)
    else:
        assert (runs[1].steady, runs[4].steady) == (k, k // 4)
    assert runs[4].total < runs[1].total


def test_packed_double_buffered_ws() -> None:
    rows, cols, m, k, n = 2, 2, 3, 21, 3
    arr = SystolicArray(rows=rows, cols=cols, dataflow="ws", a_format="int4", b_format="int8", double_buffer=True)
    assert arr.packing == 2
    rng = np.random.default_rng(6)
    a, b = rng.integers(0, 16, (m, k)), rng.integers(0, 256, (k, n))
    run = run_gemm(arr, a, b)
    np.testing.assert_array_equal(run.codes, gemm(a, "int4", b, "int8", "int32", "exact"))
    model = tile_cycles(rows=rows, cols=cols, dataflow="ws", m=m, k=k, n=n, double_buffer=True, packing=2)
    assert run.cycles == model.total and model.weight_load == min(-(-k // 2), rows)


def test_packing_rejects_other_factors() -> None:
    with pytest.raises(UnitConfigError, match=r"^packing must be 1 or 4 \(the packing of int4 x int4\), not 2$"):
        SystolicArray(rows=2, cols=2, a_format="int4", b_format="int4", packing=2)
    with pytest.raises(UnitConfigError, match=r"^packing must be a power of two, not 3$"):
        tile_cycles(rows=2, cols=2, dataflow="ws", m=1, k=1, n=1, packing=3)


def test_demo_check_rows() -> None:
    rows = demo_check(rows=2, cols=2, m=3, k=32, n=3)
    assert [r[0] for r in rows] == ["int8", "fp8 e4m3fn", "mxfp4"]
    for label, exact, rtl, model in rows:
        assert exact == "yes", label
        assert rtl == model, label


# ---- timing function vs SCALE-Sim ----------------------------------------------------------

ARRAYS = [(4, 4), (8, 16), (32, 32), (128, 128), (3, 5)]


@pytest.mark.parametrize("rows,cols", ARRAYS)
def test_ws_full_folds_are_scalesim_plus_four(rows: int, cols: int) -> None:
    for kf, nf, m in itertools.product((1, 2, 5), (1, 3), (1, 7, 512)):
        k, n = kf * rows, nf * cols
        ours = tile_cycles(rows=rows, cols=cols, dataflow="ws", m=m, k=k, n=n)
        theirs = scalesim_gemm_cycles(rows=rows, cols=cols, dataflow="ws", m=m, k=k, n=n)
        assert ours.folds == kf * nf
        assert ours.total - theirs == 4 * ours.folds
        assert tile_cycles(rows=rows, cols=cols, dataflow="ws", m=m, k=rows, n=cols).total == \
            scalesim_fold_cycles(rows=rows, cols=cols, dataflow="ws", t=m) + 4


@pytest.mark.parametrize("rows,cols", ARRAYS)
def test_os_full_folds_are_scalesim_plus_drain_and_three(rows: int, cols: int) -> None:
    for mf, nf, k in itertools.product((1, 2, 5), (1, 3), (1, 7, 4096)):
        m, n = mf * rows, nf * cols
        ours = tile_cycles(rows=rows, cols=cols, dataflow="os", m=m, k=k, n=n)
        theirs = scalesim_gemm_cycles(rows=rows, cols=cols, dataflow="os", m=m, k=k, n=n)
        assert ours.folds == mf * nf
        assert ours.drain == rows * ours.folds
        assert ours.total - theirs == (rows + 3) * ours.folds


@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_gemm_timing_is_the_sum_of_its_tiles(dataflow: str) -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        rows, cols = (int(x) for x in rng.integers(1, 40, 2))
        m, k, n = (int(x) for x in rng.integers(1, 300, 3))
        lim = int(rng.integers(1, 100))
        kw = {"max_m": lim} if dataflow == "ws" else {"max_k": lim}
        kw["packing"] = int(rng.choice([1, 2, 4]))
        whole = tile_cycles(rows=rows, cols=cols, dataflow=dataflow, m=m, k=k, n=n, **kw)
        tiles = tile_shapes(rows=rows, cols=cols, dataflow=dataflow, m=m, k=k, n=n, **kw)
        parts = [single_tile_cycles(rows=rows, cols=cols, dataflow=dataflow, m=mt, k=kt, n=nt,
                                    packing=kw["packing"]) for _, _, _, mt, kt, nt in tiles]
        assert whole.folds == len(tiles)
        assert (whole.fill, whole.steady, whole.drain, whole.weight_load) == tuple(map(sum, zip(*parts)))
        assert whole.total == whole.fill + whole.steady + whole.drain + whole.weight_load
        covered = {(m0 + i, k0 + j, n0 + q) for m0, k0, n0, mt, kt, nt in tiles[:3]
                   for i in range(min(mt, 2)) for j in range(min(kt, 2)) for q in range(min(nt, 2))}
        assert all(0 <= a < m and 0 <= b < k and 0 <= c < n for a, b, c in covered)
        assert sum(mt * kt * nt for *_, mt, kt, nt in tiles) == m * k * n


# ---- bad input -------------------------------------------------------------------------------

def test_tile_cycles_rejects_bad_input() -> None:
    with pytest.raises(UnitConfigError, match=r"^rows must be a positive integer, not 0$"):
        tile_cycles(rows=0, cols=4, dataflow="ws", m=1, k=1, n=1)
    with pytest.raises(UnitConfigError, match=r"^k must be a positive integer, not 0$"):
        tile_cycles(rows=4, cols=4, dataflow="ws", m=1, k=0, n=1)
    with pytest.raises(UnitConfigError, match=r"^dataflow must be one of 'ws', 'os', not 'is'$"):
        tile_cycles(rows=4, cols=4, dataflow="is", m=1, k=1, n=1)
    with pytest.raises(UnitConfigError, match=r"^n must be a positive integer, not 2\.0$"):
        tile_cycles(rows=4, cols=4, dataflow="os", m=1, k=1, n=2.0)


def test_array_rejects_bad_parameters_and_tiles() -> None:
    with pytest.raises(UnitConfigError, match=r"^rows must be an integer in 1\.\.256, not 0$"):
        SystolicArray(rows=0, cols=4)
    with pytest.raises(UnitConfigError, match=r"^cols must be an integer in 1\.\.256, not 300$"):
        SystolicArray(rows=4, cols=300)
    with pytest.raises(UnitConfigError, match=r"^acc must be a float format for block operands "
                                              r"\(mxfp4 x mxfp4\), not 'exact'$"):
        SystolicArray(rows=2, cols=2, a_format="mxfp4", b_format="mxfp4", acc="exact")
    arr = SystolicArray(rows=4, cols=3, dataflow="ws", max_m=16)
    arr._MustUse__silence = True  # never elaborated: only its checks are used
    with pytest.raises(UnitConfigError, match=r"^tile k must be at most 4 \(the array's rows\) for dataflow 'ws', "
                                              r"not 5$"):
        arr.check_tile(m=1, k=5, n=1)
    with pytest.raises(UnitConfigError, match=r"^tile m must be at most 16 \(the array's max_m\) for dataflow 'ws', "
                                              r"not 17$"):
        arr.check_tile(m=17, k=1, n=1)
    with pytest.raises(UnitConfigError, match=r"^tile n must be a positive integer, not 0$"):
        arr.check_tile(m=1, k=1, n=0)
    assert arr.tile_cycles(m=16, k=4, n=3) == 16 + 4 + (4 + 2) + 3


def test_driver_rejects_bad_gemms() -> None:
    arr = SystolicArray(rows=2, cols=2, max_k=8)
    arr._MustUse__silence = True
    with pytest.raises(UnitConfigError, match=r"^GEMM k must be at most 8 \(the array's max_k\), not 9$"):
        run_gemm(arr, np.zeros((1, 9), dtype=np.uint8), np.zeros((9, 1), dtype=np.uint8))
    with pytest.raises(UnitConfigError, match=r"^GEMM m must be a positive integer, not 0$"):
        run_gemm(arr, np.zeros((0, 3), dtype=np.uint8), np.zeros((3, 1), dtype=np.uint8))
    with pytest.raises(UnitConfigError, match=r"^operands must be M x K and K x N code arrays, not \(2, 3\) and "
                                              r"\(2, 3\)$"):
        run_gemm(arr, np.zeros((2, 3), dtype=np.uint8), np.zeros((2, 3), dtype=np.uint8))


def test_build_array_rejects_arrays_beyond_the_exporter_limit() -> None:
    assert MAX_EXPORT_PES == 1024
    with pytest.raises(UnitConfigError, match=r"^array must have at most 1024 PEs for Verilog export, "
                                              r"not 2048 \(64 x 32\)$"):
        build_array(rows=64, cols=32)
    with pytest.raises(UnitConfigError, match=r"^rows must be a positive integer, not 0$"):
        build_array(rows=0, cols=4)
    unit = build_array(rows=2, cols=3, dataflow="os", a_format="e4m3fn")
    unit.component._MustUse__silence = True
    assert unit.name == "array_os_2x3_e4m3fnxe4m3fn_exact"
    assert unit.metadata["tile_limits"] == {"m": 2, "k": 4096, "n": 3}
    assert unit.metadata["out_format"] == "float32"


# ---- double-buffered weights -----------------------------------------------------------------

@pytest.mark.parametrize("rows,cols,m,k,n", [(2, 2, 3, 5, 3), (3, 4, 1, 1, 1), (4, 3, 2, 9, 7), (3, 3, 1, 7, 2)])
def test_double_buffered_ws_hides_all_but_the_first_load(rows: int, cols: int, m: int, k: int, n: int) -> None:
    arr = SystolicArray(rows=rows, cols=cols, dataflow="ws", double_buffer=True)
    rng = np.random.default_rng(5)
    a, b = rng.integers(0, 256, (m, k)), rng.integers(0, 256, (k, n))
    run = run_gemm(arr, a, b)
    np.testing.assert_array_equal(run.codes, gemm(a, "int8", b, "int8", "int32", "exact"))
    first = tile_cycles(rows=rows, cols=cols, dataflow="ws", m=m, k=run.tiles[0][4], n=run.tiles[0][5]).total
    assert run.tile_cycles[0] == first
    for (_, _, _, mt, kt, nt), measured in zip(run.tiles[1:], run.tile_cycles[1:]):
        single = tile_cycles(rows=rows, cols=cols, dataflow="ws", m=mt, k=kt, n=nt)
        assert measured == single.total - single.weight_load
    model = tile_cycles(rows=rows, cols=cols, dataflow="ws", m=m, k=k, n=n, double_buffer=True)
    assert run.cycles == model.total
    assert model.weight_load == min(k, rows)
    plain = tile_cycles(rows=rows, cols=cols, dataflow="ws", m=m, k=k, n=n)
    assert plain.total - model.total == plain.weight_load - model.weight_load


def test_double_buffer_is_ws_only() -> None:
    with pytest.raises(UnitConfigError, match=r"^double_buffer must be False for dataflow 'os' "
                                              r"\(only WS preloads weights\)$"):
        SystolicArray(rows=2, cols=2, dataflow="os", double_buffer=True)
    with pytest.raises(UnitConfigError, match=r"^double_buffer must be False for dataflow 'os', not True$"):
        tile_cycles(rows=2, cols=2, dataflow="os", m=1, k=1, n=1, double_buffer=True)
    with pytest.raises(UnitConfigError, match=r"^pe_pipeline must be 0 or 1, not 2$"):
        tile_cycles(rows=2, cols=2, dataflow="ws", m=1, k=1, n=1, pe_pipeline=2)
    with pytest.raises(UnitConfigError, match=r"^pipeline must be 0 or 1, not 2$"):
        SystolicArray(rows=2, cols=2, pipeline=2)
    with pytest.raises(UnitConfigError, match=r"^double_buffer must be a bool, not 1$"):
        tile_cycles(rows=2, cols=2, dataflow="ws", m=1, k=1, n=1, double_buffer=1)


# ---- the array's PE is the costed PE ---------------------------------------------------------

def _pe_cells(design, top: str, pe_module: str, tmp_path) -> dict:
    """Cells by type and width of ``pe_module`` (a module of ``design``'s RTLIL, flattened and
    optimised by yosys as a synthesis front end does), from ``stat -width -json``."""
    import json

    from amaranth.back import rtlil

    from hw.flow import run_yosys

    work = tmp_path / top
    work.mkdir()
    # opt_clean before flatten: yosys otherwise stops on the init values of a register bit that
    # is constant (the NaN flag of an integer PE's product register): "Conflicting init values"
    script = (f"read_rtlil design.il\nhierarchy -top {pe_module}\nproc\nopt_clean\nflatten\nopt -full -purge\n"
              f"wreduce\nopt_clean -purge\ntee -q -o stat.json stat -width -json\n")
    run_yosys(script, workdir=work, step="pe stat", files={"design.il": rtlil.convert(design, name=top)})
    (stats,) = json.loads((work / "stat.json").read_text())["modules"].values()
    return {"cells": stats["num_cells_by_type"], "num_cells": stats["num_cells"], "ports": stats["num_port_bits"]}


@pytest.mark.parametrize("a_format,acc,pipeline", [("e4m3fn", "exact", 0), ("bfloat16", "float32", 1),
                                                   ("int4", "exact", 1), ("mxfp4", "float32", 0)])
def test_array_pe_is_the_costed_pe(tmp_path, a_format: str, acc: str, pipeline: int) -> None:
    """The PE inside an exported array (both dataflows) and inside the MAC unit synthesises to the
    same cells, type by type and width by width, as the standalone PE ``hw.cost`` prices
    (``build_pe``); and every PE the array elaborates converts, on its own, to the costed PE's
    RTLIL byte for byte (same hash). The PE's text *inside* the array's RTLIL is not compared as
    text: Amaranth names a submodule's ports after inner signals and splits or bundles them as
    the parent drives their bits, so port names differ from the standalone export; the cells
    do not."""
    from amaranth.back import rtlil
    from amaranth.hdl import Fragment

    from hw.units import MacPe, build_mac, build_pe

    ws = build_array(rows=2, cols=2, dataflow="ws", a_format=a_format, acc=acc, pipeline=pipeline)
    os_ = build_array(rows=2, cols=2, dataflow="os", a_format=a_format, acc=acc, pipeline=pipeline)
    f = ws.component.formats
    assert os_.component.formats == f
    pe = build_pe(f, pipeline=pipeline)
    costed = _pe_cells(pe.component, pe.name, pe.name, tmp_path)
    assert costed["num_cells"] > 10
    assert _pe_cells(ws.component, ws.name, f"{ws.name}.pe_1_0", tmp_path) == costed
    assert _pe_cells(os_.component, os_.name, f"{os_.name}.pe_1_1", tmp_path) == costed
    if not f.block:  # the MAC units take element formats
        mac = build_mac(formats=f, pipeline=pipeline, packing=f.packing)
        assert _pe_cells(mac.component, mac.name, f"{mac.name}.pe", tmp_path) == costed
    # the PE elaboratables of the array: MacPe objects whose own RTLIL is the costed PE's
    want = rtlil.convert(build_pe(f, pipeline=pipeline).component, name="pe")
    frag = Fragment.get(ws.component, None)
    pes = [sub for sub, name, _ in frag.subfragments if name.startswith("pe_")]
    assert len(pes) == 4
    for sub in pes:
        (origin,) = [o for o in sub.origins if isinstance(o, MacPe)]
        assert rtlil.convert(origin, name="pe") == want


@pytest.mark.parametrize("dataflow", ["ws", "os"])
@pytest.mark.parametrize("acc", ["exact", "float32"])
def test_array_sum_of_negative_zeros_is_negative_zero(dataflow: str, acc: str) -> None:
    """Exact or float accumulation over K folds (WS chains the partial sums, flags included; a
    first fold starts from the empty sum, -0 for a float accumulator): an output is -0 iff all its
    products are -0, as numpy's float64 products say and the golden model gives."""
    f = parse("e2m1fn")
    m, k, n = 3, 11, 2  # exact: packed 4 to a PE, WS folds of 8; float32: folds of 2
    a = np.full((m, k), 0x8)  # -0
    a[1, 3] = 0x0  # +0 x ... = +0 product in row 1
    a[2, :2] = [0x2, 0xA]  # 1 and -1: an exact zero that is not a sum of -0s
    b = np.full((k, n), 0x2)  # 1
    arr = SystolicArray(rows=2, cols=2, dataflow=dataflow, a_format=f, b_format=f, acc=acc, out_format="float32",
                        max_k=16)
    run = run_gemm(arr, a, b)
    prods = f.decode(a).astype(np.float64)[:, :, None] * f.decode(b).astype(np.float64)[None, :, :]
    neg_zero = np.all((prods == 0) & np.signbit(prods), axis=1)
    assert neg_zero.tolist() == [[True, True], [False, False], [False, False]]
    np.testing.assert_array_equal(run.codes, np.where(neg_zero, 0x80000000, 0).astype(run.codes.dtype))
    np.testing.assert_array_equal(run.codes, gemm(a, f, b, f, "float32", acc, order="sequential"))


# ---- chained tiles (weights switched with the advancing wave) --------------------------------

# (pairing, rows, cols, m, k, n, max_m, pipeline): several K folds (partial sums chained while the
# previous fold drains), several N folds, M blocks with a remainder, short tiles (m < rows + cols)
CHAIN_CASES = [
    ("int8", 2, 2, 3, 5, 3, 4096, 0), ("int8", 4, 3, 2, 9, 7, 4096, 0), ("int8", 2, 3, 12, 7, 5, 8, 0),
    ("int8", 4, 4, 20, 9, 6, 8, 0), ("int8", 3, 2, 7, 3, 4, 4096, 1), ("int8", 3, 4, 1, 1, 1, 4096, 0),
    ("e4m3fn", 3, 3, 14, 8, 5, 4096, 0), ("bf16", 2, 3, 9, 7, 4, 4, 1), ("mxfp4", 2, 2, 11, 96, 3, 4096, 0),
    ("int4xint8", 2, 3, 13, 21, 4, 4096, 0), ("fp4", 2, 2, 10, 24, 3, 6, 1),
]


@pytest.mark.parametrize("case", CHAIN_CASES, ids=lambda c: "-".join(map(str, c)))
def test_chained_tiles_bit_exact_and_cycle_exact(case) -> None:
    """A chained array (``chain=True``: the next tile's rows follow this tile's, its preloaded
    weights and lane enables switched PE by PE with the advancing wave) gives the golden model's
    codes bit for bit, in exactly ``tile_cycles(chain=True)`` cycles, never more than the same
    array without chaining; with tiles of at least ``2 * rows + cols`` rows the pipeline fills and
    drains once per GEMM."""
    pairing, rows, cols, m, k, n, max_m, pipeline = case
    fa, fb, acc, out = PAIRINGS[pairing]
    rng = np.random.default_rng(11)
    a, b, sa, sb = _operands(fa, fb, m, k, n, rng)
    want = gemm(a, fa, b, fb, out, acc, a_scales=sa, b_scales=sb, order="sequential")
    runs = {}
    for chain in (False, True):
        arr = SystolicArray(rows=rows, cols=cols, dataflow="ws", a_format=fa, b_format=fb, acc=acc, out_format=out,
                            max_k=max(k, 64), max_m=max_m, double_buffer=True, chain=chain, pipeline=pipeline)
        run = run_gemm(arr, a, b, a_scales=sa, b_scales=sb)
        _assert_same_codes(run.codes, want, acc)
        model = tile_cycles(rows=rows, cols=cols, dataflow="ws", m=m, k=k, n=n, max_m=max_m, double_buffer=True,
                            chain=chain, pe_pipeline=pipeline, packing=arr.packing)
        assert run.cycles == model.total == model.fill + model.steady + model.drain + model.weight_load
        assert len(run.tiles) == model.folds
        runs[chain] = run
    assert runs[True].cycles <= runs[False].cycles
    if len(runs[True].tiles) > 1 and min(t[3] for t in runs[True].tiles) >= 2 * rows + cols + 2 + pipeline:
        assert runs[True].cycles < runs[False].cycles


def test_chained_tiles_stream_back_to_back() -> None:
    """Full folds of many rows: consecutive tiles start exactly ``m`` cycles apart (no fill,
    drain or load between them), so the GEMM takes one fill, one drain and one load."""
    rows, cols, m, k, n = 2, 3, 16, 6, 5
    arr = SystolicArray(rows=rows, cols=cols, dataflow="ws", double_buffer=True, chain=True)
    rng = np.random.default_rng(12)
    a, b = rng.integers(0, 256, (m, k)), rng.integers(0, 256, (k, n))
    run = run_gemm(arr, a, b)
    np.testing.assert_array_equal(run.codes, gemm(a, "int8", b, "int8", "int32", "exact"))
    assert run.tile_cycles[1:-1] == [m] * (len(run.tiles) - 2)
    single = tile_cycles(rows=rows, cols=cols, dataflow="ws", m=m, k=rows, n=cols)
    assert run.cycles == single.total + (len(run.tiles) - 1) * m


@pytest.mark.parametrize("rows,cols", [(2, 2), (3, 5), (8, 8), (16, 4), (256, 256)])
def test_chained_tile_cycles_of_a_run_match_the_gemm(rows: int, cols: int) -> None:
    """The simulator's form (each tile charged its interval, the run's tail once) equals the
    exact ``tile_cycles(chain=True)`` for full folds of ``m >= 2 * rows + cols`` rows and is
    otherwise never below it and at most ``3 * rows + cols + 2`` cycles above (short tiles: the
    run's first interval is charged in full)."""
    from hw.arrays import chain_tail_cycles, chained_tile_cycles

    for p in (0, 1):
        tail = chain_tail_cycles(rows=rows, cols=cols, pe_pipeline=p)
        for m, k, n in itertools.product((1, 7, 2 * rows + cols + 2, 3 * rows + cols), (1, rows, 3 * rows, 3 * rows - 1),
                                         (1, cols, 2 * cols + 1)):
            exact = tile_cycles(rows=rows, cols=cols, dataflow="ws", m=m, k=k, n=n, double_buffer=True, chain=True,
                                pe_pipeline=p).total
            run = chained_tile_cycles(rows=rows, cols=cols, m=m, k=k, n=n, pe_pipeline=p)
            assert run.steady == m * -(-k // rows) * -(-n // cols)
            if k % rows == 0 and m >= 2 * rows + cols + 2 + p:
                assert run.total + tail == exact, (m, k, n, p)
            assert 0 <= run.total + tail - exact <= 3 * rows + cols + 2, (m, k, n, p)


def test_chain_needs_double_buffered_ws() -> None:
    with pytest.raises(UnitConfigError, match=r"^chain must be False without double_buffer \(chained tiles take "
                                              r"their weights from the shadow\)$"):
        SystolicArray(rows=2, cols=2, chain=True)
    with pytest.raises(UnitConfigError, match=r"^chain must be a bool, not 1$"):
        SystolicArray(rows=2, cols=2, double_buffer=True, chain=1)
    with pytest.raises(UnitConfigError, match=r"^chain must be False without double_buffer and dataflow 'ws' "
                                              r"\(chained tiles take their weights from the shadow\)$"):
        tile_cycles(rows=2, cols=2, dataflow="ws", m=1, k=1, n=1, chain=True)
    with pytest.raises(UnitConfigError, match=r"^chain must be a bool, not 'yes'$"):
        tile_cycles(rows=2, cols=2, dataflow="ws", m=1, k=1, n=1, double_buffer=True, chain="yes")
