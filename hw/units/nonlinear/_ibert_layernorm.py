"""I-BERT IntLayerNorm (README §4.3) as a streaming row unit, bit-identical to
``hw.nonlinear.IBertIntLayerNorm(variant="exact")``: sum while loading, rounded mean by the
iterative divider, a pass for ``sum(y^2)`` (and ``sum(floor(y / 2^shift0)^2)`` when the stored
shift is not 0), the dynamic shift picked by comparing with the constants ``2^(32 + 2 s)``, a
pass for ``var = sum(floor(y / 2^shift)^2)``, an exact digit-by-digit square root,
``2^31 // (isqrt(var) * 2^shift)``, and an output pass ``floor(y * factor / 2) + bias_int``.

A constant row (std = 0), which the golden model rejects, outputs ``bias_int`` with
``row_error`` set."""
from __future__ import annotations

from typing import Sequence

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib.wiring import Out

from ...errors import UnitConfigError
from ...nonlinear import IBertIntLayerNorm, kernel
from ._base import RowUnit
from ._common import (IterativeDivider, RowTiming, check_divider_bits, check_int, divider_cycles,
                      isqrt_states, signed_bits, unsigned_bits)

__all__ = ["IBertLayerNormUnit", "ibert_layernorm_timing"]

_MAX_BIT = IBertIntLayerNorm.max_bit  # 32: the variance must stay below 2^32 after the shift


