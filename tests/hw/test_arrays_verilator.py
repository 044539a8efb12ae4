"""Exported systolic arrays as an FPGA engineer receives them: schema-valid JSON (with the tile
cycle formula filled in), lint-clean Verilog, and the generated standalone bench, which plays
the operand buffers through the tile interface, checks every output row against
``hw.numerics.gemm`` and every tile's cycles against the JSON's formula (``hw.arrays.tile_cycles``)."""
from __future__ import annotations

from pathlib import Path

import pytest

from hw.arrays import build_array, tile_cycles

from ._exports import export_checked, run_bench

ARRAYS = [
    pytest.param(dict(rows=4, cols=4, dataflow="ws", a_format="int8", max_m=64, max_k=64), id="ws-4x4-int8"),
    pytest.param(dict(rows=4, cols=4, dataflow="os", a_format="e4m3fn", acc="exact", max_k=64), id="os-4x4-e4m3fn",
                 marks=pytest.mark.slow),
    pytest.param(dict(rows=2, cols=3, dataflow="ws", a_format="e4m3fn", double_buffer=True, pipeline=1, max_m=16,
                      max_k=64), id="ws-2x3-e4m3fn-db-p1", marks=pytest.mark.slow),
    pytest.param(dict(rows=2, cols=2, dataflow="os", a_format="mxfp4", acc="float32", max_k=64), id="os-2x2-mxfp4",
                 marks=pytest.mark.slow),
    pytest.param(dict(rows=2, cols=3, dataflow="ws", a_format="int4", b_format="int8", max_m=16, max_k=64),
                 id="ws-2x3-int4xint8-packed"),  # packed PEs (2 products per PE per cycle) on Verilator
    pytest.param(dict(rows=2, cols=2, dataflow="os", a_format="e2m1fn", b_format="e2m1fn", max_k=64),
                 id="os-2x2-fp4-packed", marks=pytest.mark.slow),
    pytest.param(dict(rows=16, cols=16, dataflow="ws", a_format="int8"), id="ws-16x16-int8", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("params", ARRAYS)
def test_exported_array_bench_passes(tmp_path: Path, params: dict) -> None:
    unit = build_array(**params)
    res = export_checked(unit, tmp_path)
    f = res.metadata["timing"]["cycle_formula"]
    lim = res.metadata["parameters"]["tile_limits"]
    q = f["packing"]
    assert q == unit.component.packing and f["k_term"] == ("k" if q == 1 else f"ceil(k/{q})")
    for m, k, n in [(1, 1, 1), (lim["m"], lim["k"], lim["n"]), (2, 1, min(2, lim["n"])), (1, min(3, lim["k"]), 1)]:
        want = tile_cycles(rows=unit.component.rows, cols=unit.component.cols, dataflow=params["dataflow"],
                           m=m, k=k, n=n, pe_pipeline=params.get("pipeline", 0), packing=q).total
        assert f["constant"] + f["m"] * m + f["k"] * -(-k // q) + f["n"] * n == want
    run = run_bench(res)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"{res.metadata['name']}: 1/1 cocotb tests passed" in run.stdout
