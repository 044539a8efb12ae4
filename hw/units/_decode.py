"""Operand decoding and exact products: the common front end of every MAC.

Every finite value a unit sees is represented as ``(-1)**sign * sig * 2**(shift + lsb_exp)``
with an unsigned integer significand ``sig``, a non-negative integer ``shift`` and a constant
``lsb_exp`` of the format (``DecodeInfo``). Floats: ``sig`` is the significand with its hidden
bit, ``shift = max(exp_field, 1) - 1``, ``lsb_exp = emin - man_bits``; a supernormal variant's
-0 code decodes to its extra value, ``sig << shift`` with the trailing zeros in ``shift`` (``sig``
widened if the value needs more than M + 1 bits). Integers (and fixed
point): sign/magnitude, ``shift = 0``, ``lsb_exp = -frac_bits``. Lookup formats: a ROM of the
table's values as exact fixed-point integers (``shift = 0``, ``lsb_exp`` = the exponent of the
finest bit any value uses). Block formats decode their element format (the scale is handled by
the block unit).

A product of two decoded operands is then a signed fixed-point integer
``p_int * 2**(lsb_a + lsb_b)`` with ``p_int = ±(sig_a * sig_b) << (shift_a + shift_b)``: the
multiplier and the alignment shifter into an exact accumulator are the same few gates.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..errors import UnitConfigError
from ..formats import BlockFormat, FloatFormat, Format, IntFormat, LookupFormat, parse
from ._checks import check_int, validated_init

__all__ = ["DecodeInfo", "decode_info", "OperandDecoder", "ExactProduct", "product_width",
           "exact_accumulator_bits", "literature_accumulator_bits", "operand_format"]


def operand_format(fmt, what: str = "format") -> Format:
    """``fmt`` (a descriptor or a name) as a descriptor a MAC can take as an operand.

    Block formats are reduced to their element format (the caller handles the scale).

    Raises
    ------
    UnitConfigError
        For scale formats (E8M0), a supernormal minifloat whose extra value is not a multiple
        of the format's smallest step, or anything that is not a format.
    """
    if isinstance(fmt, str):
        fmt = parse(fmt)
    if isinstance(fmt, BlockFormat):
        fmt = fmt.element
    if not isinstance(fmt, (IntFormat, FloatFormat, LookupFormat)):
        raise UnitConfigError(f"{what} must be an integer, float, lookup or block format, not {fmt}")
    if isinstance(fmt, FloatFormat) and fmt.neg_zero_value is not None:
        q = Fraction(fmt.neg_zero_value) / Fraction(fmt.min_subnormal)
        if q.denominator != 1:
            raise UnitConfigError(f"{what} must have a -0 code value that is a multiple of its smallest "
                                  f"step {fmt.min_subnormal!r}, not {fmt.neg_zero_value!r} ({fmt})")
    return fmt


def _extra_sig_shift(fmt: FloatFormat) -> tuple[int, int]:
    """(sig, shift) of the supernormal -0 code's value: |v| = sig << shift in units of the
    smallest step, with as many trailing zeros as possible moved into ``shift``."""
    q = abs(int(Fraction(fmt.neg_zero_value) / Fraction(fmt.min_subnormal)))
    shift = (q & -q).bit_length() - 1
    return q >> shift, shift


@dataclass(frozen=True)
class DecodeInfo:
    """Static facts of a decoded operand format.

    Attributes
    ----------
    fmt : the operand format.
    sig_bits : width of the significand ``sig``.
    shift_max : largest ``shift`` of a finite value (0 for integer and lookup formats).
    lsb_exp : exponent of one unit of ``sig`` at ``shift = 0``.
    max_fixed : largest ``sig << shift`` the decoder can output for a finite code.
    """

    fmt: Format
    sig_bits: int
    shift_max: int
    lsb_exp: int
    max_fixed: int

    @property
    def shift_bits(self) -> int:
        return max(1, self.shift_max.bit_length())

    @property
    def fixed_bits(self) -> int:
        """Bits of the unsigned aligned magnitude ``sig << shift``."""
        return self.max_fixed.bit_length()

    def layout(self) -> data.StructLayout:
        """The decoded operand as an ``amaranth.lib.data`` layout."""
        return data.StructLayout({"sign": 1, "sig": unsigned(self.sig_bits),
                                  "shift": unsigned(self.shift_bits), "nan": 1, "inf": 1})

    def fixed_value(self, code: int) -> int | None:
        """The exact value of ``code`` in units of ``2**lsb_exp`` (None for NaN/inf); Python
        model of the decoder, used by tests and ROM generation."""
        v = float(self.fmt.decode([code])[0])
        if not math.isfinite(v):
            return None
        q = Fraction(v) / Fraction(2) ** self.lsb_exp
        assert q.denominator == 1
        return int(q)


def _lookup_lsb(values) -> int:
    dens = [Fraction(v).denominator for v in values]
    return -max(d.bit_length() - 1 for d in dens)


def decode_info(fmt) -> DecodeInfo:
    """``DecodeInfo`` of an operand format (see the module docstring for the representation)."""
    fmt = operand_format(fmt)
    if isinstance(fmt, IntFormat):
        mag = (1 << (fmt.bits - 1)) if fmt.signed else (1 << fmt.bits) - 1
        return DecodeInfo(fmt, max(1, mag.bit_length()), 0, -fmt.frac_bits, mag)
    if isinstance(fmt, FloatFormat):
        m = fmt.man_bits
        top = fmt._regular_max_code
        top_field = top >> m
        top_sig = (top & ((1 << m) - 1)) | (1 << m)
        shift_max = max(top_field, 1) - 1
        sig_bits, max_fixed = m + 1, top_sig << shift_max
        if fmt.neg_zero_value is not None:  # supernormal: the -0 code's value
            sig_x, shift_x = _extra_sig_shift(fmt)
            sig_bits, shift_max = max(sig_bits, sig_x.bit_length()), max(shift_max, shift_x)
            max_fixed = max(max_fixed, sig_x << shift_x)
        return DecodeInfo(fmt, sig_bits, shift_max, fmt.emin - m, max_fixed)
    lsb = _lookup_lsb(fmt.values)
    ints = [int(Fraction(v) / Fraction(2) ** lsb) for v in fmt.values]
    mx = max(abs(i) for i in ints)
    return DecodeInfo(fmt, max(1, mx.bit_length()), 0, lsb, mx)


class OperandDecoder(wiring.Component):
    """Combinational decoder: ``code`` of ``fmt`` -> ``out`` (sign, sig, shift, nan, inf).

    Parameters
    ----------
    fmt : an integer, float, lookup or block format (block formats decode their element).

    Ports
    -----
    code : In(fmt.bits), the operand code.
    out : Out(``decode_info(fmt).layout()``); value = (-1)**sign * sig * 2**(shift + lsb_exp)
        unless ``nan`` or ``inf`` is set. NaN codes keep their sign bit in ``sign``.
    """

    @validated_init
    def __init__(self, fmt) -> None:
        self._info = decode_info(fmt)
        super().__init__({"code": In(self._info.fmt.bits), "out": Out(self._info.layout())})

    @property
    def info(self) -> DecodeInfo:
        return self._info

    @property
    def fmt(self) -> Format:
        return self._info.fmt

    def elaborate(self, platform) -> Module:
        m = Module()
        fmt, info, c, o = self.fmt, self._info, self.code, self.out
        bits = fmt.bits
        if isinstance(fmt, IntFormat):
            if fmt.signed:
                neg = c[bits - 1]
                m.d.comb += [o.sign.eq(neg), o.sig.eq(Mux(neg, -c.as_signed(), c))]
            else:
                m.d.comb += o.sig.eq(c)
        elif isinstance(fmt, FloatFormat):
            mb, eb = fmt.man_bits, fmt.exp_bits
            ef = c[mb:mb + eb]
            mf = c[:mb] if mb else 0
            sub = ef == 0
            m.d.comb += [
                o.sign.eq(c[bits - 1]),
                o.sig.eq(Mux(sub, mf, mf | (1 << mb))),
                o.shift.eq(Mux(sub, 0, ef - 1)),
            ]
            top = (1 << eb) - 1
            if fmt.specials == "ieee":
                m.d.comb += [o.inf.eq((ef == top) & (c[:mb] == 0)), o.nan.eq((ef == top) & (c[:mb] != 0))]
            elif fmt.specials == "fn":
                m.d.comb += o.nan.eq(c[:bits - 1] == (1 << (bits - 1)) - 1)
            elif fmt.specials == "fnuz":
                m.d.comb += o.nan.eq(c == (1 << (bits - 1)))
            if fmt.neg_zero_value is not None:  # supernormal: the -0 code holds an extra value
                sig_x, shift_x = _extra_sig_shift(fmt)
                with m.If(c == (1 << (bits - 1))):
                    m.d.comb += [o.sign.eq(int(fmt.neg_zero_value < 0)), o.sig.eq(sig_x), o.shift.eq(shift_x)]
        else:  # lookup: ROM of exact fixed-point values
            with m.Switch(c):
                for code in range(fmt.code_count):
                    v = info.fixed_value(code)
                    with m.Case(code):
                        m.d.comb += [o.sign.eq(int(v < 0 or (v == 0 and math.copysign(1.0, fmt.values[code]) < 0))),
                                     o.sig.eq(abs(v))]
        return m


def product_width(a_fmt, b_fmt) -> int:
    """Bits of the signed fixed-point product of any two finite operands (LSB 2**(lsb_a+lsb_b))."""
    ia, ib = decode_info(a_fmt), decode_info(b_fmt)
    return (ia.max_fixed * ib.max_fixed).bit_length() + 1


def exact_accumulator_bits(a_fmt, b_fmt, max_k: int) -> int:
    """Bits of the two's-complement accumulator that holds any sum of ``max_k`` products of
    finite ``a_fmt`` x ``b_fmt`` operands exactly, LSB = 2**(lsb_a + lsb_b).

    Formula (derived from the formats): ``w = bitlen(K * A * B) + 1`` where ``A``/``B`` are the
    largest aligned magnitudes the decoders output (``max_fixed``: largest finite |value| in
    units of the format's smallest quantum). In exponent terms, for minifloats
    ``bitlen(A) = (M_a + 1) + (f_top_a - 1)`` with ``f_top`` the exponent field of the largest
    finite value, so ``w = (M_a + f_top_a) + (M_b + f_top_b) + ceil(log2 K) + 1`` (up to one bit
    when the product of the top significands does not carry).

    Compared with the FPGA minifloat literature's ``2**ea + ma + 2**eb + mb + ceil(log2 K) - 1``
    (see ``literature_accumulator_bits``): that bound counts every exponent field value
    ``0 .. 2**e - 1`` as a finite binade, so formats that reserve the top field for inf/NaN
    (IEEE e5m2, FP16, BF16) get 1 bit per operand more than needed; OCP "fn"/"none" formats use
    the top field and match it to within the significand-carry bit. For integers the
    literature's ``ra + rb + ceil(log2 K) + 1`` spends one bit more than ``bitlen(K * 2**(ra-1)
    * 2**(rb-1)) + 1`` (the -2**(r-1) squared product already fits in ra + rb bits).

    Raises
    ------
    UnitConfigError
        If ``max_k`` is not a positive integer.
    """
    check_int("max_k", max_k, 1, error=UnitConfigError)
    ia, ib = decode_info(a_fmt), decode_info(b_fmt)
    return (max_k * ia.max_fixed * ib.max_fixed).bit_length() + 1


def literature_accumulator_bits(a_fmt, b_fmt, max_k: int) -> int | None:
    """The accumulator width the FPGA minifloat literature gives: INT
    ``ra + rb + ceil(log2 K) + 1``; minifloat ``2**ea + ma + 2**eb + mb + ceil(log2 K) - 1``;
    None for other pairs (mixed int/float, lookup)."""
    a, b = operand_format(a_fmt), operand_format(b_fmt)
    lk = math.ceil(math.log2(max_k))
    if isinstance(a, IntFormat) and isinstance(b, IntFormat):
        return a.bits + b.bits + lk + 1
    if isinstance(a, FloatFormat) and isinstance(b, FloatFormat):
        return (1 << a.exp_bits) + a.man_bits + (1 << b.exp_bits) + b.man_bits + lk - 1
    return None


class ExactProduct(wiring.Component):
    """Combinational exact product of an ``a_fmt`` code and a ``b_fmt`` code.

    Ports
    -----
    a, b : In, operand codes.
    p : Out(signed(product_width)), the product in units of ``2**lsb_exp`` (0 for NaN/inf).
    sign : Out(1), sign of the product (sign_a xor sign_b; the sign of a zero or inf product).
    nan : Out(1), NaN operand, or inf x 0.
    inf : Out(1), an infinite product (not NaN).
    raw, raw_shift : Out, the unaligned product: |p| = raw << raw_shift (for float datapaths
        that normalise instead of aligning; ``raw`` is sig_a * sig_b).

    Attributes
    ----------
    lsb_exp : int, exponent of one unit of ``p``.
    width : int, bits of ``p``.
    """

    @validated_init
    def __init__(self, a_fmt, b_fmt) -> None:
        self._ia, self._ib = decode_info(a_fmt), decode_info(b_fmt)
        self._width = product_width(self._ia.fmt, self._ib.fmt)
        super().__init__({"a": In(self._ia.fmt.bits), "b": In(self._ib.fmt.bits),
                          "p": Out(signed(self._width)), "sign": Out(1), "nan": Out(1),
                          "inf": Out(1), "raw": Out(self.raw_bits),
                          "raw_shift": Out(range(self._ia.shift_max + self._ib.shift_max + 1))})

    @property
    def lsb_exp(self) -> int:
        return self._ia.lsb_exp + self._ib.lsb_exp

    @property
    def width(self) -> int:
        return self._width

    @property
    def raw_bits(self) -> int:
        return self._ia.sig_bits + self._ib.sig_bits

    @property
    def raw_shift_max(self) -> int:
        return self._ia.shift_max + self._ib.shift_max

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.dec_a = da = OperandDecoder(self._ia.fmt)
        m.submodules.dec_b = db = OperandDecoder(self._ib.fmt)
        m.d.comb += [da.code.eq(self.a), db.code.eq(self.b)]
        x, y = da.out, db.out
        m.d.comb += [self.raw.eq(x.sig * y.sig), self.raw_shift.eq(x.shift + y.shift)]
        mag = Signal(self._width - 1)
        m.d.comb += mag.eq(self.raw << self.raw_shift)
        zero_x = (x.sig == 0) & ~x.nan & ~x.inf
        zero_y = (y.sig == 0) & ~y.nan & ~y.inf
        nan = x.nan | y.nan | (x.inf & zero_y) | (y.inf & zero_x)
        inf = (x.inf | y.inf) & ~nan
        sign = x.sign ^ y.sign
        m.d.comb += [
            self.sign.eq(sign), self.nan.eq(nan), self.inf.eq(inf),
            self.p.eq(Mux(nan | inf, 0, Mux(sign, -mag, mag))),
        ]
        return m
