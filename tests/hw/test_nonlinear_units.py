"""RTL nonlinear units (hw.units.nonlinear) in Amaranth's simulator: bit-identical to the golden
models (hw.nonlinear) on the third-party vector rows and on random rows, measured cycles equal to
each unit's timing function, parameter errors."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from hw.errors import UnitConfigError
from hw.nonlinear import consts_from_scale, kernel
from hw.units.nonlinear import (ROW_UNITS, IBertLayerNormUnit, IBertSoftmaxUnit, IntGELUUnit, IntLayerNormUnit,
                                IterativeDivider, RMSNormUnit, ShiftGELUUnit, ShiftmaxUnit, SiLUUnit,
                                build_nonlinear_unit, ibert_layernorm_timing, ibert_softmax_consts, ibert_softmax_dividend_width,
                                ibert_softmax_scale,
                                divider_cycles, rmsnorm_timing, silu_timing,
                                ibert_softmax_timing, intgelu_timing,
                                layernorm_timing, shiftgelu_timing, shiftmax_timing,
                                simulate_rows)


def load_groups(vectors: Path, name: str) -> list[tuple[dict, np.ndarray, np.ndarray]]:
    with gzip.open(vectors / "intkernels" / f"{name}.jsonl.gz", "rt") as fh:
        recs = [json.loads(line) for line in fh]
    out = []
    for g in (r for r in recs if r["type"] == "group"):
        rows = [r for r in recs if r["type"] == "row" and r["group"] == g["group"]]
        out.append((g, np.array([r["x_int"] for r in rows]), np.array([r["y_int"] for r in rows])))
    assert out
    return out


def unit_for(name: str, group: dict, x: np.ndarray, **extra):
    c = group["consts"]
    if name == "ibert_int_gelu":
        return IntGELUUnit(x_bits=32, b_int=c["b_int"], c_int=c["c_int"], shift_int=c["shift_int"],
                           n=c["n"], length=x.shape[1], **extra)
    # signed width holding the group's range and every row (ShiftGELU vectors contain -129)
    lo, hi = min(group["x_range"][0], int(x.min())), max(group["x_range"][1], int(x.max()))
    x_bits = next(w for w in range(2, 33) if -(1 << (w - 1)) <= lo and hi < (1 << (w - 1)))
    cls = ShiftmaxUnit if name == "ivit_shiftmax" else ShiftGELUUnit
    return cls(x_bits=x_bits, length=x.shape[1], x0_int=c["x0_int"], out_bit=c["out_bit"], n=c["n"], **extra)


def check_vectors(vectors: Path, name: str, rows_per_group: int | None) -> int:
    checked = 0
    for group, x, y_ref in load_groups(vectors, name):
        if rows_per_group is not None:
            x, y_ref = x[:rows_per_group], y_ref[:rows_per_group]
        golden = kernel(name, group["consts"]).forward(x)
        run = simulate_rows(unit_for(name, group, x), x)
        np.testing.assert_array_equal(run.outputs, golden)
        np.testing.assert_array_equal(run.outputs, y_ref)
        checked += len(x)
    return checked


@pytest.mark.parametrize("name", ["ivit_shiftmax", "ivit_shiftgelu", "ibert_int_gelu"])
def test_vector_rows_slice(vectors: Path, name: str) -> None:
    assert check_vectors(vectors, name, rows_per_group=2) >= 12


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ivit_shiftmax", "ivit_shiftgelu", "ibert_int_gelu"])
def test_vector_rows_all(vectors: Path, name: str) -> None:
    assert check_vectors(vectors, name, rows_per_group=None) >= 2040


def random_rows(rng: np.random.Generator, n: int, length: int, x_bits: int) -> np.ndarray:
    lo, hi = -(1 << (x_bits - 1)), 1 << (x_bits - 1)
    x = rng.integers(lo, hi, size=(n, length))
    x[0] = lo  # all at the minimum (max is negative)
    x[1] = rng.integers(lo, lo + 8, size=length)  # all negative, close together
    if length > 1:
        x[2, 0], x[2, 1:] = hi - 1, lo  # one large element
    return x


@pytest.mark.parametrize("pipeline", range(ShiftmaxUnit.max_pipeline + 1))
@pytest.mark.parametrize("length,x_bits,x0,out_bit,k", [(7, 8, -4, 8, 1), (16, 16, -500, 16, 4),
                                                         (3, 12, -37, 8, 31), (1, 8, -20, 8, 2),
                                                         (3, 12, -(1 << 20), 8, 16)])  # the kernel's bound
def test_shiftmax_random_rows_and_timing(length: int, x_bits: int, x0: int, out_bit: int, k: int,
                                         pipeline: int) -> None:
    """Every pipeline depth: bit-identical to the golden model, and every row of a gap-free
    stream (rows shorter than the pipeline included: the output pass drains while the next row
    loads) takes the timing function's cycles."""
    rng = np.random.default_rng(length * x_bits)
    x = random_rows(rng, 6, length, x_bits)
    unit = ShiftmaxUnit(x_bits=x_bits, length=length, x0_int=x0, out_bit=out_bit, divider_bits_per_cycle=k,
                        pipeline=pipeline)
    run = simulate_rows(unit, x)
    np.testing.assert_array_equal(run.outputs, kernel("ivit_shiftmax", {"x0_int": x0, "out_bit": out_bit}).forward(x))
    t = shiftmax_timing(length, divider_bits_per_cycle=k, pipeline=pipeline)
    assert (run.cycles_per_row(length), run.latency_cycles()) == (t.cycles_per_row, t.latency_cycles)
    starts = run.in_cycles[::length]
    assert np.diff(starts).tolist() == [t.cycles_per_row] * (len(x) - 1)
    assert unit.timing() == t and unit.pipeline == pipeline


