"""I-ViT Shiftmax as a streaming row unit (README §4.4), bit-identical to
``hw.nonlinear.IViTShiftmax``: a row buffer, a max pass while loading, an exp-by-shifts/sum pass,
one iterative division ``(2^31-1) // sum``, and a multiply-shift output pass."""
from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned

from ...nonlinear import INT31, kernel
from ._base import MAX_LENGTH, RowUnit
from ._common import (IterativeDivider, RowTiming, check_divider_bits, check_int, divider_cycles,
                      exp_shift, unsigned_bits)

__all__ = ["ShiftmaxUnit", "shiftmax_timing"]


def shiftmax_timing(length: int, *, divider_bits_per_cycle: int = 1) -> RowTiming:
    """Cycles of ``ShiftmaxUnit`` for rows of ``length`` elements (one element per cycle in
    each pass; the division retires ``divider_bits_per_cycle`` quotient bits per cycle).

    load L + exp/sum L + divide ceil(31/k) + 1 + output L."""
    check_int("length", length, 1)
    d = divider_cycles(31, check_divider_bits(divider_bits_per_cycle))
    return RowTiming(cycles_per_row=3 * length + d + 1, latency_cycles=2 * length + d + 1)


class ShiftmaxUnit(RowUnit):
    """Streaming I-ViT Shiftmax over rows of ``length`` signed ``x_bits``-bit integers.

    Parameters (keyword-only)
    -------------------------
    x_bits : input width in bits (signed), 2..24.
    length : row length L, 1..2**20.
    x0_int : ``floor(-1/s)`` constant (negative), as in the kernel consts.
    out_bit : output bits (8 or 16 in I-ViT); outputs are ``(e * factor) >> (32 - out_bit)``.
    n : exponent constant (15 in I-ViT).
    divider_bits_per_cycle : quotient bits retired per cycle by the divider.

    Ports: ``i`` (stream of signed(x_bits), sink), ``o`` (stream of unsigned results, source).
    """

    kernel_name = "ivit_shiftmax"
    function = "softmax"
    row_timing = staticmethod(shiftmax_timing)
    timing_params = ("divider_bits_per_cycle",)

    def __init__(self, *, x_bits: int, length: int, x0_int: int, out_bit: int = 8, n: int = 15,
                 divider_bits_per_cycle: int = 1) -> None:
        k = kernel(self.kernel_name, {"x0_int": x0_int, "out_bit": out_bit, "n": n})
        self._k = check_divider_bits(divider_bits_per_cycle)
        self._e_max = -2 * k.x0_int << (k.n - 1)
        self._sum_w = unsigned_bits(check_int("length", length, 1, MAX_LENGTH) * self._e_max)
        y_max = max(INT31, self._e_max) >> (32 - k.out_bit)
        super().__init__(k, x_bits=x_bits, length=length, out_shape=unsigned(unsigned_bits(y_max)),
                         options={"divider_bits_per_cycle": self._k})

    def elaborate(self, platform) -> Module:
        m = Module()
        k = self.kernel
        wr, rd = self.row_buffer(m, "buf", signed(self.x_bits))
        m.submodules.div = div = IterativeDivider(dividend_width=31, divisor_width=31,
                                                  bits_per_cycle=self._k)
        idx, last = self.row_index(m)
        mx = Signal(signed(self.x_bits))
        total = Signal(unsigned(self._sum_w))

        diff = Signal(signed(self.x_bits + 1))
        m.d.comb += [rd.addr.eq(idx), diff.eq(rd.data - mx)]
        e, _ = exp_shift(m, diff, x0=k.x0_int, n=k.n, q_lo=0, name="exp")
        total_next = Signal(unsigned(self._sum_w + 1))
        m.d.comb += total_next.eq(total + e)
        prod = Signal(unsigned(len(e) + 31))
        m.d.comb += [prod.eq(e * div.quotient), self.o.payload.eq(prod >> (32 - k.out_bit))]
        m.d.comb += [div.dividend.eq(INT31),
                     div.divisor.eq(Mux(total_next > INT31, INT31, total_next))]

        with m.FSM(name="phase"):
            self.load_state(m, idx, last, wr=wr, next_state="SUM", on_element=self.running_max(idx, mx),
                            on_last=[total.eq(0)])
            with m.State("SUM"):
                m.d.sync += [total.eq(total_next), idx.eq(Mux(last, 0, idx + 1))]
                with m.If(last):
                    m.d.comb += div.start.eq(1)
                    m.next = "DIVIDE"
            with m.State("DIVIDE"):
                with m.If(div.done):
                    m.next = "OUT"
            self.out_state(m, idx, last)
        return m
