"""Rounding an exact fixed-point value once to an output format, and float addition built on it.

``AccumulatorRounder`` takes a signed fixed-point integer ``value`` whose LSB weighs
``2**(lsb_exp + offset)`` (``offset`` a run-time signed input, for block scales; 0 otherwise)
and produces the code of the output format that ``fmt.encode`` would give for the exact value:
one rounding (RNE, or half-up for integer outputs), subnormals, the format's overflow policy
(IEEE: inf; OCP "fn"/"fnuz": NaN; no specials: saturate; integers: saturate or wrap), and
NaN/inf inputs mapped as ``encode`` maps them.

``FloatAdder`` adds two codes of one float format with one rounding (IEEE semantics: NaN
propagation, inf - inf = NaN, (-0) + (-0) = -0, x + (-x) = +0): both operands are aligned into
an exact fixed-point sum, then rounded by an ``AccumulatorRounder``. ``FormatConverter``
converts codes between formats the same way (float -> float, float -> int, ...).
"""
from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..errors import UnitConfigError
from ..formats import FloatFormat, Format, IntFormat, parse
from ._checks import check_int, check_rounding, validated_init
from ._decode import OperandDecoder, decode_info, operand_format

__all__ = ["AccumulatorRounder", "FloatAdder", "FormatConverter", "aligned", "output_format",
           "OUTPUT_OVERFLOWS", "INT_ROUNDINGS"]

OUTPUT_OVERFLOWS = ("default", "saturate", "wrap")
#: rounding modes of ``AccumulatorRounder`` (names of the one vocabulary, ``hw.formats.ROUNDINGS``
#: and ``INTEGER_ROUNDINGS``; "half_even" is accepted as an alias of "rne")
INT_ROUNDINGS = ("rne", "half_up")


def output_format(fmt, what: str = "out_format") -> Format:
    """``fmt`` (descriptor or name) checked to be a float or integer output format."""
    if isinstance(fmt, str):
        fmt = parse(fmt)
    if not isinstance(fmt, (FloatFormat, IntFormat)):
        raise UnitConfigError(f"{what} must be a float or integer format, not {fmt}")
    if isinstance(fmt, FloatFormat) and fmt.neg_zero_value is not None:
        raise UnitConfigError(f"{what} must be a minifloat without a reassigned -0 code, not {fmt}")
    return fmt


def aligned(m: Module, dec: OperandDecoder, target_lsb: int, width: int) -> Signal:
    """Signed fixed-point value (LSB 2**target_lsb, ``width`` bits) of a decoded operand; 0 for
    NaN/inf. ``target_lsb`` must not exceed the format's ``lsb_exp``."""
    info = dec.info
    pre = info.lsb_exp - target_lsb
    assert pre >= 0
    o = dec.out
    mag = Signal(width - 1)
    m.d.comb += mag.eq((o.sig << o.shift) << pre)
    v = Signal(signed(width))
    m.d.comb += v.eq(Mux(o.nan | o.inf, 0, Mux(o.sign, -mag, mag)))
    return v


def _range_signal(lo: int, hi: int, name: str) -> Signal:
    return Signal(range(lo, hi + 1), name=name)


