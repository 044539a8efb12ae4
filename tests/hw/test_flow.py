"""Tool flow: the lint-clean Verilog export (width normalisation proven equivalent by yosys),
the export's JSON against the shipped schema, and the files an export writes."""
from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from amaranth import Module, Signal, signed, unsigned
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.arrays import build_array
from hw.errors import UnitConfigError
from hw.flow import (MAX_MODULE_NAME, clean_verilog, export_verilog, lint_verilog, module_name, run_yosys,
                     validate_export)
from hw.units import build_unit

from ._exports import schema


class _Patterns(wiring.Component):
    """Expressions whose Amaranth Verilog trips Verilator's default lint: mixed-width
    arithmetic and comparisons, a comparison with a constant outside the operand's range, a
    logical operator on a vector, a sign-extended alias wire, a multi-way switch."""

    def __init__(self) -> None:
        super().__init__({"a": In(signed(8)), "b": In(unsigned(6)), "s": In(2), "y": Out(signed(12)),
                          "z": Out(8), "f": Out(1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        ext = Signal(signed(12))
        m.d.comb += ext.eq(self.a)
        with m.Switch(self.s):
            with m.Case(0):
                m.d.sync += self.y.eq(ext + self.b)
            with m.Case(1):
                m.d.sync += self.y.eq(ext - (self.b << 3))
            with m.Case(2):
                m.d.sync += self.y.eq(self.b * self.a)
            with m.Default():
                m.d.sync += self.y.eq(-self.a)
        m.d.comb += self.z.eq(~self.b[:4] + (self.b >> 1))
        m.d.comb += self.f.eq((self.a < 0) | (self.b[2:6] == 0) | (self.b > 200) | ~self.b.any())
        return m


EQUIV_SCRIPT = """\
read_verilog -sv gold.v
hierarchy -top {top}
proc
flatten
rename {top} gold
design -stash gold
read_verilog -sv gate.v
hierarchy -top {top}
proc
flatten
rename {top} gate
design -stash gate
design -copy-from gold -as gold gold
design -copy-from gate -as gate gate
equiv_make gold gate equiv
hierarchy -top equiv
equiv_simple -seq 2
equiv_induct
equiv_status -assert
"""


def _warnings(lines: list[str]) -> set[str]:
    return {m.group(1) for ln in lines if (m := re.match(r"%Warning-(\w+)", ln))}


def _equivalent(gold: str, gate: str, top: str, tmp_path: Path) -> str:
    return run_yosys(EQUIV_SCRIPT.format(top=top), workdir=tmp_path, step="equivalence",
                     files={"gold.v": gold, "gate.v": gate})


def test_clean_verilog_lints_clean_and_is_equivalent(tmp_path: Path) -> None:
    amaranth_text = verilog.convert(_Patterns(), name="pat", emit_src=False)
    (tmp_path / "amaranth.v").write_text(amaranth_text)
    before = _warnings(lint_verilog(tmp_path / "amaranth.v"))
    assert {"WIDTHEXPAND", "WIDTHTRUNC"} <= before  # the patterns do trip the lint
    clean = clean_verilog(_Patterns(), name="pat")
    (tmp_path / "clean.v").write_text(clean.text)
    assert lint_verilog(tmp_path / "clean.v") == []
    assert clean.ports == {"a": ("input", 8), "b": ("input", 6), "s": ("input", 2), "y": ("output", 12),
                           "z": ("output", 8), "f": ("output", 1), "clk": ("input", 1), "rst": ("input", 1)}
    log = _equivalent(amaranth_text, clean.text, "pat", tmp_path)
    assert "Equivalence successfully proven!" in log


@pytest.mark.slow
def test_clean_mac_is_equivalent_to_amaranths_verilog(tmp_path: Path) -> None:
    gold = verilog.convert(build_unit("mac", a="e4m3fn", b="int4").component, name="mac", emit_src=False)
    gate = clean_verilog(build_unit("mac", a="e4m3fn", b="int4").component, name="mac").text
    assert "Equivalence successfully proven!" in _equivalent(gold, gate, "mac", tmp_path)


def test_export_writes_verilog_json_and_template(tmp_path: Path) -> None:
    unit = build_unit("dot", a="int4", b="int4", out="int16", lanes=4, max_k=64)
    res = export_verilog(unit.component, name=unit.name, out_dir=tmp_path, metadata=unit.metadata)
    meta = json.loads(res.metadata_path.read_text())
    jsonschema.Draft202012Validator(schema()).validate(meta)
    assert f"module {unit.name}(" in res.verilog_path.read_text().replace(" (", "(")
    assert meta["verilog_sha256"] == res.verilog_sha256
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(meta["files"].values())
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in tmp_path.iterdir())
    ports = {p["name"]: p for p in meta["ports"]}
    assert ports["clk"]["role"] == "clock" and meta["clock"] == {"port": "clk", "edge": "rising"}
    assert meta["reset"]["synchronous"] is True and meta["reset"]["polarity"] == "active_high"
    a = ports["a"]["layout"]
    assert (ports["a"]["width"], a["kind"], a["lanes"], a["lane_bits"]) == (16, "array", 4, 4)
    assert a["element"]["encoding"] == {"format": "int4", "kind": "int", "bits": 4, "representation": "twos_complement",
                                        "frac_bits": 0, "symmetric": False, "value": "code * 2**-frac_bits"}
    assert (meta["timing"]["latency_cycles"], meta["timing"]["initiation_interval"]) == (1, 1)
    assert set(meta["protocol"]["signals"]) == {"valid", "first", "last", "out_valid"}
    template = res.instantiation_path.read_text()
    assert f"{unit.name} u_{unit.name} (" in template
    for p in meta["ports"]:
        assert f".{p['name']}" in template


def test_array_json_documents_flag_bits_and_tile_ranges(tmp_path: Path) -> None:
    unit = build_array(rows=2, cols=2, dataflow="ws", a_format="int8", max_m=100, max_k=64)
    res = export_verilog(unit.component, name=unit.name, out_dir=tmp_path, metadata=unit.metadata)
    ports = {p["name"]: p for p in res.metadata["ports"]}
    psum = ports["a_psum"]["layout"]
    fields = {f["name"]: f for f in psum["element"]["fields"]}
    layout = unit.component.signature.members["a_psum"].shape.elem_shape
    for name in ("value", "nan", "pinf", "ninf"):
        assert fields[name]["offset"] == layout[name].offset
        assert fields[name]["meaning"]
    assert fields["nan"]["encoding"]["representation"] == "flag"
    assert "-> NaN" in fields["value"]["encoding"]["rounding"]
    assert psum["lanes"] * psum["lane_bits"] == ports["a_psum"]["width"]
    tm = ports["tile_m"]["layout"]
    assert tm["declared_range"] == {"min": 0, "max": 100}
    assert (tm["encoding"]["legal_min"], tm["encoding"]["legal_max"]) == (1, 100)
    assert 2 ** ports["tile_m"]["width"] - 1 > 100  # the port holds more than is legal: documented
    f = res.metadata["timing"]["cycle_formula"]
    assert f["expression"] == f"total = {f['constant']} + 1*m + 1*k"


def test_schema_rejects_metadata_that_breaks_it(tmp_path: Path) -> None:
    unit = build_unit("mac", a="int4", b="int4", out="int16", max_k=64)
    meta = export_verilog(unit.component, name=unit.name, out_dir=tmp_path, metadata=unit.metadata).metadata
    validate_export(meta)
    broken = json.loads(json.dumps(meta))
    broken["timing"]["latency_cycles"] = "1"
    with pytest.raises(UnitConfigError, match=r"^export metadata must follow export\.schema\.json, not "
                                              r"\$\['timing'\]\['latency_cycles'\]: '1' is not of type 'integer'$"):
        validate_export(broken)


def test_export_without_a_documented_kind_writes_verilog_only(tmp_path: Path) -> None:
    res = export_verilog(_Patterns(), name="pat", out_dir=tmp_path, metadata={"unit": {"nested": 1}})
    assert res.metadata_path is None and [p.name for p in tmp_path.iterdir()] == ["pat.v"]
    with pytest.raises(UnitConfigError, match=r"^metadata must name a documented unit kind"):
        export_verilog(_Patterns(), name="pat", out_dir=tmp_path, testbench=True)


def test_export_rejects_bad_name(tmp_path: Path) -> None:
    with pytest.raises(UnitConfigError, match=r"^module name must be a Verilog identifier, not '1x'$"):
        export_verilog(_Patterns(), name="1x", out_dir=tmp_path)


def test_module_name_keeps_short_names_and_cuts_long_ones() -> None:
    assert module_name("mac_int8_int8_exact_int32_l1") == "mac_int8_int8_exact_int32_l1"
    long = "ivit_int_layernorm_bias_int_3__m2__0__100__m7__1__divider_bits_per_cycle1_length6_variantreference"
    short = module_name(long)
    assert len(short) == MAX_MODULE_NAME and short.startswith(long[:MAX_MODULE_NAME - 9] + "_")
    assert short != module_name(long + "_x8") and short == module_name(long)
