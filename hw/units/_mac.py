"""MAC and dot-product-lane units: ``lanes`` products of A-format x B-format operands per cycle,
reduced over a stream of beats into an exact fixed-point accumulator (rounded once at the end)
or a float accumulator (FP32/FP16/BF16, one rounding per addition).

Stream protocol (no back-pressure): on every cycle with ``valid`` high the unit takes one beat
(``lanes`` operand pairs); ``first`` marks the first beat of a reduction (the accumulator
restarts from it), ``last`` its final beat. ``latency`` cycles after the last beat, ``out``
holds the rounded result while ``out_valid`` is high for one cycle. A new reduction may start
on the cycle after ``last`` (initiation interval 1).

Golden model: ``hw.numerics.gemm`` / ``dot`` with ``accumulate="exact"`` (any order), or with a
float accumulator and ``order=("tree", lanes)`` (``"sequential"`` for one lane): each product
is rounded to the accumulator format, the ``lanes`` products of a beat are added pairwise
(rounding each addition), and the beat's sum is added to the accumulator (rounding).
"""
from __future__ import annotations


from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..errors import UnitConfigError
from ..formats import BlockFormat, FloatFormat, Format, IntFormat, parse
from ._checks import validated_init
from ._decode import ExactProduct, decode_info, exact_accumulator_bits, operand_format, product_width
from ._round import OUTPUT_OVERFLOWS, AccumulatorRounder, FloatAdder, FormatConverter, output_format
from ._timing import Timing

__all__ = ["MacUnit", "DotProductLane", "mac_timing", "ACCUMULATORS"]

#: accumulator kinds besides a float format
ACCUMULATORS = ("exact",)


def mac_timing(*, lanes: int = 1, pipeline: int = 0) -> Timing:
    """Timing of ``MacUnit`` / ``DotProductLane``: latency ``1 + pipeline`` cycles (the
    accumulator register, plus a register after the products when ``pipeline >= 1`` and on the
    output when ``pipeline >= 2``), initiation interval 1 (a beat of ``lanes`` products every
    cycle; the float accumulator's add-and-round closes in one cycle)."""
    return Timing(latency=1 + pipeline, initiation_interval=1, lanes=lanes)


def _operand(fmt, what: str) -> Format:
    f = parse(fmt) if isinstance(fmt, str) else fmt
    if isinstance(f, BlockFormat):
        raise UnitConfigError(f"{what} must be an element format (block formats go to MxDotUnit), not {f}")
    return operand_format(f, what)


def _accumulator(acc) -> str | FloatFormat:
    if isinstance(acc, str) and acc == "exact":
        return acc
    f = parse(acc) if isinstance(acc, str) else acc
    if not isinstance(f, FloatFormat) or f.specials != "ieee":
        raise UnitConfigError(f"acc must be 'exact' or an IEEE float format (float32, float16, bfloat16, ...), not {acc!r}")
    return f