@pytest.mark.parametrize("length,x_bits,x0,k", [(5, 8, -6, 1), (9, 8, -59, 3), (4, 12, -700, 1)])
def test_shiftgelu_random_rows_and_timing(length: int, x_bits: int, x0: int, k: int) -> None:
    rng = np.random.default_rng(length + x_bits)
    x = random_rows(rng, 5, length, x_bits)
    unit = ShiftGELUUnit(x_bits=x_bits, length=length, x0_int=x0, divider_bits_per_cycle=k)
    run = simulate_rows(unit, x)
    np.testing.assert_array_equal(run.outputs, kernel("ivit_shiftgelu", {"x0_int": x0}).forward(x))
    t = shiftgelu_timing(length, divider_bits_per_cycle=k)
    assert (run.cycles_per_row(length), run.latency_cycles()) == (t.cycles_per_row, t.latency_cycles)


@pytest.mark.parametrize("s_in,x_bits,length", [(0.01, 8, 4), (1e-4, 32, 16), (0.002, 20, 9)])
def test_intgelu_random_rows_and_timing(s_in: float, x_bits: int, length: int) -> None:
    c = consts_from_scale("ibert_int_gelu", s_in)
    rng = np.random.default_rng(x_bits)
    x = random_rows(rng, 8, length, x_bits)
    unit = IntGELUUnit(x_bits=x_bits, b_int=c["b_int"], c_int=c["c_int"], shift_int=c["shift_int"], length=length)
    run = simulate_rows(unit, x)
    np.testing.assert_array_equal(run.outputs, kernel("ibert_int_gelu", c).forward(x))
    t = intgelu_timing(length)
    assert (run.cycles_per_row(length), run.latency_cycles()) == (t.cycles_per_row, t.latency_cycles)


