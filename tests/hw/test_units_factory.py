"""The unit factory (names, metadata) and ``lowbit verilog`` (files written, exact errors)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from hw.errors import UnitConfigError
from hw.units import (DotProductLane, MacFormats, MacUnit, build_mac, build_pe, build_unit, exact_accumulator_bits,
                      mac_timing)
from reports.cli import main

try:
    from hw.units.nonlinear import UNITS as _NONLINEAR
except ImportError:  # the nonlinear units are another package; the list follows it
    _NONLINEAR = {}
_KINDS = ["mac", "dot", "mxdot", "requant", "quantize", *sorted(_NONLINEAR)]


def test_build_mac_names_and_metadata() -> None:
    u = build_mac(a="e4m3fn", b="fp8", acc="exact", out="fp32", lanes=8)
    assert u.name == "mac_e4m3fn_e4m3fn_exact_float32_l8"
    assert isinstance(u.component, DotProductLane)
    m = u.metadata
    assert (m["a_format"], m["b_format"], m["acc"], m["out_format"], m["lanes"]) == (
        "e4m3fn", "e4m3fn", "exact", "float32", 8)
    assert m["accumulator_bits"] == exact_accumulator_bits("e4m3fn", "e4m3fn", 4096)
    assert (m["latency_cycles"], m["initiation_interval"]) == (1, 1) and u.timing == mac_timing(lanes=8)
    scalar = build_mac(a="int4", b="e4m3fn", acc="fp32", out="bf16", pipeline=2, max_k=256)
    assert isinstance(scalar.component, MacUnit)
    assert scalar.name == "mac_int4_e4m3fn_float32_bfloat16_l1_p2_k256"
    assert scalar.metadata["latency_cycles"] == 3
    wrap = build_mac(a="int8", b="int8", out="int16", overflow="wrap")
    assert wrap.name == "mac_int8_int8_exact_int16_l1_wrap" and wrap.metadata["accumulator_bits"] == 16


def test_packed_units_and_the_array_pe() -> None:
    packed = build_mac(a="int4", b="int4", out="int32", packing=4)
    assert packed.name == "mac_int4_int4_exact_int32_l1_x4"
    assert (packed.metadata["lanes"], packed.metadata["packing"], packed.metadata["ops_per_cycle"]) == (4, 4, 4)
    assert packed.timing == mac_timing(lanes=4)
    f = MacFormats(a_format="int4", b_format="e4m3fn", max_k=256)
    pe = build_pe(f)  # the array's PE: formats.packing products per cycle
    assert pe.name == "pe_int4_e4m3fn_exact_float32_l2_k256" and pe.component.lanes == f.packing == 2
    assert (pe.metadata["unit"], pe.metadata["ops_per_cycle"]) == ("pe", 2)
    for u in (packed, pe):
        u.component._MustUse__silence = True  # only named here


def test_build_unit_kinds() -> None:
    assert build_unit("mxdot", a="mxfp4", b="mxfp8_e4m3").name == "mxdot_mxfp4_mxfp8_e4m3_float32"
    assert build_unit("requant", rounding="half_up").name == "requant_int32_int8_m32_s63_half_up"
    assert build_unit("quantize", dst="e2m1fn").name == "quantize_float32_e2m1fn"
    assert build_unit("dot", a="int8", b="int8", out="int32").metadata["lanes"] == 8
    with pytest.raises(UnitConfigError) as exc:
        build_unit("mac", a="int8", b="int8", bogus=1)
    assert str(exc.value).startswith("parameters of a mac unit must be its keyword arguments, not ['a', 'b', 'bogus']")


def test_cli_writes_verilog_and_metadata(tmp_path: Path, capsys) -> None:
    rc = main(["verilog", "mac", "--a", "e4m3fn", "--b", "e4m3fn", "--acc", "exact", "--out-format", "fp32",
               "--lanes", "8", "-o", str(tmp_path)])
    assert rc == 0
    v = tmp_path / "mac_e4m3fn_e4m3fn_exact_float32_l8.v"
    meta = json.loads((tmp_path / "mac_e4m3fn_e4m3fn_exact_float32_l8.json").read_text())
    assert "module mac_e4m3fn_e4m3fn_exact_float32_l8" in v.read_text()
    ports = {p["name"]: p["width"] for p in meta["ports"]}
    assert ports["a"] == 64 and ports["out"] == 32
    assert meta["timing"]["latency_cycles"] == 1 and meta["parameters"]["lanes"] == 8
    assert len(meta["verilog_sha256"]) == 64
    assert str(v) in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["verilog", "mac", "--a", "e4m3fn", "--b", "e4m3fn", "--lanes", "6"], "lanes must be a power of two, not 6"),
    (["verilog", "mac", "--a", "mxfp4", "--b", "e4m3fn"],
     "a_format must be an element format (block formats go to MxDotUnit), not mxfp4"),
    (["verilog", "mac", "--a", "e4m3fn", "--b", "e4m3fn", "--acc", "int32"],
     "acc must be 'exact' or an IEEE float format (float32, float16, bfloat16, ...), not 'int32'"),
    (["verilog", "mac", "--a", "e4m3fn", "--b", "e4m3fn", "--out-format", "e8m0"],
     "out_format must be a float or integer format, not e8m0fnu"),
    (["verilog", "mac", "--a", "fp7", "--b", "e4m3fn"],
     "format name must be a known format (e.g. int8, e4m3fn, e5m2, mxfp4, bf16, nf4; see `lowbit formats`), not 'fp7'"),
    (["verilog", "mac", "--b", "e4m3fn"], "--a must be given for a mac unit, not omitted"),
    (["verilog", "mxdot", "--a", "e4m3fn", "--b", "mxfp4"],
     "a_format must be a block format (mxfp8_e4m3, mxfp4, mxint8, mxint4, BFP, nvfp4), not e4m3fn"),
    (["verilog", "requant", "--rounding", "rtz"], "rounding must be one of rne (alias half_even), half_up, floor, not 'rtz'"),
    (["verilog", "blender"], f"unit must be one of {', '.join(_KINDS)}, not 'blender'"),
])
def test_cli_bad_parameters_exit_2(tmp_path: Path, capsys, argv: list[str], message: str) -> None:
    assert main([*argv, "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"lowbit: error: {message}\n"
    assert not list(tmp_path.iterdir())


def test_demo_check_verdicts() -> None:
    from hw.units import demo_check

    rows = demo_check(["e4m3fn", "int4", "mxfp4"], n=64, lanes=4)
    assert [r["format"] for r in rows] == ["e4m3fn", "int4", "mxfp4"]
    assert [r["unit"] for r in rows] == ["mac_e4m3fn_e4m3fn_exact_float32_l4_k4", "mac_int4_int4_exact_int32_l4_k4",
                                         "mxdot_mxfp4_mxfp4_float32"]
    assert [r["products"] for r in rows] == [64, 64, 64]
    assert all(r["mismatches"] == 0 and r["verdict"] == "pass" for r in rows)


def test_demo_check_rejects_bad_n() -> None:
    from hw.units import demo_check

    with pytest.raises(UnitConfigError, match=r"^n must be a positive integer, not 0$"):
        demo_check(["int8"], n=0)


@pytest.mark.parametrize("argv,stem", [
    (["verilog", "requant", "--out-format", "int16", "--rounding", "half_up"], "requant_int32_int16_m32_s63_half_up"),
    (["verilog", "mxdot", "--a", "mxint4", "--b", "mxint4", "--pipeline", "1"], "mxdot_mxint4_mxint4_float32_p1"),
    (["verilog", "quantize", "--out-format", "e2m1fn"], "quantize_float32_e2m1fn"),
])
def test_cli_other_unit_kinds(tmp_path: Path, argv: list[str], stem: str) -> None:
    assert main([*argv, "-o", str(tmp_path)]) == 0
    meta = json.loads((tmp_path / f"{stem}.json").read_text())
    assert meta["name"] == meta["parameters"]["name"] == stem
    assert f"module {stem}" in (tmp_path / f"{stem}.v").read_text()
    assert meta["timing"]["latency_cycles"] >= 1 and meta["timing"]["initiation_interval"] == 1
