"""Exported systolic arrays as an FPGA engineer receives them: schema-valid JSON (with the tile
cycle formula filled in), lint-clean Verilog, and the generated standalone bench, which plays
the operand buffers through the tile interface, checks every output row against
``hw.numerics.gemm`` and every tile's cycles against the JSON's formula (``hw.arrays.tile_cycles``).
Chained arrays (``chain=True``): the bench issues tiles whenever ``busy`` is low, so they overlap,
and checks each GEMM's cycles against ``tile_cycles(chain=True)``; mutants show it detects a wrong
output and a wrong cycle count."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hw.arrays import build_array, tile_cycles
from hw.errors import UnitConfigError
from hw.flow import export_verilog, validate_export
from reports.cli import main

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


# ---- chained arrays: tiles overlap, the bench issues them whenever busy is low ----------------

# WS, double-buffered, chain=True; max_m small enough for the vectors' M-remainder GEMM (2 * max_m
# + 1 rows) and at least 2 * rows + cols + 2 + pipeline, so one GEMM's tiles stream back to back
CHAINED = [
    # (4 x 4 INT8: test_chained_int8_bench_passes_and_detects_mutants)
    pytest.param(dict(rows=2, cols=3, a_format="e4m3fn", acc="float32", pipeline=1, max_m=10, max_k=64),
                 id="chain-2x3-e4m3fn-fp32acc-p1"),
    pytest.param(dict(rows=2, cols=3, a_format="int4", b_format="int8", max_m=10, max_k=64),
                 id="chain-2x3-int4xint8-packed"),
    pytest.param(dict(rows=2, cols=2, a_format="mxfp4", acc="float32", max_m=8, max_k=64), id="chain-2x2-mxfp4",
                 marks=pytest.mark.slow),
    pytest.param(dict(rows=2, cols=2, a_format="e2m1fn", pipeline=1, max_m=9, max_k=64), id="chain-2x2-fp4-packed-p1",
                 marks=pytest.mark.slow),
    pytest.param(dict(rows=3, cols=2, a_format="bf16", acc="float32", max_m=10, max_k=64), id="chain-3x2-bf16-fp32acc",
                 marks=pytest.mark.slow),
    pytest.param(dict(rows=8, cols=8, a_format="int8", max_m=26, max_k=256), id="chain-8x8-int8",
                 marks=pytest.mark.slow),
]


def _chained(**params):
    return build_array(dataflow="ws", double_buffer=True, chain=True, **params)


def _gemm_cycles(arr, g: dict, *, chain: bool) -> int:
    return tile_cycles(rows=arr.rows, cols=arr.cols, dataflow="ws", m=g["m"], k=g["k"], n=g["n"], max_m=arr.max_m,
                       double_buffer=True, pe_pipeline=arr.pipeline, packing=arr.packing, chain=chain).total


def _chained_bench_passes(unit, out_dir: Path):
    """Export chained ``unit`` with its bench, check what its vectors cover and that the bench
    passes; returns the export."""
    arr = unit.component
    assert unit.name.endswith("_db_chain" + ("_p1" if arr.pipeline else "") +
                              (f"_x{arr.packing}" if arr.packing > 1 else ""))
    res = export_checked(unit, out_dir)
    meta = res.metadata
    assert meta["parameters"]["chain"] is True
    ct = meta["timing"]["chained_tiles"]
    assert ct["source"] == "hw.arrays.tile_cycles(chain=True)"
    assert "busy" in meta["protocol"]["signals"] and "chained" in meta["protocol"]["signals"]["start"]
    vec = json.loads(res.vectors_path.read_text())
    gemms = vec["gemms"]
    lk, R, C = meta["parameters"]["tile_limits"]["k"], arr.rows, arr.cols
    assert any(g["k"] > lk for g in gemms) and any(g["n"] > C for g in gemms)
    assert any(g["m"] > arr.max_m and g["m"] % arr.max_m for g in gemms)  # M blocks and a remainder
    long_rows = 2 * R + C + 2 + arr.pipeline
    assert any(len(g["tiles"]) > 1 and min(t["m"] for t in g["tiles"]) >= long_rows for g in gemms)
    for g in gemms:  # the bench asserts the measured cycles equal these: the tiles overlapped
        if len(g["tiles"]) > 1:
            assert g["cycles"] < _gemm_cycles(arr, g, chain=False), g
    run = run_bench(res)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"{meta['name']}: 1/1 cocotb tests passed" in run.stdout
    assert f"{len(gemms)} GEMMs ({sum(len(g['tiles']) for g in gemms)} chained tiles) bit-identical" in run.stdout
    return res


@pytest.mark.parametrize("params", CHAINED)
def test_exported_chained_array_bench_passes(tmp_path: Path, params: dict) -> None:
    """A chained array's generated bench issues each GEMM's tiles whenever ``busy`` is low (so they
    overlap), checks every output row against ``hw.numerics.gemm`` and each GEMM's measured
    cycles against ``tile_cycles(chain=True)``; the GEMMs fold over K, N and M (with a
    remainder) and include tiles long enough to stream back to back."""
    _chained_bench_passes(_chained(**params), tmp_path)


def _bench_fails(res, message: str) -> None:
    run = run_bench(res)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    assert "FAIL=1" in run.stdout and message in run.stdout, run.stdout[-3000:]


def test_chained_int8_bench_passes_and_detects_mutants(tmp_path: Path) -> None:
    """A 4 x 4 INT8 chained array passes its bench (as ``test_exported_chained_array_bench_passes``),
    and the bench is not vacuous: one expected output code changed, or one GEMM's cycles
    replaced by the non-chained array's, fails it; so does the bench run on a non-chained
    double-buffered array's Verilog (same ports, tiles one at a time: right codes, too many
    cycles)."""
    params = dict(rows=4, cols=4, a_format="int8", max_m=16, max_k=64)
    unit = _chained(**params)
    arr = unit.component
    res = _chained_bench_passes(unit, tmp_path / "chain")
    good = res.vectors_path.read_text()

    vec = json.loads(good)
    g = 1  # three K folds, two N folds: the second output block's last fold
    tile = max(i for i, t in enumerate(vec["gemms"][g]["tiles"]) if t["expect_c"] is not None)
    vec["gemms"][g]["tiles"][tile]["expect_c"][0] ^= 1
    res.vectors_path.write_text(json.dumps(vec))
    _bench_fails(res, f"GEMM {g} tile {tile}: 1 rows differ")

    vec = json.loads(good)
    serial = _gemm_cycles(arr, vec["gemms"][g], chain=False)
    vec["gemms"][g]["cycles"] = serial
    res.vectors_path.write_text(json.dumps(vec))
    _bench_fails(res, f"cycles, tile_cycles(chain=True) says {serial}")

    res.vectors_path.write_text(good)
    name = res.metadata["name"]
    other = build_array(**params, double_buffer=True)
    plain = export_verilog(other.component, name=name, out_dir=tmp_path / "plain", metadata=other.metadata)
    res.verilog_path.write_text(plain.verilog_path.read_text())
    shutil.rmtree(res.verilog_path.parent / f"{name}_build")
    gv = vec["gemms"][g]
    want = _gemm_cycles(arr, gv, chain=True)  # GEMM 0 is one tile: the same cycles chained or not
    _bench_fails(res, f"GEMM {g} ({gv['m']} x {gv['k']} x {gv['n']}, {len(gv['tiles'])} tiles): {serial} cycles, "
                      f"tile_cycles(chain=True) says {want}")


def test_chained_metadata_follows_the_schema_only_with_its_protocol(tmp_path: Path) -> None:
    """``timing.chained_tiles`` is required for a chained array and refused for any other."""
    chained = export_verilog((u := _chained(rows=2, cols=2, max_m=8, max_k=16)).component, name=u.name,
                             out_dir=tmp_path, metadata=u.metadata).metadata
    plain = export_verilog((v := build_array(rows=2, cols=2, max_m=8, max_k=16, double_buffer=True)).component,
                           name=v.name, out_dir=tmp_path, metadata=v.metadata).metadata
    validate_export(chained)
    validate_export(plain)
    broken = json.loads(json.dumps(chained))
    del broken["timing"]["chained_tiles"]
    with pytest.raises(UnitConfigError, match=r"^export metadata must follow export\.schema\.json, not "
                                              r"\$\['timing'\]: 'chained_tiles' is a required property$"):
        validate_export(broken)
    broken = json.loads(json.dumps(plain))
    broken["timing"]["chained_tiles"] = chained["timing"]["chained_tiles"]
    with pytest.raises(UnitConfigError, match=r"^export metadata must follow export\.schema\.json, not "
                                              r"\$\['timing'\]: "):
        validate_export(broken)


@pytest.mark.parametrize("params", [dict(rows=2, cols=3, a_format="int8", max_m=7, max_k=64),
                                    dict(rows=3, cols=2, a_format="int4", b_format="int8", pipeline=1, max_m=9,
                                         max_k=64)])
def test_chained_json_cycle_recurrence_is_tile_cycles(tmp_path: Path, params: dict) -> None:
    """The recurrence the JSON gives an engineer (``timing.chained_tiles``: its constants L, G, W
    and the packing), evaluated over the tiles ``tile_shapes`` issues, is
    ``tile_cycles(chain=True)`` (the function the RTL's cycles are checked against), packed and
    pipelined too."""
    from hw.arrays import tile_shapes

    unit = _chained(**params)
    arr = unit.component
    meta = export_verilog(arr, name=unit.name, out_dir=tmp_path, metadata=unit.metadata).metadata
    ct, q = meta["timing"]["chained_tiles"], meta["parameters"]["packing"]
    L, G, W = ct["row_latency_cycles"], ct["min_first_row_gap_cycles"], ct["wave_cycles"]
    assert f"P = packing = {q})" in ct["gemm_cycles"] and f"total = S_(T-1) + m_(T-1) + {L} " in ct["gemm_cycles"]
    assert f"max(m_t, {W} + ceil(k_(t+1)/P), {G})" in ct["gemm_cycles"]
    for m in (1, 5, arr.max_m, 2 * arr.max_m + 3):
        for k in (1, 4, 7, 13):
            for n in (1, 4, 7):
                tiles = tile_shapes(rows=arr.rows, cols=arr.cols, dataflow="ws", m=m, k=k, n=n, max_m=arr.max_m,
                                    packing=q)
                ms, kps = [t[3] for t in tiles], [-(-t[4] // q) for t in tiles]
                s = kps[0] + 1
                for t in range(len(tiles) - 1):
                    s += max(ms[0], G) if t == 0 else max(ms[t], W + kps[t + 1], G)
                g = {"m": m, "k": k, "n": n}
                assert s + ms[-1] + L == _gemm_cycles(arr, g, chain=True), (m, k, n)


@pytest.mark.parametrize("extra,message", [
    ([], "chain must be False without double_buffer (chained tiles take their weights from the shadow)"),
    (["--dataflow", "os"], "chain must be False without double_buffer (chained tiles take their weights from the "
                           "shadow)"),
    (["--dataflow", "os", "--double-buffer"], "double_buffer must be False for dataflow 'os' (only WS preloads "
                                              "weights)"),
])
def test_cli_chain_needs_a_double_buffered_ws_array(tmp_path: Path, capsys, extra: list, message: str) -> None:
    out = tmp_path / "out"
    argv = ["verilog", "array", "--rows", "2", "--cols", "2", "--a", "int8", "--chain", *extra, "-o", str(out)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err == f"lowbit: error: {message}\n" and captured.out == ""
    assert not out.exists()


def test_cli_exports_a_chained_array(tmp_path: Path, capsys) -> None:
    argv = ["verilog", "array", "--rows", "2", "--cols", "2", "--a", "int8", "--max-m", "8", "--max-k", "16",
            "--double-buffer", "--chain", "-o", str(tmp_path)]
    assert main(argv) == 0
    name = "array_ws_2x2_int8xint8_exact_db_chain"
    meta = json.loads((tmp_path / f"{name}.json").read_text())
    assert meta["parameters"]["chain"] is True and "chained_tiles" in meta["timing"]
    assert json.loads((tmp_path / f"{name}_vectors.json").read_text())["chain"] is True
    assert f"cd {tmp_path} && python {name}_tb.py" in capsys.readouterr().out