@pytest.mark.parametrize("pipeline", range(IntLayerNormUnit.max_pipeline + 1))
@pytest.mark.parametrize("length,x_bits,k", [(4, 8, 1), (16, 8, 2), (9, 16, 5), (8, 22, 1), (1, 8, 2)])
def test_layernorm_random_rows_and_timing(length: int, x_bits: int, k: int, pipeline: int) -> None:
    rng = np.random.default_rng(length * 100 + x_bits)
    w = rng.uniform(0.5, 1.5, length)
    b = rng.uniform(-0.5, 0.5, length)
    c = consts_from_scale("ivit_int_layernorm", 0.1, weight=w, bias=b)
    x = random_rows(rng, 6, length, x_bits)
    x[3] = 7  # constant row: std = 64 in the reference
    x[4] = x[4] // (1 << (x_bits - 3))  # small variance: Newton not converged
    unit = IntLayerNormUnit(x_bits=x_bits, length=length, bias_int=c["bias_int"], divider_bits_per_cycle=k,
                            pipeline=pipeline)
    run = simulate_rows(unit, x)
    np.testing.assert_array_equal(run.outputs, kernel("ivit_int_layernorm", c).forward(x))
    t = layernorm_timing(length, x_bits=x_bits, divider_bits_per_cycle=k, pipeline=pipeline)
    assert (run.cycles_per_row(length), run.latency_cycles()) == (t.cycles_per_row, t.latency_cycles)
    assert np.diff(run.in_cycles[::length]).tolist() == [t.cycles_per_row] * (len(x) - 1)
    assert unit.timing() == t and unit.pipeline == pipeline


#: small parameters of every registered unit (L = 6, 8-bit inputs)
SMALL = {"ivit_shiftmax": dict(x_bits=8, length=6, x0_int=-10),
         "ivit_shiftgelu": dict(x_bits=8, length=6, x0_int=-9),
         "ibert_int_gelu": dict(x_bits=8, length=6, b_int=-251, c_int=-69251, shift_int=-5),
         "ivit_int_layernorm": dict(x_bits=8, length=6, bias_int=[3, -2, 0, 100, -7, 1]),
         "ibert_int_softmax": dict(x_bits=8, length=6, divider_bits_per_cycle=8,
                                   **ibert_softmax_consts(ibert_softmax_scale(8))),  # the simulator's scale
         "ibert_int_layernorm": dict(x_bits=8, length=6, bias_int=[3, -2, 0, 100, -7, 1], divider_bits_per_cycle=3),
         "int_rmsnorm": dict(x_bits=8, length=6, eps_int=5, divider_bits_per_cycle=2),
         "int_silu": dict(x_bits=8, length=6, x0_int=-12, divider_bits_per_cycle=4)}


def small_rows(unit, rng: np.random.Generator, n: int) -> np.ndarray:
    x = random_rows(rng, n, unit.length, unit.x_bits)
    x[0, -1] += 1  # no constant row (the exact LayerNorm golden models reject them)
    if unit.input_fields:
        return np.stack([x, random_rows(rng, n, unit.length, unit.x_bits)[::-1]], axis=-1)
    return x


#: (unit, pipeline depth) of every registered unit at every depth of its pipeline parameter
DEPTHS = [(name, p) for name in sorted(SMALL) for p in range(ROW_UNITS[name].build.max_pipeline + 1)]


def test_every_registered_unit_has_small_parameters() -> None:
    assert sorted(SMALL) == sorted(ROW_UNITS)
    # the units the clock rule may pipeline
    assert all(ROW_UNITS[n].build.max_pipeline > 0 for n in ("ivit_shiftmax", "int_silu", "ivit_int_layernorm"))


def _params(name: str, pipeline: int) -> dict:
    return {**SMALL[name], **({"pipeline": pipeline} if pipeline else {})}


@pytest.mark.parametrize("name,pipeline", DEPTHS)
def test_backpressure_keeps_results(name: str, pipeline: int) -> None:
    rng = np.random.default_rng(5)
    unit, meta = build_nonlinear_unit(name, **_params(name, pipeline))
    x = small_rows(unit, rng, 4)
    gate_in = rng.random(100_000) < 0.6
    gate_out = rng.random(100_000) < 0.5
    run = simulate_rows(unit, x, in_valid=lambda c: bool(gate_in[c]), out_ready=lambda c: bool(gate_out[c]))
    np.testing.assert_array_equal(run.outputs, kernel(name, meta["consts"], variant=meta["variant"]).forward(x))


