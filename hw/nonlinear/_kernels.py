"""Bit-exact golden models of the I-BERT and I-ViT integer kernels (vectors README §4), of the
integer RMSNorm and SiLU/SwiGLU of LLMs (after I-LLM), and of the dyadic requantizer they sit
between.

Each kernel is a frozen dataclass holding the integer constants a hardware unit is configured
with; ``forward(x_int)`` maps integers (rows x length, or one row) to integers. ``variant`` is
``"reference"`` (reproduces the reference implementation's ``y_int``, floating-point steps
included) or ``"exact"`` (pure integer arithmetic where the reference used floating point).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from fractions import Fraction
from typing import Any, ClassVar, Mapping

import numpy as np

from ..errors import NumericsError, UnitConfigError
from ..formats import INTEGER_ROUNDINGS, check_rounding
from ._intops import as_rows, isqrt_array, require_int, rshift_round, work_array

__all__ = [
    "INT31", "VARIANTS", "KERNELS", "NonlinearKernel", "IntRMSNorm", "IntSiLU", "DyadicRequantizer", "IBertIntGELU",
    "IBertIntSoftmax", "IBertIntLayerNorm", "IViTShiftmax", "IViTShiftGELU", "IViTIntLayerNorm",
    "kernel", "ivit_exp_shift", "batch_frexp", "variant_differences",
]

VARIANTS = ("reference", "exact")
#: ``2**31 - 1``: the dividend of I-ViT's reciprocals and the clamp of its exp sums (README §4.4-4.6)
INT31 = (1 << 31) - 1


def _check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise UnitConfigError(f"variant must be one of {VARIANTS!r}, not {variant!r}")
    return variant


def _finish(out: np.ndarray, one_d: bool) -> np.ndarray:
    if out.dtype == object:
        big = max((abs(int(v)) for v in out.ravel()), default=0)
        if big >= (1 << 63):
            raise NumericsError(f"kernel output magnitude must fit int64, not {big!r}")
    out = out.astype(np.int64)
    return out[0] if one_d else out


def _rne_div(num: np.ndarray, den: int) -> np.ndarray:
    """``num / den`` rounded half to even (den > 0), exact."""
    q = num // den
    rem2 = 2 * (num - q * den)
    return q + ((rem2 > den) | ((rem2 == den) & (q % 2 == 1)))


def batch_frexp(ratio: float, max_bit: int = 31) -> tuple[int, int]:
    """I-BERT's ``batch_frexp``: ``ratio = m * 2**e`` (``0.5 <= m < 1``), returned as the integer
    multiplier ``M = round_half_up(m * 2**max_bit)`` and the shift ``E = max_bit - e``."""
    if not math.isfinite(ratio) or ratio <= 0:
        raise UnitConfigError(f"requantizer ratio must be a positive finite number, not {ratio!r}")
    m, e = math.frexp(float(ratio))
    scaled = Fraction(m) * (1 << max_bit)  # exact: m has 53 bits
    M = math.floor(scaled + Fraction(1, 2))
    return int(M), int(max_bit - e)


class NonlinearKernel:
    """Common interface: ``name``, ``variant``, ``forward(x_int) -> int64``, and ``consts()``
    (the inverse of ``kernel(name, consts)``)."""

    name: ClassVar[str]
    #: consts key of a dataclass field whose name differs from it
    _const_keys: ClassVar[dict[str, str]] = {}

    def consts(self) -> dict[str, Any]:
        """The ``consts`` mapping this kernel is built from: ``kernel(self.name, self.consts(),
        variant=self.variant) == self``."""
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if not f.init or f.name == "variant" or (f.name == "s_out" and v is None):
                continue
            out[self._const_keys.get(f.name, f.name)] = list(v) if isinstance(v, tuple) else v
        return out

    def forward(self, x_int: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, x_int: Any) -> np.ndarray:
        """Same as ``forward``."""
        return self.forward(x_int)


# --------------------------------------------------------------------------- requantizer
@dataclass(frozen=True)
class DyadicRequantizer(NonlinearKernel):
    """``y = clamp(round(x * multiplier / 2**shift), lo, hi)``: the fixed-point rescale between
    integer kernels (I-BERT ``fixedpoint_mul`` with ``multiplier``/``shift`` from ``batch_frexp``).

    ``rounding`` is ``"rne"`` (alias ``"half_even"``: torch.round, I-BERT) or ``"half_up"`` or
    ``"floor"`` (``hw.formats``' rounding vocabulary; stored by its canonical name).
    """

    multiplier: int
    shift: int
    lo: int = -(1 << 15)
    hi: int = (1 << 15) - 1
    rounding: str = "half_even"
    variant: str = "exact"
    name: ClassVar[str] = "dyadic_requant"

    def __post_init__(self) -> None:
        if not isinstance(self.multiplier, int) or self.multiplier < 0 or self.multiplier >= (1 << 32):
            raise UnitConfigError(f"requantizer multiplier must be an integer in [0, 2**32), not {self.multiplier!r}")
        if not isinstance(self.shift, int) or not -32 <= self.shift <= 96:
            raise UnitConfigError(f"requantizer shift must be an integer in [-32, 96], not {self.shift!r}")
        # the one rounding vocabulary (hw.formats.ROUNDINGS): "rne" (alias "half_even"), "half_up", "floor"
        object.__setattr__(self, "rounding", check_rounding(self.rounding, ("rne", *INTEGER_ROUNDINGS),
                                                            error=UnitConfigError))
        if not self.lo <= self.hi:
            raise UnitConfigError(f"requantizer clamp range must have lo <= hi, not {(self.lo, self.hi)!r}")
        _check_variant(self.variant)

    @classmethod
    def from_scale(cls, in_scale: float, out_scale: float, *, bits: int = 16,
                   rounding: str = "half_even") -> "DyadicRequantizer":
        """Requantizer from ``in_scale / out_scale`` (float64 division, as I-BERT) to a signed
        ``bits``-bit output."""
        M, E = batch_frexp(float(in_scale) / float(out_scale))
        return cls(M, E, -(1 << (bits - 1)), (1 << (bits - 1)) - 1, rounding)

    @classmethod
    def from_consts(cls, consts: Mapping[str, Any], variant: str = "exact") -> "DyadicRequantizer":
        k = cls.name
        M = require_int(consts, "multiplier", kernel=k, lo=0, hi=(1 << 32) - 1, rule="in [0, 2**32)")
        E = require_int(consts, "shift", kernel=k, lo=-32, hi=96, rule="in [-32, 96]")
        if "lo" in consts or "hi" in consts:
            lo = require_int(consts, "lo", kernel=k)
            hi = require_int(consts, "hi", kernel=k)
        else:
            bits = require_int(consts, "out_bit", kernel=k, lo=2, hi=32, rule="in [2, 32]") \
                if "out_bit" in consts else 16
            lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        return cls(M, E, lo, hi, str(consts.get("rounding", "half_even")), variant)

    def consts(self) -> dict[str, Any]:
        """``multiplier``, ``shift``, ``rounding`` and ``out_bit`` (a symmetric signed clamp
        range) or ``lo``/``hi``."""
        out: dict[str, Any] = {"multiplier": self.multiplier, "shift": self.shift, "rounding": self.rounding}
        bits = self.hi.bit_length() + 1
        if self.lo == -(1 << (bits - 1)) and self.hi == (1 << (bits - 1)) - 1:
            return out | {"out_bit": bits}
        return out | {"lo": self.lo, "hi": self.hi}

    def forward(self, x_int: Any) -> np.ndarray:
        x, one_d = as_rows(x_int, kernel=self.name, max_abs=1 << 62)
        y = rshift_round(x * self.multiplier, self.shift, self.rounding)
        return _finish(np.clip(y, self.lo, self.hi), one_d)


# --------------------------------------------------------------------------- I-BERT GELU
@dataclass(frozen=True)
class IBertIntGELU(NonlinearKernel):
    """I-BERT IntGELU (README §4.1): ``y = x * (floor(sign(x)((min(|x|,-b)+b)^2 + c) / 2^n) + shift)``.

    No floating point on the per-element path: both variants are the same integer function.
    Output scale ``s_out`` is negative (the sign of y_int is opposite to the real output)."""

    b_int: int
    c_int: int
    shift_int: int
    n: int = 14
    variant: str = "reference"
    s_out: float | None = None
    name: ClassVar[str] = "ibert_int_gelu"

    def __post_init__(self) -> None:
        _check_variant(self.variant)
        for key, rule_ok in (("b_int", self.b_int < 0), ("c_int", self.c_int < 0),
                             ("shift_int", self.shift_int < 0)):
            if not rule_ok:
                raise UnitConfigError(f"{self.name} constant {key} must be negative, not {getattr(self, key)!r}")
        if not 0 <= self.n <= 62:
            raise UnitConfigError(f"{self.name} constant n must be in [0, 62], not {self.n!r}")
        if self.c_int > -(1 << self.n):
            raise UnitConfigError(
                f"{self.name} constant c_int must be at most -2**n = {-(1 << self.n)} (the erf "
                f"polynomial must stay resolved after I-BERT's 2**n shift), not {self.c_int!r}")

    @classmethod
    def from_consts(cls, consts: Mapping[str, Any], variant: str = "reference") -> "IBertIntGELU":
        k = cls.name
        return cls(require_int(consts, "b_int", kernel=k, hi=-1, rule="negative"),
                   require_int(consts, "c_int", kernel=k, hi=-1, rule="negative"),
                   require_int(consts, "shift_int", kernel=k, hi=-1, rule="negative"),
                   require_int(consts, "n", kernel=k, lo=0, hi=62, rule="in [0, 62]") if "n" in consts else 14,
                   variant, consts.get("s_out"))

    def forward(self, x_int: Any) -> np.ndarray:
        x, one_d = as_rows(x_int, kernel=self.name)
        xmax = max((abs(int(v)) for v in x.ravel()), default=0)
        poly = self.b_int ** 2 + abs(self.c_int)
        x = work_array(x, max(poly, xmax * ((poly >> self.n) + 1 + abs(self.shift_int))))
        a = np.minimum(np.abs(x), -self.b_int)
        poly_v = np.sign(x) * ((a + self.b_int) ** 2 + self.c_int)
        L = rshift_round(poly_v, self.n, "floor")
        return _finish(x * (L + self.shift_int), one_d)


# --------------------------------------------------------------------------- I-BERT softmax
@dataclass(frozen=True)
class IBertIntSoftmax(NonlinearKernel):
    """I-BERT IntSoftmax (README §4.2): polynomial exp, 16-bit requantisation (``M``, ``E`` from
    ``exp_sf / act_sf16``), then ``y = (e16 * (2^32 // sum)) >> (32 - out_bit)``.

    ``variant="reference"`` evaluates the requantisation in float64 and the last step in float32
    as I-BERT does (a lone maximum gives 256 at out_bit 8); ``"exact"`` uses exact rationals for
    the requantisation and integer division for the last step (gives 255)."""

    x0_int: int
    b_int: int
    c_int: int
    exp_sf: float
    act_sf16: float
    n: int = 30
    out_bit: int = 8
    variant: str = "reference"
    multiplier: int = field(init=False)
    e_shift: int = field(init=False)
    name: ClassVar[str] = "ibert_int_softmax"

    def __post_init__(self) -> None:
        _check_variant(self.variant)
        if self.x0_int >= 0:
            raise UnitConfigError(f"{self.name} constant x0_int must be negative, not {self.x0_int!r}")
        if self.b_int <= 0 or self.c_int <= 0:
            raise UnitConfigError(f"{self.name} constants b_int and c_int must be positive, not {(self.b_int, self.c_int)!r}")
        if not 1 <= self.out_bit <= 16:
            raise UnitConfigError(f"{self.name} constant out_bit must be in [1, 16], not {self.out_bit!r}")
        if not 0 <= self.n <= 40:
            raise UnitConfigError(f"{self.name} constant n must be in [0, 40], not {self.n!r}")
        for key in ("exp_sf", "act_sf16"):
            v = getattr(self, key)
            if not (isinstance(v, float) and math.isfinite(v) and v > 0):
                raise UnitConfigError(f"{self.name} constant {key} must be a positive finite float, not {v!r}")
        M, E = batch_frexp(float(np.float64(self.exp_sf) / np.float64(np.float32(self.act_sf16))))
        object.__setattr__(self, "multiplier", M)
        object.__setattr__(self, "e_shift", E)

    @classmethod
    def from_consts(cls, consts: Mapping[str, Any], variant: str = "reference") -> "IBertIntSoftmax":
        k = cls.name
        for key in ("exp_sf", "act_sf16"):
            if key not in consts:
                raise UnitConfigError(f"{k} consts must contain {key!r}, not only {sorted(consts)!r}")
        return cls(require_int(consts, "x0_int", kernel=k, hi=-1, rule="negative"),
                   require_int(consts, "b_int", kernel=k, lo=1, rule="positive"),
                   require_int(consts, "c_int", kernel=k, lo=1, rule="positive"),
                   float(consts["exp_sf"]), float(consts["act_sf16"]),
                   require_int(consts, "n", kernel=k, lo=0, hi=40, rule="in [0, 40]") if "n" in consts else 30,
                   require_int(consts, "out_bit", kernel=k, lo=1, hi=16, rule="in [1, 16]") if "out_bit" in consts else 8,
                   variant)

    def exp_int(self, x_int: Any) -> np.ndarray:
        """The exp integers ``e`` of each row (before requantisation), as Python ints."""
        x, _ = as_rows(x_int, kernel=self.name)
        x = x - x.max(axis=1, keepdims=True)
        x = np.maximum(x, self.n * self.x0_int)
        q = x // self.x0_int
        r = x - self.x0_int * q
        z = r * (r + self.b_int) + self.c_int
        e = np.vectorize(lambda zz, qq: zz << (self.n - qq), otypes=[object])(z, q)
        return np.maximum(e, 0)

    def e16(self, x_int: Any) -> np.ndarray:
        """The 16-bit requantised exp integers of each row."""
        e = self.exp_int(x_int)
        M, E = self.multiplier, self.e_shift
        if self.variant == "reference":
            z = np.round(e.astype(np.float64) / np.float64(self.exp_sf))
            out = np.round((z * np.float64(M)) / (2.0 ** E))
            return np.clip(out, -32768, 32767).astype(np.int64).astype(object)
        frac = Fraction(self.exp_sf)
        num, den = frac.numerator, frac.denominator
        z = _rne_div(e * den, num)
        out = _rne_div(z * M, 1 << E) if E >= 0 else z * M * (1 << -E)
        return np.clip(out, -32768, 32767)

    def forward(self, x_int: Any) -> np.ndarray:
        one_d = np.asarray(x_int).ndim == 1
        e16 = self.e16(x_int)
        drop = 32 - self.out_bit
        if self.variant == "exact":
            total = e16.sum(axis=1, keepdims=True)
            factor = (1 << 32) // total
            return _finish((e16 * factor) >> drop, one_d)
        f32 = np.float32
        act = f32(self.act_sf16)
        ex = (e16.astype(np.float32) * act).astype(np.float32)
        ex_int = (ex / act).astype(np.float32)
        total = ex_int.sum(axis=1, keepdims=True, dtype=np.float32)
        factor = np.floor((f32(1.0) / total).astype(np.float32) * f32(2.0 ** 32)).astype(np.float32)
        prod = (ex_int * factor).astype(np.float32)
        y = np.floor(prod / f32(2.0 ** drop))
        return _finish(y.astype(np.int64), one_d)


# --------------------------------------------------------------------------- I-ViT exp by shifts
def ivit_exp_shift(x: np.ndarray, x0: int, n: int) -> np.ndarray:
    """I-ViT ``int_exp_shift`` (README §4.4) on integers ``x`` (object array), saturated at
    ``2**40`` for positive arguments (every consumer clamps sums at ``2**31 - 1``)."""
    t = x + (x >> 1) - (x >> 4) if x.dtype != object else x + x // 2 - x // 16
    t = np.maximum(t, n * x0)
    q = t // x0
    r = t - x0 * q
    base = r - 2 * x0
    k = (n - 1) - q

    def one(bb: int, kk: int) -> int:
        if kk >= 0:
            return bb << min(kk, 40)
        return bb >> -kk

    e = np.vectorize(one, otypes=[object])(base, k) if x.size else base
    return np.maximum(e, 0)


@dataclass(frozen=True)
class IViTShiftmax(NonlinearKernel):
    """I-ViT Shiftmax (README §4.4): ``e = I(x - max)``, ``factor = (2^31-1) // min(sum, 2^31-1)``,
    ``y = (e * factor) >> (32 - out_bit)``. Integer-exact in both variants."""

    x0_int: int
    out_bit: int = 8
    n: int = 15
    variant: str = "reference"
    name: ClassVar[str] = "ivit_shiftmax"

    def __post_init__(self) -> None:
        _check_variant(self.variant)
        if not -(1 << 20) <= self.x0_int < 0:
            raise UnitConfigError(f"{self.name} constant x0_int must be in [-2**20, -1], not {self.x0_int!r}")
        if not 1 <= self.out_bit <= 31:
            raise UnitConfigError(f"{self.name} constant out_bit must be in [1, 31], not {self.out_bit!r}")
        if not 1 <= self.n <= 31:
            raise UnitConfigError(f"{self.name} constant n must be in [1, 31], not {self.n!r}")

    @classmethod
    def from_consts(cls, consts: Mapping[str, Any], variant: str = "reference") -> "IViTShiftmax":
        k = cls.name
        return cls(require_int(consts, "x0_int", kernel=k, lo=-(1 << 20), hi=-1, rule="in [-2**20, -1]"),
                   require_int(consts, "out_bit", kernel=k, lo=1, hi=31, rule="in [1, 31]") if "out_bit" in consts else 8,
                   require_int(consts, "n", kernel=k, lo=1, hi=31, rule="in [1, 31]") if "n" in consts else 15,
                   variant)

    def forward(self, x_int: Any) -> np.ndarray:
        x, one_d = as_rows(x_int, kernel=self.name)
        e = ivit_exp_shift(x - x.max(axis=1, keepdims=True), self.x0_int, self.n)
        total = np.minimum(e.sum(axis=1, keepdims=True), INT31)
        factor = INT31 // total
        return _finish((e * factor) >> (32 - self.out_bit), one_d)


@dataclass(frozen=True)
class IViTShiftGELU(NonlinearKernel):
    """I-ViT ShiftGELU (README §4.5): ``sig = (e * ((2^31-1) // min(e + e_m, 2^31-1))) >> (32 -
    out_bit)`` with ``e = I(x - max)``, ``e_m = I(-max)``; ``y = x * sig``. Not element-wise (depends
    on the row maximum). Integer-exact in both variants."""

    x0_int: int
    out_bit: int = 8
    n: int = 23
    variant: str = "reference"
    name: ClassVar[str] = "ivit_shiftgelu"

    def __post_init__(self) -> None:
        _check_variant(self.variant)
        if not -(1 << 20) <= self.x0_int < 0:
            raise UnitConfigError(f"{self.name} constant x0_int must be in [-2**20, -1], not {self.x0_int!r}")
        if not 1 <= self.out_bit <= 31:
            raise UnitConfigError(f"{self.name} constant out_bit must be in [1, 31], not {self.out_bit!r}")
        if not 1 <= self.n <= 31:
            raise UnitConfigError(f"{self.name} constant n must be in [1, 31], not {self.n!r}")

    @classmethod
    def from_consts(cls, consts: Mapping[str, Any], variant: str = "reference") -> "IViTShiftGELU":
        k = cls.name
        return cls(require_int(consts, "x0_int", kernel=k, lo=-(1 << 20), hi=-1, rule="in [-2**20, -1]"),
                   require_int(consts, "out_bit", kernel=k, lo=1, hi=31, rule="in [1, 31]") if "out_bit" in consts else 8,
                   require_int(consts, "n", kernel=k, lo=1, hi=31, rule="in [1, 31]") if "n" in consts else 23,
                   variant)

    def forward(self, x_int: Any) -> np.ndarray:
        x, one_d = as_rows(x_int, kernel=self.name)
        m = x.max(axis=1, keepdims=True)
        e = ivit_exp_shift(x - m, self.x0_int, self.n)
        e_m = ivit_exp_shift(-m, self.x0_int, self.n)
        total = np.minimum(e + e_m, INT31)
        factor = INT31 // total
        sig = (e * factor) >> (32 - self.out_bit)
        return _finish(x * sig, one_d)


# --------------------------------------------------------------------------- LayerNorm
def _bias_tuple(consts: Mapping[str, Any], kernel: str) -> tuple[int, ...]:
    if "bias_int" not in consts:
        raise UnitConfigError(f"{kernel} consts must contain 'bias_int', not only {sorted(consts)!r}")
    raw = consts["bias_int"]
    arr = np.asarray(raw)
    if arr.ndim != 1 or arr.size == 0:
        raise UnitConfigError(f"{kernel} constant bias_int must be a non-empty list of integers, not {raw!r}")
    if arr.dtype.kind == "f" and not np.all(arr == np.floor(arr)) or arr.dtype.kind not in "iuf":
        raise UnitConfigError(f"{kernel} constant bias_int must be a non-empty list of integers, not {raw!r}")
    out = tuple(int(v) for v in arr)
    if max(abs(v) for v in out) >= (1 << 40):
        raise UnitConfigError(f"{kernel} constant bias_int must be below 2**40 in magnitude, not {max(out, key=abs)!r}")
    return out


def _centre(x: np.ndarray) -> np.ndarray:
    """``y = x - rne(sum(x) / N)`` per row."""
    N = x.shape[1]
    return x - _rne_div(x.sum(axis=1, keepdims=True), N)


@dataclass(frozen=True)
class IBertIntLayerNorm(NonlinearKernel):
    """I-BERT IntLayerNorm (README §4.3) with the training-mode dynamic shift chosen per row
    (``min_shift`` is the module's stored shift, 0 for a fresh module).

    ``"reference"`` picks the shift with I-BERT's float formula ``ceil(log2(sqrt(sum/2^32)))`` and
    the sqrt in float64; ``"exact"`` picks the smallest shift with ``sum(y^2) <= 2^(32+2 shift)``
    and uses an exact integer sqrt. A constant row (std = 0) raises in both variants."""

    bias_int: tuple[int, ...]
    min_shift: int = 0
    variant: str = "reference"
    max_bit: ClassVar[int] = 32
    name: ClassVar[str] = "ibert_int_layernorm"
    _const_keys: ClassVar[dict[str, str]] = {"min_shift": "shift"}

    def __post_init__(self) -> None:
        _check_variant(self.variant)
        if not 0 <= self.min_shift <= 32:
            raise UnitConfigError(f"{self.name} constant shift must be in [0, 32], not {self.min_shift!r}")

    @classmethod
    def from_consts(cls, consts: Mapping[str, Any], variant: str = "reference") -> "IBertIntLayerNorm":
        shift = require_int(consts, "shift", kernel=cls.name, lo=0, hi=32, rule="in [0, 32]") \
            if "shift" in consts else 0
        return cls(_bias_tuple(consts, cls.name), shift, variant)

    def row_shift(self, y: np.ndarray) -> np.ndarray:
        """The shift used for each row of centred values ``y`` (object array)."""
        s0 = self.min_shift
        sq0 = ((y // (1 << s0)) ** 2).sum(axis=1)
        total = (y ** 2).sum(axis=1)
        shifts = []
        for v0, v in zip(sq0, total):
            v0, v = int(v0), int(v)
            if v0 < (1 << self.max_bit):
                shifts.append(s0)
            elif self.variant == "reference":
                fp = math.ceil(float(np.log2(np.sqrt(np.float64(v) / 2.0 ** self.max_bit))))
                shifts.append(max(s0, fp))
            else:
                s = 0
                while v > (1 << (self.max_bit + 2 * s)):
                    s += 1
                shifts.append(max(s0, s))
        return np.array(shifts, dtype=object)

    def forward(self, x_int: Any) -> np.ndarray:
        x, one_d = as_rows(x_int, kernel=self.name)
        if x.shape[1] != len(self.bias_int):
            raise NumericsError(f"{self.name} row length must equal len(bias_int) = {len(self.bias_int)}, not {x.shape[1]}")
        y = _centre(x)
        shift = self.row_shift(y)[:, None]
        pw = np.vectorize(lambda s: 1 << s, otypes=[object])(shift)
        var = ((y // pw) ** 2).sum(axis=1, keepdims=True)
        if self.variant == "reference":
            root = np.vectorize(lambda v: int(math.floor(math.sqrt(float(v)))), otypes=[object])(var)
        else:
            root = isqrt_array(var)
        std = root * pw
        if np.any(std == 0):
            bad = int(np.nonzero((std == 0).ravel())[0][0])
            raise NumericsError(f"{self.name} row variance must be positive, not 0 (constant row {bad})")
        factor = (1 << 31) // std
        out = (y * factor) // 2 + np.array(self.bias_int, dtype=object)[None, :]
        return _finish(out, one_d)


@dataclass(frozen=True)
class IViTIntLayerNorm(NonlinearKernel):
    """I-ViT IntLayerNorm (README §4.6): ``std`` by exactly 10 integer Newton steps from 2^16
    (``"reference"``; a constant row gives std = 64) or by an exact integer sqrt (``"exact"``;
    a constant row raises); ``out = floor(y * ((2^31-1) // std) / 2) + bias_int``."""

    bias_int: tuple[int, ...]
    variant: str = "reference"
    iterations: ClassVar[int] = 10
    k_init: ClassVar[int] = 1 << 16
    name: ClassVar[str] = "ivit_int_layernorm"

    def __post_init__(self) -> None:
        _check_variant(self.variant)

    @classmethod
    def from_consts(cls, consts: Mapping[str, Any], variant: str = "reference") -> "IViTIntLayerNorm":
        return cls(_bias_tuple(consts, cls.name), variant)

    def std_int(self, var: np.ndarray) -> np.ndarray:
        """Standard deviation integer of each variance (object array) for this variant."""
        if self.variant == "exact":
            return isqrt_array(var)
        k = np.full(var.shape, self.k_init, dtype=object)
        for _ in range(self.iterations):
            k = (k + var // k) // 2
        return k

    def forward(self, x_int: Any) -> np.ndarray:
        x, one_d = as_rows(x_int, kernel=self.name)
        if x.shape[1] != len(self.bias_int):
            raise NumericsError(f"{self.name} row length must equal len(bias_int) = {len(self.bias_int)}, not {x.shape[1]}")
        y = _centre(x)
        var = (y ** 2).sum(axis=1, keepdims=True)
        std = self.std_int(var)
        if np.any(std == 0):
            bad = int(np.nonzero((std == 0).ravel())[0][0])
            raise NumericsError(f"{self.name} row variance must be positive, not 0 (constant row {bad})")
        factor = INT31 // std
        out = (y * factor) // 2 + np.array(self.bias_int, dtype=object)[None, :]
        return _finish(out, one_d)


# --------------------------------------------------------------------------- LLM kernels
@dataclass(frozen=True)
class IntRMSNorm(NonlinearKernel):
    """Integer RMSNorm in the form of I-ViT's IntLayerNorm without the centring (I-LLM's DI-Norm
    computes the same statistic with an integer square root): ``var = sum(x^2) + eps_int``,
    ``std = isqrt(var)`` (exact, one root bit per step in hardware), ``factor = (2^31-1) //
    max(std, 1)``, ``out = floor(x * factor / 2)``.

    Real output: ``out * s_mid`` with ``s_mid = sqrt(N) / 2^30`` (the RMS divides by N, the
    integer variance does not); the affine weight is per channel (``s_out = s_mid * weight``) or
    folded into the next linear layer, as I-LLM and SmoothQuant do. ``eps_int`` is the epsilon
    in input units times N (``round(N * eps / s_in^2)``). ``|out| < 2^30``. An all-zero row gives
    zeros. Both variants are the same integer function."""

    N: int
    eps_int: int = 0
    variant: str = "reference"
    name: ClassVar[str] = "int_rmsnorm"

    def __post_init__(self) -> None:
        _check_variant(self.variant)
        if not 1 <= self.N <= (1 << 20):
            raise UnitConfigError(f"{self.name} constant N must be in [1, 2**20], not {self.N!r}")
        if not 0 <= self.eps_int < (1 << 62):
            raise UnitConfigError(f"{self.name} constant eps_int must be in [0, 2**62), not {self.eps_int!r}")

    @classmethod
    def from_consts(cls, consts: Mapping[str, Any], variant: str = "reference") -> "IntRMSNorm":
        k = cls.name
        return cls(require_int(consts, "N", kernel=k, lo=1, hi=1 << 20, rule="in [1, 2**20]"),
                   require_int(consts, "eps_int", kernel=k, lo=0, hi=(1 << 62) - 1, rule="in [0, 2**62)")
                   if "eps_int" in consts else 0, variant)

    def std_int(self, x: np.ndarray) -> np.ndarray:
        """``isqrt(sum(x^2) + eps_int)`` of each row of ``x`` (object array), as a column."""
        return isqrt_array((x ** 2).sum(axis=1, keepdims=True) + self.eps_int)

    def forward(self, x_int: Any) -> np.ndarray:
        x, one_d = as_rows(x_int, kernel=self.name)
        if x.shape[1] != self.N:
            raise NumericsError(f"{self.name} row length must equal N = {self.N}, not {x.shape[1]}")
        factor = INT31 // np.maximum(self.std_int(x), 1)
        return _finish((x * factor) // 2, one_d)


@dataclass(frozen=True)
class IntSiLU(NonlinearKernel):
    """Integer SiLU ``x * sigmoid(x)`` and SwiGLU ``SiLU(gate) * up``, element-wise, in the style of
    I-LLM's DI-SwiGLU (a shift-based exponential and one integer division per element) with
    I-ViT's exp by shifts (README §4.4, ``ivit_exp_shift``):

    ``e = I(-|x|)``, ``e0 = I(0) = -x0 * 2^n``; ``num = e0`` if ``x > 0`` else ``e``;
    ``d = max(0, bit_length(e0) - den_bits)``; ``sig = ((num >> d) << (out_bit - 1)) //
    ((e + e0) >> d)`` (``sigmoid(x) * 2^(out_bit-1)``, in ``[0, 2^(out_bit-1)]``); ``y = x * sig``,
    SwiGLU ``y = gate * sig * up``. Dropping ``d`` low bits keeps the divisor at ``den_bits + 1``
    bits whatever the scale, so the divider's width (and the unit's timing) is fixed.

    ``x0_int = floor(-1 / s_in)`` (float32, as I-ViT); real output ``y * s_in / 2^(out_bit-1)``
    (SwiGLU: times ``s_up``). Both variants are the same integer function."""

    x0_int: int
    n: int = 15
    out_bit: int = 16
    den_bits: int = 16
    variant: str = "reference"
    name: ClassVar[str] = "int_silu"

    def __post_init__(self) -> None:
        _check_variant(self.variant)
        for key, lo, hi, rule in (("x0_int", -(1 << 20), -1, "in [-2**20, -1]"), ("n", 1, 31, "in [1, 31]"),
                                  ("out_bit", 2, 31, "in [2, 31]"), ("den_bits", 2, 31, "in [2, 31]")):
            v = getattr(self, key)
            if not lo <= v <= hi:
                raise UnitConfigError(f"{self.name} constant {key} must be {rule}, not {v!r}")

    @classmethod
    def from_consts(cls, consts: Mapping[str, Any], variant: str = "reference") -> "IntSiLU":
        k = cls.name
        opt = {key: require_int(consts, key, kernel=k, lo=lo, hi=31, rule=f"in [{lo}, 31]")
               for key, lo in (("n", 1), ("out_bit", 2), ("den_bits", 2)) if key in consts}
        return cls(require_int(consts, "x0_int", kernel=k, lo=-(1 << 20), hi=-1, rule="in [-2**20, -1]"),
                   **opt, variant=variant)

    @property
    def e0(self) -> int:
        """``I(0) = -x0 * 2^n``: the exponential's 1.0."""
        return -self.x0_int << self.n

    @property
    def drop(self) -> int:
        """Low bits dropped from numerator and divisor: ``max(0, bit_length(e0) - den_bits)``."""
        return max(0, self.e0.bit_length() - self.den_bits)

    def sigmoid(self, x_int: Any) -> np.ndarray:
        """``sigmoid(x) * 2^(out_bit-1)`` as integers (same shape as the rows of ``x_int``)."""
        x, one_d = as_rows(x_int, kernel=self.name)
        return _finish(self._sig(x), one_d)

    def _sig(self, x: np.ndarray) -> np.ndarray:
        e = ivit_exp_shift(-np.abs(x), self.x0_int, self.n)
        num = np.where(x > 0, self.e0, e)
        return ((num >> self.drop) << (self.out_bit - 1)) // ((e + self.e0) >> self.drop)

    def forward(self, x_int: Any) -> np.ndarray:
        """SiLU of integers ``x_int`` (rows x L, or one row); SwiGLU of (gate, up) pairs given
        as a rows x L x 2 array (``swiglu(x[..., 0], x[..., 1])``)."""
        arr = np.asarray(x_int)
        if arr.ndim == 3:
            if arr.shape[2] != 2:
                raise NumericsError(f"{self.name} pairs must be rows x L x 2 (gate, up), not shape {arr.shape}")
            return self.swiglu(arr[..., 0], arr[..., 1])
        x, one_d = as_rows(arr, kernel=self.name)
        return _finish(x * self._sig(x), one_d)

    def swiglu(self, gate_int: Any, up_int: Any) -> np.ndarray:
        """``gate * sig(gate) * up`` element-wise (same shapes; ``up`` any integers below 2^31)."""
        g, one_d = as_rows(gate_int, kernel=self.name)
        u, _ = as_rows(up_int, kernel=self.name)
        if g.shape != u.shape:
            raise NumericsError(f"{self.name} up must have the shape of gate {g.shape}, not {u.shape}")
        return _finish(g * self._sig(g) * u, one_d)


KERNELS: dict[str, type] = {cls.name: cls for cls in (
    IBertIntGELU, IBertIntSoftmax, IBertIntLayerNorm, IViTShiftmax, IViTShiftGELU,
    IViTIntLayerNorm, IntRMSNorm, IntSiLU, DyadicRequantizer)}


def kernel(name: str, consts: Mapping[str, Any], *, variant: str = "reference") -> NonlinearKernel:
    """Build kernel ``name`` from the ``consts`` object of a vector group record.

    Parameters
    ----------
    name : one of ``KERNELS`` (``ibert_int_gelu``, ``ibert_int_softmax``, ``ibert_int_layernorm``,
        ``ivit_shiftmax``, ``ivit_shiftgelu``, ``ivit_int_layernorm``, ``int_rmsnorm``,
        ``int_silu``, ``dyadic_requant``).
    consts : mapping of the integer constants (float descriptors such as ``s_out`` are ignored
        by the integer path).
    variant : ``"reference"`` (reproduces the reference implementation) or ``"exact"``.

    Raises
    ------
    UnitConfigError
        Unknown name or variant, a missing constant, or a constant out of range.
    """
    if not isinstance(name, str) or name not in KERNELS:
        raise UnitConfigError(f"kernel name must be one of {sorted(KERNELS)!r}, not {name!r}")
    if not isinstance(consts, Mapping):
        raise UnitConfigError(f"{name} consts must be a mapping, not {type(consts).__name__}")
    _check_variant(variant)
    return KERNELS[name].from_consts(consts, variant)


def variant_differences(name: str, consts: Mapping[str, Any], x_int: Any) -> np.ndarray:
    """Rows (bool per row) where the ``"reference"`` and ``"exact"`` variants of kernel ``name``
    give different outputs; a row the exact variant rejects (constant LayerNorm row) counts as
    different when the reference accepts it."""
    ref_k = kernel(name, consts, variant="reference")
    ex_k = kernel(name, consts, variant="exact")
    x = np.asarray(x_int)
    rows = x[None, :] if x.ndim == 1 else x
    out = np.zeros(len(rows), dtype=bool)
    try:
        return np.any(ref_k.forward(rows) != ex_k.forward(rows), axis=1)
    except NumericsError:
        pass
    for i, row in enumerate(rows):
        try:
            ref = ref_k.forward(row[None, :])
        except NumericsError:
            ref = None
        try:
            ex = ex_k.forward(row[None, :])
        except NumericsError:
            ex = None
        out[i] = (ref is None) != (ex is None) or (ref is not None and bool(np.any(ref != ex)))
    return out