class _ReductionUnit(wiring.Component):
    @validated_init
    def __init__(self, *, a_format, b_format, acc="exact", out_format="float32", max_k: int = 4096,
                 lanes: int = 1, pipeline: int = 0, overflow: str = "default") -> None:
        a = _operand(a_format, "a_format")
        b = _operand(b_format, "b_format")
        acc = _accumulator(acc)
        out = output_format(out_format)
        if isinstance(lanes, bool) or not isinstance(lanes, int) or lanes < 1 or lanes & (lanes - 1):
            raise UnitConfigError(f"lanes must be a power of two, not {lanes!r}")
        if isinstance(max_k, bool) or not isinstance(max_k, int) or max_k < lanes:
            raise UnitConfigError(f"max_k must be an integer >= lanes ({lanes}), not {max_k!r}")
        if pipeline not in (0, 1, 2):
            raise UnitConfigError(f"pipeline must be 0, 1 or 2, not {pipeline!r}")
        if overflow not in OUTPUT_OVERFLOWS:
            raise UnitConfigError(f"overflow must be one of {', '.join(OUTPUT_OVERFLOWS)}, not {overflow!r}")
        if isinstance(out, IntFormat):
            if acc != "exact" or not (isinstance(a, IntFormat) and isinstance(b, IntFormat)):
                raise UnitConfigError(f"out_format {out} (an integer accumulator) needs integer operands and acc='exact', "
                                      f"not {a} x {b} with acc={acc if isinstance(acc, str) else str(acc)!r}")
            if out.frac_bits != a.frac_bits + b.frac_bits:
                raise UnitConfigError(f"out_format frac_bits must be {a.frac_bits + b.frac_bits} (the operands' sum), "
                                      f"not {out.frac_bits!r}")
        elif overflow == "wrap":
            raise UnitConfigError(f"overflow must not be 'wrap' for the float output {out}")
        self._a, self._b, self._acc, self._out = a, b, acc, out
        self._max_k, self._lanes, self._pipeline, self._overflow = max_k, lanes, pipeline, overflow
        if lanes == 1:
            ops = {"a": In(a.bits), "b": In(b.bits)}
        else:
            ops = {"a": In(data.ArrayLayout(a.bits, lanes)), "b": In(data.ArrayLayout(b.bits, lanes))}
        super().__init__({**ops, "valid": In(1), "first": In(1), "last": In(1),
                          "out": Out(out.bits), "out_valid": Out(1)})

    # ---- read-only parameters -----------------------------------------------------------
    a_format = property(lambda self: self._a)
    b_format = property(lambda self: self._b)
    acc = property(lambda self: self._acc)
    out_format = property(lambda self: self._out)
    max_k = property(lambda self: self._max_k)
    lanes = property(lambda self: self._lanes)
    pipeline = property(lambda self: self._pipeline)
    overflow = property(lambda self: self._overflow)

    @property
    def timing(self) -> Timing:
        return mac_timing(lanes=self._lanes, pipeline=self._pipeline)

    @property
    def product_lsb_exp(self) -> int:
        return decode_info(self._a).lsb_exp + decode_info(self._b).lsb_exp

    @property
    def accumulator_bits(self) -> int:
        """Width of the accumulator register: the exact width for K = max_k, the output width
        for a wrapping integer accumulator, the code width of a float accumulator."""
        if self._acc != "exact":
            return self._acc.bits
        w = exact_accumulator_bits(self._a, self._b, self._max_k)
        if isinstance(self._out, IntFormat) and self._overflow == "wrap":
            return min(w, self._out.bits)
        return w

    def metadata(self) -> dict:
        """Parameters, widths and timing, for the JSON exported next to the Verilog."""
        return {
            "unit": "mac" if self._lanes == 1 else "dot",
            "a_format": str(self._a), "b_format": str(self._b),
            "acc": self._acc if isinstance(self._acc, str) else str(self._acc),
            "out_format": str(self._out), "max_k": self._max_k, "lanes": self._lanes,
            "pipeline": self._pipeline, "overflow": self._overflow,
            "product_bits": product_width(self._a, self._b), "product_lsb_exp": self.product_lsb_exp,
            "accumulator_bits": self.accumulator_bits, **self.timing.as_dict(),
        }

    def _lane(self, port, i: int):
        return port if self._lanes == 1 else port[i]

    # ---- hardware ------------------------------------------------------------------------
    def elaborate(self, platform) -> Module:
        m = Module()
        n = self._lanes
        prods = []
        for i in range(n):
            p = ExactProduct(self._a, self._b)
            m.submodules[f"prod{i}"] = p
            m.d.comb += [p.a.eq(self._lane(self.a, i)), p.b.eq(self._lane(self.b, i))]
            prods.append(p)
        stage = m.d.sync if self._pipeline >= 1 else m.d.comb
        valid, first, last = Signal(), Signal(), Signal()
        stage += [valid.eq(self.valid), first.eq(self.first), last.eq(self.last)]
        done = Signal()
        m.d.sync += done.eq(valid & last)
        if self._acc == "exact":
            code = self._exact(m, prods, stage, valid, first)
        else:
            code = self._float(m, prods, stage, valid, first)
        if self._pipeline >= 2:
            m.d.sync += [self.out.eq(code), self.out_valid.eq(done)]
        else:
            m.d.comb += [self.out.eq(code), self.out_valid.eq(done)]
        return m

    def _exact(self, m, prods, stage, valid, first):
        pw = prods[0].width
        sw = pw + (self._lanes - 1).bit_length()
        total = Signal(signed(sw))
        m.d.comb += total.eq(_tree_sum([p.p for p in prods]))
        nan = Signal()
        pinf = Signal()
        ninf = Signal()
        s_total, s_nan, s_pinf, s_ninf = Signal(signed(sw)), Signal(), Signal(), Signal()
        m.d.comb += [nan.eq(_any(p.nan for p in prods)),
                     pinf.eq(_any(p.inf & ~p.sign for p in prods)),
                     ninf.eq(_any(p.inf & p.sign for p in prods))]
        stage += [s_total.eq(total), s_nan.eq(nan), s_pinf.eq(pinf), s_ninf.eq(ninf)]
        aw = self.accumulator_bits
        acc = Signal(signed(aw))
        a_nan, a_pinf, a_ninf = Signal(), Signal(), Signal()
        with m.If(valid):
            with m.If(first):
                m.d.sync += [acc.eq(s_total), a_nan.eq(s_nan), a_pinf.eq(s_pinf), a_ninf.eq(s_ninf)]
            with m.Else():
                m.d.sync += [acc.eq(acc + s_total), a_nan.eq(a_nan | s_nan), a_pinf.eq(a_pinf | s_pinf),
                             a_ninf.eq(a_ninf | s_ninf)]
        m.submodules.rounder = rnd = AccumulatorRounder(
            width=aw, lsb_exp=self.product_lsb_exp, out_format=self._out, overflow=self._overflow)
        nan_out = a_nan | (a_pinf & a_ninf)
        m.d.comb += [rnd.value.eq(acc), rnd.nan.eq(nan_out), rnd.inf.eq((a_pinf | a_ninf) & ~nan_out),
                     rnd.sign.eq(a_ninf), rnd.zero_sign.eq(0)]
        return rnd.code

    def _float(self, m, prods, stage, valid, first):
        accf: FloatFormat = self._acc
        level = []
        for i, p in enumerate(prods):
            # the product is normalised and rounded to the accumulator format from its raw
            # significand product and exponent sum (no wide alignment)
            ow = (p.raw_shift_max + 1).bit_length() + 1
            r = AccumulatorRounder(width=p.raw_bits + 1, lsb_exp=p.lsb_exp, out_format=accf, offset_width=ow)
            m.submodules[f"prod_round{i}"] = r
            m.d.comb += [r.value.eq(Mux(p.sign, -p.raw, p.raw)), r.offset.eq(p.raw_shift), r.nan.eq(p.nan),
                         r.inf.eq(p.inf), r.sign.eq(p.sign), r.zero_sign.eq(p.sign)]
            level.append(r.code)
        depth = 0
        while len(level) > 1:
            nxt = []
            for j in range(0, len(level), 2):
                add = FloatAdder(accf)
                m.submodules[f"tree{depth}_{j // 2}"] = add
                m.d.comb += [add.a.eq(level[j]), add.b.eq(level[j + 1])]
                nxt.append(add.sum)
            level, depth = nxt, depth + 1
        beat = Signal(accf.bits)
        stage += beat.eq(level[0])
        acc = Signal(accf.bits)
        m.submodules.acc_add = add = FloatAdder(accf)
        m.d.comb += [add.a.eq(Mux(first, 0, acc)), add.b.eq(beat)]
        with m.If(valid):
            m.d.sync += acc.eq(add.sum)
        if self._out == accf and self._overflow == "default":
            return acc
        m.submodules.convert = cv = FormatConverter(accf, self._out, overflow=self._overflow)
        m.d.comb += cv.a.eq(acc)
        return cv.code


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


