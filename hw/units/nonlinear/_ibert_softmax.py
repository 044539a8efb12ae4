"""I-BERT IntSoftmax (exact variant, README §4.2) as a streaming row unit, bit-identical to
``hw.nonlinear.IBertIntSoftmax(variant="exact")``: a max pass while loading; per element the
second-order exp polynomial (one multiplier), the 16-bit requantisation
``e16 = min(rne(rne(e / exp_sf) * M / 2^E), 32767)`` with ``e / exp_sf = e * 2^p / num`` divided
by the iterative divider; then ``factor = 2^32 // sum(e16)`` and ``y = (e16 * factor) >> (32 -
out_bit)`` (integer division, so a lone maximum gives 255, not the reference's float32 256)."""
from __future__ import annotations

from fractions import Fraction

from amaranth import Module, Mux, Signal, signed, unsigned

from ...errors import UnitConfigError
from ...nonlinear import kernel
from ._base import RowUnit
from ._common import (IterativeDivider, RowTiming, check_divider_bits, check_int, divider_cycles,
                      signed_bits, unsigned_bits)

__all__ = ["IBertSoftmaxUnit", "ibert_softmax_timing", "ibert_softmax_dividend_width"]


def _constants(c_int: int, n: int, exp_sf: float) -> tuple[int, int, int]:
    """(num, p, dividend width) with ``exp_sf = num / 2^p``."""
    frac = Fraction(exp_sf)
    den = frac.denominator
    p = den.bit_length() - 1
    if den != 1 << p or p < 0:
        raise UnitConfigError(f"exp_sf must be a binary fraction below 1, not {exp_sf!r}")
    return frac.numerator, p, unsigned_bits(c_int << n) + p


def ibert_softmax_dividend_width(*, c_int: int, exp_sf: float, n: int = 30) -> int:
    """Width in bits of ``e * 2^p``, the requantisation dividend."""
    return _constants(c_int, n, exp_sf)[2]


def ibert_softmax_timing(length: int, *, dividend_width: int, divider_bits_per_cycle: int = 1) -> RowTiming:
    """Cycles of ``IBertSoftmaxUnit``: load L; per element ceil(W/k) + 2 (requantising
    division); factor division ceil(33/k) + 2; output L."""
    check_int("length", length, 1)
    k = check_divider_bits(divider_bits_per_cycle)
    d = divider_cycles(check_int("dividend_width", dividend_width, 1, 256), k)
    d2 = divider_cycles(33, k)
    first = length + length * (d + 2) + d2 + 2
    return RowTiming(cycles_per_row=first + length, latency_cycles=first)


