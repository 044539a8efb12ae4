"""I-ViT IntLayerNorm as a streaming row unit (README §4.6), bit-identical to
``hw.nonlinear.IViTIntLayerNorm`` (reference variant): sum while loading, rounded mean by the
iterative divider, a variance pass (one squarer), exactly 10 integer Newton steps from 2^16 for
the square root (one division each), ``(2^31-1) // std``, and an output pass (one multiplier,
per-channel ``bias_int`` from a ROM)."""
from __future__ import annotations

from typing import Sequence

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ...errors import UnitConfigError
from ._common import (IterativeDivider, RowTiming, check_int, divider_cycles, signed_bits,
                      unsigned_bits)

__all__ = ["IntLayerNormUnit", "isqrt_steps", "layernorm_timing", "layernorm_divider_width"]

_INT31 = (1 << 31) - 1
NEWTON_ITERATIONS = 10
NEWTON_START = 1 << 16
#: smallest std the 10 Newton steps can return (2^16 halved 10 times)
STD_MIN = NEWTON_START >> NEWTON_ITERATIONS


def _widths(x_bits: int, length: int) -> tuple[int, int, int]:
    """(offset-sum width, variance width, Newton k width)."""
    sum_w = unsigned_bits(length * ((1 << x_bits) - 1))
    var_w = unsigned_bits(length * ((1 << x_bits) - 1) ** 2)
    k_w = max(17, var_w)
    return sum_w, var_w, k_w


def layernorm_divider_width(x_bits: int, length: int) -> int:
    """Dividend width of the shared divider: max(sum, variance, 31) bits."""
    sum_w, var_w, _ = _widths(x_bits, length)
    return max(sum_w, var_w, 31)


def isqrt_steps(x_bits: int, length: int) -> int:
    """Cycles of the digit-by-digit square root (one root bit per cycle) of the variance."""
    var_w = _widths(x_bits, length)[1]
    return (var_w + 1) // 2


def layernorm_timing(length: int, *, x_bits: int, divider_bits_per_cycle: int = 1,
                     variant: str = "reference") -> RowTiming:
    """Cycles of ``IntLayerNormUnit``: load L, mean division D + 2, variance pass L, the square
    root (``"reference"``: 10 Newton steps of D + 2; ``"exact"``: ceil(var_bits / 2) + 2), factor
    division D + 2, output L; ``D = ceil(W / k)`` with ``W`` the divider width
    (``layernorm_divider_width``)."""
    check_int("length", length, 1)
    check_int("x_bits", x_bits, 2, 24)
    if variant not in ("reference", "exact"):
        raise UnitConfigError(f"variant must be one of ('reference', 'exact'), not {variant!r}")
    d = divider_cycles(layernorm_divider_width(x_bits, length),
                       check_int("divider_bits_per_cycle", divider_bits_per_cycle, 1, 64))
    root = NEWTON_ITERATIONS * (d + 2) if variant == "reference" else isqrt_steps(x_bits, length) + 2
    first = 2 * length + 2 * (d + 2) + root
    return RowTiming(cycles_per_row=first + length, latency_cycles=first)


