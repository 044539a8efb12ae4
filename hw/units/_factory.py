"""The unit factory: build a unit from parameters, with its Verilog module name (derived from
the parameters) and its metadata (formats, widths, latency, initiation interval). The cost model
(``hw.cost.characterize(unit)``), ``lowbit verilog`` and the demo all go through it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from amaranth.lib import wiring

from ..errors import UnitConfigError
from ._mac import DotProductLane, MacUnit
from ._mxdot import MxDotUnit
from ._requant import QuantizeUnit, Requantizer
from ._timing import Timing

__all__ = ["Unit", "build_mac", "build_mxdot", "build_requant", "build_quantize", "build_unit",
           "UNIT_KINDS", "DEFAULT_MAX_K"]

#: unit kinds of ``build_unit`` besides the nonlinear units (``hw.units.nonlinear``)
UNIT_KINDS = ("mac", "dot", "mxdot", "requant", "quantize")
DEFAULT_MAX_K = 4096


@dataclass(frozen=True)
class Unit:
    """A built unit: the Amaranth component, its Verilog module name and its metadata.

    Attributes
    ----------
    component : the ``wiring.Component`` (elaborate it once: export, simulate or synthesise).
    name : Verilog module name derived from the parameters, e.g.
        ``mac_e4m3fn_e4m3fn_exact_float32_l8``.
    metadata : dict of formats, widths, ``latency_cycles``, ``initiation_interval``, ... (JSON).
    timing : the unit's ``Timing`` (None for units that report their own, e.g. nonlinear).
    """

    component: wiring.Component
    name: str
    metadata: dict[str, Any] = field(hash=False, compare=False)
    timing: Timing | None = None


def _ident(*parts) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", "_".join(str(p) for p in parts if p != ""))


def _mac_like(kind: str, *, a, b, acc, out, lanes, max_k, pipeline, overflow) -> Unit:
    cls_kwargs = dict(a_format=a, b_format=b, acc=acc, out_format=out, max_k=max_k, pipeline=pipeline,
                      overflow=overflow)
    comp = MacUnit(**cls_kwargs) if lanes == 1 and kind == "mac" else DotProductLane(lanes=lanes, **cls_kwargs)
    meta = comp.metadata()
    meta["unit"] = kind
    acc_name = comp.acc if isinstance(comp.acc, str) else str(comp.acc)
    name = _ident(kind, comp.a_format, comp.b_format, acc_name, comp.out_format, f"l{lanes}",
                  f"p{pipeline}" if pipeline else "", f"k{max_k}" if max_k != DEFAULT_MAX_K else "",
                  overflow if overflow != "default" else "")
    meta["name"] = name
    return Unit(comp, name, meta, comp.timing)


def build_mac(*, a, b, acc="exact", out="float32", lanes: int = 1, max_k: int = DEFAULT_MAX_K,
              pipeline: int = 0, overflow: str = "default") -> Unit:
    """A MAC (``lanes == 1``) or dot-product lane (``lanes`` products per cycle).

    Parameters (keyword-only)
    -------------------------
    a, b : operand formats (names or descriptors); acc : "exact" or an IEEE float format;
    out : output format; lanes : power of two; max_k : longest reduction; pipeline : 0..2;
    overflow : "default", "saturate" or "wrap" (integer outputs).

    Raises
    ------
    UnitConfigError
        For parameters the unit cannot take (worded "<what> must be <rule>, not <value>").
    """
    return _mac_like("mac", a=a, b=b, acc=acc, out=out, lanes=lanes, max_k=max_k, pipeline=pipeline,
                     overflow=overflow)


def build_mxdot(*, a, b, out="float32", pipeline: int = 0) -> Unit:
    """A block dot-product unit (``MxDotUnit``) for block formats ``a`` and ``b``."""
    comp = MxDotUnit(a_format=a, b_format=b, out_format=out, pipeline=pipeline)
    name = _ident("mxdot", comp.a_format, comp.b_format, comp.out_format, f"p{pipeline}" if pipeline else "")
    meta = {**comp.metadata(), "name": name}
    return Unit(comp, name, meta, comp.timing)


def build_requant(*, in_format="int32", out="int8", multiplier_bits: int = 32, max_shift: int = 63,
                  min_shift: int = 0, rounding: str = "half_even", pipeline: int = 0) -> Unit:
    """A dyadic requantizer (``Requantizer``)."""
    comp = Requantizer(in_format=in_format, out_format=out, multiplier_bits=multiplier_bits,
                       max_shift=max_shift, min_shift=min_shift, rounding=rounding, pipeline=pipeline)
    name = _ident("requant", comp.in_format, comp.out_format, f"m{multiplier_bits}", f"s{max_shift}",
                  f"n{-min_shift}" if min_shift else "", rounding, f"p{pipeline}" if pipeline else "")
    return Unit(comp, name, {**comp.metadata(), "name": name}, comp.timing)


def build_quantize(*, src="float32", dst="e4m3fn") -> Unit:
    """A registered float -> format quantizer (``QuantizeUnit``)."""
    comp = QuantizeUnit(src=src, dst=dst)
    name = _ident("quantize", comp.src, comp.dst)
    return Unit(comp, name, {**comp.metadata(), "name": name}, comp.timing)


def build_unit(kind: str, **params: Any) -> Unit:
    """Build a unit of ``kind``: "mac", "dot" (``build_mac`` parameters), "mxdot", "requant",
    "quantize", or a nonlinear kernel name of ``hw.units.nonlinear`` (its own parameters).

    Raises
    ------
    UnitConfigError
        Unknown kind or parameters the unit cannot take.
    """
    try:
        if kind in ("mac", "dot"):
            return _mac_like(kind, **{"acc": "exact", "out": "float32", "lanes": 1 if kind == "mac" else 8,
                                      "max_k": DEFAULT_MAX_K, "pipeline": 0, "overflow": "default", **params})
        if kind == "mxdot":
            return build_mxdot(**params)
        if kind == "requant":
            return build_requant(**params)
        if kind == "quantize":
            return build_quantize(**params)
    except TypeError as exc:
        raise UnitConfigError(f"parameters of a {kind} unit must be its keyword arguments, not {sorted(params)!r} "
                              f"({exc})") from None
    try:
        from .nonlinear import UNITS, build_nonlinear_unit
    except ImportError:  # pragma: no cover - the nonlinear package is optional
        UNITS, build_nonlinear_unit = {}, None
    if kind in UNITS:
        comp, meta = build_nonlinear_unit(kind, **params)
        p = meta.get("params", {})
        name = _ident(kind, *(f"{k}{v}".replace("-", "m") for k, v in sorted(p.items())))
        return Unit(comp, name, {**meta, "name": name,
                                 "latency_cycles": meta["timing"]["latency_cycles"]}, None)
    kinds = [*UNIT_KINDS, *sorted(UNITS)]
    raise UnitConfigError(f"unit must be one of {', '.join(kinds)}, not {kind!r}")