@pytest.mark.parametrize("name,pipeline", DEPTHS)
def test_registry_cycles_equal_rtl_rows_back_to_back(name: str, pipeline: int) -> None:
    """``ROW_UNITS[name].cycles(rows, L, **params)`` (what the simulator charges) equals the RTL's
    cycles from a chunk's first accepted element to the next chunk's, with the unit's own
    parameters (its pipeline depth included); the unit rebuilds from its params."""
    spec = ROW_UNITS[name]
    unit, meta = build_nonlinear_unit(name, **_params(name, pipeline))
    assert unit.pipeline == pipeline and meta["params"].get("pipeline", 0) == pipeline
    assert isinstance(unit, spec.build) and meta["variant"] == spec.variant
    assert type(unit)(**unit.params()).params() == unit.params()
    rows = 3
    x = small_rows(unit, np.random.default_rng(9), rows + 1)
    run = simulate_rows(unit, x)
    L = unit.length
    assert run.in_cycles[rows * L] - run.in_cycles[0] == spec.cycles(rows, L, **unit.timing_kwargs())
    assert spec.row_timing(L, **unit.timing_kwargs()) == unit.timing()
    if spec.hardware_timed:  # the simulator's call: hardware parameters (and the chosen depth) only
        hw = {"x_bits": unit.x_bits, "divider_bits_per_cycle": unit.params().get("divider_bits_per_cycle", 1),
              **({"pipeline": pipeline} if pipeline else {})}
        default = {k: v for k, v in unit.timing_kwargs().items() if k not in hw}
        assert spec.cycles(rows, L, units=2, **hw) == 2 * spec.row_timing(L, **hw, **default).cycles_per_row


def test_registry_errors() -> None:
    with pytest.raises(UnitConfigError) as info:
        ROW_UNITS["int_rmsnorm"].cycles(4, 8, x_bits=8, lanes=3)
    assert str(info.value) == "int_rmsnorm timing parameters must be among ['divider_bits_per_cycle', 'x_bits'], not ['lanes']"
    assert ROW_UNITS["ibert_int_softmax"].hardware_timed  # at the scale its x_bits span (ibert_softmax_scale)


# ------------------------------------------------------------------ RMSNorm, SiLU/SwiGLU, I-BERT LayerNorm
@pytest.mark.parametrize("length,x_bits,eps_int,k", [(4, 8, 0, 1), (16, 16, 1000, 3), (9, 24, 0, 8), (1, 8, 3, 2)])
def test_rmsnorm_random_rows_and_timing(length: int, x_bits: int, eps_int: int, k: int) -> None:
    rng = np.random.default_rng(length * x_bits)
    x = random_rows(rng, 6, length, x_bits)
    x[4] = 0  # all-zero row
    x[5] = 0
    x[5, -1] = (1 << (x_bits - 1)) - 1  # one element holds the norm
    unit = RMSNormUnit(x_bits=x_bits, length=length, eps_int=eps_int, divider_bits_per_cycle=k)
    run = simulate_rows(unit, x)
    np.testing.assert_array_equal(run.outputs, kernel("int_rmsnorm", {"N": length, "eps_int": eps_int}).forward(x))
    t = rmsnorm_timing(length, x_bits=x_bits, divider_bits_per_cycle=k)
    assert (run.cycles_per_row(length), run.latency_cycles()) == (t.cycles_per_row, t.latency_cycles)


@pytest.mark.parametrize("pipeline", range(SiLUUnit.max_pipeline + 1))
@pytest.mark.parametrize("s_in,x_bits,gated,k", [(0.1, 8, False, 1), (0.01, 16, True, 4), (0.5, 8, True, 31),
                                                 (2e-4, 20, False, 8)])
