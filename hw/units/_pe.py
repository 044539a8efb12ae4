"""The one MAC datapath: the validated formats of a MAC (``MacFormats``), the processing element
(``MacPe``) that the systolic arrays instantiate, the MAC/dot units wrap and ``hw.cost`` prices,
the output converter (``OutputConverter``) that rounds an accumulator once per output, and
``recipe_mac_formats``, the one mapping from a recipe's formats to them.

The PE computes ``acc_out = acc_in + sum(a[i] * b[i] for the lanes i with en[i])`` (no lane
enabled: ``acc_out = acc_in``), in the accumulator format; it holds no accumulator: the array
keeps partial sums in its own registers, the MAC unit in an accumulator register.

Packing (``MacFormats.packing``, the one place it is decided): an 8-bit operand slot holds two
operands of at most 4 bits, so a PE of the arrays takes ``packing`` products per cycle, summed
into its one accumulator: INT8 x INT8 1; INT4 x INT8, FP4 x FP8 2; INT4 x INT4, FP4 x FP4 4
(exact accumulation only: a float accumulator keeps one product per cycle). A packed PE is a
``MacPe`` with ``lanes = packing``: one decoder pair, multiplier and aligner per packed product,
their sum added to the accumulator, so the cost model prices the packing as area
(``benchmarks/arrays_packing.py`` prints PE areas and area per product). A lane whose ``en`` is
low adds nothing (its aligner outputs the empty term), so a tile whose K is not a multiple of
the packing stays bit-exact.

Accumulator formats ("the accumulator layout", ``MacFormats.acc_layout``):

* ``acc="exact"``: an ``amaranth.lib.data`` struct: ``value``, a signed fixed-point integer of
  ``MacFormats.accumulator_bits`` bits (LSB = the product LSB), and the sticky flags ``nan``,
  ``pinf``, ``ninf`` (NaN / +inf / -inf product seen) and ``plus_zero`` (a product other than
  -0 seen). Signed zero: an exactly-zero sum is -0 iff every product was -0 (``plus_zero``
  low), +0 otherwise (IEEE 754's rule for a sum of zeros in RNE); the all-zero struct is the
  empty sum (the identity of the accumulation). Rounded once, by ``OutputConverter``.
* ``acc=<IEEE float format>`` (float32, float16, bfloat16): the accumulator code; each product
  is rounded to it and added with one rounding (``FloatAdder``); the ``lanes`` products of one
  beat are first added pairwise.

Block (MX) operands (the arrays' PEs only): each operand lane carries its element code and the
power-of-two scale code of its block; the ``scale`` component adds the two scale exponents and
the product enters the float accumulator already scaled (block operands need a float
accumulator: an exact one would have to span two E8M0 ranges, ~500 bits).

Submodules by line item (stable names; ``<i>`` is the lane, 0 .. lanes - 1)
---------------------------------------------------------------------------
``MacPe``:

==================  ================  =========================================================
name                line item         what
==================  ================  =========================================================
``decode_a_<i>``    ``decode``        ``OperandDecoder`` of operand a (sign, significand, shift)
``decode_b_<i>``    ``decode``        ``OperandDecoder`` of operand b
``multiply_<i>``    ``multiply``      ``SignificandMultiplier``: sig_a x sig_b, exponent-shift
                                      sum, sign, NaN/inf of the product
``align_<i>``       ``align``         ``ExactAligner`` (exact: the product shifted into the
                                      fixed-point accumulator's LSB grid, negated) or
                                      ``ProductRounder`` (float: the product normalised and
                                      rounded into the accumulator format)
``scale``           ``scale``         ``BlockScale`` (block operands only): scale exponent sum
``reduce``          ``accumulate``    lanes > 1: adder tree of one beat's lane products
``accumulate``      ``accumulate``    ``acc_in + beat`` with the flags (exact), or a FloatAdder
(the PE itself)     ``registers``     with ``pipeline=1``: the register after the products
==================  ================  =========================================================

``MacUnit`` / ``DotProductLane``: ``pe`` (the ``MacPe`` above), ``out_convert``
(``OutputConverter``, line item ``output``), and in the unit itself the accumulator register,
the valid/first/last pipeline and, with ``pipeline=2``, the output register (``registers``).
The arrays: ``pe_<row>_<col>`` (``MacPe``) and one ``out_convert_<col>`` per column.
``line_item(name)`` maps a submodule name to its line item (``LINE_ITEMS``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..errors import UnitConfigError
from ..formats import BlockFormat, FloatFormat, Format, IntFormat, ScaleFormat, check_int, parse
from ._checks import validated_init
from ._decode import DecodeInfo, OperandDecoder, decode_info, exact_accumulator_bits, operand_format, product_width
from ._round import OUTPUT_OVERFLOWS, AccumulatorRounder, FloatAdder, FormatConverter, output_format

__all__ = ["MAX_REDUCTION", "MacFormats", "MacPe", "OutputConverter", "SignificandMultiplier", "ExactAligner", "ProductRounder",
           "BlockScale", "LINE_ITEMS", "line_item", "recipe_mac_formats", "ACCUMULATE_MODES", "PACK_SLOT_BITS"]

#: longest reduction (products) an exact accumulator is sized for (``MacFormats.max_k``): a
#: 2**20-long exact reduction already needs 20 more accumulator bits than one product
MAX_REDUCTION = 1 << 20

#: line items of a MAC's cost, by submodule name prefix (see the module docstring)
LINE_ITEMS = {"decode_a": "decode", "decode_b": "decode", "multiply": "multiply", "align": "align",
              "scale": "scale", "reduce": "accumulate", "accumulate": "accumulate", "out_convert": "output",
              "pe": "pe"}

#: operand bits that fill one slot of a PE's multiplier; operands of at most half of it pack two
#: to a slot (see ``MacFormats.packing``)
PACK_SLOT_BITS = 8

#: a recipe's accumulation modes -> the MAC's ``acc``
ACCUMULATE_MODES = {"exact": "exact", "fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def line_item(name: str) -> str:
    """The line item of a submodule named ``name`` (``decode_a_0`` -> ``decode``; a name of no
    line item, i.e. logic of the module itself -> ``registers``)."""
    base = re.sub(r"(_\d+)+$", "", name)
    return LINE_ITEMS.get(base, "registers")


def _format(value, what: str) -> Format:
    f = parse(value) if isinstance(value, str) else value
    if not isinstance(f, Format):
        raise UnitConfigError(f"{what} must be a format or a format name, not {value!r}")
    return f


@dataclass(frozen=True, kw_only=True)
class MacFormats:
    """The formats of a MAC datapath, validated once (names are parsed to descriptors).

    Attributes
    ----------
    a_format, b_format : operand formats: integer of any width, minifloat, lookup; or both
        block formats with power-of-two scales (MX; arrays only, float accumulator).
    acc : "exact" (fixed-point accumulator of ``exact_accumulator_bits(a, b, max_k)`` bits,
        rounded once) or an IEEE float format (float32, float16, bfloat16).
    out_format : output format: a float format (RNE with its overflow policy), or an integer
        format (integer operands, exact accumulation, ``frac_bits`` = the operands' sum). None:
        int32 for integer operands with exact accumulation, float32 otherwise.
    max_k : longest reduction (products) the exact accumulator holds without overflow.
    overflow : "default", "saturate" or "wrap" (integer outputs; a wrapping integer
        accumulator is only ``out_format.bits`` wide).

    Raises
    ------
    UnitConfigError
        For a format a MAC cannot take or a parameter out of range.
    """

    a_format: Any
    b_format: Any
    acc: Any = "exact"
    out_format: Any = None
    max_k: int = 4096
    overflow: str = "default"
    a_element: Format = field(init=False, repr=False, compare=False)
    b_element: Format = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        a, b = _format(self.a_format, "a_format"), _format(self.b_format, "b_format")
        blocks = [isinstance(f, BlockFormat) for f in (a, b)]
        if any(blocks):
            for f, what in ((a, "a_format"), (b, "b_format")):
                if not isinstance(f, BlockFormat) or not isinstance(f.scale, ScaleFormat):
                    raise UnitConfigError(f"{what} must be a block format with a power-of-two scale when the "
                                          f"other operand is one, not {f}")
        a_el, b_el = operand_format(a, "a_format"), operand_format(b, "b_format")
        acc = self.acc
        if isinstance(acc, str) and acc == "exact":
            if all(blocks):
                raise UnitConfigError(f"acc must be a float format for block operands ({a} x {b}), not 'exact'")
        else:
            f = parse(acc) if isinstance(acc, str) else acc
            if not isinstance(f, FloatFormat) or f.specials != "ieee":
                raise UnitConfigError(f"acc must be 'exact' or an IEEE float format (float32, float16, bfloat16, "
                                      f"...), not {acc!r}")
            acc = f
        ints = isinstance(a_el, IntFormat) and isinstance(b_el, IntFormat)
        out = self.out_format
        if out is None:
            out = "int32" if ints and acc == "exact" else "float32"
        out = output_format(out)
        if self.overflow not in OUTPUT_OVERFLOWS:
            raise UnitConfigError(f"overflow must be one of {', '.join(OUTPUT_OVERFLOWS)}, not {self.overflow!r}")
        if isinstance(out, IntFormat):
            if acc != "exact" or not ints:
                raise UnitConfigError(f"out_format {out} (an integer accumulator) needs integer operands and "
                                      f"acc='exact', not {a} x {b} with acc={acc if isinstance(acc, str) else str(acc)!r}")
            if out.frac_bits != a_el.frac_bits + b_el.frac_bits:
                raise UnitConfigError(f"out_format frac_bits must be {a_el.frac_bits + b_el.frac_bits} (the "
                                      f"operands' sum), not {out.frac_bits!r}")
        elif self.overflow == "wrap":
            raise UnitConfigError(f"overflow must not be 'wrap' for the float output {out}")
        check_int("max_k", self.max_k, 1, MAX_REDUCTION, error=UnitConfigError)
        for name, value in (("a_format", a), ("b_format", b), ("acc", acc), ("out_format", out),
                            ("a_element", a_el), ("b_element", b_el)):
            object.__setattr__(self, name, value)

    # ---- derived facts --------------------------------------------------------------------
    @property
    def block(self) -> bool:
        """Both operands are block formats (lanes carry element and scale codes)."""
        return isinstance(self.a_format, BlockFormat)

    @property
    def packing(self) -> int:
        """Products per cycle of one PE of the arrays: each operand of at most
        ``PACK_SLOT_BITS // 2`` bits packs two to an 8-bit slot, so INT8 x INT8 1, INT4 x INT8
        and FP4 x FP8 2, INT4 x INT4 and FP4 x FP4 4; 1 for a float accumulator (its rounding
        order would change) and for block operands."""
        if self.acc != "exact" or self.block:
            return 1
        half = PACK_SLOT_BITS // 2
        return (2 if self.a_element.bits <= half else 1) * (2 if self.b_element.bits <= half else 1)

    def check_packing(self, packing) -> int:
        """``packing`` if a PE of these formats can take that many products per cycle (1, or
        ``self.packing``).

        Raises
        ------
        UnitConfigError
            Otherwise, worded "packing must be ..., not <value>".
        """
        if isinstance(packing, bool) or packing not in (1, self.packing):
            pair = f"{self.a_element} x {self.b_element}"
            if self.acc != "exact":
                pair += f" with acc={str(self.acc)!r}"
            if self.packing == 1:
                raise UnitConfigError(f"packing must be 1 ({pair} do not pack), not {packing!r}")
            raise UnitConfigError(f"packing must be 1 or {self.packing} (the packing of {pair}), not {packing!r}")
        return packing

    @property
    def a_info(self) -> DecodeInfo:
        return decode_info(self.a_element)

    @property
    def b_info(self) -> DecodeInfo:
        return decode_info(self.b_element)

    @property
    def product_lsb_exp(self) -> int:
        """Exponent of one unit of the exact product (and of the exact accumulator)."""
        return self.a_info.lsb_exp + self.b_info.lsb_exp

    @property
    def product_bits(self) -> int:
        """Bits of the signed exact product."""
        return product_width(self.a_element, self.b_element)

    @property
    def accumulator_bits(self) -> int:
        """Width of the accumulator value: the exact width for K = max_k (the output width for a
        wrapping integer accumulator), or the float accumulator's code width."""
        if self.acc != "exact":
            return self.acc.bits
        w = exact_accumulator_bits(self.a_element, self.b_element, self.max_k)
        if isinstance(self.out_format, IntFormat) and self.overflow == "wrap":
            return min(w, self.out_format.bits)
        return w

    def lane(self, which: str):
        """Layout of one operand lane (``which`` "a" or "b"): the element code, or the struct
        (code, scale) for block formats."""
        f, e = (self.a_format, self.a_element) if which == "a" else (self.b_format, self.b_element)
        if self.block:
            return data.StructLayout({"code": unsigned(e.bits), "scale": unsigned(f.scale.bits)})
        return unsigned(e.bits)

    def term_layout(self, width: int):
        """Layout of an exact partial sum of ``width`` value bits (see the module docstring)."""
        return data.StructLayout({"value": signed(width), "nan": 1, "pinf": 1, "ninf": 1, "plus_zero": 1})

    def acc_layout(self):
        """Layout of an accumulator value (see the module docstring)."""
        if self.acc == "exact":
            return self.term_layout(self.accumulator_bits)
        return unsigned(self.acc.bits)

    @property
    def empty_sum(self) -> int:
        """Raw value of the empty sum in ``acc_layout``: all fields zero for the exact accumulator,
        the code of -0 for a float accumulator (the IEEE additive identity: -0 + x = x, so a
        reduction of -0 products is -0, as ``hw.numerics`` says). A reduction (and a WS array's
        first K fold, through ``a_psum``) starts from it."""
        return 0 if self.acc == "exact" else 1 << (self.acc.bits - 1)

    def describe(self) -> dict:
        """The formats and widths as JSON-ready values."""
        return {"a_format": str(self.a_format), "b_format": str(self.b_format),
                "acc": self.acc if isinstance(self.acc, str) else str(self.acc),
                "out_format": str(self.out_format), "max_k": self.max_k, "overflow": self.overflow,
                "product_bits": self.product_bits, "product_lsb_exp": self.product_lsb_exp,
                "accumulator_bits": self.accumulator_bits}


def recipe_mac_formats(recipe, *, max_k: int = 4096) -> MacFormats:
    """The ``MacFormats`` of a recipe's GEMMs: activations (a) x weights (b) element formats
    (block and group scales are applied outside the scalar MAC), accumulating as the recipe
    says (``recipe.accumulate``: "exact", "fp32", "fp16", "bf16") and rounding to
    ``recipe.accumulator``.

    ``recipe`` is any object with ``activations.format``, ``weights.format``, ``accumulate`` and
    ``accumulator`` (``mapping.Recipe``; ``hw`` does not import ``mapping``).

    Raises
    ------
    UnitConfigError
        For an accumulation mode not in ``ACCUMULATE_MODES`` or formats a MAC cannot take.
    """
    mode = recipe.accumulate
    if mode not in ACCUMULATE_MODES:
        raise UnitConfigError(f"recipe accumulate must be one of {', '.join(ACCUMULATE_MODES)}, not {mode!r}")
    a, w = recipe.activations.format, recipe.weights.format
    a_el = a.element if isinstance(a, BlockFormat) else a
    w_el = w.element if isinstance(w, BlockFormat) else w
    return MacFormats(a_format=a_el, b_format=w_el, acc=ACCUMULATE_MODES[mode], out_format=recipe.accumulator,
                      max_k=max_k)


# ---- the PE's parts -------------------------------------------------------------------------

def _product_layout(ia: DecodeInfo, ib: DecodeInfo) -> data.StructLayout:
    return data.StructLayout({"raw": unsigned(ia.sig_bits + ib.sig_bits),
                              "shift": unsigned(max(1, (ia.shift_max + ib.shift_max).bit_length())),
                              "sign": 1, "nan": 1, "inf": 1})


class SignificandMultiplier(wiring.Component):
    """Combinational: two decoded operands -> the unaligned product ``raw << shift`` (``raw`` =
    sig_a x sig_b, ``shift`` = shift_a + shift_b), its sign (sign_a xor sign_b, also of a zero
    or infinite product), NaN (a NaN operand, or inf x 0) and inf.

    Ports
    -----
    a, b : In(decoded operand layouts); p : Out(product layout: raw, shift, sign, nan, inf).
    """

    @validated_init
    def __init__(self, a_info: DecodeInfo, b_info: DecodeInfo) -> None:
        self._ia, self._ib = a_info, b_info
        super().__init__({"a": In(a_info.layout()), "b": In(b_info.layout()),
                          "p": Out(_product_layout(a_info, b_info))})

    def elaborate(self, platform) -> Module:
        m = Module()
        x, y, p = self.a, self.b, self.p
        zero_x = (x.sig == 0) & ~x.nan & ~x.inf
        zero_y = (y.sig == 0) & ~y.nan & ~y.inf
        nan = x.nan | y.nan | (x.inf & zero_y) | (y.inf & zero_x)
        m.d.comb += [p.raw.eq(x.sig * y.sig), p.shift.eq(x.shift + y.shift), p.sign.eq(x.sign ^ y.sign),
                     p.nan.eq(nan), p.inf.eq((x.inf | y.inf) & ~nan)]
        return m


class ExactAligner(wiring.Component):
    """Combinational: an unaligned product -> an exact term (``fmts.term_layout(product_bits)``):
    ``±(raw << shift)`` in units of the product LSB (0 for NaN/inf), the NaN/+inf/-inf flags and
    ``plus_zero`` (the product is not -0); with ``en`` low, the empty term (all zero: it adds
    nothing, flags included).

    Ports
    -----
    p : In(product layout); en : In(1); term : Out(term layout).
    """

    @validated_init
    def __init__(self, fmts: MacFormats) -> None:
        self._f = fmts
        super().__init__({"p": In(_product_layout(fmts.a_info, fmts.b_info)), "en": In(1),
                          "term": Out(fmts.term_layout(fmts.product_bits))})

    def elaborate(self, platform) -> Module:
        m = Module()
        p, t = self.p, self.term
        mag = Signal(self._f.product_bits - 1)
        m.d.comb += mag.eq(p.raw << p.shift)
        special = p.nan | p.inf
        en = self.en
        m.d.comb += [t.value.eq(Mux(special | ~en, 0, Mux(p.sign, -mag, mag))), t.nan.eq(p.nan & en),
                     t.pinf.eq(p.inf & ~p.sign & en), t.ninf.eq(p.inf & p.sign & en),
                     t.plus_zero.eq((~p.sign | (p.raw != 0)) & en)]
        return m


def _scale_offset_width(fmts: MacFormats) -> int:
    sa, sb = fmts.a_format.scale, fmts.b_format.scale
    return max(abs(sa.emin + sb.emin), abs(sa.emax + sb.emax) + 1).bit_length() + 1


class BlockScale(wiring.Component):
    """Combinational: the two power-of-two block scale codes of a product -> the exponent
    offset ``(scale_a - bias_a) + (scale_b - bias_b)`` and NaN (a NaN scale code).

    Ports
    -----
    a, b : In(scale code bits); offset : Out(signed); nan : Out(1).
    """

    @validated_init
    def __init__(self, fmts: MacFormats) -> None:
        if not fmts.block:
            raise UnitConfigError(f"operands must be block formats for a BlockScale, not {fmts.a_format}")
        self._f = fmts
        sa, sb = fmts.a_format.scale, fmts.b_format.scale
        super().__init__({"a": In(sa.bits), "b": In(sb.bits), "offset": Out(signed(_scale_offset_width(fmts))),
                          "nan": Out(1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        sa, sb = self._f.a_format.scale, self._f.b_format.scale
        m.d.comb += [self.offset.eq(self.a + self.b - (sa.bias + sb.bias)),
                     self.nan.eq((self.a == sa.nan_code) | (self.b == sb.nan_code))]
        return m


class ProductRounder(wiring.Component):
    """Combinational: an unaligned product (times ``2**offset`` for block operands) -> its code
    in the float accumulator format, rounded once (RNE; no wide alignment: the exponent sum is
    the rounder's run-time offset).

    Ports
    -----
    p : In(product layout); offset : In(signed) and scale_nan : In(1) for block operands;
    code : Out(acc bits).
    """

    @validated_init
    def __init__(self, fmts: MacFormats) -> None:
        if fmts.acc == "exact":
            raise UnitConfigError("acc must be a float format for a ProductRounder, not 'exact'")
        self._f = fmts
        ports = {"p": In(_product_layout(fmts.a_info, fmts.b_info)), "code": Out(fmts.acc.bits)}
        if fmts.block:
            ports.update({"offset": In(signed(_scale_offset_width(fmts))), "scale_nan": In(1)})
        super().__init__(ports)

    def elaborate(self, platform) -> Module:
        m = Module()
        f = self._f
        ia, ib = f.a_info, f.b_info
        shift_max = ia.shift_max + ib.shift_max
        raw_bits = ia.sig_bits + ib.sig_bits
        p = self.p
        if f.block:
            lo = -(1 << (_scale_offset_width(f) - 1))
            hi = (1 << (_scale_offset_width(f) - 1)) + shift_max
            ow = max(abs(lo), abs(hi) + 1).bit_length() + 1
            off, scale_nan = Signal(signed(ow)), self.scale_nan
            m.d.comb += off.eq(self.offset + p.shift)
        else:
            ow = (shift_max + 1).bit_length() + 1
            off, scale_nan = p.shift, 0
        m.submodules.round = r = AccumulatorRounder(width=raw_bits + 1, lsb_exp=f.product_lsb_exp, out_format=f.acc,
                                                    offset_width=ow)
        m.d.comb += [r.value.eq(Mux(p.sign, -p.raw, p.raw)), r.offset.eq(off), r.nan.eq(p.nan | scale_nan),
                     r.inf.eq(p.inf & ~scale_nan), r.sign.eq(p.sign), r.zero_sign.eq(p.sign),
                     self.code.eq(r.code)]
        return m


def _exact_sum(m: Module, terms, layout):
    """Exact sum of terms (``term_layout`` values; the flags OR-ed) into a new ``layout`` signal."""
    s = Signal(layout)
    values = [t.value for t in terms]
    while len(values) > 1:
        values = [values[i] + values[i + 1] for i in range(0, len(values), 2)]
    m.d.comb += s.value.eq(values[0])
    for flag in ("nan", "pinf", "ninf", "plus_zero"):
        bits = [getattr(t, flag) for t in terms]
        acc = bits[0]
        for b in bits[1:]:
            acc = acc | b
        m.d.comb += getattr(s, flag).eq(acc)
    return s


class _ExactReduce(wiring.Component):
    """Exact adder tree over ``lanes`` terms (every level one bit wider; flags OR-ed)."""

    def __init__(self, fmts: MacFormats, lanes: int) -> None:
        self._f, self._lanes = fmts, lanes
        w = fmts.product_bits
        super().__init__({"terms": In(data.ArrayLayout(fmts.term_layout(w), lanes)),
                          "sum": Out(fmts.term_layout(w + (lanes - 1).bit_length()))})

    def elaborate(self, platform) -> Module:
        m = Module()
        s = _exact_sum(m, [self.terms[i] for i in range(self._lanes)], self.sum.shape())
        m.d.comb += self.sum.eq(s)
        return m


class _FloatReduce(wiring.Component):
    """Tree of rounding float adders over ``lanes`` accumulator codes (pairwise, one rounding
    per addition: ``hw.numerics``' ``order=("tree", lanes)``)."""

    def __init__(self, fmts: MacFormats, lanes: int) -> None:
        self._f, self._lanes = fmts, lanes
        super().__init__({"codes": In(data.ArrayLayout(fmts.acc.bits, lanes)), "sum": Out(fmts.acc.bits)})

    def elaborate(self, platform) -> Module:
        m = Module()
        level = [self.codes[i] for i in range(self._lanes)]
        depth = 0
        while len(level) > 1:
            nxt = []
            for j in range(0, len(level), 2):
                add = FloatAdder(self._f.acc)
                m.submodules[f"add{depth}_{j // 2}"] = add
                m.d.comb += [add.a.eq(level[j]), add.b.eq(level[j + 1])]
                nxt.append(add.sum)
            level, depth = nxt, depth + 1
        m.d.comb += self.sum.eq(level[0])
        return m


class _Accumulate(wiring.Component):
    """Exact: ``acc_out = acc_in + beat`` (fixed-point add, flags OR-ed; disabled lanes were
    already emptied by their aligners). Float: ``acc_in + beat`` (one ``FloatAdder``) when
    ``en``, else ``acc_in``."""

    def __init__(self, fmts: MacFormats, beat_layout) -> None:
        self._f = fmts
        ports = {"acc_in": In(fmts.acc_layout()), "beat": In(beat_layout), "acc_out": Out(fmts.acc_layout())}
        if fmts.acc != "exact":
            ports["en"] = In(1)
        super().__init__(ports)

    def elaborate(self, platform) -> Module:
        m = Module()
        if self._f.acc == "exact":
            s = _exact_sum(m, [self.acc_in, self.beat], self._f.acc_layout())
            m.d.comb += self.acc_out.eq(s)
        else:
            m.submodules.add = add = FloatAdder(self._f.acc)
            m.d.comb += [add.a.eq(self.acc_in), add.b.eq(self.beat),
                         self.acc_out.eq(Mux(self.en, add.sum, self.acc_in))]
        return m


class MacPe(wiring.Component):
    """The processing element: ``acc_out = acc_in + sum_i a[i] * b[i]`` over the ``lanes``
    products whose ``en[i]`` is high; ``acc_out = acc_in`` when none is (an inactive PE passes
    its partial sum through). A float accumulator takes all lanes or none (``en`` non-zero).

    Combinational for ``pipeline=0``; with ``pipeline=1`` the beat (the lanes' products, summed)
    and ``en`` are registered, so ``acc_out`` adds the products of the operands (and enables) of
    the previous cycle. Submodule names and line items: see the module docstring.

    Parameters
    ----------
    formats : ``MacFormats``.
    lanes : products per cycle (a power of two).
    pipeline : 0 or 1 (a register after the products).

    Ports
    -----
    a, b : In(``formats.lane``) for one lane, else In(ArrayLayout(lane, lanes)); en : In(lanes)
    (one enable per lane, taken with the operands); acc_in : In(acc layout); acc_out : Out(acc
    layout).

    Raises
    ------
    UnitConfigError
        For bad ``lanes`` or ``pipeline``, or a type other than ``MacFormats``.
    """

    @validated_init
    def __init__(self, formats: MacFormats, *, lanes: int = 1, pipeline: int = 0) -> None:
        if not isinstance(formats, MacFormats):
            raise UnitConfigError(f"formats must be a MacFormats, not {formats!r}")
        if isinstance(lanes, bool) or not isinstance(lanes, int) or lanes < 1 or lanes & (lanes - 1):
            raise UnitConfigError(f"lanes must be a power of two, not {lanes!r}")
        if isinstance(pipeline, bool) or pipeline not in (0, 1):
            raise UnitConfigError(f"pipeline must be 0 or 1, not {pipeline!r}")
        if formats.block and lanes != 1:
            raise UnitConfigError(f"lanes must be 1 for block operands, not {lanes!r}")
        self._f, self._lanes, self._pipeline = formats, lanes, pipeline
        la, lb = formats.lane("a"), formats.lane("b")
        if lanes > 1:
            la, lb = data.ArrayLayout(la, lanes), data.ArrayLayout(lb, lanes)
        super().__init__({"a": In(la), "b": In(lb), "en": In(lanes),
                          "acc_in": In(formats.acc_layout()), "acc_out": Out(formats.acc_layout())})

    @property
    def formats(self) -> MacFormats:
        """The PE's ``MacFormats``."""
        return self._f

    @property
    def lanes(self) -> int:
        """Products per cycle."""
        return self._lanes

    @property
    def pipeline(self) -> int:
        """Register stages after the products (0 or 1)."""
        return self._pipeline

    def _lane(self, port, i: int):
        return port if self._lanes == 1 else port[i]

    def elaborate(self, platform) -> Module:
        m = Module()
        f, n = self._f, self._lanes
        exact = f.acc == "exact"
        if f.block:
            m.submodules.scale = scale = BlockScale(f)
            m.d.comb += [scale.a.eq(self.a.scale), scale.b.eq(self.b.scale)]
        terms = []
        for i in range(n):
            da, db = OperandDecoder(f.a_element), OperandDecoder(f.b_element)
            mul = SignificandMultiplier(f.a_info, f.b_info)
            al = ExactAligner(f) if exact else ProductRounder(f)
            m.submodules[f"decode_a_{i}"], m.submodules[f"decode_b_{i}"] = da, db
            m.submodules[f"multiply_{i}"], m.submodules[f"align_{i}"] = mul, al
            a, b = self._lane(self.a, i), self._lane(self.b, i)
            m.d.comb += [da.code.eq(a.code if f.block else a), db.code.eq(b.code if f.block else b),
                         mul.a.eq(da.out), mul.b.eq(db.out), al.p.eq(mul.p)]
            if exact:
                m.d.comb += al.en.eq(self.en[i])
            if f.block:
                m.d.comb += [al.offset.eq(scale.offset), al.scale_nan.eq(scale.nan)]
            terms.append(al.term if exact else al.code)
        if n == 1:
            beat_value = terms[0]
        else:
            red = _ExactReduce(f, n) if exact else _FloatReduce(f, n)
            m.submodules.reduce = red
            port = red.terms if exact else red.codes
            m.d.comb += [port[i].eq(t) for i, t in enumerate(terms)]
            beat_value = red.sum
        beat = Signal(beat_value.shape(), name="beat")
        m.submodules.accumulate = acc = _Accumulate(f, beat.shape())
        stage = m.d.sync if self._pipeline else m.d.comb
        stage += beat.eq(beat_value)
        if not exact:
            en = Signal(name="beat_en")
            stage += en.eq(self.en != 0)
            m.d.comb += acc.en.eq(en)
        m.d.comb += [acc.acc_in.eq(self.acc_in), acc.beat.eq(beat), self.acc_out.eq(acc.acc_out)]
        return m


class OutputConverter(wiring.Component):
    """Combinational: an accumulator value -> an output code, rounded once (exact: the
    fixed-point sum with its NaN/inf flags and the sign of zero; float: ``FormatConverter`` to
    ``out_format``, or the code itself when ``out_format`` is the accumulator format with the
    default overflow policy). One per output (the MAC unit) or per array column.

    Ports
    -----
    acc : In(acc layout); code : Out(out_format bits).
    """

    @validated_init
    def __init__(self, formats: MacFormats) -> None:
        if not isinstance(formats, MacFormats):
            raise UnitConfigError(f"formats must be a MacFormats, not {formats!r}")
        self._f = formats
        super().__init__({"acc": In(formats.acc_layout()), "code": Out(formats.out_format.bits)})

    @property
    def formats(self) -> MacFormats:
        """The converter's ``MacFormats``."""
        return self._f

    def elaborate(self, platform) -> Module:
        m = Module()
        f = self._f
        if f.acc == "exact":
            m.submodules.round = rnd = AccumulatorRounder(width=f.accumulator_bits, lsb_exp=f.product_lsb_exp,
                                                          out_format=f.out_format, overflow=f.overflow)
            a = self.acc
            nan = a.nan | (a.pinf & a.ninf)
            m.d.comb += [rnd.value.eq(a.value), rnd.nan.eq(nan), rnd.inf.eq((a.pinf | a.ninf) & ~nan),
                         rnd.sign.eq(a.ninf), rnd.zero_sign.eq(~a.plus_zero), self.code.eq(rnd.code)]
        elif f.out_format == f.acc and f.overflow == "default":
            m.d.comb += self.code.eq(self.acc)
        else:
            m.submodules.round = cv = FormatConverter(f.acc, f.out_format, overflow=f.overflow)
            m.d.comb += [cv.a.eq(self.acc), self.code.eq(cv.code)]
        return m
