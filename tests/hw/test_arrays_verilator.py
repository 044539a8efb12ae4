"""Exported systolic arrays on Verilator through cocotb: the bench (``benches/bench_arrays.py``)
reads the design from the metadata JSON, runs GEMMs tile by tile and checks the outputs against
``hw.numerics.gemm`` and the measured cycles against ``hw.arrays.tile_cycles``."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from hw.arrays import build_array
from hw.flow import export_verilog, run_cocotb

BENCHES = Path(__file__).parent / "benches"


def _run(tmp_path: Path, cases: list[list[int]], **params) -> tuple[int, int]:
    unit = build_array(**params)
    res = export_verilog(unit.component, name=unit.name, out_dir=tmp_path, metadata=unit.metadata)
    return run_cocotb(verilog_sources=[res.verilog_path], toplevel=unit.name, test_module="bench_arrays",
                      bench_dir=BENCHES, build_dir=tmp_path / "build",
                      extra_env={"LOWBIT_META": str(res.metadata_path), "LOWBIT_CASES": json.dumps(cases)})


def test_os_4x4_e4m3fn_on_verilator(tmp_path: Path) -> None:
    # M, N not multiples of the array, K = 1, all e4m3fn codes (NaN included)
    cases = [[5, 9, 6], [1, 1, 1], [4, 17, 4]]
    assert _run(tmp_path, cases, rows=4, cols=4, dataflow="os", a_format="e4m3fn", acc="exact",
                max_k=64) == (1, 0)


@pytest.mark.slow
def test_ws_16x16_int8_on_verilator(tmp_path: Path) -> None:
    # one tile, a tile with M = N = K = 1, K over two folds with N over two folds
    cases = [[20, 16, 16], [1, 1, 1], [7, 40, 20]]
    assert _run(tmp_path, cases, rows=16, cols=16, dataflow="ws", a_format="int8") == (1, 0)
