"""I-ViT IntLayerNorm as a streaming row unit (README §4.6), bit-identical to
``hw.nonlinear.IViTIntLayerNorm`` (reference variant): sum while loading, rounded mean by the
iterative divider, a variance pass (one squarer), exactly 10 integer Newton steps from 2^16 for
the square root (one division each), ``(2^31-1) // std``, and an output pass (one multiplier,
per-channel ``bias_int`` from a ROM). The element path of the variance and output passes (row
buffer read, ``x - mean``, the squarer or the output multiplier, then the variance sum or the
bias add) takes ``pipeline`` register stages (``LAYERNORM_STAGES``), with valid/ready
back-pressure; the output pass of one row drains while the next row loads."""
from __future__ import annotations

from typing import Sequence

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib.wiring import Out

from ...errors import UnitConfigError
from ...nonlinear import INT31, VARIANTS, IViTIntLayerNorm, kernel
from ._base import RowUnit
from ._common import (IterativeDivider, RowTiming, check_divider_bits, check_int, check_pipeline, divider_cycles,
                      isqrt_states, register_stage, signed_bits, unsigned_bits)

__all__ = ["LAYERNORM_STAGES", "IntLayerNormUnit", "isqrt_steps", "layernorm_timing", "layernorm_divider_width"]

#: where the register stages of ``pipeline = 1, 2, ...`` go on the element path, in order of what
#: they gained on the mapped netlist (OpenSTA, osu018 at 700 MHz at 45 nm, rows of 64, 16-bit:
#: Fmax 678 MHz at depth 0, 795 with ``"diff"``, 650 with ``"mul"`` alone): ``"diff"`` after the
#: row buffer read and ``x - mean``, ``"mul"`` after the squarer and the output multiplier
#: (before the variance sum and the bias add), ``"out"`` after the bias add (the ``o`` payload
#: from a register)
LAYERNORM_STAGES = ("diff", "mul", "out")


def _var_stages(pipeline: int) -> int:
    """Register stages between the row buffer and the variance sum."""
    return sum(1 for s in LAYERNORM_STAGES[:pipeline] if s != "out")

NEWTON_ITERATIONS = IViTIntLayerNorm.iterations
NEWTON_START = IViTIntLayerNorm.k_init
#: smallest std the Newton steps can return (the start value halved at every step)
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
                     variant: str = "reference", pipeline: int = 0) -> RowTiming:
    """Cycles of ``IntLayerNormUnit``: load L, mean division D + 2, variance pass L + s, the square
    root (``"reference"``: 10 Newton steps of D + 2; ``"exact"``: ceil(var_bits / 2) + 2), factor
    division D + 2, output L; ``D = ceil(W / k)`` with ``W`` the divider width
    (``layernorm_divider_width``), ``s`` the ``pipeline`` register stages before the variance
    sum; the first result ``pipeline`` cycles after the output pass starts."""
    check_int("length", length, 1)
    check_int("x_bits", x_bits, 2, 24)
    if variant not in VARIANTS:
        raise UnitConfigError(f"variant must be one of {VARIANTS!r}, not {variant!r}")
    d = divider_cycles(layernorm_divider_width(x_bits, length),
                       check_divider_bits(divider_bits_per_cycle))
    p = check_pipeline(pipeline, IntLayerNormUnit.max_pipeline)
    root = NEWTON_ITERATIONS * (d + 2) if variant == "reference" else isqrt_steps(x_bits, length) + 2
    first = 2 * length + 2 * (d + 2) + root + _var_stages(p)
    return RowTiming(cycles_per_row=first + length, latency_cycles=first + p)