def _widths(x_bits: int, length: int) -> tuple[int, int, int, int]:
    """(offset-sum width, sum-of-squares width, largest shift, root width)."""
    sum_w = unsigned_bits(length * ((1 << x_bits) - 1))
    sq_w = unsigned_bits(length * ((1 << x_bits) - 1) ** 2)
    s_max = max(0, (sq_w - _MAX_BIT + 1) // 2)
    return sum_w, sq_w, s_max, (sq_w + 1) // 2


def ibert_layernorm_divider_width(x_bits: int, length: int) -> int:
    """Dividend width of the shared divider: max(offset sum, 32) bits (``2^31`` is the factor's)."""
    return max(_widths(x_bits, length)[0], 32)


def ibert_layernorm_timing(length: int, *, x_bits: int, divider_bits_per_cycle: int = 1) -> RowTiming:
    """Cycles of ``IBertLayerNormUnit``: load L, mean division D + 2, squares pass L, shift
    choice 1, shifted-variance pass L, square root ``ceil(sq_bits / 2) + 2``, factor division
    D + 2, output L; ``D = ceil(W / k)`` with ``W = ibert_layernorm_divider_width``."""
    check_int("length", length, 1)
    check_int("x_bits", x_bits, 2, IBertLayerNormUnit.max_x_bits)
    d = divider_cycles(ibert_layernorm_divider_width(x_bits, length),
                       check_divider_bits(divider_bits_per_cycle))
    root_w = _widths(x_bits, length)[3]
    first = 3 * length + 1 + 2 * (d + 2) + root_w + 2
    return RowTiming(cycles_per_row=first + length, latency_cycles=first)


class IBertLayerNormUnit(RowUnit):
    """Streaming I-BERT IntLayerNorm (exact variant) over rows of ``length`` signed
    ``x_bits``-bit integers.

    Parameters (keyword-only)
    -------------------------
    x_bits : input width (signed), 2..24.
    length : row length N (channels), equal to ``len(bias_int)``.
    bias_int : per-channel integer bias, from the kernel consts.
    shift : the module's stored shift (the smallest shift used; 0 for a fresh module).
    divider_bits_per_cycle : quotient bits retired per cycle by the shared divider.

    Ports: ``i`` (stream of signed(x_bits)), ``o`` (stream of signed outputs), ``row_error``
    (high while the outputs of a zero-variance row are offered).
    """

    kernel_name = "ibert_int_layernorm"
    function = "layernorm"
    row_timing = staticmethod(ibert_layernorm_timing)
    timing_params = ("x_bits", "divider_bits_per_cycle")

    def __init__(self, *, x_bits: int, length: int, bias_int: Sequence[int], shift: int = 0,
                 divider_bits_per_cycle: int = 1) -> None:
        if isinstance(bias_int, (str, bytes)) or not hasattr(bias_int, "__len__"):
            raise UnitConfigError(f"bias_int must be a sequence of integers, not {bias_int!r}")
        if len(bias_int) != length:
            raise UnitConfigError(f"bias_int must have length {length}, not {len(bias_int)}")
        k = kernel(self.kernel_name, {"bias_int": list(bias_int), "shift": shift}, variant="exact")
        self._bias = k.bias_int
        self._k = check_divider_bits(divider_bits_per_cycle)
        xb = check_int("x_bits", x_bits, 2, self.max_x_bits)
        y_max = (1 << xb) - 1
        prod_max = (y_max * (1 << 31)) >> 1  # std >= 1
        lo, hi = -prod_max - 1 + min(self._bias), prod_max + max(self._bias)
        super().__init__(k, x_bits=x_bits, length=length, out_shape=signed(signed_bits(lo, hi)),
                         options={"divider_bits_per_cycle": self._k}, extra={"row_error": Out(1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        L, xb, s0 = self.length, self.x_bits, self.kernel.min_shift
        sum_w, sq_w, s_max, root_w = _widths(xb, L)
        s_top = max(s_max, s0)
        std_w = root_w + s_top
        offset = 1 << (xb - 1)  # sum + offset * N >= 0
        wr, rd = self.row_buffer(m, "buf", signed(xb))
        bias_w = signed_bits(min(self._bias + (0,)), max(self._bias + (0,)))
        _, rom_rd = self.row_buffer(m, "rom", signed(bias_w), init=self._bias)
        div_w = ibert_layernorm_divider_width(xb, L)
        m.submodules.div = div = IterativeDivider(dividend_width=div_w,
                                                  divisor_width=max(unsigned_bits(L), std_w),
                                                  bits_per_cycle=self._k)
        idx, last = self.row_index(m)
        total = Signal(unsigned(sum_w))
        mean = Signal(signed(xb))
        sq = Signal(unsigned(sq_w))       # sum(y^2)
        sq0 = Signal(unsigned(sq_w))      # sum(floor(y / 2^s0)^2)
        var = Signal(unsigned(sq_w))      # sum(floor(y / 2^shift)^2)
        shift = Signal(range(s_top + 1))
        std = Signal(unsigned(std_w))
        zero_std = Signal()

        y = Signal(signed(xb + 1))
        m.d.comb += [rd.addr.eq(idx), rom_rd.addr.eq(idx), y.eq(rd.data - mean)]
        y_sh = Signal(signed(xb + 1))
        m.d.comb += y_sh.eq(y >> shift)  # arithmetic: floor(y / 2^shift)
        # smallest s with sq <= 2^(32 + 2 s), at least s0 (when sq0 >= 2^32)
        s_big = Signal(range(s_top + 1))
        m.d.comb += s_big.eq(sum((sq > (1 << (_MAX_BIT + 2 * j))).as_unsigned() for j in range(s_max)))
        prod = Signal(signed(xb + 1 + 33))
        m.d.comb += prod.eq(Mux(zero_std, 0, y * div.quotient[:32]))
        m.d.comb += [self.o.payload.eq((prod >> 1) + rom_rd.data),
                     self.row_error.eq(zero_std & self.o.valid)]

        with m.FSM(name="phase"):
            self.load_state(m, idx, last, wr=wr, next_state="MEAN_ISSUE",
                            on_element=[total.eq(Mux(idx == 0, offset, total + offset) + self.i.payload)])
            self.divide_states(m, div, "MEAN", dividend=total, divisor=L, next_state="SQUARES",
                               on_done=[mean.eq(self.rounded_mean(m, div, offset)), sq.eq(0), sq0.eq(0)])
            with m.State("SQUARES"):
                m.d.sync += [sq.eq(sq + y * y), idx.eq(Mux(last, 0, idx + 1))]
                if s0:
                    y0 = y >> s0
                    m.d.sync += sq0.eq(sq0 + y0 * y0)
                with m.If(last):
                    m.next = "SHIFT"
            with m.State("SHIFT"):
                below = (sq0 if s0 else sq) < (1 << _MAX_BIT)
                m.d.sync += [shift.eq(Mux(below | (s_big < s0), s0, s_big)), var.eq(0)]
                m.next = "VAR"
            with m.State("VAR"):
                m.d.sync += [var.eq(var + y_sh * y_sh), idx.eq(Mux(last, 0, idx + 1))]
                with m.If(last):
                    m.next = "ISQRT_INIT"
            isqrt_states(m, var, root_w, next_state="FACTOR_ISSUE",
                         on_done=lambda root: [std.eq(root << shift), zero_std.eq(root == 0)])
            self.divide_states(m, div, "FACTOR", dividend=1 << 31, divisor=std, next_state="OUT")
            self.out_state(m, idx, last)
        return m
