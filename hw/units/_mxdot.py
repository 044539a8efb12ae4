"""The block dot-product unit: two blocks (MX: 32 elements of any MX element format with E8M0
scales; MXINT4: blocks of 4; block floating point: INT elements under any power-of-two scale;
NVFP4: 16 e2m1 elements under an e4m3fn scale) -> one output value, rounded once.

``out = round(sum_i a_i * b_i * 2**(ea + eb))``: the element products are summed exactly in a
fixed-point adder tree, the two scale exponents are added, and the rounder applies that sum as
a run-time exponent offset. A NaN scale code (E8M0 ``FF``) or a NaN element makes the result
NaN; an exactly-zero result is -0 iff every product (elements and scales) is -0. Float scales
(NVFP4: e4m3fn scales over e2m1 blocks of 16) are decoded like operands: their significands
multiply the exact dot product and their exponents join the offset.
Golden model: ``hw.numerics.gemm(..., a_scales=, b_scales=, accumulate="exact")``.

Submodules (named by cost line item as ``hw.units._pe`` names the PE's): per element pair
``decode_a_<i>``, ``decode_b_<i>``, ``multiply_<i>``, ``align_<i>`` (the MAC datapath's parts),
``reduce`` (the exact adder tree: ``accumulate``), ``scale`` (``BlockScales``: scale decode,
significand product and exponent sum, once per block pair) and ``out_convert`` (the rounder,
once per output); the unit itself holds the registers.
"""
from __future__ import annotations

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..errors import UnitConfigError
from ..formats import BlockFormat, FloatFormat, ScaleFormat, parse
from ._checks import validated_init
from ._decode import OperandDecoder, decode_info, operand_format, product_width
from ._pe import ExactAligner, MacFormats, SignificandMultiplier, _ExactReduce
from ._round import AccumulatorRounder, output_format
from ._timing import Timing

__all__ = ["MxDotUnit", "BlockScales", "mxdot_timing"]


def mxdot_timing(*, pipeline: int = 0) -> Timing:
    """Timing of ``MxDotUnit``: a registered output (latency 1), plus a register after the
    element adder tree when ``pipeline == 1``; a block pair every cycle."""
    return Timing(latency=1 + pipeline, initiation_interval=1, lanes=1)


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
        a, b, bs = self._a, self._b, self._a.block_size
        f = MacFormats(a_format=a.element, b_format=b.element, acc="exact", out_format=self._out, max_k=bs)
        mults = []
        for i in range(bs):  # the MAC datapath's parts, one set per element pair
            da, db = OperandDecoder(f.a_element), OperandDecoder(f.b_element)
            mul, al = SignificandMultiplier(f.a_info, f.b_info), ExactAligner(f)
            m.submodules[f"decode_a_{i}"], m.submodules[f"decode_b_{i}"] = da, db
            m.submodules[f"multiply_{i}"], m.submodules[f"align_{i}"] = mul, al
            m.d.comb += [da.code.eq(self.a[i]), db.code.eq(self.b[i]), mul.a.eq(da.out), mul.b.eq(db.out),
                         al.p.eq(mul.p), al.en.eq(1)]
            mults.append(mul)
        m.submodules.reduce = red = _ExactReduce(f, bs)
        m.d.comb += [red.terms[i].eq(m.submodules[f"align_{i}"].term) for i in range(bs)]
        m.submodules.scale = sc = BlockScales(a_format=a, b_format=b)
        m.d.comb += [sc.a.eq(self.a_scale), sc.b.eq(self.b_scale), sc.dot.eq(red.sum.value)]
        # sign of an exactly-zero result: -0 iff every product (element x element x scales) is
        # -0, as hw.numerics.gemm signs it
        neg_zero = Signal()
        m.d.comb += neg_zero.eq(_all(((p.p.raw == 0) | sc.zero) & (p.p.sign ^ sc.sign) for p in mults))
        value = Signal.like(sc.value, name="value")
        offset = Signal.like(sc.offset, name="offset")
        nan, pinf, ninf, zero_sign = Signal(), Signal(), Signal(), Signal()
        stage = m.d.sync if self._pipeline else m.d.comb
        stage += [value.eq(sc.value), offset.eq(sc.offset), nan.eq(red.sum.nan | sc.nan), pinf.eq(red.sum.pinf),
                  ninf.eq(red.sum.ninf), zero_sign.eq(neg_zero)]
        valid = Signal()
        stage += valid.eq(self.valid)
        m.submodules.out_convert = rnd = AccumulatorRounder(
            width=len(value), lsb_exp=f.product_lsb_exp, out_format=self._out, offset_width=len(offset))
        nan_out = nan | (pinf & ninf)
        m.d.comb += [rnd.value.eq(value), rnd.offset.eq(offset), rnd.nan.eq(nan_out),
                     rnd.inf.eq((pinf | ninf) & ~nan_out), rnd.sign.eq(ninf), rnd.zero_sign.eq(zero_sign)]
        m.d.sync += [self.out.eq(rnd.code), self.out_valid.eq(valid)]
        return m


