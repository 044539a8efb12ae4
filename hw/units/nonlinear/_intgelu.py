"""I-BERT IntGELU as a streaming element-wise pipeline (README §4.1), bit-identical to
``hw.nonlinear.IBertIntGELU``: clip, add, square, sign, arithmetic shift (stage 1), then one
multiply ``x * (L + shift)`` (stage 2); one element per cycle with back-pressure."""
from __future__ import annotations

from amaranth import Module, Mux, Signal, signed

from ...errors import UnitConfigError
from ...nonlinear import kernel
from ._base import RowUnit
from ._common import RowTiming, check_int, signed_bits

__all__ = ["IntGELUUnit", "intgelu_timing"]

#: pipeline registers between the accepted input and the output register
INTGELU_STAGES = 2


def intgelu_timing(length: int) -> RowTiming:
    """Cycles of ``IntGELUUnit``: one element per cycle (``L`` per row), latency 2 cycles."""
    check_int("length", length, 1)
    return RowTiming(cycles_per_row=length, latency_cycles=INTGELU_STAGES)


class IntGELUUnit(RowUnit):
    """Streaming I-BERT IntGELU on signed ``x_bits``-bit integers.

    Parameters (keyword-only)
    -------------------------
    x_bits : input width (signed), 2..32 (I-BERT feeds it int32 accumulators).
    b_int, c_int, shift_int : the kernel constants (all negative), as in the kernel consts.
    n : polynomial shift (14 in I-BERT).
    length : row length, used only for the timing figures (the unit is element-wise).

    Ports: ``i`` (stream of signed(x_bits)), ``o`` (stream of signed ``x * (L + shift)``).
    """

    kernel_name = "ibert_int_gelu"
    function = "gelu"
    row_timing = staticmethod(intgelu_timing)
    max_x_bits = 32

    def __init__(self, *, x_bits: int, b_int: int, c_int: int, shift_int: int, n: int = 14,
                 length: int = 1) -> None:
        k = kernel(self.kernel_name, {"b_int": b_int, "c_int": c_int, "shift_int": shift_int, "n": n})
        if k.b_int < -(1 << 24):
            raise UnitConfigError(f"b_int must be in [-16777216, -1], not {k.b_int!r}")
        self._b, self._c, self._shift, self._n = k.b_int, k.c_int, k.shift_int, k.n
        xb = check_int("x_bits", x_bits, 2, self.max_x_bits)
        poly_lo, poly_hi = self._c, self._b ** 2 + self._c
        self._poly_w = signed_bits(min(poly_lo, -poly_hi), max(poly_hi, -poly_lo))
        self._l_lo = min(poly_lo, -poly_hi) >> self._n
        self._l_hi = max(poly_hi, -poly_lo) >> self._n
        f_lo, f_hi = self._l_lo + self._shift, self._l_hi + self._shift
        x_lo, x_hi = -(1 << (xb - 1)), (1 << (xb - 1)) - 1
        corners = [a * b for a in (x_lo, x_hi) for b in (f_lo, f_hi)]
        super().__init__(k, x_bits=x_bits, length=length,
                         out_shape=signed(signed_bits(min(corners), max(corners))))

    def elaborate(self, platform) -> Module:
        m = Module()
        x = self.i.payload
        # stage 1: L = floor(sign(x) * ((min(|x|, -b) + b)^2 + c) / 2^n)
        mag = Signal(self.x_bits)
        m.d.comb += mag.eq(Mux(x < 0, -x, x))
        clip = Signal(signed(signed_bits(self._b, -self._b)))
        m.d.comb += clip.eq(Mux(mag > -self._b, -self._b, mag) + self._b)
        poly = Signal(signed(self._poly_w))
        m.d.comb += poly.eq(clip * clip + self._c)
        signed_poly = Signal(signed(self._poly_w))
        m.d.comb += signed_poly.eq(Mux(x < 0, -poly, Mux(x == 0, 0, poly)))
        l1 = Signal(signed(signed_bits(self._l_lo, self._l_hi)))
        x1 = Signal(signed(self.x_bits))
        v1 = Signal()
        enable = Signal()
        m.d.comb += [enable.eq(~self.o.valid | self.o.ready), self.i.ready.eq(enable)]
        with m.If(enable):
            m.d.sync += [v1.eq(self.i.valid), x1.eq(x), l1.eq(signed_poly >> self._n)]
            # stage 2: y = x * (L + shift)
            m.d.sync += [self.o.valid.eq(v1), self.o.payload.eq(x1 * (l1 + self._shift))]
        return m