def test_silu_random_rows_and_timing(s_in: float, x_bits: int, gated: bool, k: int, pipeline: int) -> None:
    c = consts_from_scale("int_silu", s_in)
    length = 5
    unit = SiLUUnit(x_bits=x_bits, x0_int=c["x0_int"], gated=gated, up_bits=8 if gated else None,
                    divider_bits_per_cycle=k, length=length, pipeline=pipeline)
    rng = np.random.default_rng(x_bits)
    x = random_rows(rng, 4, length, x_bits)
    x[3, :3] = [0, 1, -1]
    golden = kernel("int_silu", c)
    if gated:
        up = rng.integers(-128, 128, size=x.shape)
        up[0] = -128
        run = simulate_rows(unit, np.stack([x, up], axis=-1))
        np.testing.assert_array_equal(run.outputs, golden.swiglu(x, up))
    else:
        run = simulate_rows(unit, x)
        np.testing.assert_array_equal(run.outputs, golden.forward(x))
    t = silu_timing(length, divider_bits_per_cycle=k, pipeline=pipeline)
    assert (run.cycles_per_row(length), run.latency_cycles()) == (t.cycles_per_row, t.latency_cycles)
    assert unit.timing() == t and unit.pipeline == pipeline


@pytest.mark.parametrize("length,x_bits,shift,k", [(4, 8, 0, 1), (16, 16, 0, 4), (8, 22, 0, 2), (6, 16, 3, 3)])
def test_ibert_layernorm_random_rows_and_timing(length: int, x_bits: int, shift: int, k: int) -> None:
    """Rows below and above 2**32 in sum(y^2) (dynamic shift), the stored shift, a constant row."""
    rng = np.random.default_rng(length + x_bits)
    bias = [int(v) for v in rng.integers(-1000, 1000, length)]
    x = random_rows(rng, 6, length, x_bits)
    x[3] = x[3] // (1 << max(0, x_bits - 9))  # small variance: no shift
    x[4, 0::2], x[4, 1::2] = -(1 << (x_bits - 1)), (1 << (x_bits - 1)) - 1  # the largest sum(y^2)
    x[5] = 11  # constant row
    unit = IBertLayerNormUnit(x_bits=x_bits, length=length, bias_int=bias, shift=shift, divider_bits_per_cycle=k)
    run = simulate_rows(unit, x, flags=("row_error",))
    golden = kernel("ibert_int_layernorm", {"bias_int": bias, "shift": shift}, variant="exact")
    np.testing.assert_array_equal(run.outputs[1:5], golden.forward(x[1:5]))
    from hw.errors import NumericsError
    with pytest.raises(NumericsError, match=r"^ibert_int_layernorm row variance must be positive, not 0"):
        golden.forward(x[5:6])
    assert run.flags["row_error"][5].all() and not run.flags["row_error"][1:5].any()
    np.testing.assert_array_equal(run.outputs[5], bias)
    if x_bits >= 16:  # the dynamic shift is exercised
        y = x[1:5] - np.rint(x[1:5].mean(axis=1, keepdims=True))
        assert ((y.astype(np.float64) ** 2).sum(axis=1) > 2.0 ** 32).any()
    t = ibert_layernorm_timing(length, x_bits=x_bits, divider_bits_per_cycle=k)
    assert (run.cycles_per_row(length), run.latency_cycles()) == (t.cycles_per_row, t.latency_cycles)


