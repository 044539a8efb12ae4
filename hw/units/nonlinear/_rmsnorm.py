"""Integer RMSNorm as a streaming row unit, bit-identical to ``hw.nonlinear.IntRMSNorm``: the sum
of squares accumulated while loading (one squarer on the input), an exact digit-by-digit square
root (one root bit per cycle), ``(2^31-1) // std`` by the iterative divider, and an output pass
``floor(x * factor / 2)`` (one multiplier)."""
from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned

from ...errors import UnitConfigError
from ...nonlinear import INT31, kernel
from ._base import RowUnit
from ._common import (IterativeDivider, RowTiming, check_divider_bits, check_int, divider_cycles,
                      isqrt_states, unsigned_bits)

__all__ = ["RMSNormUnit", "rmsnorm_timing", "rmsnorm_var_bits"]


def rmsnorm_var_bits(x_bits: int, length: int) -> int:
    """Width of the sum-of-squares register: ``sum(x^2) + eps_int`` with ``eps_int`` at most
    ``N * 2^(2 x_bits - 2)`` (the largest mean square of the input) stays below
    ``N * 2^(2 x_bits - 1)``."""
    return unsigned_bits(length * (1 << (2 * x_bits - 1)))


def rmsnorm_timing(length: int, *, x_bits: int, divider_bits_per_cycle: int = 1) -> RowTiming:
    """Cycles of ``RMSNormUnit``: load L (squares accumulated), square root
    ``ceil(var_bits / 2) + 2``, factor division ``ceil(31 / k) + 2``, output L."""
    check_int("length", length, 1)
    check_int("x_bits", x_bits, 2, RMSNormUnit.max_x_bits)
    d = divider_cycles(31, check_divider_bits(divider_bits_per_cycle))
    first = length + (rmsnorm_var_bits(x_bits, length) + 1) // 2 + 2 + d + 2
    return RowTiming(cycles_per_row=first + length, latency_cycles=first)


class RMSNormUnit(RowUnit):
    """Streaming integer RMSNorm over rows of ``length`` signed ``x_bits``-bit integers.

    Parameters (keyword-only)
    -------------------------
    x_bits : input width (signed), 2..24.
    length : row length N (channels).
    eps_int : epsilon in the integer variance (``round(N * eps / s_in^2)``), at most
        ``N * 2^(2 x_bits - 2)``.
    divider_bits_per_cycle : quotient bits retired per cycle by the divider.

    Ports: ``i`` (stream of signed(x_bits)), ``o`` (stream of signed(31): ``|out| < 2^30``).
    """

    kernel_name = "int_rmsnorm"
    function = "rmsnorm"
    row_timing = staticmethod(rmsnorm_timing)
    timing_params = ("x_bits", "divider_bits_per_cycle")

    def __init__(self, *, x_bits: int, length: int, eps_int: int = 0, divider_bits_per_cycle: int = 1) -> None:
        k = kernel(self.kernel_name, {"N": length, "eps_int": eps_int})
        xb = check_int("x_bits", x_bits, 2, self.max_x_bits)
        if k.eps_int > k.N << (2 * xb - 2):
            raise UnitConfigError(f"eps_int must be at most N * 2**(2*x_bits - 2) = {k.N << (2 * xb - 2)}, "
                                  f"not {k.eps_int!r}")
        self._k = check_divider_bits(divider_bits_per_cycle)
        super().__init__(k, x_bits=x_bits, length=length, out_shape=signed(31),
                         options={"divider_bits_per_cycle": self._k})

    def params(self) -> dict:
        """The keyword parameters that rebuild this unit (``N`` is ``length``)."""
        p = super().params()
        del p["N"]
        return p

    def elaborate(self, platform) -> Module:
        m = Module()
        xb, eps = self.x_bits, self.kernel.eps_int
        var_w = rmsnorm_var_bits(xb, self.length)
        root_w = (var_w + 1) // 2
        wr, rd = self.row_buffer(m, "buf", signed(xb))
        m.submodules.div = div = IterativeDivider(dividend_width=31, divisor_width=root_w,
                                                  bits_per_cycle=self._k)
        idx, last = self.row_index(m)
        var = Signal(unsigned(var_w))
        x_in = self.i.payload
        std = Signal(unsigned(root_w))

        prod = Signal(signed(xb + 31))
        m.d.comb += [rd.addr.eq(idx), prod.eq(rd.data * div.quotient), self.o.payload.eq(prod >> 1)]

        with m.FSM(name="phase"):
            self.load_state(m, idx, last, wr=wr, next_state="ISQRT_INIT",
                            on_element=[var.eq(Mux(idx == 0, eps, var) + x_in * x_in)])
            # std = 0 only for an all-zero row with eps_int = 0: its outputs are 0 anyway
            isqrt_states(m, var, root_w, on_done=lambda root: [std.eq(root)], next_state="FACTOR_ISSUE")
            self.divide_states(m, div, "FACTOR", dividend=INT31, divisor=std, next_state="OUT")
            self.out_state(m, idx, last)
        return m
