"""Output-side units: the dyadic requantizer of integer accumulators and the float -> format
quantizer (encode) that writes results back in a low-bit format.

``Requantizer``: ``y = clamp(round(x * M / 2**E), out.min, out.max)`` with a run-time integer
multiplier ``M`` and shift ``E`` (per-tensor or per-channel constants fed by the datapath),
rounding half to even, half up (toward +inf) or floor. Golden model:
``hw.nonlinear.DyadicRequantizer``.

``QuantizeUnit``: codes of a source format (FP32 by default) -> codes of a destination format,
one rounding (RNE) with the destination's overflow policy, i.e. ``dst.encode(src.decode(x))``
(``hw.numerics.convert``).
"""
from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..errors import UnitConfigError
from ..formats import IntFormat, parse
from ._checks import check_int, check_rounding, validated_init
from ._round import FormatConverter
from ._timing import Timing

__all__ = ["Requantizer", "QuantizeUnit", "requant_timing", "quantize_timing", "REQUANT_ROUNDINGS"]

#: rounding modes of ``Requantizer`` (names of the one vocabulary ``hw.formats.ROUNDINGS`` /
#: ``INTEGER_ROUNDINGS``; "half_even", the older spelling, is accepted as an alias of "rne")
REQUANT_ROUNDINGS = ("rne", "half_up", "floor")


def requant_timing(*, pipeline: int = 0) -> Timing:
    """Timing of ``Requantizer``: registered output (latency 1), plus a register after the
    multiplier when ``pipeline == 1``; one value per cycle."""
    return Timing(latency=1 + pipeline, initiation_interval=1)


def quantize_timing() -> Timing:
    """Timing of ``QuantizeUnit``: registered output, one value per cycle."""
    return Timing(latency=1, initiation_interval=1)


def _int_format(fmt, what: str) -> IntFormat:
    f = parse(fmt) if isinstance(fmt, str) else fmt
    if not isinstance(f, IntFormat) or not f.signed or f.frac_bits:
        raise UnitConfigError(f"{what} must be a signed integer format (int8, int32, ...), not {f}")
    return f


