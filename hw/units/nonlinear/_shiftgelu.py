"""I-ViT ShiftGELU as a streaming row unit (README §4.5), bit-identical to
``hw.nonlinear.IViTShiftGELU``: a row buffer with a max pass while loading, then one element per
cycle: exp-by-shifts of ``x - max`` and of ``-max``, the division ``(2^31-1) // sum_i`` in a
pipelined divider, and two multiplies (``e * factor``, ``x * sig``)."""
from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data

from ...nonlinear import INT31, kernel
from ._base import RowUnit
from ._common import (PipelinedDivider, RowTiming, check_divider_bits, check_int, divider_cycles,
                      exp_shift, signed_bits, unsigned_bits)

__all__ = ["ShiftGELUUnit", "shiftgelu_timing"]


def shiftgelu_timing(length: int, *, divider_bits_per_cycle: int = 1) -> RowTiming:
    """Cycles of ``ShiftGELUUnit``: load L, then one element per cycle into the pipelined
    divider (``D = ceil(31/k)`` stages, result ``D + 1`` cycles after it enters): ``2L + D + 1``
    per row, latency ``L + D + 1``."""
    check_int("length", length, 1)
    d = divider_cycles(31, check_divider_bits(divider_bits_per_cycle))
    return RowTiming(cycles_per_row=2 * length + d + 1, latency_cycles=length + d + 1)


class ShiftGELUUnit(RowUnit):
    """Streaming I-ViT ShiftGELU over rows of ``length`` signed ``x_bits``-bit integers.

    Parameters (keyword-only)
    -------------------------
    x_bits : input width (signed), 2..24.
    length : row length L (the sigmoid of every element depends on the row maximum).
    x0_int : ``floor(-1/(1.702 s))`` (negative), as in the kernel consts.
    out_bit : sigmoid bits (8 in I-ViT); ``sig = (e * factor) >> (32 - out_bit)``.
    n : exponent constant (23 in I-ViT).
    divider_bits_per_cycle : quotient bits per stage of the pipelined divider.

    Ports: ``i`` (stream of signed(x_bits)), ``o`` (stream of signed ``x * sig``).
    """

    kernel_name = "ivit_shiftgelu"
    function = "gelu"
    row_timing = staticmethod(shiftgelu_timing)
    timing_params = ("divider_bits_per_cycle",)

    def __init__(self, *, x_bits: int, length: int, x0_int: int, out_bit: int = 8, n: int = 23,
                 divider_bits_per_cycle: int = 1) -> None:
        k = kernel(self.kernel_name, {"x0_int": x0_int, "out_bit": out_bit, "n": n})
        self._k = check_divider_bits(divider_bits_per_cycle)
        e_max = -2 * k.x0_int << (k.n - 1)
        self._sig_max = max(INT31, e_max) >> (32 - k.out_bit)
        xb = check_int("x_bits", x_bits, 2, self.max_x_bits)
        lo, hi = -(1 << (xb - 1)), (1 << (xb - 1)) - 1
        super().__init__(k, x_bits=x_bits, length=length,
                         out_shape=signed(signed_bits(lo * self._sig_max, hi * self._sig_max)),
                         options={"divider_bits_per_cycle": self._k})

    def elaborate(self, platform) -> Module:
        m = Module()
        k = self.kernel
        wr, rd = self.row_buffer(m, "buf", signed(self.x_bits))
        idx, last = self.row_index(m)
        mx = Signal(signed(self.x_bits))

        diff = Signal(signed(self.x_bits + 1))
        neg_max = Signal(signed(self.x_bits + 1))
        m.d.comb += [rd.addr.eq(idx), diff.eq(rd.data - mx), neg_max.eq(-mx)]
        e, _ = exp_shift(m, diff, x0=k.x0_int, n=k.n, q_lo=0, name="exp")
        e_m, sat_m = exp_shift(m, neg_max, x0=k.x0_int, n=k.n, q_lo=min(0, k.n - 32), name="exp_m")
        pair = Signal(unsigned(max(len(e), len(e_m)) + 1))
        m.d.comb += pair.eq(e + e_m)
        tag = data.StructLayout({"x": signed(self.x_bits), "e": unsigned(len(e))})
        m.submodules.div = div = PipelinedDivider(dividend_width=31, divisor_width=31, bits_per_stage=self._k,
                                                  tag_shape=tag)
        m.d.comb += [div.i.payload.dividend.eq(INT31),
                     div.i.payload.divisor.eq(Mux(sat_m | (pair > INT31), INT31, pair)),
                     div.i.payload.tag.x.eq(rd.data), div.i.payload.tag.e.eq(e)]
        # back end: sig = (e * factor) >> (32 - out_bit), y = x * sig
        out = div.o.payload
        prod = Signal(unsigned(len(e) + 31))
        sig = Signal(unsigned(unsigned_bits(self._sig_max)))
        m.d.comb += [prod.eq(out.tag.e * out.quotient), sig.eq(prod >> (32 - k.out_bit)),
                     self.o.payload.eq(out.tag.x * sig),
                     self.o.valid.eq(div.o.valid), div.o.ready.eq(self.o.ready)]
        oidx = Signal(range(self.length))  # results taken from the current row

        with m.FSM(name="phase"):
            self.load_state(m, idx, last, wr=wr, next_state="FEED", on_element=self.running_max(idx, mx))
            with m.State("FEED"):  # one element per cycle into the divider pipeline
                m.d.comb += div.i.valid.eq(1)
                with m.If(div.i.ready):
                    m.d.sync += idx.eq(Mux(last, 0, idx + 1))
                    with m.If(last):
                        m.next = "DRAIN"
            with m.State("DRAIN"):  # until the row's last result is taken
                with m.If(self.o.valid & self.o.ready & (oidx == self.length - 1)):
                    m.next = "LOAD"
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += oidx.eq(Mux(oidx == self.length - 1, 0, oidx + 1))
        return m
