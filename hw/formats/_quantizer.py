"""Quantizers: a format plus the granularity at which its scales live, and the scale format.

This is what a recipe names for each tensor (weights, activations, KV cache, ...).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import FormatError, FormatTypeError, NumericsError
from ._base import Format, as_float64, check_int, check_rounding
from ._block import BlockFormat
from ._float import FloatFormat, ScaleFormat
from ._int import IntFormat

__all__ = ["Quantizer", "GRANULARITIES"]

GRANULARITIES = ("tensor", "channel", "token", "group", "block")


@dataclass(frozen=True)
class Quantizer:
    """Quantize a tensor to ``format`` with one scale per ``granularity`` unit.

    Parameters
    ----------
    format : element format (a ``BlockFormat`` for granularity "block").
    granularity : "tensor" (one scale), "channel" / "token" (one per slice along the last
        axis, i.e. amax over the last axis), "group" (groups of ``group_size`` along the
        last axis), "block" (the block format's own blocks and scale rule).
    group_size : G for "group".
    scale_format : format the scale is stored in: a float format (scale = amax / max,
        rounded to nearest), a power-of-two ``ScaleFormat`` (scale = 2**ceil(log2(amax/max))),
        or a signed integer format: "INT with shift", the same power of two stored as its
        exponent (a shift) in that integer, clamped to the integer's range.
    """

    format: Format
    granularity: str = "tensor"
    group_size: int | None = None
    scale_format: Format = FloatFormat(8, 23)

    def __post_init__(self) -> None:
        if not isinstance(self.format, Format):
            raise FormatTypeError(f"format must be a format descriptor, not {self.format!r}")
        if not isinstance(self.granularity, str):
            raise FormatTypeError(f"granularity must be one of {', '.join(GRANULARITIES)}, not {self.granularity!r}")
        if self.granularity not in GRANULARITIES:
            raise FormatError(f"granularity must be one of {', '.join(GRANULARITIES)}, not {self.granularity!r}")
        if (self.granularity == "block") != isinstance(self.format, BlockFormat):
            raise FormatError(f"granularity must be 'block' exactly when the format is a block format, "
                              f"not {self.granularity!r} for {self.format}")
        if self.granularity == "group":
            check_int("group_size", self.group_size, 1)
        elif self.group_size is not None:
            raise FormatError(f"group_size must be None for granularity {self.granularity!r}, not {self.group_size!r}")
        if not isinstance(self.scale_format, (FloatFormat, ScaleFormat, IntFormat)) or (
                isinstance(self.scale_format, IntFormat)
                and (not self.scale_format.signed or self.scale_format.frac_bits)):
            raise FormatError(f"scale_format must be a float, power-of-two scale or signed integer (shift) format, "
                              f"not {self.scale_format!r}")

    def __str__(self) -> str:
        g = f"group{self.group_size}" if self.granularity == "group" else self.granularity
        return f"{self.format}@{g}" + ("" if self.granularity in ("block",) else f"/{self.scale_format}")

    @property
    def bits_per_element(self) -> float:
        """Storage bits per element with amortised scales (per-tensor/channel scales counted as 0)."""
        if self.granularity == "group":
            return self.format.bits + self.scale_format.bits / self.group_size
        return self.format.bits_per_element

    def quantize(self, x, rounding: str = "rne", *, seed: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(scale_codes, codes): codes of ``x.shape``; scale codes of shape () for "tensor",
        ``x.shape[:-1]`` for channel/token, ``x.shape[:-1] + (ngroups,)`` for group/block."""
        rounding = check_rounding(rounding)
        if self.granularity == "block":
            return self.format.quantize(x, rounding, seed=seed)
        x = as_float64(x)
        if x.ndim == 0 and self.granularity != "tensor":
            raise NumericsError(f"values quantized per {self.granularity} must have at least one axis")
        if self.granularity == "tensor":
            xg = x.reshape((1, -1))
        elif self.granularity in ("channel", "token"):
            xg = x[..., None, :]
        else:
            n, g = x.shape[-1], self.group_size
            if n % g:
                raise NumericsError(f"last axis length must be a multiple of group_size {g}, not {n}")
            xg = x.reshape(x.shape[:-1] + (n // g, g))
        amax = np.nanmax(np.abs(xg), axis=-1)
        target = np.where(amax > 0, amax / self.format.max, 1.0)
        if isinstance(self.scale_format, (ScaleFormat, IntFormat)):
            _, fexp = np.frexp(target)
            mant = target / np.ldexp(1.0, fexp - 1)
            exp = np.where(mant > 1, fexp, fexp - 1).astype(np.int64)  # ceil(log2(target))
            if isinstance(self.scale_format, IntFormat):
                exp = np.clip(exp, self.scale_format.min_int, self.scale_format.max_int)
                scodes = self.scale_format.from_int(exp)
            else:
                exp = np.clip(exp, self.scale_format.emin, self.scale_format.emax)
                scodes = self.scale_format.encode_exponent(exp)
        else:
            scodes = self.scale_format.encode(target, "rne", overflow="saturate")
        sval = self._scale_values(scodes)
        sval = np.where(sval > 0, sval, 1.0)
        codes = self.format.encode(xg / sval[..., None], rounding, overflow="saturate", seed=seed)
        codes = codes.reshape(x.shape)
        if self.granularity == "tensor":
            scodes = scodes.reshape(())
        elif self.granularity in ("channel", "token"):
            scodes = scodes[..., 0]
        return scodes, codes

    def _scale_values(self, scale_codes) -> np.ndarray:
        if isinstance(self.scale_format, IntFormat):  # a shift: the scale is 2**shift
            return np.ldexp(1.0, self.scale_format.to_int(scale_codes))
        return self.scale_format.decode(scale_codes)

    def dequantize(self, scale_codes, codes) -> np.ndarray:
        """Values (float64) of quantized ``codes`` with their ``scale_codes``."""
        if self.granularity == "block":
            return self.format.dequantize(scale_codes, codes)
        vals = self.format.decode(codes)
        s = self._scale_values(scale_codes)
        if self.granularity == "group":
            return vals * np.repeat(s, self.group_size, axis=-1)
        if self.granularity in ("channel", "token"):
            return vals * s[..., None]
        return vals * s
