"""I-BERT IntSoftmax (exact variant, README §4.2) as a streaming row unit, bit-identical to
``hw.nonlinear.IBertIntSoftmax(variant="exact")``, elaborated for one input scale: a max pass
while loading; per element the second-order exp polynomial ``z = r (r + b) + c`` of the remainder
``r`` of ``x - max`` by ``x0 = floor(-ln2 / s)`` shifted by ``n - q`` (``q`` the ln2 quotient),
and the 16-bit requantisation ``e16 = min(rne(rne(e / exp_sf) * M / 2^E), 32767)`` with
``e / exp_sf = e * 2^p / num`` (``exp_sf = num / 2^p``), a ``W``-bit dividend whose width
follows from the scale; then ``factor = 2^32 // sum(e16)`` and
``y = (e16 * factor) >> (32 - out_bit)`` (integer division, so a lone maximum gives 255, not the
reference's float32 256).

The requantisation's division by the constant ``num`` is done one of three ways (``requant``):

* ``"reciprocal"`` (default): one element per cycle, two register stages. With ``2^p = C num + R``
  and ``e = z 2^shift``, ``rne(e 2^p / num) = e C + floor((2 e R + num) / (2 num))`` (``num`` is
  odd: no ties), and the last division by the constant ``d = 2 num`` is ``(D m) >> (N + l)``
  with ``m = ceil(2^(N + l) / d)``, ``l = ceil(log2 d)``, exact for every ``D < 2^N``
  (Granlund and Montgomery, PLDI 1994, Theorem 4.2): multiplications by constants only.
* ``"pipelined"``: a pipelined restoring divider, ``ceil((W + 1) / k)`` stages computing
  ``floor((2 A + num) / (2 num))``, one element per cycle.
* ``"iterative"``: one iterative divider, ``ceil(W / k) + 2`` cycles per element.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
from amaranth import Module, Mux, Signal, signed, unsigned

from ...errors import UnitConfigError
from ...nonlinear import IBERT_LN2, IBertIntSoftmax, consts_from_scale, kernel
from ._base import RowUnit
from ._common import (IterativeDivider, PipelinedDivider, RowTiming, check_divider_bits, check_int,
                      divider_cycles, signed_bits, unsigned_bits)

__all__ = ["IBertSoftmaxUnit", "MAX_DIVIDEND_BITS", "REQUANT_MODES", "ibert_softmax_consts",
           "ibert_softmax_dividend_width", "ibert_softmax_scale", "ibert_softmax_timing"]

#: widest requantisation dividend ``W`` a unit is built for (the dividers take 256 bits; the
#: pipelined one divides ``2 A + num``, one bit wider)
MAX_DIVIDEND_BITS = 255
#: how a unit divides by the constant ``num`` in the requantisation (see the module docstring)
REQUANT_MODES = ("reciprocal", "pipelined", "iterative")
#: the kernel consts a unit is built from (``consts_from_scale`` also gives ``s_out``)
_UNIT_CONSTS = ("x0_int", "b_int", "c_int", "exp_sf", "act_sf16", "n", "out_bit")


def _constants(c_int: int, n: int, exp_sf: float) -> tuple[int, int, int]:
    """(num, p, dividend width) with ``exp_sf = num / 2^p`` (``num`` odd)."""
    frac = Fraction(exp_sf)
    den = frac.denominator
    p = den.bit_length() - 1
    if den != 1 << p or p < 1:
        raise UnitConfigError(f"exp_sf must be a binary fraction below 1, not {exp_sf!r}")
    return frac.numerator, p, unsigned_bits(c_int << n) + p


def _check_requant(requant: object) -> str:
    if requant not in REQUANT_MODES:
        raise UnitConfigError(f"requant must be one of {REQUANT_MODES!r}, not {requant!r}")
    return str(requant)


def ibert_softmax_dividend_width(*, c_int: int, exp_sf: float, n: int = 30) -> int:
    """Width ``W`` in bits of ``e * 2^p``, the requantisation dividend (``e <= c_int * 2^n``)."""
    return _constants(c_int, n, exp_sf)[2]


def ibert_softmax_consts(s_in: float) -> dict[str, Any]:
    """The kernel consts of the unit for input scale ``s_in`` (``consts_from_scale``, float32 as
    I-BERT derives them), checked against what a unit can be built for.

    Raises
    ------
    UnitConfigError
        A scale whose constants the unit cannot represent: ``c_int = floor(1/(0.35815147 s^2))``
        below 1 (``s_in`` above about 1.67) or a requantisation dividend wider than
        ``MAX_DIVIDEND_BITS`` (``s_in`` below about 2e-13; the width also depends on the
        float32 ``exp_sf``'s mantissa, so the edge is ragged), or a scale that is not a positive
        finite number.
    """
    c = consts_from_scale("ibert_int_softmax", s_in)
    width = ibert_softmax_dividend_width(c_int=c["c_int"], exp_sf=c["exp_sf"], n=c["n"]) if c["c_int"] >= 1 else None
    if width is None or width > MAX_DIVIDEND_BITS:
        raise UnitConfigError(
            f"ibert_int_softmax input scale must give c_int >= 1 and a requantisation dividend of at most "
            f"{MAX_DIVIDEND_BITS} bits (about 2e-13 <= s_in <= 1.67), not {s_in!r} (c_int = {c['c_int']}"
            + (")" if width is None else f", dividend {width} bits)"))
    return {k: c[k] for k in _UNIT_CONSTS}


def ibert_softmax_scale(x_bits: int) -> float:
    """Input scale at which a row of ``x_bits``-bit inputs just spans the exp's clamp:
    ``s = 30 ln2 / (2^x_bits - 1)`` (float32), so the widest row difference ``-(2^x_bits - 1)``
    reaches (within one ``x0`` step and float32's rounding) ``n x0 = 30 floor(-ln2 / s)``, below
    which exp is 0. The finest scale such a unit meaningfully takes (finer scales cannot
    represent a row spread of 30 ln2 ~ 20.8), hence its widest datapath: the scale the
    simulator times the unit at (``x_bits = 16``: 3.17e-4, near
    I-BERT's ~1e-4 attention-score scales). From 4 bits (at 3 bits the scale, 2.97, gives
    ``c_int = 0``)."""
    xb = check_int("ibert_int_softmax x_bits", x_bits, 4, IBertSoftmaxUnit.max_x_bits)
    return float(np.float32(IBertIntSoftmax.n * IBERT_LN2 / ((1 << xb) - 1)))  # n = 30 (the kernel's clamp)


def ibert_softmax_timing(length: int, *, dividend_width: int | None = None, s_in: float | None = None,
                         x_bits: int = 16, divider_bits_per_cycle: int = 1, requant: str = "reciprocal") -> RowTiming:
    """Cycles of ``IBertSoftmaxUnit`` for rows of ``length`` elements.

    The dividend width ``W`` is ``dividend_width`` if given, else that of the unit elaborated for
    input scale ``s_in`` (``ibert_softmax_consts``), else for ``ibert_softmax_scale(x_bits)``
    (what the simulator passes: its hardware parameters). With ``k`` quotient bits per cycle, a
    load of L cycles, a factor division of ceil(33/k) + 2 and an output pass of L, the
    requantisation takes:

    * reciprocal: L + 2 (one element per cycle through two register stages; W does not
      matter);
    * pipelined: L + ceil((W + 1) / k) + 1 (one element per cycle into the divider, then its
      latency);
    * iterative: L (ceil(W/k) + 2).
    """
    check_int("length", length, 1)
    k = check_divider_bits(divider_bits_per_cycle)
    mode = _check_requant(requant)
    if dividend_width is None:
        c = ibert_softmax_consts(ibert_softmax_scale(x_bits) if s_in is None else s_in)
        dividend_width = ibert_softmax_dividend_width(c_int=c["c_int"], exp_sf=c["exp_sf"], n=c["n"])
    w = check_int("dividend_width", dividend_width, 1, MAX_DIVIDEND_BITS)
    d2 = divider_cycles(33, k)
    requant_cycles = {"reciprocal": length + 2, "pipelined": length + divider_cycles(w + 1, k) + 1,
                      "iterative": length * (divider_cycles(w, k) + 2)}[mode]
    first = length + requant_cycles + d2 + 2
    return RowTiming(cycles_per_row=first + length, latency_cycles=first)


class IBertSoftmaxUnit(RowUnit):
    """Streaming I-BERT IntSoftmax (exact) over rows of ``length`` signed ``x_bits``-bit integers.

    Build it for an input scale with ``IBertSoftmaxUnit.from_scale(s_in, x_bits=..., length=...)``
    (the constants and every width follow from the scale) or from the kernel consts.

    Parameters (keyword-only)
    -------------------------
    x_bits : input width (signed), 2..32.
    length : row length L, 1..2**20.
    x0_int, b_int, c_int, exp_sf, act_sf16 : the kernel consts (as in the vector records).
    n : exponent constant (30 in I-BERT).
    out_bit : output bits (8 in I-BERT).
    divider_bits_per_cycle : quotient bits retired per cycle (per stage) by the dividers.
    requant : how the requantisation divides by the constant ``num``: ``"reciprocal"``
        (default; multiplications by constants, one element per cycle), ``"pipelined"`` (a
        pipelined divider, one element per cycle) or ``"iterative"`` (one iterative divider,
        ``ceil(W/k) + 2`` cycles per element).
    """

    kernel_name = "ibert_int_softmax"
    function = "softmax"
    row_timing = staticmethod(ibert_softmax_timing)
    timing_params = ("dividend_width", "s_in", "x_bits", "divider_bits_per_cycle", "requant")
    max_x_bits = 32

    def __init__(self, *, x_bits: int, length: int, x0_int: int, b_int: int, c_int: int,
                 exp_sf: float, act_sf16: float, n: int = 30, out_bit: int = 8,
                 divider_bits_per_cycle: int = 1, requant: str = "reciprocal") -> None:
        k = kernel(self.kernel_name, {"x0_int": x0_int, "b_int": b_int, "c_int": c_int, "exp_sf": exp_sf,
                                      "act_sf16": act_sf16, "n": n, "out_bit": out_bit}, variant="exact")
        self._x0 = check_int("x0_int", k.x0_int, -(1 << 48), -1)
        self._b = check_int("b_int", k.b_int, 1, 1 << 48)
        self._c = check_int("c_int", k.c_int, 1, 1 << 96)
        self._n, self._out_bit = k.n, k.out_bit
        self._k = check_divider_bits(divider_bits_per_cycle)
        self._requant = _check_requant(requant)
        self._M, self._E = k.multiplier, k.e_shift
        self._num, self._p, self._wa = _constants(self._c, self._n, k.exp_sf)
        # largest z = r (r + b) + c over x0 < r <= 0 (c itself unless |x0| > b + 1)
        self._zmax = max(self._c, self._c + (self._x0 + 1) * (self._x0 + 1 + self._b))
        self._wa = max(self._wa, unsigned_bits(self._zmax << self._n) + self._p)
        if self._wa > MAX_DIVIDEND_BITS:
            raise UnitConfigError(f"requantisation dividend must be at most {MAX_DIVIDEND_BITS} bits, not {self._wa}")
        # e16 <= sum, so e16 * (2^32 // sum) <= 2^32 and y <= 2^out_bit (reached when sum | 2^32)
        super().__init__(k, x_bits=x_bits, length=length, out_shape=unsigned(self._out_bit + 1),
                         options={"divider_bits_per_cycle": self._k, "requant": self._requant})

    @classmethod
    def from_scale(cls, s_in: float, *, x_bits: int, length: int, divider_bits_per_cycle: int = 1,
                   requant: str = "reciprocal") -> "IBertSoftmaxUnit":
        """The unit elaborated for input scale ``s_in`` (constants as I-BERT derives them in
        float32; ``UnitConfigError`` for a scale it cannot represent, see
        ``ibert_softmax_consts``)."""
        return cls(x_bits=x_bits, length=length, divider_bits_per_cycle=divider_bits_per_cycle,
                   requant=requant, **ibert_softmax_consts(s_in))

    @property
    def dividend_width(self) -> int:
        """Width ``W`` of the requantisation dividend ``e * 2^p`` (bits), from the scale."""
        return self._wa

    def timing_kwargs(self) -> dict:
        """``dividend_width`` (from ``c_int`` and ``exp_sf``), ``divider_bits_per_cycle`` and
        ``requant``."""
        return {"dividend_width": self._wa, "divider_bits_per_cycle": self._k, "requant": self._requant}

    def elaborate(self, platform) -> Module:
        m = Module()
        L, xb, n, x0 = self._length, self._x_bits, self._n, self._x0
        xw, xr = self.row_buffer(m, "xbuf", signed(xb))
        ew, er = self.row_buffer(m, "ebuf", unsigned(15))
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
        zpos = Signal(unsigned(unsigned_bits(self._zmax)))
        m.d.comb += zpos.eq(Mux(z < 0, 0, z))
        shift = Signal(range(n + 1))
        m.d.comb += shift.eq(n - q)

        # zq = rne(e 2^p / num) with e = zpos 2^shift; num is odd, so e 2^p / num never ties
        zq = Signal(unsigned(self._wa + 1))
        num = self._num
        if self._requant == "reciprocal":
            C, R = divmod(1 << self._p, num)
            d_max = 2 * (self._zmax << n) * R + num
            nb, den = d_max.bit_length(), 2 * num
            ell = (den - 1).bit_length()
            mult = -(-(1 << (nb + ell)) // den)  # Granlund-Montgomery: D // den = D mult >> (nb + ell)
            assert (1 << (nb + ell)) <= mult * den <= (1 << (nb + ell)) + (1 << ell)  # for every D < 2^nb
            # two register stages: (z, shift) after the polynomial, zq after the reciprocal
            issue, v1, v2 = Signal(), Signal(), Signal()
            t1, t2 = Signal(range(max(L, 2))), Signal(range(max(L, 2)))
            z1, s1 = Signal.like(zpos), Signal.like(shift)
            zc = Signal(unsigned(unsigned_bits(self._zmax * C)))
            zr = Signal(unsigned(unsigned_bits(self._zmax * R)))
            dd = Signal(unsigned(nb))
            q1 = Signal(unsigned(self._wa + 1))
            m.d.comb += [zc.eq(z1 * C), zr.eq(z1 * R), dd.eq((zr << (s1 + 1)) + num),
                         q1.eq((zc << s1) + ((dd * mult) >> (nb + ell)))]
            m.d.sync += [v1.eq(issue), t1.eq(idx), z1.eq(zpos), s1.eq(shift),
                         v2.eq(v1), t2.eq(t1), zq.eq(q1)]
        else:
            a = Signal(unsigned(self._wa))  # e * 2^p
            m.d.comb += a.eq((zpos << shift) << self._p)
        if self._requant == "pipelined":
            m.submodules.div = div = PipelinedDivider(dividend_width=self._wa + 1,
                                                      divisor_width=unsigned_bits(2 * num),
                                                      bits_per_stage=self._k, tag_shape=range(max(L, 2)))
            m.d.comb += [div.i.payload.dividend.eq((a << 1) + num), div.i.payload.divisor.eq(2 * num),
                         div.i.payload.tag.eq(idx), zq.eq(div.o.payload.quotient)]
        elif self._requant == "iterative":
            m.submodules.div = div = IterativeDivider(dividend_width=self._wa,
                                                      divisor_width=unsigned_bits(num),
                                                      bits_per_cycle=self._k)
            m.d.comb += [div.dividend.eq(a), div.divisor.eq(num),
                         zq.eq(div.quotient + ((div.remainder << 1) > num))]
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

        issuing = Signal()  # reciprocal, pipelined: elements still to enter the requantisation
        with m.FSM(name="phase"):
            self.load_state(m, idx, last, wr=xw, next_state="ISSUE" if self._requant == "iterative" else "REQUANT",
                            on_element=self.running_max(idx, mx), on_last=[total.eq(0), issuing.eq(1)])
            if self._requant == "reciprocal":
                with m.State("REQUANT"):
                    m.d.comb += issue.eq(issuing)
                    with m.If(issuing):
                        m.d.sync += idx.eq(Mux(last, 0, idx + 1))
                        with m.If(last):
                            m.d.sync += issuing.eq(0)
                    with m.If(v2):
                        m.d.comb += [ew.addr.eq(t2), ew.data.eq(e16), ew.en.eq(1)]
                        m.d.sync += total.eq(total + e16)
                        with m.If(t2 == L - 1):
                            m.next = "FACTOR_ISSUE"
            elif self._requant == "pipelined":
                with m.State("REQUANT"):
                    m.d.comb += [div.i.valid.eq(issuing), div.o.ready.eq(1)]
                    with m.If(issuing & div.i.ready):
                        m.d.sync += idx.eq(Mux(last, 0, idx + 1))
                        with m.If(last):
                            m.d.sync += issuing.eq(0)
                    with m.If(div.o.valid):
                        tag = div.o.payload.tag
                        m.d.comb += [ew.addr.eq(tag), ew.data.eq(e16), ew.en.eq(1)]
                        m.d.sync += total.eq(total + e16)
                        with m.If(tag == L - 1):
                            m.next = "FACTOR_ISSUE"
            else:
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
