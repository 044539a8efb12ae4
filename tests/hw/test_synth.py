"""hw.flow synthesis and place-and-route: cell-count relations on tiny known designs, tool
errors that name the tool and step, and one fast FPGA smoke run per family."""
from __future__ import annotations

import pytest
from amaranth import Module, Signal, unsigned
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.errors import ToolError, UnitConfigError
from hw.flow import TRANSISTORS_PER_NAND2, place_and_route, synthesize_asic


class _Register(wiring.Component):
    def __init__(self, width: int) -> None:
        super().__init__({"d": In(unsigned(width)), "q": Out(unsigned(width))})

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.q.eq(self.d)
        return m


class _Inverters(wiring.Component):
    def __init__(self, width: int) -> None:
        super().__init__({"a": In(unsigned(width)), "y": Out(unsigned(width))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.y.eq(~self.a)
        return m


class _RegisteredMul(wiring.Component):
    def __init__(self, width: int) -> None:
        super().__init__({"a": In(unsigned(width)), "b": In(unsigned(width)),
                          "p": Out(unsigned(2 * width))})

    def elaborate(self, platform):
        m = Module()
        a, b = Signal(unsigned(len(self.a))), Signal(unsigned(len(self.b)))
        m.d.sync += [a.eq(self.a), b.eq(self.b), self.p.eq(a * b)]
        return m


def _v(component: wiring.Component, name: str) -> str:
    return verilog.convert(component, name=name, emit_src=False)


@pytest.mark.parametrize("width", [1, 5, 12])
def test_register_has_one_flip_flop_per_bit(width: int) -> None:
    res = synthesize_asic(_v(_Register(width), "reg"), top="reg")
    assert res.flip_flops == width
    assert res.cells_by_type["$_DFF_P_"] == width
    assert res.gates_nand2 == res.transistors / TRANSISTORS_PER_NAND2


@pytest.mark.parametrize("width", [1, 7])
def test_inverter_bank_is_one_not_per_bit_depth_one(width: int) -> None:
    res = synthesize_asic(_v(_Inverters(width), "inv"), top="inv")
    assert res.cells_by_type == {"$_NOT_": width}
    assert res.flip_flops == 0 and res.logic_depth == 1
    # every gate of the netlist is written out, with public net names
    assert res.netlist_verilog.count("assign") >= width


def test_wider_multiplier_has_more_gates_and_depth() -> None:
    from hw.cost import IntMultiplier

    small = synthesize_asic(_v(IntMultiplier(width=4), "m4"), top="m4")
    large = synthesize_asic(_v(IntMultiplier(width=8), "m8"), top="m8")
    assert large.transistors > small.transistors and large.logic_depth > small.logic_depth


def test_broken_verilog_names_yosys_and_step() -> None:
    with pytest.raises(ToolError, match=r"^yosys failed in step 'ASIC synthesis' \(exit 1\): "
                                        r"design\.v:1: ERROR: syntax error, unexpected ';'$"):
        synthesize_asic("module t(input a, output y); assign y = a &; endmodule", top="t")


def test_missing_top_names_yosys() -> None:
    with pytest.raises(ToolError, match=r"^yosys failed in step 'ASIC synthesis' \(exit 1\): "
                                        r"ERROR: Module `u' not found!$"):
        synthesize_asic("module t(input a, output y); assign y = a; endmodule", top="u")


def test_bad_top_name_rejected() -> None:
    with pytest.raises(UnitConfigError, match=r"^top module must be a Verilog identifier, not '1t'$"):
        synthesize_asic("module t(); endmodule", top="1t")


def test_fpga_bad_family() -> None:
    with pytest.raises(UnitConfigError, match=r"^FPGA family must be one of ecp5, ecp5-nodsp, "
                                              r"ice40, not 'xc7'$"):
        place_and_route("module t(); endmodule", top="t", family="xc7", port_bits=0)


def test_fpga_broken_verilog_names_yosys_and_family() -> None:
    with pytest.raises(ToolError, match=r"^yosys failed in step 'ecp5 synthesis' \(exit 1\): "):
        place_and_route("module t(input a, output y); assign y = a &; endmodule", top="t",
                        family="ecp5", port_bits=2)


def test_ice40_too_many_ports_does_not_fit() -> None:
    res = place_and_route("module t(); endmodule", top="t", family="ice40", port_bits=500)
    assert not res.fits and res.luts is None
    assert res.note == "does not fit: 500 port bits > 206 I/O of HX8K CT256 (no out-of-context mode)"


def test_fpga_smoke_ecp5_dsp_and_nodsp_and_ice40() -> None:
    text = _v(_RegisteredMul(8), "rmul")
    dsp = place_and_route(text, top="rmul", family="ecp5", port_bits=34)
    nodsp = place_and_route(text, top="rmul", family="ecp5-nodsp", port_bits=34)
    ice = place_and_route(text, top="rmul", family="ice40", port_bits=34)
    # 8+8 input registers + 16 product bits; ECP5 may absorb registers into the DSP block
    assert dsp.fits and dsp.dsps >= 1 and dsp.fmax_mhz is not None and dsp.fmax_mhz > 0
    assert nodsp.dsps == 0 and nodsp.ffs == 32 and nodsp.luts > dsp.luts
    assert ice.fits and ice.dsps == 0 and ice.ffs == 32 and ice.luts > 0
    assert ice.fmax_mhz is not None and ice.fmax_mhz > 0
