"""The processing element's datapath: one MAC step ``acc_out = acc_in + a * b`` in the
accumulator format, built from the ``hw.units`` blocks (``ExactProduct``,
``AccumulatorRounder``, ``FloatAdder``, ``FormatConverter``), and the edge rounder that turns an
accumulator value into an output code.

Accumulator formats ("the accumulator layout"):

* ``acc="exact"``: a signed fixed-point integer of ``exact_accumulator_bits(a, b, max_k)`` bits
  (LSB = the product LSB) plus three sticky flags (NaN, +inf, -inf seen), an
  ``amaranth.lib.data`` struct. Rounded once, at the array edge.
* ``acc=<IEEE float format>`` (float32, float16, bfloat16): the accumulator code; each product
  is rounded to it and added with one rounding (``FloatAdder``), i.e. ``hw.numerics.gemm``'s
  ``order="sequential"``.

Block (MX) operands: each operand lane carries its element code and the E8M0 scale code of its
block; the PE forms the exact element product and applies ``scale_a + scale_b`` as the run-time
exponent offset of its product rounder (``AccumulatorRounder(offset_width=...)``), so products
enter the float accumulator already scaled. Block operands therefore need a float accumulator
(an exact fixed-point accumulator would need ~500 bits to span two E8M0 ranges).
"""
from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..errors import UnitConfigError
from ..formats import BlockFormat, FloatFormat, IntFormat, ScaleFormat, parse
from ..units import (AccumulatorRounder, ExactProduct, FloatAdder, FormatConverter, decode_info,
                     exact_accumulator_bits, operand_format, output_format)

__all__ = ["PeFormats", "MacStep", "EdgeRounder", "pe_formats"]


class PeFormats:
    """Formats of a PE, validated once: operand lanes, accumulator and output layouts.

    Attributes
    ----------
    a, b : operand formats (element or block formats).
    a_element, b_element : their element formats.
    acc : "exact" or an IEEE float format.
    out : output format (float, or integer for integer operands with exact accumulation).
    max_k : longest reduction the exact accumulator holds.
    """

    def __init__(self, *, a_format, b_format, acc, out_format, max_k: int) -> None:
        a = parse(a_format) if isinstance(a_format, str) else a_format
        b = parse(b_format) if isinstance(b_format, str) else b_format
        blocks = [isinstance(f, BlockFormat) for f in (a, b)]
        if any(blocks):
            for f, what in ((a, "a_format"), (b, "b_format")):
                if not isinstance(f, BlockFormat) or not isinstance(f.scale, ScaleFormat):
                    raise UnitConfigError(f"{what} must be a block format with a power-of-two scale when the "
                                          f"other operand is one, not {f}")
        self.block = all(blocks)
        self.a_element = operand_format(a, "a_format")
        self.b_element = operand_format(b, "b_format")
        self.a, self.b = a, b
        if isinstance(acc, str) and acc == "exact":
            if self.block:
                raise UnitConfigError(f"acc must be a float format for block operands ({a} x {b}), not 'exact'")
            self.acc = "exact"
        else:
            f = parse(acc) if isinstance(acc, str) else acc
            if not isinstance(f, FloatFormat) or f.specials != "ieee":
                raise UnitConfigError(f"acc must be 'exact' or an IEEE float format (float32, float16, bfloat16), "
                                      f"not {acc!r}")
            self.acc = f
        if out_format is None:
            ints = isinstance(self.a_element, IntFormat) and isinstance(self.b_element, IntFormat)
            out_format = "int32" if ints and self.acc == "exact" and not self.block else "float32"
        self.out = output_format(out_format)
        if isinstance(self.out, IntFormat):
            ints = isinstance(self.a_element, IntFormat) and isinstance(self.b_element, IntFormat)
            if self.acc != "exact" or not ints:
                raise UnitConfigError(f"out_format {self.out} (an integer output) needs integer operands and "
                                      f"acc='exact', not {a} x {b} with acc={str(self.acc)!r}")
            if self.out.frac_bits != self.a_element.frac_bits + self.b_element.frac_bits:
                raise UnitConfigError(f"out_format frac_bits must be "
                                      f"{self.a_element.frac_bits + self.b_element.frac_bits} (the operands' sum), "
                                      f"not {self.out.frac_bits!r}")
        if isinstance(max_k, bool) or not isinstance(max_k, int) or max_k < 1:
            raise UnitConfigError(f"max_k must be a positive integer, not {max_k!r}")
        self.max_k = max_k

    # ---- layouts ----------------------------------------------------------------------------
    def lane(self, which: str):
        """Layout of one operand lane: the element code, or (code, scale) for block formats."""
        f = self.a if which == "a" else self.b
        e = self.a_element if which == "a" else self.b_element
        if self.block:
            return data.StructLayout({"code": unsigned(e.bits), "scale": unsigned(f.scale.bits)})
        return unsigned(e.bits)

    @property
    def product_lsb_exp(self) -> int:
        return decode_info(self.a_element).lsb_exp + decode_info(self.b_element).lsb_exp

    @property
    def accumulator_bits(self) -> int:
        """Width of the exact accumulator's value, or the float accumulator's code width."""
        if self.acc == "exact":
            return exact_accumulator_bits(self.a_element, self.b_element, self.max_k)
        return self.acc.bits

    def acc_layout(self):
        """Layout of an accumulator value (see the module docstring)."""
        if self.acc == "exact":
            return data.StructLayout({"value": signed(self.accumulator_bits), "nan": 1, "pinf": 1, "ninf": 1})
        return unsigned(self.acc.bits)

    def describe(self) -> dict:
        return {"a_format": str(self.a), "b_format": str(self.b),
                "acc": self.acc if isinstance(self.acc, str) else str(self.acc),
                "out_format": str(self.out), "max_k": self.max_k,
                "accumulator_bits": self.accumulator_bits, "product_lsb_exp": self.product_lsb_exp}