class IBertSoftmaxUnit(RowUnit):
    """Streaming I-BERT IntSoftmax (exact) over rows of ``length`` signed ``x_bits``-bit integers.

    Parameters (keyword-only)
    -------------------------
    x_bits : input width (signed), 2..32.
    length : row length L, 1..2**20.
    x0_int, b_int, c_int, exp_sf, act_sf16 : the kernel consts (as in the vector records).
    n : exponent constant (30 in I-BERT).
    out_bit : output bits (8 in I-BERT).
    divider_bits_per_cycle : quotient bits retired per cycle by the dividers.
    """

    kernel_name = "ibert_int_softmax"
    function = "softmax"
    row_timing = staticmethod(ibert_softmax_timing)
    timing_params = ("dividend_width", "divider_bits_per_cycle")
    max_x_bits = 32

    def __init__(self, *, x_bits: int, length: int, x0_int: int, b_int: int, c_int: int,
                 exp_sf: float, act_sf16: float, n: int = 30, out_bit: int = 8,
                 divider_bits_per_cycle: int = 1) -> None:
        k = kernel(self.kernel_name, {"x0_int": x0_int, "b_int": b_int, "c_int": c_int, "exp_sf": exp_sf,
                                      "act_sf16": act_sf16, "n": n, "out_bit": out_bit}, variant="exact")
        self._x0 = check_int("x0_int", k.x0_int, -(1 << 24), -1)
        self._b = check_int("b_int", k.b_int, 1, 1 << 24)
        self._c = check_int("c_int", k.c_int, 1, 1 << 40)
        self._n, self._out_bit = k.n, k.out_bit
        self._k = check_divider_bits(divider_bits_per_cycle)
        self._M, self._E = k.multiplier, k.e_shift
        self._num, self._p, self._wa = _constants(self._c, self._n, k.exp_sf)
        if self._wa > 256:
            raise UnitConfigError(f"requantisation dividend must be at most 256 bits, not {self._wa}")
        # e16 <= sum, so e16 * (2^32 // sum) <= 2^32 and y <= 2^out_bit (reached when sum | 2^32)
        super().__init__(k, x_bits=x_bits, length=length, out_shape=unsigned(self._out_bit + 1),
                         options={"divider_bits_per_cycle": self._k})

    def timing_kwargs(self) -> dict:
        """``dividend_width`` (from ``c_int`` and ``exp_sf``) and ``divider_bits_per_cycle``."""
        return {"dividend_width": self._wa, "divider_bits_per_cycle": self._k}

    def elaborate(self, platform) -> Module:
        m = Module()
        L, xb, n, x0 = self._length, self._x_bits, self._n, self._x0
        xw, xr = self.row_buffer(m, "xbuf", signed(xb))
        ew, er = self.row_buffer(m, "ebuf", unsigned(15))
        m.submodules.div = div = IterativeDivider(dividend_width=self._wa,
                                                  divisor_width=unsigned_bits(self._num),
                                                  bits_per_cycle=self._k)
        m.submodules.fdiv = fdiv = IterativeDivider(dividend_width=33,
                                                    divisor_width=unsigned_bits(L * 32767),
                                                    bits_per_cycle=self._k)
        idx, last = self.row_index(m)
        mx = Signal(signed(xb))
        total = Signal(unsigned(unsigned_bits(L * 32767)))

        # exp polynomial of x - max (README §4.2)
        d = Signal(signed(xb + 1))
        m.d.comb += [xr.addr.eq(idx), er.addr.eq(idx), d.eq(xr.data - mx)]
        t = Signal(signed(max(xb + 1, signed_bits(n * x0, 0))))
        m.d.comb += t.eq(Mux(d < n * x0, n * x0, d))
        q = Signal(range(n + 1))
        m.d.comb += q.eq(sum((t <= j * x0).as_unsigned() for j in range(1, n + 1)))
        r = Signal(signed(signed_bits(x0 + 1, 0)))
        m.d.comb += r.eq(t - q * x0)
        z = Signal(signed(signed_bits(min(0, -(self._b ** 2) // 4 + self._c - 1), self._c + self._b ** 2)))
        m.d.comb += z.eq(r * (r + self._b) + self._c)
        zpos = Signal(unsigned(unsigned_bits(self._c + self._b ** 2)))
        m.d.comb += zpos.eq(Mux(z < 0, 0, z))
        shift = Signal(range(n + 1))
        m.d.comb += shift.eq(n - q)
        m.d.comb += [div.dividend.eq((zpos << shift) << self._p), div.divisor.eq(self._num)]

        # e16 = min(rne(rne(A / num) * M / 2^E), 32767); num is odd, so A / num never ties
        zq = Signal(unsigned(self._wa + 1))
        m.d.comb += zq.eq(div.quotient + ((div.remainder << 1) > self._num))
        prod = Signal(unsigned(self._wa + 1 + unsigned_bits(self._M)))
        m.d.comb += prod.eq(zq * self._M)
        e16_full = Signal(unsigned(len(prod) + 1))
        E = self._E
        if E > 0:
            low = prod[:E]
            hi = prod[E:]
            half = 1 << (E - 1)
            m.d.comb += e16_full.eq(hi + ((low > half) | ((low == half) & hi[0])))
        else:
            m.d.comb += e16_full.eq(prod << -E)
        e16 = Signal(unsigned(15))
        m.d.comb += e16.eq(Mux(e16_full > 32767, 32767, e16_full))

        m.d.comb += [fdiv.dividend.eq(1 << 32), fdiv.divisor.eq(total)]
        outp = Signal(unsigned(15 + 33))
        m.d.comb += [outp.eq(er.data * fdiv.quotient), self.o.payload.eq(outp >> (32 - self._out_bit))]

        with m.FSM(name="phase"):
            self.load_state(m, idx, last, wr=xw, next_state="ISSUE", on_element=self.running_max(idx, mx),
                            on_last=[total.eq(0)])
            with m.State("ISSUE"):
                m.d.comb += div.start.eq(1)
                m.next = "REQUANT"
            with m.State("REQUANT"):
                with m.If(div.done):
                    m.d.comb += [ew.addr.eq(idx), ew.data.eq(e16), ew.en.eq(1)]
                    m.d.sync += [total.eq(total + e16), idx.eq(Mux(last, 0, idx + 1))]
                    with m.If(last):
                        m.next = "FACTOR_ISSUE"
                    with m.Else():
                        m.next = "ISSUE"
            with m.State("FACTOR_ISSUE"):
                m.d.comb += fdiv.start.eq(1)
                m.next = "FACTOR"
            with m.State("FACTOR"):
                with m.If(fdiv.done):
                    m.next = "OUT"
            self.out_state(m, idx, last)
        return m
