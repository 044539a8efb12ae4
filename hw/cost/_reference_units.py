"""Reference arithmetic units for calibration and for checking against published figures:
bare integer multipliers and adders of any width, and (built from ``hw.units``) IEEE-style
floating-point multipliers and adders, each with its stimulus.

These are the operators of Horowitz's ISSCC 2014 table: the 8x8 unsigned integer multiplier
is the calibration anchor; the others are checks. All are purely combinational (one operation
per evaluation, no registers), like the operators the paper reports.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from amaranth import Module, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..errors import UnitConfigError
from ._protocol import UnitSpec

__all__ = [
    "FloatMultiplier",
    "IntAdder",
    "IntMultiplier",
    "REFERENCE_OPS",
    "reference_stimulus",
    "reference_unit",
]


def _check_width(width: Any) -> int:
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise UnitConfigError(f"width must be a positive int, not {width!r}")
    return width


class IntMultiplier(wiring.Component):
    """Combinational unsigned ``width`` x ``width`` -> ``2*width`` bit multiplier.

    Ports
    -----
    a, b : In(unsigned(width)); p : Out(unsigned(2*width)).
    """

    def __init__(self, *, width: int) -> None:
        self._width = _check_width(width)
        super().__init__({"a": In(unsigned(width)), "b": In(unsigned(width)),
                          "p": Out(unsigned(2 * width))})

    @property
    def width(self) -> int:
        return self._width

    def elaborate(self, platform) -> Module:
        m = Module()
        m.d.comb += self.p.eq(self.a * self.b)
        return m


class IntAdder(wiring.Component):
    """Combinational unsigned ``width``-bit adder with carry out.

    Ports
    -----
    a, b : In(unsigned(width)); s : Out(unsigned(width + 1)).
    """

    def __init__(self, *, width: int) -> None:
        self._width = _check_width(width)
        super().__init__({"a": In(unsigned(width)), "b": In(unsigned(width)),
                          "s": Out(unsigned(width + 1))})

    @property
    def width(self) -> int:
        return self._width

    def elaborate(self, platform) -> Module:
        m = Module()
        m.d.comb += self.s.eq(self.a + self.b)
        return m


class FloatMultiplier(wiring.Component):
    """Combinational multiplication of two codes of the float format ``fmt``, rounded once (RNE)
    with the format's overflow policy, built the conventional way (as ``hw.units.MacUnit`` rounds a
    product into a float accumulator): ``hw.units.ExactProduct``'s significand product ``raw`` and
    exponent sum ``raw_shift``, normalised and rounded once by ``hw.units.AccumulatorRounder`` at
    that run-time exponent. Its aligned fixed-point product (555 bits for FP32) is not used.

    Ports
    -----
    a, b : In(fmt.bits); p : Out(fmt.bits).
    """

    def __init__(self, fmt: Any) -> None:
        from ..formats import FloatFormat
        from ..units import operand_format

        f = operand_format(fmt, "fmt")
        if not isinstance(f, FloatFormat):
            raise UnitConfigError(f"fmt must be a float format, not {f}")
        self._fmt = f
        super().__init__({"a": In(f.bits), "b": In(f.bits), "p": Out(f.bits)})

    @property
    def fmt(self) -> Any:
        return self._fmt

    def elaborate(self, platform) -> Module:
        from amaranth import Mux

        from ..units import AccumulatorRounder, ExactProduct

        m = Module()
        # only the unaligned outputs (raw << raw_shift) of ExactProduct are used: its aligned
        # fixed-point product has no load and is removed by synthesis
        m.submodules.mul = mul = ExactProduct(self._fmt, self._fmt)
        m.submodules.rnd = rnd = AccumulatorRounder(
            width=mul.raw_bits + 1, lsb_exp=mul.lsb_exp, out_format=self._fmt,
            offset_width=(mul.raw_shift_max + 1).bit_length() + 1)
        m.d.comb += [
            mul.a.eq(self.a), mul.b.eq(self.b),
            rnd.value.eq(Mux(mul.sign, -mul.raw, mul.raw)), rnd.offset.eq(mul.raw_shift),
            rnd.nan.eq(mul.nan), rnd.inf.eq(mul.inf), rnd.sign.eq(mul.sign), rnd.zero_sign.eq(mul.sign),
            self.p.eq(rnd.code),
        ]
        return m


#: reference operation key -> (constructor description); keys match ``HOROWITZ_2014``
REFERENCE_OPS = ("int8_mul", "int32_add", "int32_mul", "fp16_mul", "fp16_add", "fp32_mul", "fp32_add")


def reference_unit(key: str) -> UnitSpec:
    """The reference unit for ``key`` (one of ``REFERENCE_OPS``) as a :class:`UnitSpec`.

    Raises
    ------
    UnitConfigError
        For an unknown key.
    """
    if key not in REFERENCE_OPS:
        raise UnitConfigError(f"reference operation must be one of {', '.join(REFERENCE_OPS)}, not {key!r}")
    kind, op = key.split("_")
    width = int(kind.lstrip("intfp"))
    if kind.startswith("int"):
        comp = IntMultiplier(width=width) if op == "mul" else IntAdder(width=width)
        meta = {"operation": key, "operand": f"uint{width}"}
    else:
        fmt = {16: "float16", 32: "float32"}[width]
        if op == "mul":
            comp = FloatMultiplier(fmt)
        else:
            from ..units import FloatAdder
            comp = FloatAdder(fmt)
        meta = {"operation": key, "operand": fmt}
    return UnitSpec(component=comp, name=f"ref_{key}", metadata=meta)


def reference_stimulus(key: str, *, cycles: int = 1000, seed: int = 0) -> list[dict[str, int]]:
    """Operands for the reference unit ``key``: integers uniform over their codes; floats drawn
    from a standard normal distribution and rounded to the format by numpy (finite codes).

    Returns one ``{"a": code, "b": code}`` per cycle.
    """
    if key not in REFERENCE_OPS:
        raise UnitConfigError(f"reference operation must be one of {', '.join(REFERENCE_OPS)}, not {key!r}")
    if isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 2:
        raise UnitConfigError(f"cycles must be an int >= 2, not {cycles!r}")
    rng = np.random.default_rng(seed)
    kind = key.split("_")[0]
    width = int(kind.lstrip("intfp"))
    if kind.startswith("int"):
        codes = rng.integers(0, 1 << width, size=(cycles, 2), dtype=np.uint64)
    else:
        dtype, utype = {16: (np.float16, np.uint16), 32: (np.float32, np.uint32)}[width]
        codes = rng.standard_normal((cycles, 2)).astype(dtype).view(utype)
    return [{"a": int(a), "b": int(b)} for a, b in codes]