def pe_formats(**kw) -> PeFormats:
    """``PeFormats(**kw)`` (validated)."""
    return PeFormats(**kw)


class MacStep(wiring.Component):
    """MAC step of one PE: ``acc_out = acc_in + a * b`` when ``en``, else ``acc_out = acc_in``
    (an inactive PE passes the partial sum through untouched). Combinational for
    ``pipeline=0``; with ``pipeline=1`` the product (exact, or rounded to the float accumulator)
    is registered, so ``acc_out`` adds the product of the operands of the previous cycle.

    Ports
    -----
    a, b : In(operand lane layouts); acc_in : In(acc layout); en : In(1);
    acc_out : Out(acc layout).
    """

    def __init__(self, fmts: PeFormats, *, pipeline: int = 0) -> None:
        self._f = fmts
        self._pipeline = pipeline
        super().__init__({"a": In(fmts.lane("a")), "b": In(fmts.lane("b")), "en": In(1),
                          "acc_in": In(fmts.acc_layout()), "acc_out": Out(fmts.acc_layout())})

    def elaborate(self, platform) -> Module:
        m = Module()
        f = self._f
        m.submodules.prod = p = ExactProduct(f.a_element, f.b_element)
        if f.block:
            m.d.comb += [p.a.eq(self.a.code), p.b.eq(self.b.code)]
        else:
            m.d.comb += [p.a.eq(self.a), p.b.eq(self.b)]
        stage = m.d.sync if self._pipeline else m.d.comb
        if f.acc == "exact":
            pp, pnan, pinf, ninf = Signal(signed(p.width)), Signal(), Signal(), Signal()
            stage += [pp.eq(p.p), pnan.eq(p.nan), pinf.eq(p.inf & ~p.sign), ninf.eq(p.inf & p.sign)]
            s = Signal(f.acc_layout())
            m.d.comb += [
                s.value.eq(self.acc_in.value + pp),
                s.nan.eq(self.acc_in.nan | pnan),
                s.pinf.eq(self.acc_in.pinf | pinf),
                s.ninf.eq(self.acc_in.ninf | ninf),
            ]
            m.d.comb += self.acc_out.eq(Mux(self.en, s.as_value(), self.acc_in.as_value()))
            return m
        acc: FloatFormat = f.acc
        if f.block:
            sa, sb = f.a.scale, f.b.scale
            ow = max(abs(sa.emin + sb.emin), abs(sa.emax + sb.emax) + 1).bit_length() + 1
            r = AccumulatorRounder(width=p.width, lsb_exp=p.lsb_exp, out_format=acc, offset_width=ow)
            scale_nan = (self.a.scale == sa.nan_code) | (self.b.scale == sb.nan_code)
            m.d.comb += r.offset.eq(self.a.scale + self.b.scale - (sa.bias + sb.bias))
        else:
            r = AccumulatorRounder(width=p.width, lsb_exp=p.lsb_exp, out_format=acc)
            scale_nan = 0
        m.submodules.prod_round = r
        m.d.comb += [r.value.eq(p.p), r.nan.eq(p.nan | scale_nan), r.inf.eq(p.inf & ~scale_nan),
                     r.sign.eq(p.sign), r.zero_sign.eq(p.sign)]
        m.submodules.add = add = FloatAdder(acc)
        prod = Signal(acc.bits)
        stage += prod.eq(r.code)
        m.d.comb += [add.a.eq(self.acc_in), add.b.eq(prod)]
        m.d.comb += self.acc_out.eq(Mux(self.en, add.sum, self.acc_in))
        return m


class EdgeRounder(wiring.Component):
    """Combinational: an accumulator value -> an output code (exact: one rounding of the
    fixed-point sum with the NaN/inf flags; float: ``FormatConverter`` to ``out``, or the code
    itself when ``out`` is the accumulator format).

    Ports
    -----
    acc : In(acc layout); code : Out(out.bits).
    """

    def __init__(self, fmts: PeFormats) -> None:
        self._f = fmts
        super().__init__({"acc": In(fmts.acc_layout()), "code": Out(fmts.out.bits)})

    def elaborate(self, platform) -> Module:
        m = Module()
        f = self._f
        if f.acc == "exact":
            m.submodules.rnd = rnd = AccumulatorRounder(width=f.accumulator_bits, lsb_exp=f.product_lsb_exp,
                                                        out_format=f.out)
            a = self.acc
            nan = a.nan | (a.pinf & a.ninf)
            m.d.comb += [rnd.value.eq(a.value), rnd.nan.eq(nan), rnd.inf.eq((a.pinf | a.ninf) & ~nan),
                         rnd.sign.eq(a.ninf), rnd.zero_sign.eq(0), self.code.eq(rnd.code)]
        elif f.out == f.acc:
            m.d.comb += self.code.eq(self.acc)
        else:
            m.submodules.cv = cv = FormatConverter(f.acc, f.out)
            m.d.comb += [cv.a.eq(self.acc), self.code.eq(cv.code)]
        return m