class MacUnit(_ReductionUnit):
    """One A x B product per cycle into an accumulator (see the module docstring).

    Parameters (keyword-only)
    -------------------------
    a_format, b_format : operand formats (integer of any width, minifloat, lookup), names or
        descriptors; mixed pairs allowed (INT4 x e4m3 = W4A8, nf4 x bf16, ...).
    acc : "exact" (fixed-point accumulator of ``exact_accumulator_bits(a, b, max_k)`` bits,
        rounded once) or an IEEE float format ("float32", "float16", "bfloat16").
    out_format : float format of the result (rounded RNE with its overflow policy), or an
        integer format (integer operands only; frac_bits = the operands' sum) that saturates
        (``overflow="default"``/``"saturate"``) or wraps (``"wrap"``; the accumulator register is
        then only ``out_format.bits`` wide).
    max_k : longest reduction (products) the exact accumulator must hold without overflow.
    pipeline : 0, 1 or 2 extra register stages (after the products; on the output).
    overflow : "default", "saturate" or "wrap" (integer outputs).

    Ports
    -----
    a, b : In(format bits); valid, first, last : In(1); out : Out(out_format.bits);
    out_valid : Out(1).

    Raises
    ------
    UnitConfigError
        For a format the unit cannot take or a parameter out of range.
    """

    @validated_init
    def __init__(self, *, a_format, b_format, acc="exact", out_format="float32", max_k: int = 4096,
                 pipeline: int = 0, overflow: str = "default") -> None:
        super().__init__(a_format=a_format, b_format=b_format, acc=acc, out_format=out_format,
                         max_k=max_k, lanes=1, pipeline=pipeline, overflow=overflow)


class DotProductLane(_ReductionUnit):
    """``lanes`` products per cycle, summed by an exact adder tree (exact accumulator) or a
    tree of rounding float adders (float accumulator), then accumulated; otherwise as
    ``MacUnit``. Ports ``a``/``b`` are arrays of ``lanes`` codes."""

    @validated_init
    def __init__(self, *, a_format, b_format, lanes: int = 8, acc="exact", out_format="float32",
                 max_k: int = 4096, pipeline: int = 0, overflow: str = "default") -> None:
        super().__init__(a_format=a_format, b_format=b_format, acc=acc, out_format=out_format,
                         max_k=max_k, lanes=lanes, pipeline=pipeline, overflow=overflow)
