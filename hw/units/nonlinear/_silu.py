"""Integer SiLU and SwiGLU (``SiLU(gate) * up``) as a pipelined element-wise unit, bit-identical
to ``hw.nonlinear.IntSiLU``: per element the exp by shifts of ``-|x|`` (combinational), the
division ``((num >> d) << (out_bit-1)) // ((e + e0) >> d)`` by a restoring divider pipelined
over ``ceil(W / k)`` stages of ``k`` quotient bits, and the products ``x * sig`` (SiLU) or
``gate * sig * up`` (SwiGLU): one element per cycle, with back-pressure stalling the whole
pipeline. ``pipeline`` adds register stages (``SILU_STAGES``): after the exp front end, after
the output products. No row buffer: rows only set the timing figures."""
from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data

from ...errors import UnitConfigTypeError
from ...nonlinear import kernel
from ._base import RowUnit
from ._common import (PipelinedDivider, RowTiming, check_divider_bits, check_int, check_pipeline, divider_cycles,
                      exp_shift, register_stage, signed_bits, unsigned_bits)

__all__ = ["SILU_STAGES", "SiLUUnit", "silu_timing"]

#: where the register stages of ``pipeline = 1, 2`` go, in order of the critical path they cut
#: (OpenSTA on the mapped netlist, osu018: from the input through the exp by shifts into the
#: divider's first stage): ``"exp"`` after the front end (exp by shifts, numerator, divisor),
#: before the divider; ``"out"`` after the output products (the ``o`` payload from a register)
SILU_STAGES = ("exp", "out")


def silu_timing(length: int, *, divider_bits_per_cycle: int = 1, out_bit: int = 16,
                den_bits: int = 16, pipeline: int = 0) -> RowTiming:
    """Cycles of ``SiLUUnit``: one element per cycle (``L`` per row); latency ``D + 1 + p`` with
    ``D = ceil((den_bits + out_bit - 1) / k)`` divider stages of ``k`` quotient bits each and
    ``p = pipeline`` register stages."""
    check_int("length", length, 1)
    w = check_int("den_bits", den_bits, 2, 31) + check_int("out_bit", out_bit, 2, 31) - 1
    d = divider_cycles(w, check_divider_bits(divider_bits_per_cycle))
    p = check_pipeline(pipeline, SiLUUnit.max_pipeline)
    return RowTiming(cycles_per_row=length, latency_cycles=d + 1 + p)


