"""I-ViT Shiftmax as a streaming row unit (README §4.4), bit-identical to
``hw.nonlinear.IViTShiftmax``: a row buffer, a max pass while loading, an exp-by-shifts/sum pass,
one iterative division ``(2^31-1) // sum``, and a multiply-shift output pass. The element path
of the two passes (row buffer read, ``x - max``, exp by shifts, then the sum or the output
multiply) takes ``pipeline`` register stages (``SHIFTMAX_STAGES``), with valid/ready
back-pressure; the output pass of one row drains while the next row loads."""
from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned

from ...nonlinear import INT31, kernel
from ._base import MAX_LENGTH, RowUnit
from ._common import (IterativeDivider, RowTiming, check_divider_bits, check_int, check_pipeline, divider_cycles,
                      exp_shift, register_stage, unsigned_bits)

__all__ = ["SHIFTMAX_STAGES", "ShiftmaxUnit", "shiftmax_timing"]

#: where the register stages of ``pipeline = 1, 2, ...`` go on the element path, in the order that
#: cut the critical path on the mapped netlist (OpenSTA, osu018 at 700 MHz at 45 nm, rows of 64,
#: 16-bit: Fmax 479, 668, 1020, 843 MHz at depths 0..3; the last stage gains nothing there, the
#: mapping of the deeper netlist comes out slower): ``"exp"`` after the exp by shifts
#: (before the sum and the output multiply), ``"diff"`` after the row buffer read and
#: ``x - max`` (before the exp), ``"out"`` after the output multiply (the ``o`` payload from a
#: register)
SHIFTMAX_STAGES = ("exp", "diff", "out")


def _sum_stages(pipeline: int) -> int:
    """Register stages between the row buffer and the sum (those before the output multiply)."""
    return sum(1 for s in SHIFTMAX_STAGES[:pipeline] if s != "out")


def shiftmax_timing(length: int, *, divider_bits_per_cycle: int = 1, pipeline: int = 0) -> RowTiming:
    """Cycles of ``ShiftmaxUnit`` for rows of ``length`` elements (one element per cycle in
    each pass; the division retires ``divider_bits_per_cycle`` quotient bits per cycle;
    ``pipeline`` register stages on the element path, ``s`` of them before the sum).

    load L + exp/sum L + s + divide ceil(31/k) + 1 + output L; the first result ``pipeline``
    cycles after the output pass starts (the output pass's last results drain while the next
    row loads)."""
    check_int("length", length, 1)
    d = divider_cycles(31, check_divider_bits(divider_bits_per_cycle))
    p = check_pipeline(pipeline, ShiftmaxUnit.max_pipeline)
    s = _sum_stages(p)
    return RowTiming(cycles_per_row=3 * length + s + d + 1, latency_cycles=2 * length + s + d + 1 + p)


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
    pipeline : register stages on the element path, 0..3 (``SHIFTMAX_STAGES``): each adds a
        cycle of latency to the output pass, and those before the sum a cycle to the row.

    Ports: ``i`` (stream of signed(x_bits), sink), ``o`` (stream of unsigned results, source).
    """

    kernel_name = "ivit_shiftmax"
    function = "softmax"
    row_timing = staticmethod(shiftmax_timing)
    timing_params = ("divider_bits_per_cycle", "pipeline")
    max_pipeline = len(SHIFTMAX_STAGES)

    def __init__(self, *, x_bits: int, length: int, x0_int: int, out_bit: int = 8, n: int = 15,
                 divider_bits_per_cycle: int = 1, pipeline: int = 0) -> None:
        k = kernel(self.kernel_name, {"x0_int": x0_int, "out_bit": out_bit, "n": n})
        self._k = check_divider_bits(divider_bits_per_cycle)
        self._p = check_pipeline(pipeline, self.max_pipeline)
        self._e_max = -2 * k.x0_int << (k.n - 1)
        self._sum_w = unsigned_bits(check_int("length", length, 1, MAX_LENGTH) * self._e_max)
        y_max = max(INT31, self._e_max) >> (32 - k.out_bit)
        super().__init__(k, x_bits=x_bits, length=length, out_shape=unsigned(unsigned_bits(y_max)),
                         options={"divider_bits_per_cycle": self._k, **({"pipeline": self._p} if self._p else {})})

    def elaborate(self, platform) -> Module:
        m = Module()
        k = self.kernel
        stages = SHIFTMAX_STAGES[:self._p]
        wr, rd = self.row_buffer(m, "buf", signed(self.x_bits))
        m.submodules.div = div = IterativeDivider(dividend_width=31, divisor_width=31,
                                                  bits_per_cycle=self._k)
        idx, last = self.row_index(m)
        mx = Signal(signed(self.x_bits))
        total = Signal(unsigned(self._sum_w))
        # the element path: every stage advances together unless a result waits on ``o``
        advance = Signal()
        issue = Signal()  # an element leaves the row buffer this cycle
        in_sum = Signal()  # ... for the sum pass (else for the output pass)

        diff = Signal(signed(self.x_bits + 1))
        m.d.comb += [rd.addr.eq(idx), diff.eq(rd.data - mx)]
        el = {"valid": issue, "sum": in_sum, "last": last, "diff": diff}
        if "diff" in stages:
            el = register_stage(m, advance, "s_diff", **el)
        e, _ = exp_shift(m, el["diff"], x0=k.x0_int, n=k.n, q_lo=0, name="exp")
        el = {"valid": el["valid"], "sum": el["sum"], "last": el["last"], "e": e}
        if "exp" in stages:
            el = register_stage(m, advance, "s_exp", **el)
        # the sum pass's elements end here; the output pass's go on to the multiply
        to_sum = el["valid"] & el["sum"] & advance
        sum_done = Signal()
        total_next = Signal(unsigned(self._sum_w + 1))
        m.d.comb += [total_next.eq(total + el["e"]), sum_done.eq(to_sum & el["last"])]
        with m.If(to_sum):
            m.d.sync += total.eq(total_next)
        m.d.comb += [div.start.eq(sum_done), div.dividend.eq(INT31),
                     div.divisor.eq(Mux(total_next > INT31, INT31, total_next))]
        prod = Signal(unsigned(len(e) + 31))
        y = Signal(self.o.payload.shape())
        m.d.comb += [prod.eq(el["e"] * div.quotient), y.eq(prod >> (32 - k.out_bit))]
        out = {"valid": el["valid"] & ~el["sum"], "y": y}
        if "out" in stages:
            out = register_stage(m, advance, "s_out", **out)
        m.d.comb += [self.o.valid.eq(out["valid"]), self.o.payload.eq(out["y"]),
                     advance.eq(~self.o.valid | self.o.ready)]

        with m.FSM(name="phase"):
            self.load_state(m, idx, last, wr=wr, next_state="SUM", on_element=self.running_max(idx, mx),
                            on_last=[total.eq(0)])
            self.issue_state(m, idx, last, name="SUM", issue=issue, advance=advance, comb=[in_sum.eq(1)],
                             next_state="DIVIDE" if _sum_stages(self._p) == 0 else "SUM_DRAIN")
            with m.State("SUM_DRAIN"):  # the last elements on their way to the sum
                with m.If(sum_done):
                    m.next = "DIVIDE"
            with m.State("DIVIDE"):
                with m.If(div.done):
                    m.next = "OUT"
            self.issue_state(m, idx, last, name="OUT", issue=issue, advance=advance, next_state="LOAD")
        return m