def _scale_range(sc) -> tuple[int, int, int]:
    """(significand bits, lowest exponent, highest exponent) of a block scale format: E8M0 (any
    ``ScaleFormat``) is ``2**(code - bias)`` (significand 1, NaN code one above the top), a
    float scale decodes like an operand."""
    if isinstance(sc, ScaleFormat):
        return 1, sc.emin, sc.emax + 1
    info = decode_info(sc)
    return info.sig_bits, info.lsb_exp, info.lsb_exp + info.shift_max


class BlockScales(wiring.Component):
    """Combinational: the block scale codes of both operands and the exact element dot product
    -> the dot product times the scales' significands (signed; 1 for E8M0), the sum of the
    scales' exponents (the output rounder's run-time offset), NaN (a NaN scale), and the sign and
    zero flag of the combined scale (for the sign of a zero result). Submodules ``a_decode`` and
    ``b_decode`` decode float scales (NVFP4's e4m3fn).

    Ports
    -----
    a, b : In(scale bits); dot : In(signed dot bits); value : Out(signed); offset : Out(signed);
    nan, sign, zero : Out(1).
    """

    @validated_init
    def __init__(self, *, a_format: BlockFormat, b_format: BlockFormat) -> None:
        self._a, self._b = a_format, b_format
        (bits_a, lo_a, hi_a), (bits_b, lo_b, hi_b) = _scale_range(a_format.scale), _scale_range(b_format.scale)
        lo, hi = lo_a + lo_b, hi_a + hi_b
        self._dot_bits = product_width(a_format.element, b_format.element) + (a_format.block_size - 1).bit_length()
        vw = self._dot_bits + (bits_a if bits_a > 1 else 0) + (bits_b if bits_b > 1 else 0) + 1
        ow = max(abs(lo), abs(hi) + 1).bit_length() + 1
        super().__init__({"a": In(a_format.scale.bits), "b": In(b_format.scale.bits),
                          "dot": In(signed(self._dot_bits)), "value": Out(signed(vw)), "offset": Out(signed(ow)),
                          "nan": Out(1), "sign": Out(1), "zero": Out(1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        parts = []
        for side, f, port in (("a", self._a, self.a), ("b", self._b, self.b)):
            sc = f.scale
            if isinstance(sc, ScaleFormat):
                e = Signal(range(sc.emin, sc.emax + 2), name=f"{side}_exp")
                m.d.comb += e.eq(port - sc.bias)
                parts.append((0, 1, e, port == sc.nan_code))
            else:
                dec = OperandDecoder(sc)
                m.submodules[f"{side}_decode"] = dec
                m.d.comb += dec.code.eq(port)
                info = dec.info
                e = Signal(range(info.lsb_exp, info.lsb_exp + info.shift_max + 1), name=f"{side}_exp")
                m.d.comb += e.eq(dec.out.shift + info.lsb_exp)
                parts.append((dec.out.sign, dec.out.sig, e, dec.out.nan))
        (sga, siga, ea, nan_a), (sgb, sigb, eb, nan_b) = parts
        mag_scale = siga * sigb
        sign = sga ^ sgb
        m.d.comb += [self.value.eq(Mux(sign, -(self.dot * mag_scale), self.dot * mag_scale)),
                     self.offset.eq(ea + eb), self.nan.eq(nan_a | nan_b), self.sign.eq(sign),
                     self.zero.eq((siga == 0) | (sigb == 0))]
        return m