class AccumulatorRounder(wiring.Component):
    """Combinational: exact fixed-point ``value * 2**(lsb_exp + offset)`` -> ``code`` of
    ``out_format``, rounded once.

    Parameters (keyword-only)
    -------------------------
    width : bits of the signed input ``value``.
    lsb_exp : exponent of one unit of ``value``.
    out_format : float or integer format of ``code``.
    offset_width : bits of the signed run-time exponent ``offset`` (0: no such port); float
        outputs only.
    overflow : "default" (the format's policy), "saturate", or "wrap" (integer outputs).
    rounding : "rne" (alias "half_even") or "half_up" (half toward +inf; integer outputs only).

    Ports
    -----
    value : In(signed(width)); nan, inf, sign : In(1) (a NaN / ±inf result; ``sign`` is the sign
    of the inf, or of the NaN); zero_sign : In(1) (sign of an exact zero sum);
    offset : In(signed(offset_width)) if offset_width; code : Out(out_format.bits).
    """

    @validated_init
    def __init__(self, *, width: int, lsb_exp: int, out_format, offset_width: int = 0,
                 overflow: str = "default", rounding: str = "rne") -> None:
        check_int("width", width, 2, error=UnitConfigError)
        out = output_format(out_format)
        if not isinstance(overflow, str) or overflow not in OUTPUT_OVERFLOWS:
            raise UnitConfigError(f"overflow must be one of {', '.join(OUTPUT_OVERFLOWS)}, not {overflow!r}")
        if overflow == "wrap" and not isinstance(out, IntFormat):
            raise UnitConfigError(f"overflow must not be 'wrap' for the float output {out}")
        rounding = check_rounding(rounding, INT_ROUNDINGS, error=UnitConfigError)
        if rounding != "rne" and not isinstance(out, IntFormat):
            raise UnitConfigError(f"rounding must be 'rne' for the float output {out}, not {rounding!r}")
        if offset_width and isinstance(out, IntFormat):
            raise UnitConfigError(f"offset_width must be 0 for the integer output {out}, not {offset_width!r}")
        self._width, self._lsb, self._out = width, int(lsb_exp), out
        self._ow, self._overflow, self._rounding = offset_width, overflow, rounding
        ports = {"value": In(signed(width)), "nan": In(1), "inf": In(1), "sign": In(1),
                 "zero_sign": In(1), "code": Out(out.bits)}
        if offset_width:
            ports["offset"] = In(signed(offset_width))
        super().__init__(ports)

    @property
    def out_format(self) -> Format:
        return self._out

    def elaborate(self, platform) -> Module:
        m = Module()
        if isinstance(self._out, IntFormat):
            self._elaborate_int(m)
        else:
            self._elaborate_float(m)
        return m

    # ---- integer output -----------------------------------------------------------------
    def _elaborate_int(self, m: Module) -> None:
        out, W = self._out, self._width
        r = -out.frac_bits - self._lsb  # right shift from value LSB to output LSB
        v = self.value
        if r <= 0:
            t = Signal(signed(W - r + 1))
            m.d.comb += t.eq(v << (-r))
        else:
            q = Signal(signed(max(W - r, 1) + 1))
            m.d.comb += q.eq(v >> r)
            guard = v[r - 1]
            sticky = (v[:r - 1] != 0) if r > 1 else Const(0)
            up = guard & (sticky | q[0]) if self._rounding == "rne" else guard
            t = Signal(signed(len(q) + 1))
            m.d.comb += t.eq(q + up)
        lo, hi = out.min_int, out.max_int
        res = Signal(signed(max(len(t), out.bits + 1)))
        if self._overflow == "wrap":
            m.d.comb += res.eq(t)
        else:
            m.d.comb += res.eq(Mux(t > hi, hi, Mux(t < lo, lo, t)))
        with m.If(self.nan):
            m.d.comb += self.code.eq(0)
        with m.Elif(self.inf):
            m.d.comb += self.code.eq(Mux(self.sign, lo, hi))
        with m.Else():
            m.d.comb += self.code.eq(res[:out.bits])

    # ---- float output -------------------------------------------------------------------
    def _elaborate_float(self, m: Module) -> None:
        out, W, L = self._out, self._width, self._lsb
        mb, bias = out.man_bits, out.bias
        v = self.value
        neg = v < 0
        mag = Signal(W)
        m.d.comb += mag.eq(Mux(neg, -v, v))
        pos = Signal(range(W))
        for i in range(W):
            with m.If(mag[i]):
                m.d.comb += pos.eq(i)
        if self._ow:
            off = self.offset
            olo, ohi = -(1 << (self._ow - 1)), (1 << (self._ow - 1)) - 1
        else:
            off, olo, ohi = Const(0, signed(2)), 0, 0
        wext = W + mb + 1
        mag_ext = Cat(Const(0, mb + 1), mag)
        # right shift of mag_ext: rs = max(pos + 1, emin + 1 - L - off), clamped to wext + 1
        lo_term = _range_signal(out.emin + 1 - L - ohi, out.emin + 1 - L - olo, "lo_term")
        m.d.comb += lo_term.eq(out.emin + 1 - L - off)
        rs_raw = _range_signal(min(1, out.emin + 1 - L - ohi), max(W, out.emin + 1 - L - olo), "rs_raw")
        m.d.comb += rs_raw.eq(Mux(pos + 1 > lo_term, pos + 1, lo_term))
        rs = Signal(range(wext + 2))
        m.d.comb += rs.eq(Mux(rs_raw > wext + 1, wext + 1, rs_raw))
        q = Signal(mb + 2)
        m.d.comb += q.eq(mag_ext >> rs)
        rs1 = Signal(range(wext + 1))
        keep = Signal(range(wext + 1))
        m.d.comb += [rs1.eq(rs - 1), keep.eq(wext - rs1)]
        guard = (mag_ext >> rs1)[0]
        ones = Const((1 << wext) - 1, wext)
        sticky = (mag_ext & (ones >> keep)) != 0
        up = guard & (sticky | q[0])
        q1 = Signal(mb + 2)
        m.d.comb += q1.eq(q + up)
        # exponent of the result's leading binade: e = max(pos + L + off, emin)
        e_lo, e_hi = min(out.emin, L + olo), max(out.emin, W + L + ohi) + 1
        e = _range_signal(e_lo, e_hi, "e")
        e_raw = pos + L + off
        m.d.comb += e.eq(Mux(e_raw > out.emin, e_raw, out.emin))
        carry = q1[mb + 1]
        q2 = Signal(mb + 1)
        m.d.comb += q2.eq(Mux(carry, q1 >> 1, q1))
        e2 = _range_signal(e_lo, e_hi + 1, "e2")
        m.d.comb += e2.eq(e + carry)
        normal = q2[mb]
        max_mant = out.max_code & ((1 << mb) - 1)
        mant = q2[:mb] if mb else Const(0, 1)
        over = normal & ((e2 > out.emax) | ((e2 == out.emax) & (mant > max_mant)))
        field = Signal(out.exp_bits)
        m.d.comb += field.eq(Mux(normal, e2 + bias, 0))
        mag_code = Signal(out.bits - 1)
        m.d.comb += mag_code.eq(Cat(q2[:mb], field) if mb else field)
        sign_bit = 1 << (out.bits - 1)
        top = ((1 << out.exp_bits) - 1) << mb
        policy = self._overflow
        if policy == "default":
            policy = {"ieee": "inf", "fn": "nan", "fnuz": "nan", "none": "saturate"}[out.specials]

        def signed_code(mcode, s):
            return Mux(s, mcode | sign_bit, mcode)

        if policy == "inf":
            over_code = lambda s: signed_code(top, s)  # noqa: E731
        elif policy == "nan":
            over_code = (lambda s: out.nan_code) if out.specials == "fnuz" \
                else (lambda s: signed_code(out.nan_code, s))  # noqa: E731
        else:
            over_code = lambda s: signed_code(out.max_code, s)  # noqa: E731
        if out.has_nan:
            nan_code = out.nan_code if out.specials == "fnuz" else signed_code(out.nan_code, self.sign)
        else:
            nan_code = 0
        is_zero = v == 0
        sign = Mux(is_zero, self.zero_sign, neg)
        with m.If(self.nan):
            m.d.comb += self.code.eq(nan_code)
        with m.Elif(self.inf):
            m.d.comb += self.code.eq(over_code(self.sign))
        with m.Elif(over):
            m.d.comb += self.code.eq(over_code(neg))
        with m.Elif((mag_code == 0) & (0 if out.has_neg_zero else 1)):
            m.d.comb += self.code.eq(0)
        with m.Else():
            m.d.comb += self.code.eq(signed_code(mag_code, sign))