class IntLayerNormUnit(wiring.Component):
    """Streaming I-ViT IntLayerNorm over rows of ``length`` signed ``x_bits``-bit integers.

    Parameters (keyword-only)
    -------------------------
    x_bits : input width (signed), 2..24.
    length : row length N (channels), equal to ``len(bias_int)``.
    bias_int : per-channel integer bias (``floor((bias/weight)/s_mid)``), from the kernel consts.
    divider_bits_per_cycle : quotient bits retired per cycle by the shared divider.
    variant : ``"reference"`` (10 Newton steps from 2^16, as I-ViT) or ``"exact"`` (exact
        integer square root; a constant row has std = 0, which the golden model rejects: the
        unit then outputs ``bias_int`` with ``row_error`` set for that row's outputs).

    Ports: ``i`` (stream of signed(x_bits)), ``o`` (stream of signed outputs), and for the
    exact variant ``row_error`` (high while the outputs of a zero-variance row are offered).
    """

    def __init__(self, *, x_bits: int, length: int, bias_int: Sequence[int],
                 divider_bits_per_cycle: int = 1, variant: str = "reference") -> None:
        self._x_bits = check_int("x_bits", x_bits, 2, 24)
        self._length = check_int("length", length, 1, 4096)
        if isinstance(bias_int, (str, bytes)) or not hasattr(bias_int, "__len__"):
            raise UnitConfigError(f"bias_int must be a sequence of integers, not {bias_int!r}")
        bias = tuple(bias_int)
        if len(bias) != self._length:
            raise UnitConfigError(f"bias_int must have length {self._length}, not {len(bias)}")
        self._bias = tuple(check_int("bias_int element", b, -(1 << 40), 1 << 40) for b in bias)
        self._k = check_int("divider_bits_per_cycle", divider_bits_per_cycle, 1, 64)
        if variant not in ("reference", "exact"):
            raise UnitConfigError(f"variant must be one of ('reference', 'exact'), not {variant!r}")
        self._variant = variant
        y_max = (1 << self._x_bits) - 1
        std_min = STD_MIN if variant == "reference" else 1
        prod_max = (y_max * (_INT31 // std_min)) >> 1
        lo, hi = -prod_max - 1 + min(bias), prod_max + max(bias)
        members = {
            "i": In(stream.Signature(signed(self._x_bits))),
            "o": Out(stream.Signature(signed(signed_bits(lo, hi)))),
        }
        if variant == "exact":
            members["row_error"] = Out(1)
        super().__init__(members)

    x_bits = property(lambda self: self._x_bits, doc="input width in bits")
    length = property(lambda self: self._length, doc="row length N")
    bias_int = property(lambda self: self._bias, doc="per-channel integer bias")
    divider_bits_per_cycle = property(lambda self: self._k, doc="divider radix in bits")
    variant = property(lambda self: self._variant, doc="square root: 'reference' or 'exact'")

    def params(self) -> dict:
        """Elaboration parameters (for metadata and rebuilding)."""
        return {"x_bits": self._x_bits, "length": self._length, "bias_int": list(self._bias),
                "divider_bits_per_cycle": self._k, "variant": self._variant}

    def timing(self) -> RowTiming:
        """``layernorm_timing`` for this unit's parameters."""
        return layernorm_timing(self._length, x_bits=self._x_bits, divider_bits_per_cycle=self._k,
                                variant=self._variant)

    def elaborate(self, platform) -> Module:
        m = Module()
        L, xb = self._length, self._x_bits
        sum_w, var_w, k_w = _widths(xb, L)
        div_w = layernorm_divider_width(xb, L)
        offset = 1 << (xb - 1)  # sum + offset * N >= 0
        m.submodules.buf = buf = memory.Memory(shape=signed(xb), depth=L, init=[])
        wr = buf.write_port()
        rd = buf.read_port(domain="comb")
        bias_w = signed_bits(min(self._bias + (0,)), max(self._bias + (0,)))
        m.submodules.rom = rom = memory.Memory(shape=signed(bias_w), depth=L, init=self._bias)
        rom_rd = rom.read_port(domain="comb")
        m.submodules.div = div = IterativeDivider(dividend_width=div_w, divisor_width=k_w,
                                                  bits_per_cycle=self._k)
        idx = Signal(range(L))
        last = idx == L - 1
        total = Signal(unsigned(sum_w))
        mean = Signal(signed(xb))
        var = Signal(unsigned(var_w))
        k = Signal(unsigned(k_w))
        it = Signal(range(NEWTON_ITERATIONS))

        y = Signal(signed(xb + 1))
        m.d.comb += [rd.addr.eq(idx), rom_rd.addr.eq(idx), y.eq(rd.data - mean)]
        # rounded mean from the quotient/remainder of (sum + offset*N) // N, half to even
        rem2 = Signal(unsigned(k_w + 1))
        m.d.comb += rem2.eq(div.remainder << 1)
        up = (rem2 > L) | ((rem2 == L) & div.quotient[0])
        prod = Signal(signed(xb + 1 + 31))
        zero_std = Signal()
        m.d.comb += prod.eq(Mux(zero_std, 0, y * div.quotient[:31]))
        m.d.comb += self.o.payload.eq((prod >> 1) + rom_rd.data)
        root_w = (var_w + 1) // 2
        if self._variant == "exact":
            m.d.comb += self.row_error.eq(zero_std & self.o.valid)
        op = Signal(unsigned(2 * root_w))
        res = Signal(unsigned(2 * root_w))
        one = Signal(unsigned(2 * root_w))

        with m.FSM(name="phase"):
            with m.State("LOAD"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(self.i.valid):
                    m.d.comb += [wr.addr.eq(idx), wr.data.eq(self.i.payload), wr.en.eq(1)]
                    m.d.sync += [idx.eq(Mux(last, 0, idx + 1)),
                                 total.eq(Mux(idx == 0, offset, total + offset) + self.i.payload)]
                    with m.If(last):
                        m.next = "MEAN_ISSUE"
            with m.State("MEAN_ISSUE"):
                m.d.comb += [div.start.eq(1), div.dividend.eq(total), div.divisor.eq(L)]
                m.next = "MEAN_WAIT"
            with m.State("MEAN_WAIT"):
                with m.If(div.done):
                    m.d.sync += [mean.eq(div.quotient + up - offset), var.eq(0)]
                    m.next = "VAR"
            with m.State("VAR"):
                m.d.sync += [var.eq(var + y * y), idx.eq(Mux(last, 0, idx + 1))]
                with m.If(last):
                    m.d.sync += [k.eq(NEWTON_START), it.eq(0)]
                    m.next = "NEWTON_ISSUE" if self._variant == "reference" else "ISQRT_INIT"
            with m.State("ISQRT_INIT"):
                m.d.sync += [op.eq(var), res.eq(0), one.eq(1 << (2 * root_w - 2))]
                m.next = "ISQRT"
            with m.State("ISQRT"):
                # one root bit per cycle: if op >= res + one: op -= res + one; res = res/2 + one
                trial = res + one
                with m.If(op >= trial):
                    m.d.sync += [op.eq(op - trial), res.eq((res >> 1) + one)]
                with m.Else():
                    m.d.sync += res.eq(res >> 1)
                m.d.sync += one.eq(one >> 2)
                with m.If(one == 1):
                    m.next = "ISQRT_DONE"
            with m.State("ISQRT_DONE"):
                m.d.sync += [k.eq(res), zero_std.eq(res == 0)]
                m.next = "FACTOR_ISSUE"
            with m.State("NEWTON_ISSUE"):
                m.d.comb += [div.start.eq(1), div.dividend.eq(var), div.divisor.eq(k)]
                m.next = "NEWTON_WAIT"
            with m.State("NEWTON_WAIT"):
                with m.If(div.done):
                    m.d.sync += [k.eq((k + div.quotient) >> 1), it.eq(it + 1)]
                    with m.If(it == NEWTON_ITERATIONS - 1):
                        m.next = "FACTOR_ISSUE"
                    with m.Else():
                        m.next = "NEWTON_ISSUE"
            with m.State("FACTOR_ISSUE"):
                m.d.comb += [div.start.eq(1), div.dividend.eq(_INT31), div.divisor.eq(k)]
                m.next = "FACTOR_WAIT"
            with m.State("FACTOR_WAIT"):
                with m.If(div.done):
                    m.next = "OUT"
            with m.State("OUT"):
                m.d.comb += self.o.valid.eq(1)
                with m.If(self.o.ready):
                    m.d.sync += idx.eq(Mux(last, 0, idx + 1))
                    with m.If(last):
                        m.next = "LOAD"
        return m