class SiLUUnit(RowUnit):
    """Streaming integer SiLU (``gated=False``) or SwiGLU (``gated=True``) on signed integers.

    Parameters (keyword-only)
    -------------------------
    x_bits : width of x (the gate), signed, 2..24.
    x0_int : ``floor(-1/s_in)`` (negative), as in the kernel consts.
    n, out_bit, den_bits : the kernel constants (15, 16, 16 by default).
    divider_bits_per_cycle : quotient bits per divider pipeline stage (fewer stages, longer
        combinational path per stage; the throughput is one element per cycle regardless).
    gated : SwiGLU: the input is a (gate, up) pair and the output ``gate * sig * up``.
    up_bits : width of ``up`` (signed) when gated (default ``x_bits``).
    length : row length, used only for the timing figures (the unit is element-wise).
    pipeline : register stages, 0..2 (``SILU_STAGES``), each a cycle more of latency.

    Ports: ``i`` (stream of signed(x_bits), or of the layout ``{gate, up}`` when gated),
    ``o`` (stream of signed results).
    """

    kernel_name = "int_silu"
    function = "silu_mul"
    row_timing = staticmethod(silu_timing)
    timing_params = ("divider_bits_per_cycle", "out_bit", "den_bits", "pipeline")
    max_pipeline = len(SILU_STAGES)

    def __init__(self, *, x_bits: int, x0_int: int, n: int = 15, out_bit: int = 16, den_bits: int = 16,
                 divider_bits_per_cycle: int = 1, gated: bool = False, up_bits: int | None = None,
                 length: int = 1, pipeline: int = 0) -> None:
        k = kernel(self.kernel_name, {"x0_int": x0_int, "n": n, "out_bit": out_bit, "den_bits": den_bits})
        xb = check_int("x_bits", x_bits, 2, self.max_x_bits)
        self._k = check_divider_bits(divider_bits_per_cycle)
        self._p = check_pipeline(pipeline, self.max_pipeline)
        if not isinstance(gated, (bool, int)) or gated not in (0, 1):
            raise UnitConfigTypeError(f"gated must be a bool (or 0/1), not {gated!r}")
        self._gated = bool(gated)
        self._up_bits = check_int("up_bits", xb if up_bits is None else up_bits, 2, 32)
        lo, hi = -(1 << (xb - 1)) << (k.out_bit - 1), ((1 << (xb - 1)) - 1) << (k.out_bit - 1)
        options: dict = {"divider_bits_per_cycle": self._k, **({"pipeline": self._p} if self._p else {})}
        in_shape = None
        if gated:
            u_lo, u_hi = -(1 << (self._up_bits - 1)), (1 << (self._up_bits - 1)) - 1
            lo, hi = min(lo * u_hi, hi * u_lo), max(lo * u_lo, hi * u_hi)
            in_shape = data.StructLayout({"gate": signed(xb), "up": signed(self._up_bits)})
            options |= {"gated": True, "up_bits": self._up_bits}
        super().__init__(k, x_bits=x_bits, length=length, out_shape=signed(signed_bits(lo, hi)),
                         in_shape=in_shape, options=options)

    @property
    def input_fields(self) -> tuple[str, ...]:
        """``("gate", "up")`` when gated (each input element is a pair), else ``()``."""
        return ("gate", "up") if self._gated else ()

    def input_ranges(self) -> list[tuple[int, int]]:
        """(lo, hi) of the gate, and of ``up`` when gated."""
        ranges = super().input_ranges()
        if self._gated:
            ranges.append((-(1 << (self._up_bits - 1)), (1 << (self._up_bits - 1)) - 1))
        return ranges

    def elaborate(self, platform) -> Module:
        m = Module()
        k = self.kernel
        stages = SILU_STAGES[:self._p]
        xb, s = self.x_bits, k.out_bit - 1
        e0, drop = k.e0, k.drop
        fields = {"gate": signed(xb)} | ({"up": signed(self._up_bits)} if self._gated else {})
        m.submodules.div = div = PipelinedDivider(dividend_width=k.den_bits + s, divisor_width=k.den_bits + 1,
                                                  bits_per_stage=self._k, tag_shape=data.StructLayout(fields))
        gate_in = self.i.payload.gate if self._gated else self.i.payload

        # front end on the offered element: e = I(-|x|), numerator and divisor of the sigmoid
        neg_abs = Signal(signed(xb + 1))
        m.d.comb += neg_abs.eq(Mux(gate_in < 0, gate_in, -gate_in))
        e, _ = exp_shift(m, neg_abs, x0=k.x0_int, n=k.n, q_lo=0, name="exp")
        num = Signal(unsigned(unsigned_bits(e0)))
        m.d.comb += num.eq(Mux(gate_in > 0, e0, e))
        den = Signal(unsigned(unsigned_bits(2 * e0)))
        m.d.comb += den.eq(e + e0)
        front = {"valid": self.i.valid, "dividend": (num >> drop) << s, "divisor": den >> drop, "gate": gate_in,
                 **({"up": self.i.payload.up} if self._gated else {})}
        if "exp" in stages:  # loaded whenever the divider's first stage is (the whole pipeline advances together)
            front = register_stage(m, div.i.ready, "s_exp", **front)
        m.d.comb += [div.i.valid.eq(front["valid"]), self.i.ready.eq(div.i.ready),
                     div.i.payload.dividend.eq(front["dividend"]), div.i.payload.divisor.eq(front["divisor"]),
                     div.i.payload.tag.gate.eq(front["gate"])]
        if self._gated:
            m.d.comb += div.i.payload.tag.up.eq(front["up"])

        # back end: y = x * sig (SwiGLU: * up), sig = sigmoid * 2^s in [0, 2^s]
        tag, sig = div.o.payload.tag, div.o.payload.quotient[:s + 2]
        y = Signal(self.o.payload.shape())
        m.d.comb += y.eq(tag.gate * sig * tag.up if self._gated else tag.gate * sig)
        back = {"valid": div.o.valid, "y": y}
        advance = Signal()
        if "out" in stages:
            back = register_stage(m, advance, "s_out", **back)
        m.d.comb += [self.o.valid.eq(back["valid"]), self.o.payload.eq(back["y"]),
                     advance.eq(~self.o.valid | self.o.ready),
                     div.o.ready.eq(advance)]
        return m