class Requantizer(wiring.Component):
    """Dyadic rescale of a signed integer (see the module docstring).

    Parameters (keyword-only)
    -------------------------
    in_format : signed integer format of ``value`` (e.g. int32).
    out_format : signed integer format of ``out`` (e.g. int8); the clamp range.
    multiplier_bits : width of the unsigned multiplier port (1..32).
    max_shift : largest shift ``E`` (0..96).
    min_shift : smallest shift (-32..0); a negative ``E`` multiplies by ``2**-E`` exactly.
    rounding : "rne" (ties to even; alias "half_even", the default spelling, which ``rounding``
        and the metadata report as given), "half_up" (ties toward +inf) or "floor".
    pipeline : 0 or 1.

    Ports
    -----
    value : In(signed(in bits)); multiplier : In(unsigned(multiplier_bits));
    shift : In(range(min_shift, max_shift + 1)); valid : In(1); out : Out(signed(out bits)); out_valid : Out(1).
    """

    @validated_init
    def __init__(self, *, in_format="int32", out_format="int8", multiplier_bits: int = 32,
                 max_shift: int = 63, min_shift: int = 0, rounding: str = "half_even",
                 pipeline: int = 0) -> None:
        fi, fo = _int_format(in_format, "in_format"), _int_format(out_format, "out_format")
        check_int("multiplier_bits", multiplier_bits, 1, 32, error=UnitConfigError)
        check_int("max_shift", max_shift, 0, 96, error=UnitConfigError)
        check_int("min_shift", min_shift, -32, 0, error=UnitConfigError)
        self._mode = check_rounding(rounding, REQUANT_ROUNDINGS, error=UnitConfigError)
        if pipeline not in (0, 1):
            raise UnitConfigError(f"pipeline must be 0 or 1, not {pipeline!r}")
        self._in, self._outf, self._mb, self._max_shift = fi, fo, multiplier_bits, max_shift
        self._min_shift = min_shift
        self._rounding, self._pipeline = rounding, pipeline
        super().__init__({"value": In(signed(fi.bits)), "multiplier": In(unsigned(multiplier_bits)),
                          "shift": In(range(min_shift, max_shift + 1)), "valid": In(1),
                          "out": Out(signed(fo.bits)), "out_valid": Out(1)})

    @property
    def in_format(self) -> IntFormat:
        """Signed integer format of ``value``."""
        return self._in

    @property
    def out_format(self) -> IntFormat:
        """Signed integer format of ``out`` (the clamp range)."""
        return self._outf

    @property
    def rounding(self) -> str:
        """The rounding mode as it was given ("half_even", "rne", "half_up" or "floor")."""
        return self._rounding

    @property
    def pipeline(self) -> int:
        """Extra register stages after the multiplier (0 or 1)."""
        return self._pipeline

    @property
    def timing(self) -> Timing:
        return requant_timing(pipeline=self._pipeline)

    def metadata(self) -> dict:
        return {"unit": "requant", "in_format": str(self._in), "out_format": str(self._outf),
                "multiplier_bits": self._mb, "max_shift": self._max_shift, "min_shift": self._min_shift,
                "rounding": self._rounding,
                "pipeline": self._pipeline, **self.timing.as_dict()}

    def elaborate(self, platform) -> Module:
        m = Module()
        pw = self._in.bits + self._mb + 1
        prod = Signal(signed(pw))
        shift = Signal.like(self.shift)
        valid = Signal()
        stage = m.d.sync if self._pipeline else m.d.comb
        stage += [prod.eq(self.value * self.multiplier.as_unsigned()), shift.eq(self.shift), valid.eq(self.valid)]
        rs = Signal(range(self._max_shift + 1))  # right shift (0 for a negative shift)
        m.d.comb += rs.eq(Mux(shift < 0, 0, shift))
        q = Signal(signed(pw))
        m.d.comb += q.eq(prod >> rs)
        if self._mode == "floor":
            up = 0
        else:
            sh1 = Signal(range(self._max_shift + 1))
            m.d.comb += sh1.eq(Mux(rs == 0, 0, rs - 1))
            guard = Mux(rs == 0, 0, (prod >> sh1)[0])
            ones = (1 << pw) - 1
            mask = Signal(pw)
            m.d.comb += mask.eq(Mux(rs == 0, 0, (ones << sh1)[:pw] ^ ones))  # sh1 low ones
            sticky = (prod.as_unsigned() & mask) != 0
            up = guard & (sticky | q[0]) if self._mode == "rne" else guard
        r = Signal(signed(pw - self._min_shift + 1))
        if self._min_shift < 0:
            ls = Signal(range(-self._min_shift + 1))
            m.d.comb += ls.eq(Mux(shift < 0, -shift, 0))
            m.d.comb += r.eq(Mux(shift < 0, prod << ls, q + up))
        else:
            m.d.comb += r.eq(q + up)
        lo, hi = self._outf.min_int, self._outf.max_int
        m.d.sync += [self.out.eq(Mux(r > hi, hi, Mux(r < lo, lo, r))), self.out_valid.eq(valid)]
        return m


class QuantizeUnit(wiring.Component):
    """Registered float -> format quantizer (encode): ``code = dst.encode(src.decode(a))``.

    Parameters (keyword-only)
    -------------------------
    src : source format (default float32); dst : destination float or integer format.

    Ports
    -----
    a : In(src.bits); valid : In(1); code : Out(dst.bits); out_valid : Out(1).
    """

    @validated_init
    def __init__(self, *, src="float32", dst="e4m3fn") -> None:
        self._conv = FormatConverter(src, dst)
        self._src, self._dst = self._conv._src, self._conv._dst
        super().__init__({"a": In(self._src.bits), "valid": In(1), "code": Out(self._dst.bits),
                          "out_valid": Out(1)})

    src = property(lambda self: self._src)
    dst = property(lambda self: self._dst)

    @property
    def timing(self) -> Timing:
        return quantize_timing()

    def metadata(self) -> dict:
        return {"unit": "quantize", "src": str(self._src), "dst": str(self._dst), **self.timing.as_dict()}

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.convert = cv = self._conv
        m.d.comb += cv.a.eq(self.a)
        m.d.sync += [self.code.eq(cv.code), self.out_valid.eq(self.valid)]
        return m
