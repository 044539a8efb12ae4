"""MAC and dot-product-lane units: ``lanes`` products of A-format x B-format operands per cycle,
reduced over a stream of beats into an exact fixed-point accumulator (rounded once at the end)
or a float accumulator (FP32/FP16/BF16, one rounding per addition).

Structure: the array's PE (``hw.units.MacPe``, submodule ``pe``, driven exactly as the arrays
drive it), an accumulator register in the unit, and one ``OutputConverter`` (submodule
``out_convert``) that rounds the accumulator to ``out_format``; ``hw.units._pe`` names every
submodule by cost line item.

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

from amaranth import Const, Module, Mux, Shape, Signal, Value
from amaranth.lib import data
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..errors import UnitConfigError
from ..formats import BlockFormat, Format, parse
from ._checks import validated_init
from ._pe import MacFormats, MacPe, OutputConverter
from ._timing import Timing

__all__ = ["MacUnit", "DotProductLane", "mac_timing", "ACCUMULATORS"]

#: accumulator kinds besides a float format
ACCUMULATORS = ("exact",)


def mac_timing(*, lanes: int = 1, pipeline: int = 0) -> Timing:
    """Timing of ``MacUnit`` / ``DotProductLane``: latency ``1 + pipeline`` cycles (the
    accumulator register, plus the PE's register after the products when ``pipeline >= 1`` and
    an output register when ``pipeline >= 2``), initiation interval 1 (a beat of ``lanes``
    products every cycle; the float accumulator's add-and-round closes in one cycle)."""
    return Timing(latency=1 + pipeline, initiation_interval=1, lanes=lanes)


def _element_operand(fmt, what: str) -> None:
    f = parse(fmt) if isinstance(fmt, str) else fmt
    if isinstance(f, BlockFormat):
        raise UnitConfigError(f"{what} must be an element format (block formats go to MxDotUnit), not {f}")


class _ReductionUnit(wiring.Component):
    """A ``MacPe`` with an accumulator register and an ``OutputConverter`` (the module
    docstring of ``hw.units._pe`` names the submodules)."""

    @validated_init
    def __init__(self, *, a_format=None, b_format=None, acc="exact", out_format="float32", max_k: int = 4096,
                 lanes: int = 1, pipeline: int = 0, overflow: str = "default",
                 formats: MacFormats | None = None, packing: int = 1) -> None:
        if formats is None:
            _element_operand(a_format, "a_format")
            _element_operand(b_format, "b_format")
        if isinstance(lanes, bool) or not isinstance(lanes, int) or lanes < 1 or lanes & (lanes - 1):
            raise UnitConfigError(f"lanes must be a power of two, not {lanes!r}")
        k = formats.max_k if formats is not None else max_k
        if isinstance(k, bool) or not isinstance(k, int) or k < lanes:
            raise UnitConfigError(f"max_k must be an integer >= lanes ({lanes}), not {k!r}")
        if isinstance(pipeline, bool) or pipeline not in (0, 1, 2):
            raise UnitConfigError(f"pipeline must be 0, 1 or 2, not {pipeline!r}")
        if formats is None:
            formats = MacFormats(a_format=a_format, b_format=b_format, acc=acc, out_format=out_format,
                                 max_k=max_k, overflow=overflow)
        elif not isinstance(formats, MacFormats):
            raise UnitConfigError(f"formats must be a MacFormats, not {formats!r}")
        if formats.block:
            raise UnitConfigError(f"a_format must be an element format (block formats go to MxDotUnit), "
                                  f"not {formats.a_format}")
        formats.check_packing(packing)
        lanes *= packing
        if k < lanes:
            raise UnitConfigError(f"max_k must be an integer >= lanes x packing ({lanes}), not {k!r}")
        self._f, self._lanes, self._pipeline, self._packing = formats, lanes, pipeline, packing
        la, lb = formats.lane("a"), formats.lane("b")
        if lanes > 1:
            la, lb = data.ArrayLayout(la, lanes), data.ArrayLayout(lb, lanes)
        super().__init__({"a": In(la), "b": In(lb), "valid": In(1), "first": In(1),
                          "last": In(1), "out": Out(formats.out_format.bits), "out_valid": Out(1)})

    # ---- read-only parameters -----------------------------------------------------------
    @property
    def formats(self) -> MacFormats:
        """The unit's ``MacFormats`` (also those of its ``pe``)."""
        return self._f

    @property
    def a_format(self) -> Format:
        return self._f.a_format

    @property
    def b_format(self) -> Format:
        return self._f.b_format

    @property
    def acc(self):
        """"exact" or the float accumulator format."""
        return self._f.acc

    @property
    def out_format(self) -> Format:
        return self._f.out_format

    @property
    def max_k(self) -> int:
        return self._f.max_k

    @property
    def overflow(self) -> str:
        return self._f.overflow

    @property
    def lanes(self) -> int:
        """Products per cycle (the ``lanes`` parameter times ``packing``): the operand ports'
        code count."""
        return self._lanes

    @property
    def packing(self) -> int:
        """Products per lane per cycle (1, or ``formats.packing``)."""
        return self._packing

    @property
    def pipeline(self) -> int:
        """Extra register stages: 1 after the products (in the PE), 2 also on the output."""
        return self._pipeline

    @property
    def timing(self) -> Timing:
        return mac_timing(lanes=self._lanes, pipeline=self._pipeline)

    @property
    def product_lsb_exp(self) -> int:
        return self._f.product_lsb_exp

    @property
    def accumulator_bits(self) -> int:
        """Width of the accumulator register\'s value: the exact width for K = max_k, the output
        width for a wrapping integer accumulator, the code width of a float accumulator."""
        return self._f.accumulator_bits

    def metadata(self) -> dict:
        """Parameters, widths and timing, for the JSON exported next to the Verilog."""
        return {"unit": "mac" if self._lanes == 1 else "dot", **self._f.describe(), "lanes": self._lanes,
                "packing": self._packing, "pipeline": self._pipeline, "ops_per_cycle": self._lanes,
                **self.timing.as_dict()}

    # ---- hardware ------------------------------------------------------------------------
    def elaborate(self, platform) -> Module:
        m = Module()
        f = self._f
        m.submodules.pe = pe = MacPe(f, lanes=self._lanes, pipeline=min(self._pipeline, 1))
        stage = m.d.sync if self._pipeline >= 1 else m.d.comb
        valid, first, last = Signal(), Signal(), Signal()
        stage += [valid.eq(self.valid), first.eq(self.first), last.eq(self.last)]
        # en = valid (with the operands; the PE delays it with its pipeline register), as in the
        # arrays: no PE port tied to a constant, so the synthesised PE is the same circuit
        n = self._lanes
        m.d.comb += [pe.a.eq(self.a), pe.b.eq(self.b), pe.en.eq(Mux(self.valid, (1 << n) - 1, 0))]
        acc = Signal(f.acc_layout(), name="acc")
        zero = Const(f.empty_sum, Shape.cast(f.acc_layout()).width)  # MacFormats.empty_sum
        m.d.comb += pe.acc_in.eq(Mux(first, Value.cast(zero), Value.cast(acc)))
        with m.If(valid):
            m.d.sync += acc.eq(pe.acc_out)
        done = Signal()
        m.d.sync += done.eq(valid & last)
        m.submodules.out_convert = cv = OutputConverter(f)
        m.d.comb += cv.acc.eq(acc)
        if self._pipeline >= 2:
            m.d.sync += [self.out.eq(cv.code), self.out_valid.eq(done)]
        else:
            m.d.comb += [self.out.eq(cv.code), self.out_valid.eq(done)]
        return m


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
    formats : a ``MacFormats`` instead of the format parameters above (and ``max_k``,
        ``overflow``).
    packing : products per cycle: 1, or ``formats.packing`` (two 4-bit operands to an 8-bit
        slot: the ports then carry ``packing`` codes, summed into the one accumulator).

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
    def __init__(self, *, a_format=None, b_format=None, acc="exact", out_format="float32", max_k: int = 4096,
                 pipeline: int = 0, overflow: str = "default", formats: MacFormats | None = None,
                 packing: int = 1) -> None:
        super().__init__(a_format=a_format, b_format=b_format, acc=acc, out_format=out_format,
                         max_k=max_k, lanes=1, pipeline=pipeline, overflow=overflow, formats=formats,
                         packing=packing)


class DotProductLane(_ReductionUnit):
    """``lanes`` products per cycle, summed by an exact adder tree (exact accumulator) or a
    tree of rounding float adders (float accumulator), then accumulated; otherwise as
    ``MacUnit``. Ports ``a``/``b`` are arrays of ``lanes`` codes."""

    @validated_init
    def __init__(self, *, a_format=None, b_format=None, lanes: int = 8, acc="exact", out_format="float32",
                 max_k: int = 4096, pipeline: int = 0, overflow: str = "default",
                 formats: MacFormats | None = None, packing: int = 1) -> None:
        super().__init__(a_format=a_format, b_format=b_format, acc=acc, out_format=out_format,
                         max_k=max_k, lanes=lanes, pipeline=pipeline, overflow=overflow, formats=formats,
                         packing=packing)