class IntLayerNormUnit(RowUnit):
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
    pipeline : register stages on the element path, 0..3 (``LAYERNORM_STAGES``): each adds a
        cycle of latency to the output pass, and those before the variance sum a cycle to the row.

    Ports: ``i`` (stream of signed(x_bits)), ``o`` (stream of signed outputs), and for the
    exact variant ``row_error`` (high while the outputs of a zero-variance row are offered).
    """

    kernel_name = "ivit_int_layernorm"
    function = "layernorm"
    row_timing = staticmethod(layernorm_timing)
    timing_params = ("x_bits", "divider_bits_per_cycle", "variant", "pipeline")
    max_pipeline = len(LAYERNORM_STAGES)

    def __init__(self, *, x_bits: int, length: int, bias_int: Sequence[int],
                 divider_bits_per_cycle: int = 1, variant: str = "reference", pipeline: int = 0) -> None:
        if isinstance(bias_int, (str, bytes)) or not hasattr(bias_int, "__len__"):
            raise UnitConfigError(f"bias_int must be a sequence of integers, not {bias_int!r}")
        if len(bias_int) != length:
            raise UnitConfigError(f"bias_int must have length {length}, not {len(bias_int)}")
        k = kernel(self.kernel_name, {"bias_int": list(bias_int)}, variant=variant)
        self._bias = k.bias_int
        self._k = check_divider_bits(divider_bits_per_cycle)
        self._p = check_pipeline(pipeline, self.max_pipeline)
        self._variant = variant
        xb = check_int("x_bits", x_bits, 2, self.max_x_bits)
        y_max = (1 << xb) - 1
        std_min = STD_MIN if variant == "reference" else 1
        prod_max = (y_max * (INT31 // std_min)) >> 1
        lo, hi = -prod_max - 1 + min(self._bias), prod_max + max(self._bias)
        super().__init__(k, x_bits=x_bits, length=length, out_shape=signed(signed_bits(lo, hi)),
                         options={"divider_bits_per_cycle": self._k, "variant": variant,
                                  **({"pipeline": self._p} if self._p else {})},
                         extra={"row_error": Out(1)} if variant == "exact" else None)

    def elaborate(self, platform) -> Module:
        m = Module()
        L, xb = self._length, self._x_bits
        stages = LAYERNORM_STAGES[:self._p]
        sum_w, var_w, k_w = _widths(xb, L)
        div_w = layernorm_divider_width(xb, L)
        offset = 1 << (xb - 1)  # sum + offset * N >= 0
        wr, rd = self.row_buffer(m, "buf", signed(xb))
        bias_w = signed_bits(min(self._bias + (0,)), max(self._bias + (0,)))
        _, rom_rd = self.row_buffer(m, "rom", signed(bias_w), init=self._bias)
        m.submodules.div = div = IterativeDivider(dividend_width=div_w, divisor_width=k_w,
                                                  bits_per_cycle=self._k)
        idx, last = self.row_index(m)
        total = Signal(unsigned(sum_w))
        mean = Signal(signed(xb))
        var = Signal(unsigned(var_w))
        k = Signal(unsigned(k_w))
        it = Signal(range(NEWTON_ITERATIONS))
        zero_std = Signal()
        # the element path: every stage advances together unless a result waits on ``o``
        advance = Signal()
        issue = Signal()  # an element leaves the row buffer this cycle
        in_var = Signal()  # ... for the variance pass (else for the output pass)

        y = Signal(signed(xb + 1))
        m.d.comb += [rd.addr.eq(idx), rom_rd.addr.eq(idx), y.eq(rd.data - mean)]
        el = {"valid": issue, "var": in_var, "last": last, "y": y, "bias": rom_rd.data, "err": zero_std}
        if "diff" in stages:
            el = register_stage(m, advance, "s_diff", **el)
        # an output element before the multiplier still needs this row's quotient
        before_mul = el["valid"] if "diff" in stages else issue
        square = Signal(unsigned(2 * (xb + 1)))
        prod = Signal(signed(xb + 1 + 31))
        m.d.comb += [square.eq(el["y"] * el["y"]), prod.eq(Mux(el["err"], 0, el["y"] * div.quotient[:31]))]
        el = {"valid": el["valid"], "var": el["var"], "last": el["last"], "square": square, "prod": prod,
              "bias": el["bias"], "err": el["err"]}
        if "mul" in stages:
            el = register_stage(m, advance, "s_mul", **el)
        # the variance pass's elements end here; the output pass's go on to the bias add
        to_var = el["valid"] & el["var"] & advance
        var_done = Signal()
        m.d.comb += var_done.eq(to_var & el["last"])
        with m.If(to_var):
            m.d.sync += var.eq(var + el["square"])
        with m.If(var_done):  # the square root starts from here
            m.d.sync += [k.eq(NEWTON_START), it.eq(0)]
        y_out = Signal(self.o.payload.shape())
        m.d.comb += y_out.eq((el["prod"] >> 1) + el["bias"])
        out = {"valid": el["valid"] & ~el["var"], "y": y_out, "err": el["err"]}
        if "out" in stages:
            out = register_stage(m, advance, "s_out", **out)
        m.d.comb += [self.o.valid.eq(out["valid"]), self.o.payload.eq(out["y"]),
                     advance.eq(~self.o.valid | self.o.ready)]
        root_w = (var_w + 1) // 2
        if self._variant == "exact":
            m.d.comb += self.row_error.eq(out["err"] & self.o.valid)

        with m.FSM(name="phase"):
            self.load_state(m, idx, last, wr=wr, next_state="MEAN_ISSUE",
                            on_element=[total.eq(Mux(idx == 0, offset, total + offset) + self.i.payload)])
            with m.State("MEAN_ISSUE"):  # (waits only while a stalled output element is before the multiplier)
                with m.If(~before_mul):
                    m.d.comb += [div.start.eq(1), div.dividend.eq(total), div.divisor.eq(L)]
                    m.next = "MEAN_WAIT"
            with m.State("MEAN_WAIT"):
                with m.If(div.done):
                    m.d.sync += [mean.eq(self.rounded_mean(m, div, offset)), var.eq(0)]
                    m.next = "VAR"
            root_state = "NEWTON_ISSUE" if self._variant == "reference" else "ISQRT_INIT"
            self.issue_state(m, idx, last, name="VAR", issue=issue, advance=advance, comb=[in_var.eq(1)],
                             next_state="VAR_DRAIN" if _var_stages(self._p) else root_state)
            with m.State("VAR_DRAIN"):  # until the last element is in the variance sum
                with m.If(var_done):
                    m.next = root_state

            isqrt_states(m, var, root_w, next_state="FACTOR_ISSUE",
                         on_done=lambda root: [k.eq(root), zero_std.eq(root == 0)])
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
            self.divide_states(m, div, "FACTOR", dividend=INT31, divisor=k, next_state="OUT")
            self.issue_state(m, idx, last, name="OUT", issue=issue, advance=advance, next_state="LOAD")
        return m