class FloatAdder(wiring.Component):
    """Combinational IEEE-style addition of two codes of ``fmt`` with one rounding (RNE).

    A classic float adder: the operands are ordered by magnitude, the smaller significand is
    aligned to the larger one keeping a guard, a round and a sticky bit (exact rounding needs
    no more), added or subtracted, then normalised and rounded by ``AccumulatorRounder`` (the
    larger operand's exponent is its run-time ``offset``), with the format's overflow policy.
    Specials: NaN in -> NaN; inf - inf -> NaN; (-0) + (-0) = -0; x + (-x) = +0 (IEEE 754 in
    RNE; also the rule of ``hw.numerics`` for exact sums of K terms: an exactly-zero sum is -0
    iff every term is -0, so an accumulator built from this adder agrees with the golden model
    when it starts from its first term rather than from a +0 register).

    Ports
    -----
    a, b : In(fmt.bits); sum : Out(fmt.bits).
    """

    @validated_init
    def __init__(self, fmt) -> None:
        f = operand_format(fmt, "fmt")
        if not isinstance(f, FloatFormat):
            raise UnitConfigError(f"fmt must be a float format, not {f}")
        self._fmt = f
        super().__init__({"a": In(f.bits), "b": In(f.bits), "sum": Out(f.bits)})

    @property
    def fmt(self) -> FloatFormat:
        return self._fmt

    def elaborate(self, platform) -> Module:
        m = Module()
        info = decode_info(self._fmt)
        mb = self._fmt.man_bits
        m.submodules.dec_a = da = OperandDecoder(self._fmt)
        m.submodules.dec_b = db = OperandDecoder(self._fmt)
        m.d.comb += [da.code.eq(self.a), db.code.eq(self.b)]
        x, y = da.out, db.out
        # order by magnitude: (shift, sig) compares like the value
        swap = Cat(y.sig, y.shift) > Cat(x.sig, x.shift)
        big_sig, small_sig = Signal(mb + 1), Signal(mb + 1)
        big_shift, small_shift = Signal(info.shift_bits), Signal(info.shift_bits)
        big_sign, small_sign = Signal(), Signal()
        m.d.comb += [
            big_sig.eq(Mux(swap, y.sig, x.sig)), small_sig.eq(Mux(swap, x.sig, y.sig)),
            big_shift.eq(Mux(swap, y.shift, x.shift)), small_shift.eq(Mux(swap, x.shift, y.shift)),
            big_sign.eq(Mux(swap, y.sign, x.sign)), small_sign.eq(Mux(swap, x.sign, y.sign)),
        ]
        w = mb + 4  # significand + guard, round, sticky positions
        d = Signal(info.shift_bits)
        m.d.comb += d.eq(big_shift - small_shift)
        dc = Signal(range(w + 1))
        m.d.comb += dc.eq(Mux(d > w, w, d))
        yfull = Signal(w)
        m.d.comb += yfull.eq(small_sig << 3)
        ones = Const((1 << w) - 1, w)
        keep = Signal(range(w + 1))
        m.d.comb += keep.eq(w - dc)
        sticky = (yfull & (ones >> keep)) != 0
        yal = Signal(w)
        m.d.comb += yal.eq((yfull >> dc) | sticky)
        xal = Signal(w)
        m.d.comb += xal.eq(big_sig << 3)
        mag = Signal(w + 1)
        m.d.comb += mag.eq(Mux(big_sign ^ small_sign, xal - yal, xal + yal))
        m.submodules.rnd = rnd = AccumulatorRounder(width=w + 2, lsb_exp=info.lsb_exp - 3, out_format=self._fmt,
                                                    offset_width=info.shift_bits + 1)
        nan = x.nan | y.nan | (x.inf & y.inf & (x.sign != y.sign))
        m.d.comb += [
            rnd.value.eq(Mux(big_sign, -mag, mag)), rnd.offset.eq(big_shift),
            rnd.nan.eq(nan), rnd.inf.eq((x.inf | y.inf) & ~nan),
            rnd.sign.eq(Mux(x.inf, x.sign, y.sign)), rnd.zero_sign.eq(x.sign & y.sign),
            self.sum.eq(rnd.code),
        ]
        return m


