"""The block dot-product unit: two blocks (MX: 32 elements of any MX element format with E8M0
scales; MXINT4: blocks of 4; block floating point: INT elements under any power-of-two scale)
-> one output value, rounded once.

``out = round(sum_i a_i * b_i * 2**(ea + eb))``: the element products are summed exactly in a
fixed-point adder tree, the two scale exponents are added, and the rounder applies that sum as
a run-time exponent offset. A NaN scale code (E8M0 ``FF``) or a NaN element makes the result
NaN. Golden model: ``hw.numerics.gemm(..., a_scales=, b_scales=, accumulate="exact")``.
"""
from __future__ import annotations

from amaranth import Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..errors import UnitConfigError
from ..formats import BlockFormat, FloatFormat, ScaleFormat, parse
from ._checks import validated_init
from ._decode import ExactProduct, decode_info, operand_format, product_width
from ._mac import _any, _tree_sum
from ._round import AccumulatorRounder, output_format
from ._timing import Timing

__all__ = ["MxDotUnit", "mxdot_timing"]


def mxdot_timing(*, pipeline: int = 0) -> Timing:
    """Timing of ``MxDotUnit``: a registered output (latency 1), plus a register after the
    element adder tree when ``pipeline == 1``; a block pair every cycle."""
    return Timing(latency=1 + pipeline, initiation_interval=1, lanes=1)


def _block(fmt, what: str) -> BlockFormat:
    f = parse(fmt) if isinstance(fmt, str) else fmt
    if not isinstance(f, BlockFormat) or not isinstance(f.scale, ScaleFormat):
        raise UnitConfigError(f"{what} must be a block format with a power-of-two scale (mxfp8_e4m3, mxfp4, "
                              f"mxint8, mxint4, BFP), not {f}")
    operand_format(f.element, what)
    return f


class MxDotUnit(wiring.Component):
    """Dot product of one block of ``a_format`` with one block of ``b_format``.

    Parameters (keyword-only)
    -------------------------
    a_format, b_format : block formats with power-of-two scales and equal block sizes.
    out_format : float format of the result (default float32), rounded once, RNE.
    pipeline : 0 or 1 extra register stage (after the exact element dot product).

    Ports
    -----
    a, b : In(ArrayLayout(element bits, block_size)); a_scale, b_scale : In(scale bits);
    valid : In(1); out : Out(out_format.bits); out_valid : Out(1).
    """

    @validated_init
    def __init__(self, *, a_format, b_format, out_format="float32", pipeline: int = 0) -> None:
        a, b = _block(a_format, "a_format"), _block(b_format, "b_format")
        if a.block_size != b.block_size:
            raise UnitConfigError(f"block sizes must be equal, not {a.block_size} and {b.block_size}")
        out = output_format(out_format)
        if not isinstance(out, FloatFormat):
            raise UnitConfigError(f"out_format must be a float format, not {out}")
        if pipeline not in (0, 1):
            raise UnitConfigError(f"pipeline must be 0 or 1, not {pipeline!r}")
        self._a, self._b, self._out, self._pipeline = a, b, out, pipeline
        bs = a.block_size
        super().__init__({
            "a": In(data.ArrayLayout(a.element.bits, bs)), "b": In(data.ArrayLayout(b.element.bits, bs)),
            "a_scale": In(a.scale.bits), "b_scale": In(b.scale.bits), "valid": In(1),
            "out": Out(out.bits), "out_valid": Out(1)})

    a_format = property(lambda self: self._a)
    b_format = property(lambda self: self._b)
    out_format = property(lambda self: self._out)
    pipeline = property(lambda self: self._pipeline)

    @property
    def timing(self) -> Timing:
        return mxdot_timing(pipeline=self._pipeline)

    @property
    def dot_bits(self) -> int:
        """Width of the exact element dot product (product width + log2 block size)."""
        return product_width(self._a.element, self._b.element) + (self._a.block_size - 1).bit_length()

    def metadata(self) -> dict:
        return {"unit": "mxdot", "a_format": str(self._a), "b_format": str(self._b),
                "a_element": str(self._a.element), "b_element": str(self._b.element),
                "a_scale": str(self._a.scale), "b_scale": str(self._b.scale),
                "block_size": self._a.block_size, "out_format": str(self._out), "pipeline": self._pipeline,
                "dot_bits": self.dot_bits,
                "product_lsb_exp": decode_info(self._a.element).lsb_exp + decode_info(self._b.element).lsb_exp,
                **self.timing.as_dict()}

    def elaborate(self, platform) -> Module:
        m = Module()
        a, b = self._a, self._b
        prods = []
        for i in range(a.block_size):
            p = ExactProduct(a.element, b.element)
            m.submodules[f"prod{i}"] = p
            m.d.comb += [p.a.eq(self.a[i]), p.b.eq(self.b[i])]
            prods.append(p)
        sa, sb = a.scale, b.scale
        lo = sa.emin + sb.emin
        hi = sa.emax + sb.emax
        ow = max(abs(lo), abs(hi) + 1).bit_length() + 1
        offset = Signal(signed(ow))
        scale_nan = (self.a_scale == sa.nan_code) | (self.b_scale == sb.nan_code)
        dot = Signal(signed(self.dot_bits))
        nan, pinf, ninf = Signal(), Signal(), Signal()
        stage = m.d.sync if self._pipeline else m.d.comb
        stage += [
            dot.eq(_tree_sum([p.p for p in prods])),
            offset.eq((self.a_scale - sa.bias) + (self.b_scale - sb.bias)),
            nan.eq(_any(p.nan for p in prods) | scale_nan),
            pinf.eq(_any(p.inf & ~p.sign for p in prods)),
            ninf.eq(_any(p.inf & p.sign for p in prods)),
        ]
        valid = Signal()
        stage += valid.eq(self.valid)
        m.submodules.rounder = rnd = AccumulatorRounder(
            width=self.dot_bits, lsb_exp=prods[0].lsb_exp, out_format=self._out, offset_width=ow)
        nan_out = nan | (pinf & ninf)
        m.d.comb += [rnd.value.eq(dot), rnd.offset.eq(offset), rnd.nan.eq(nan_out),
                     rnd.inf.eq((pinf | ninf) & ~nan_out), rnd.sign.eq(ninf), rnd.zero_sign.eq(0)]
        m.d.sync += [self.out.eq(rnd.code), self.out_valid.eq(valid)]
        return m
