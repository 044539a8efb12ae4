"""I-ViT ShiftGELU as a streaming row unit (README §4.5), bit-identical to
``hw.nonlinear.IViTShiftGELU``: a row buffer with a max pass while loading, then per element
exp-by-shifts of ``x - max`` and of ``-max``, one iterative division ``(2^31-1) // sum_i``, and
two multiplies (``e * factor``, ``x * sig``)."""
from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ._common import (IterativeDivider, RowTiming, check_int, divider_cycles, exp_shift,
                      signed_bits, unsigned_bits)

__all__ = ["ShiftGELUUnit", "shiftgelu_timing"]

_INT31 = (1 << 31) - 1


def shiftgelu_timing(length: int, *, divider_bits_per_cycle: int = 1) -> RowTiming:
    """Cycles of ``ShiftGELUUnit``: load L, then per element 1 (issue) + ceil(31/k) (divide)
    + 1 (done) + 1 (output): ``L + L (ceil(31/k) + 3)`` per row."""
    check_int("length", length, 1)
    d = divider_cycles(31, check_int("divider_bits_per_cycle", divider_bits_per_cycle, 1, 31))
    return RowTiming(cycles_per_row=length + length * (d + 3), latency_cycles=length + d + 2)


class ShiftGELUUnit(wiring.Component):
    """Streaming I-ViT ShiftGELU over rows of ``length`` signed ``x_bits``-bit integers.

    Parameters (keyword-only)
    -------------------------
    x_bits : input width (signed), 2..24.
    length : row length L (the sigmoid of every element depends on the row maximum).
    x0_int : ``floor(-1/(1.702 s))`` (negative), as in the kernel consts.
    out_bit : sigmoid bits (8 in I-ViT); ``sig = (e * factor) >> (32 - out_bit)``.
    n : exponent constant (23 in I-ViT).
    divider_bits_per_cycle : quotient bits retired per cycle by the divider.

    Ports: ``i`` (stream of signed(x_bits)), ``o`` (stream of signed ``x * sig``).
    """

    def __init__(self, *, x_bits: int, length: int, x0_int: int, out_bit: int = 8, n: int = 23,
                 divider_bits_per_cycle: int = 1) -> None:
        self._x_bits = check_int("x_bits", x_bits, 2, 24)
        self._length = check_int("length", length, 1, 4096)
        self._x0 = check_int("x0_int", x0_int, -(1 << 16), -1)
        self._out_bit = check_int("out_bit", out_bit, 1, 31)
        self._n = check_int("n", n, 1, 31)
        self._k = check_int("divider_bits_per_cycle", divider_bits_per_cycle, 1, 31)
        e_max = -2 * self._x0 << (self._n - 1)
        self._sig_max = max(_INT31, e_max) >> (32 - self._out_bit)
        lo, hi = -(1 << (self._x_bits - 1)), (1 << (self._x_bits - 1)) - 1
        super().__init__({
            "i": In(stream.Signature(signed(self._x_bits))),
            "o": Out(stream.Signature(signed(signed_bits(lo * self._sig_max, hi * self._sig_max)))),
        })

    x_bits = property(lambda self: self._x_bits, doc="input width in bits")
    length = property(lambda self: self._length, doc="row length L")
    x0_int = property(lambda self: self._x0, doc="floor(-1/s_sig)")
    out_bit = property(lambda self: self._out_bit, doc="sigmoid bits")
    n = property(lambda self: self._n, doc="exponent constant n")
    divider_bits_per_cycle = property(lambda self: self._k, doc="divider radix in bits")

    def params(self) -> dict:
        """Elaboration parameters (for metadata and rebuilding)."""
        return {"x_bits": self._x_bits, "length": self._length, "x0_int": self._x0,
                "out_bit": self._out_bit, "n": self._n, "divider_bits_per_cycle": self._k}

    def timing(self) -> RowTiming:
        """``shiftgelu_timing`` for this unit's parameters."""
        return shiftgelu_timing(self._length, divider_bits_per_cycle=self._k)

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
        last = idx == L - 1

        diff = Signal(signed(self._x_bits + 1))
        neg_max = Signal(signed(self._x_bits + 1))
        m.d.comb += [rd.addr.eq(idx), diff.eq(rd.data - mx), neg_max.eq(-mx)]
        e, _ = exp_shift(m, diff, x0=self._x0, n=self._n, q_lo=0, name="exp")
        e_m, sat_m = exp_shift(m, neg_max, x0=self._x0, n=self._n, q_lo=min(0, self._n - 32),
                               name="exp_m")
        pair = Signal(unsigned(max(len(e), len(e_m)) + 1))
        m.d.comb += pair.eq(e + e_m)
        m.d.comb += [div.dividend.eq(_INT31),
                     div.divisor.eq(Mux(sat_m | (pair > _INT31), _INT31, pair))]
        prod = Signal(unsigned(len(e) + 31))
        sig = Signal(unsigned(unsigned_bits(self._sig_max)))
        m.d.comb += [prod.eq(e * div.quotient), sig.eq(prod >> (32 - self._out_bit)),
                     self.o.payload.eq(rd.data * sig)]

        with m.FSM(name="phase"):
            with m.State("LOAD"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(self.i.valid):
                    m.d.comb += [wr.addr.eq(idx), wr.data.eq(self.i.payload), wr.en.eq(1)]
                    m.d.sync += mx.eq(Mux((idx == 0) | (self.i.payload > mx), self.i.payload, mx))
                    m.d.sync += idx.eq(Mux(last, 0, idx + 1))
                    with m.If(last):
                        m.next = "ISSUE"
            with m.State("ISSUE"):
                m.d.comb += div.start.eq(1)
                m.next = "DIVIDE"
            with m.State("DIVIDE"):
                with m.If(div.done):
                    m.next = "OUT"
            with m.State("OUT"):
                m.d.comb += self.o.valid.eq(1)
                with m.If(self.o.ready):
                    m.d.sync += idx.eq(Mux(last, 0, idx + 1))
                    m.next = "ISSUE"
                    with m.If(last):
                        m.next = "LOAD"
        return m