class FormatConverter(wiring.Component):
    """Combinational conversion of ``src`` codes to ``dst`` codes, one rounding (what
    ``dst.encode(src.decode(code))`` gives with the default overflow policy; NaN keeps its
    sign where ``dst`` has a signed NaN).

    Ports
    -----
    a : In(src.bits); code : Out(dst.bits).
    """

    @validated_init
    def __init__(self, src, dst, *, overflow: str = "default", rounding: str = "rne") -> None:
        self._src = operand_format(src, "src")
        self._dst = output_format(dst, "dst")
        self._overflow, self._rounding = overflow, rounding
        # validate now (raises UnitConfigError for bad combinations)
        info = decode_info(self._src)
        AccumulatorRounder(width=info.fixed_bits + 1, lsb_exp=info.lsb_exp, out_format=self._dst,
                           overflow=overflow, rounding=rounding)._MustUse__silence = True
        super().__init__({"a": In(self._src.bits), "code": Out(self._dst.bits)})

    def elaborate(self, platform) -> Module:
        m = Module()
        info = decode_info(self._src)
        m.submodules.dec = dec = OperandDecoder(self._src)
        m.d.comb += dec.code.eq(self.a)
        o = dec.out
        if isinstance(self._dst, FloatFormat) and info.shift_max > 0:
            # normalise the significand with the exponent as a run-time offset (no wide alignment)
            width = info.sig_bits + 1
            rnd = AccumulatorRounder(width=width, lsb_exp=info.lsb_exp, out_format=self._dst,
                                     offset_width=info.shift_bits + 1, overflow=self._overflow,
                                     rounding=self._rounding)
            v = Signal(signed(width))
            m.d.comb += [v.eq(Mux(o.nan | o.inf, 0, Mux(o.sign, -o.sig, o.sig))), rnd.offset.eq(o.shift)]
        else:
            width = info.fixed_bits + 1
            v = aligned(m, dec, info.lsb_exp, width)
            rnd = AccumulatorRounder(width=width, lsb_exp=info.lsb_exp, out_format=self._dst,
                                     overflow=self._overflow, rounding=self._rounding)
        m.submodules.rnd = rnd
        m.d.comb += [rnd.value.eq(v), rnd.nan.eq(o.nan), rnd.inf.eq(o.inf), rnd.sign.eq(o.sign),
                     rnd.zero_sign.eq(o.sign), self.code.eq(rnd.code)]
        return m
