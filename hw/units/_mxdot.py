"""The block dot-product unit: two blocks (MX: 32 elements of any MX element format with E8M0
scales; MXINT4: blocks of 4; block floating point: INT elements under any power-of-two scale;
NVFP4: 16 e2m1 elements under an e4m3fn scale) -> one output value, rounded once.

``out = round(sum_i a_i * b_i * 2**(ea + eb))``: the element products are summed exactly in a
fixed-point adder tree, the two scale exponents are added, and the rounder applies that sum as
a run-time exponent offset. A NaN scale code (E8M0 ``FF``) or a NaN element makes the result
NaN; an exactly-zero result is -0 iff every product (elements and scales) is -0. Float scales (NVFP4: e4m3fn scales over e2m1 blocks of 16) are decoded like operands:
their significands multiply the exact dot product and their exponents join the offset.
Golden model: ``hw.numerics.gemm(..., a_scales=, b_scales=, accumulate="exact")``.
"""
from __future__ import annotations

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..errors import UnitConfigError
from ..formats import BlockFormat, FloatFormat, ScaleFormat, parse
from ._checks import validated_init
from ._decode import ExactProduct, OperandDecoder, decode_info, operand_format, product_width
from ._round import AccumulatorRounder, output_format
from ._timing import Timing

__all__ = ["MxDotUnit", "mxdot_timing"]


def mxdot_timing(*, pipeline: int = 0) -> Timing:
    """Timing of ``MxDotUnit``: a registered output (latency 1), plus a register after the
    element adder tree when ``pipeline == 1``; a block pair every cycle."""
    return Timing(latency=1 + pipeline, initiation_interval=1, lanes=1)


def _tree_sum(values):
    """Balanced adder tree (exact: every level widens by one bit)."""
    while len(values) > 1:
        values = [values[i] + values[i + 1] for i in range(0, len(values), 2)]
    return values[0]


def _any(values):
    values = list(values)
    out = values[0]
    for v in values[1:]:
        out = out | v
    return out


def _all(values):
    values = list(values)
    out = values[0]
    for v in values[1:]:
        out = out & v
    return out


def _block(fmt, what: str) -> BlockFormat:
    f = parse(fmt) if isinstance(fmt, str) else fmt
    if not isinstance(f, BlockFormat):
        raise UnitConfigError(f"{what} must be a block format (mxfp8_e4m3, mxfp4, mxint8, mxint4, BFP, nvfp4), "
                              f"not {f}")
    operand_format(f.element, what)
    if isinstance(f.scale, FloatFormat):
        operand_format(f.scale, what)
        if f.scale.has_inf or f.element.has_inf:
            raise UnitConfigError(f"{what} with a float scale must have no infinities in scale or elements, not {f}")
    return f


class MxDotUnit(wiring.Component):
    """Dot product of one block of ``a_format`` with one block of ``b_format``.

    Parameters (keyword-only)
    -------------------------
    a_format, b_format : block formats with equal block sizes; power-of-two scales (E8M0, any
        ``ScaleFormat``) or float scales without infinities (NVFP4's e4m3fn).
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
        dot = Signal(signed(self.dot_bits))
        m.d.comb += dot.eq(_tree_sum([p.p for p in prods]))
        # each scale as (sign, significand, exponent, NaN): E8M0 is 2**(code - bias)
        parts = []
        for side, f, port in (("a", a, self.a_scale), ("b", b, self.b_scale)):
            sc = f.scale
            if isinstance(sc, ScaleFormat):
                e = Signal(range(sc.emin, sc.emax + 2), name=f"{side}_scale_exp")
                m.d.comb += e.eq(port - sc.bias)
                parts.append((0, 1, 1, e, sc.emin, sc.emax + 1, port == sc.nan_code))
            else:
                dec = OperandDecoder(sc)
                m.submodules[f"{side}_scale_dec"] = dec
                m.d.comb += dec.code.eq(port)
                info = dec.info
                lo, hi = info.lsb_exp, info.lsb_exp + info.shift_max
                e = Signal(range(lo, hi + 1), name=f"{side}_scale_exp")
                m.d.comb += e.eq(dec.out.shift + info.lsb_exp)
                parts.append((dec.out.sign, dec.out.sig, info.sig_bits, e, lo, hi, dec.out.nan))
        (sga, siga, bits_a, ea, lo_a, hi_a, nan_a), (sgb, sigb, bits_b, eb, lo_b, hi_b, nan_b) = parts
        lo, hi = lo_a + lo_b, hi_a + hi_b
        ow = max(abs(lo), abs(hi) + 1).bit_length() + 1
        vw = self.dot_bits + (bits_a if bits_a > 1 else 0) + (bits_b if bits_b > 1 else 0) + 1
        scaled = Signal(signed(vw))
        mag_scale = siga * sigb
        m.d.comb += scaled.eq(Mux(sga ^ sgb, -(dot * mag_scale), dot * mag_scale))
        # sign of an exactly-zero result: -0 iff every product (element x element x scales) is
        # -0, as hw.numerics.gemm signs it
        scale_zero = (siga == 0) | (sigb == 0) if (bits_a > 1 or bits_b > 1) else 0
        neg_zero = Signal()
        m.d.comb += neg_zero.eq(_all(((p.raw == 0) | scale_zero) & (p.sign ^ sga ^ sgb) for p in prods))
        value = Signal(signed(vw))
        offset = Signal(signed(ow))
        nan, pinf, ninf, zero_sign = Signal(), Signal(), Signal(), Signal()
        stage = m.d.sync if self._pipeline else m.d.comb
        stage += [
            value.eq(scaled),
            offset.eq(ea + eb),
            nan.eq(_any(p.nan for p in prods) | nan_a | nan_b),
            zero_sign.eq(neg_zero),
            pinf.eq(_any(p.inf & ~p.sign for p in prods)),
            ninf.eq(_any(p.inf & p.sign for p in prods)),
        ]
        valid = Signal()
        stage += valid.eq(self.valid)
        m.submodules.rounder = rnd = AccumulatorRounder(
            width=vw, lsb_exp=prods[0].lsb_exp, out_format=self._out, offset_width=ow)
        nan_out = nan | (pinf & ninf)
        m.d.comb += [rnd.value.eq(value), rnd.offset.eq(offset), rnd.nan.eq(nan_out),
                     rnd.inf.eq((pinf | ninf) & ~nan_out), rnd.sign.eq(ninf), rnd.zero_sign.eq(zero_sign)]
        m.d.sync += [self.out.eq(rnd.code), self.out_valid.eq(valid)]
        return m
