"""I-ViT Shiftmax as a streaming row unit (README §4.4), bit-identical to
``hw.nonlinear.IViTShiftmax``: a row buffer, a max pass while loading, an exp-by-shifts/sum pass,
one iterative division ``(2^31-1) // sum``, and a multiply-shift output pass."""
from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ._common import (IterativeDivider, RowTiming, check_int, divider_cycles, exp_shift,
                      unsigned_bits)

__all__ = ["ShiftmaxUnit", "shiftmax_timing"]

_INT31 = (1 << 31) - 1


def shiftmax_timing(length: int, *, divider_bits_per_cycle: int = 1) -> RowTiming:
    """Cycles of ``ShiftmaxUnit`` for rows of ``length`` elements (one element per cycle in
    each pass; the division retires ``divider_bits_per_cycle`` quotient bits per cycle).

    load L + exp/sum L + divide ceil(31/k) + 1 + output L."""
    check_int("length", length, 1)
    d = divider_cycles(31, check_int("divider_bits_per_cycle", divider_bits_per_cycle, 1, 31))
    return RowTiming(cycles_per_row=3 * length + d + 1, latency_cycles=2 * length + d + 1)


class ShiftmaxUnit(wiring.Component):
    """Streaming I-ViT Shiftmax over rows of ``length`` signed ``x_bits``-bit integers.

    Parameters (keyword-only)
    -------------------------
    x_bits : input width in bits (signed), 2..24.
    length : row length L, 1..4096.
    x0_int : ``floor(-1/s)`` constant (negative), as in the kernel consts.
    out_bit : output bits (8 or 16 in I-ViT); outputs are ``(e * factor) >> (32 - out_bit)``.
    n : exponent constant (15 in I-ViT).
    divider_bits_per_cycle : quotient bits retired per cycle by the divider.

    Ports: ``i`` (stream of signed(x_bits), sink), ``o`` (stream of unsigned results, source).
    """

    def __init__(self, *, x_bits: int, length: int, x0_int: int, out_bit: int = 8, n: int = 15,
                 divider_bits_per_cycle: int = 1) -> None:
        self._x_bits = check_int("x_bits", x_bits, 2, 24)
        self._length = check_int("length", length, 1, 4096)
        self._x0 = check_int("x0_int", x0_int, -(1 << 16), -1)
        self._out_bit = check_int("out_bit", out_bit, 1, 31)
        self._n = check_int("n", n, 1, 31)
        self._k = check_int("divider_bits_per_cycle", divider_bits_per_cycle, 1, 31)
        self._e_max = -2 * self._x0 << (self._n - 1)
        self._sum_w = unsigned_bits(self._length * self._e_max)
        y_max = max(_INT31, self._e_max) >> (32 - self._out_bit)
        super().__init__({
            "i": In(stream.Signature(signed(self._x_bits))),
            "o": Out(stream.Signature(unsigned(unsigned_bits(y_max)))),
        })

    x_bits = property(lambda self: self._x_bits, doc="input width in bits")
    length = property(lambda self: self._length, doc="row length L")
    x0_int = property(lambda self: self._x0, doc="floor(-1/s)")
    out_bit = property(lambda self: self._out_bit, doc="output bits")
    n = property(lambda self: self._n, doc="exponent constant n")
    divider_bits_per_cycle = property(lambda self: self._k, doc="divider radix in bits")

    def params(self) -> dict:
        """Elaboration parameters (for metadata and rebuilding)."""
        return {"x_bits": self._x_bits, "length": self._length, "x0_int": self._x0,
                "out_bit": self._out_bit, "n": self._n, "divider_bits_per_cycle": self._k}

    def timing(self) -> RowTiming:
        """``shiftmax_timing`` for this unit's parameters."""
        return shiftmax_timing(self._length, divider_bits_per_cycle=self._k)

    def elaborate(self, platform) -> Module:
        m = Module()
        L = self._length
        m.submodules.buf = buf = memory.Memory(shape=signed(self._x_bits), depth=L, init=[])
        wr = buf.write_port()
        rd = buf.read_port(domain="comb")
        m.submodules.div = div = IterativeDivider(dividend_width=31, divisor_width=31,
                                                  bits_per_cycle=self._k)
        idx = Signal(range(L))
        mx = Signal(signed(self._x_bits))
        total = Signal(unsigned(self._sum_w))
        last = idx == L - 1

        diff = Signal(signed(self._x_bits + 1))
        m.d.comb += [rd.addr.eq(idx), diff.eq(rd.data - mx)]
        e, _ = exp_shift(m, diff, x0=self._x0, n=self._n, q_lo=0, name="exp")
        total_next = Signal(unsigned(self._sum_w + 1))
        m.d.comb += total_next.eq(total + e)
        prod = Signal(unsigned(len(e) + 31))
        m.d.comb += [prod.eq(e * div.quotient), self.o.payload.eq(prod >> (32 - self._out_bit))]
        m.d.comb += [div.dividend.eq(_INT31),
                     div.divisor.eq(Mux(total_next > _INT31, _INT31, total_next))]

        with m.FSM(name="phase"):
            with m.State("LOAD"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(self.i.valid):
                    m.d.comb += [wr.addr.eq(idx), wr.data.eq(self.i.payload), wr.en.eq(1)]
                    m.d.sync += mx.eq(Mux((idx == 0) | (self.i.payload > mx), self.i.payload, mx))
                    m.d.sync += idx.eq(Mux(last, 0, idx + 1))
                    with m.If(last):
                        m.d.sync += total.eq(0)
                        m.next = "SUM"
            with m.State("SUM"):
                m.d.sync += [total.eq(total_next), idx.eq(Mux(last, 0, idx + 1))]
                with m.If(last):
                    m.d.comb += div.start.eq(1)
                    m.next = "DIVIDE"
            with m.State("DIVIDE"):
                with m.If(div.done):
                    m.next = "OUT"
            with m.State("OUT"):
                m.d.comb += self.o.valid.eq(1)
                with m.If(self.o.ready):
                    m.d.sync += idx.eq(Mux(last, 0, idx + 1))
                    with m.If(last):
                        m.next = "LOAD"
        return m