def test_divider_against_python() -> None:
    from amaranth.sim import Simulator
    rng = np.random.default_rng(2)
    for k in (1, 3, 8):
        div = IterativeDivider(dividend_width=20, divisor_width=9, bits_per_cycle=k)
        cases = [(int(a), int(b)) for a, b in zip(rng.integers(0, 1 << 20, 20), rng.integers(1, 1 << 9, 20))]
        cases += [((1 << 20) - 1, 1), (5, 511), (0, 3)]
        got = []

        async def bench(ctx, div=div, cases=cases, got=got):
            for a, b in cases:
                ctx.set(div.dividend, a)
                ctx.set(div.divisor, b)
                ctx.set(div.start, 1)
                await ctx.tick()
                ctx.set(div.start, 0)
                cycles = 0
                while not ctx.get(div.done):
                    await ctx.tick()
                    cycles += 1
                got.append((ctx.get(div.quotient), ctx.get(div.remainder), cycles))

        sim = Simulator(div)
        sim.add_clock(1e-8)
        sim.add_testbench(bench)
        sim.run()
        assert got == [(a // b, a % b, div.cycles) for a, b in cases]


@pytest.mark.parametrize("k", [1, 3, 8])
def test_pipelined_divider_against_python(k: int) -> None:
    """One division per cycle, quotient ``stages + 1`` cycles after acceptance, tags in order,
    results kept under random back-pressure."""
    from amaranth import unsigned
    from amaranth.sim import Simulator

    from hw.units.nonlinear import PipelinedDivider
    rng = np.random.default_rng(k)
    div = PipelinedDivider(dividend_width=20, divisor_width=9, bits_per_stage=k, tag_shape=unsigned(8))
    cases = [(int(a), int(b)) for a, b in zip(rng.integers(0, 1 << 20, 30), rng.integers(1, 1 << 9, 30))]
    cases += [((1 << 20) - 1, 1), (5, 511), (0, 3)]
    ready = rng.random(10_000) < 0.6
    got, acc_at, out_at = [], [], []

    async def bench(ctx) -> None:
        pos, cycle = 0, 0
        while len(got) < len(cases):
            ctx.set(div.i.valid, pos < len(cases))
            if pos < len(cases):
                ctx.set(div.i.payload, {"dividend": cases[pos][0], "divisor": cases[pos][1], "tag": pos})
            gate = bool(ready[cycle]) or cycle < 3 * div.stages  # never stalled at first: latency
            ctx.set(div.o.ready, gate)
            if pos < len(cases) and ctx.get(div.i.ready):
                acc_at.append(cycle)
                pos += 1
            if gate and ctx.get(div.o.valid):
                got.append((ctx.get(div.o.payload.quotient), ctx.get(div.o.payload.tag)))
                out_at.append(cycle)
            await ctx.tick()
            cycle += 1

    sim = Simulator(div)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got == [(a // b, i) for i, (a, b) in enumerate(cases)]
    assert out_at[0] - acc_at[0] == div.latency_cycles == divider_cycles(20, k) + 1
    assert acc_at[:5] == list(range(5))  # one division accepted per cycle


@pytest.mark.parametrize("build,message", [
    (lambda: ShiftmaxUnit(x_bits=8, length=0, x0_int=-4), "length must be an integer in 1..1048576, not 0"),
    (lambda: ROW_UNITS["ivit_shiftmax"].cycles(2, 1 << 21), "length must be an integer in 1..1048576, not 2097152"),
    (lambda: ShiftmaxUnit(x_bits=8, length=4, x0_int=4),
     "ivit_shiftmax constant x0_int must be in [-2**20, -1], not 4"),  # the kernel's rule
    (lambda: ShiftGELUUnit(x_bits=30, length=4, x0_int=-4), "x_bits must be an integer in 2..24, not 30"),
    (lambda: IntGELUUnit(x_bits=8, b_int=-3, c_int=5, shift_int=-1), "ibert_int_gelu constant c_int must be negative, not 5"),
    (lambda: IntGELUUnit(x_bits=8, b_int=-26, c_int=-693, shift_int=-1),  # s_in = 0.1
     "ibert_int_gelu constant c_int must be at most -2**n = -16384 (the erf polynomial must stay resolved "
     "after I-BERT's 2**n shift), not -693"),
    (lambda: IntLayerNormUnit(x_bits=8, length=3, bias_int=[1, 2]), "bias_int must have length 3, not 2"),
    (lambda: ShiftmaxUnit(x_bits=8, length=4, x0_int=-4, divider_bits_per_cycle=1.5),
     "divider_bits_per_cycle must be an integer in 1..64, not 1.5"),
    (lambda: build_nonlinear_unit("relu", x_bits=8),
     "nonlinear unit name must be one of ['ibert_int_gelu', 'ibert_int_layernorm', 'ibert_int_softmax', "
     "'int_rmsnorm', 'int_silu', 'ivit_int_layernorm', 'ivit_shiftgelu', 'ivit_shiftmax'], not 'relu'"),
    (lambda: RMSNormUnit(x_bits=4, length=2, eps_int=200), "eps_int must be at most N * 2**(2*x_bits - 2) = 128, not 200"),
    (lambda: SiLUUnit(x_bits=8, x0_int=0), "int_silu constant x0_int must be in [-2**20, -1], not 0"),
    (lambda: IBertLayerNormUnit(x_bits=8, length=2, bias_int=[0, 0], shift=40),
     "ibert_int_layernorm constant shift must be in [0, 32], not 40"),
    (lambda: shiftmax_timing(0), "length must be a positive integer, not 0"),
    (lambda: ShiftmaxUnit(x_bits=8, length=4, x0_int=-4, pipeline=4), "pipeline must be an integer in 0..3, not 4"),
    (lambda: shiftmax_timing(4, pipeline=-1), "pipeline must be an integer in 0..3, not -1"),
    (lambda: SiLUUnit(x_bits=8, x0_int=-4, pipeline=3), "pipeline must be an integer in 0..2, not 3"),
    (lambda: layernorm_timing(4, x_bits=8, pipeline=True), "pipeline must be an integer in 0..3, not True"),
    (lambda: ROW_UNITS["ivit_shiftgelu"].cycles(2, 4, pipeline=1),  # a unit without the parameter refuses it
     "ivit_shiftgelu timing parameters must be among ['divider_bits_per_cycle', 'x_bits'], not ['pipeline']"),
])
def test_bad_parameters(build, message: str) -> None:
    with pytest.raises(UnitConfigError) as info:
        build()
    assert str(info.value) == message


def test_build_metadata_carries_timing_and_consts() -> None:
    unit, meta = build_nonlinear_unit("ivit_shiftmax", x_bits=8, length=16, x0_int=-4, out_bit=16)
    assert meta["consts"] == {"x0_int": -4, "out_bit": 16, "n": 15}
    t = shiftmax_timing(16)
    assert meta["timing"] == {"cycles_per_row": t.cycles_per_row, "latency_cycles": t.latency_cycles}
    assert meta["params"]["length"] == 16 and unit.length == 16


@pytest.mark.parametrize("rows,message", [
    (np.zeros((2, 0), dtype=np.int64), "row length must equal the unit's length 4, not 0"),
    (np.full((1, 4), 128), "inputs must be in [-128, 127] for x_bits=8, not 128"),
    (np.zeros(4, dtype=np.int64), "rows must be a 2-D integer array, not 1-D of dtype 'int64'"),
])
def test_bad_rows_are_rejected_before_simulation(rows: np.ndarray, message: str) -> None:
    from hw.errors import NumericsError
    unit = ShiftmaxUnit(x_bits=8, length=4, x0_int=-4)
    with pytest.raises(NumericsError) as info:
        simulate_rows(unit, rows)
    assert str(info.value) == message
    unit._MustUse__silence = True


def ibert_softmax_unit(group: dict, length: int, x_bits: int = 32, k: int = 8) -> IBertSoftmaxUnit:
    c = group["consts"]
    return IBertSoftmaxUnit(x_bits=x_bits, length=length, x0_int=c["x0_int"], b_int=c["b_int"],
                            c_int=c["c_int"], exp_sf=c["exp_sf"], act_sf16=c["act_sf16"],
                            n=c["n"], out_bit=c["out_bit"], divider_bits_per_cycle=k)


def check_ibert_softmax_vectors(vectors: Path, rows_per_group: int | None, lengths=(16, 32, 64)) -> int:
    with gzip.open(vectors / "intkernels" / "ibert_int_softmax.jsonl.gz", "rt") as fh:
        recs = [json.loads(line) for line in fh]
    checked = 0
    for g in (r for r in recs if r["type"] == "group" and r["L"] in lengths):
        rows = [r for r in recs if r["type"] == "row" and r["group"] == g["group"]]
        # the exact variant: y_int_model where the float32 reference differs (the 256 rows)
        rows = sorted(rows, key=lambda r: r["model_match"])[:rows_per_group]
        x = np.array([r["x_int"] for r in rows])
        run = simulate_rows(ibert_softmax_unit(g, g["L"]), x)
        np.testing.assert_array_equal(run.outputs, np.array([r.get("y_int_model", r["y_int"]) for r in rows]))
        np.testing.assert_array_equal(run.outputs, kernel("ibert_int_softmax", g["consts"], variant="exact").forward(x))
        checked += len(rows)
    return checked


def test_ibert_softmax_vector_rows_slice(vectors: Path) -> None:
    """One row of each L = 16 group (all six scales), a y_int_model (lone-maximum) row where the
    group has one."""
    assert check_ibert_softmax_vectors(vectors, rows_per_group=1, lengths=(16,)) == 6


@pytest.mark.slow
def test_ibert_softmax_vector_rows_all(vectors: Path) -> None:
    assert check_ibert_softmax_vectors(vectors, rows_per_group=None) == 2052


@pytest.mark.parametrize("s_in,length,x_bits,k", [(0.1, 5, 8, 4), (0.004, 3, 16, 1), (3e-4, 4, 32, 16)])
def test_ibert_softmax_random_rows_and_timing(s_in: float, length: int, x_bits: int, k: int) -> None:
    c = consts_from_scale("ibert_int_softmax", s_in)
    rng = np.random.default_rng(length)
    x = random_rows(rng, 4, length, x_bits)
    x[3] = 0
    x[3, 1] = (1 << (x_bits - 1)) - 1  # a lone maximum: exact 255 where float32 gives 256
    unit = ibert_softmax_unit({"consts": c}, length, x_bits, k)
    run = simulate_rows(unit, x)
    np.testing.assert_array_equal(run.outputs, kernel("ibert_int_softmax", c, variant="exact").forward(x))
    width = ibert_softmax_dividend_width(c_int=c["c_int"], exp_sf=c["exp_sf"])
    t = ibert_softmax_timing(length, dividend_width=width, divider_bits_per_cycle=k)
    assert (run.cycles_per_row(length), run.latency_cycles()) == (t.cycles_per_row, t.latency_cycles)


@pytest.mark.parametrize("pipeline", range(IntLayerNormUnit.max_pipeline + 1))
@pytest.mark.parametrize("length,x_bits,k", [(4, 8, 1), (16, 8, 3), (8, 22, 2)])
def test_layernorm_exact_isqrt_and_constant_row_flag(length: int, x_bits: int, k: int, pipeline: int) -> None:
    from hw.errors import NumericsError
    rng = np.random.default_rng(length + 7 * x_bits)
    bias = [int(v) for v in rng.integers(-1000, 1000, length)]
    x = random_rows(rng, 6, length, x_bits)
    x[3] = x[3] // (1 << (x_bits - 3))  # small variance: exact isqrt differs from 10 Newton steps
    x[5] = -3  # constant row
    unit, meta = build_nonlinear_unit("ivit_int_layernorm", x_bits=x_bits, length=length, bias_int=bias,
                                      divider_bits_per_cycle=k, variant="exact",
                                      **({"pipeline": pipeline} if pipeline else {}))
    assert meta["variant"] == "exact"
    run = simulate_rows(unit, x, flags=("row_error",))
    golden = kernel("ivit_int_layernorm", {"bias_int": bias}, variant="exact")
    np.testing.assert_array_equal(run.outputs[1:5], golden.forward(x[1:5]))
    for row in (0, 5):  # all at the minimum, all -3
        with pytest.raises(NumericsError, match=r"^ivit_int_layernorm row variance must be positive, not 0"):
            golden.forward(x[row:row + 1])
        # the RTL flags the zero-variance row instead and passes bias_int through
        assert run.flags["row_error"][row].all()
        np.testing.assert_array_equal(run.outputs[row], bias)
    np.testing.assert_array_equal(run.flags["row_error"].any(axis=1), [1, 0, 0, 0, 0, 1])
    t = layernorm_timing(length, x_bits=x_bits, divider_bits_per_cycle=k, variant="exact", pipeline=pipeline)
    assert (run.cycles_per_row(length), run.latency_cycles()) == (t.cycles_per_row, t.latency_cycles)
