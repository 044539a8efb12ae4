"""The unit factory: build a unit from parameters, with its Verilog module name (derived from
the parameters) and its metadata (formats, widths, latency, initiation interval). The cost model
(``hw.cost.characterize(unit)``), ``lowbit verilog`` and the demo all go through it.

``build_pe`` builds the processing element the systolic arrays instantiate (``MacPe``: the
datapath without accumulator register or output conversion); ``build_mac`` the standalone
MAC/dot unit (that PE + an accumulator register + an ``OutputConverter``); ``recipe_mac`` the
MAC of a recipe's GEMMs (``recipe_mac_formats``), the one such mapping the simulator and the
sweeps use.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from amaranth.lib import wiring

from ..errors import UnitConfigError
from ._mac import DotProductLane, MacUnit
from ._pe import MacFormats, MacPe, recipe_mac_formats
from ._mxdot import MxDotUnit
from ._requant import QuantizeUnit, Requantizer
from .nonlinear import UNITS, build_nonlinear_unit
from ._timing import Timing

__all__ = ["Unit", "build_mac", "build_pe", "build_mxdot", "build_requant", "build_quantize", "build_unit",
           "recipe_mac", "UNIT_KINDS", "DEFAULT_MAX_K"]

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


def _acc_name(acc) -> str:
    return acc if isinstance(acc, str) else str(acc)


def _mac_like(kind: str, *, a=None, b=None, acc="exact", out="float32", lanes: int = 1, max_k: int = DEFAULT_MAX_K,
              pipeline: int = 0, overflow: str = "default", formats: MacFormats | None = None,
              packing: int = 1) -> Unit:
    if formats is not None:
        if a is not None or b is not None:
            raise UnitConfigError(f"a and b must be omitted when formats is given, not {a!r} and {b!r}")
        cls_kwargs: dict[str, Any] = dict(formats=formats, pipeline=pipeline, packing=packing)
    else:
        cls_kwargs = dict(a_format=a, b_format=b, acc=acc, out_format=out, max_k=max_k, pipeline=pipeline,
                          overflow=overflow, packing=packing)
    comp = MacUnit(**cls_kwargs) if lanes == 1 and kind == "mac" else DotProductLane(lanes=lanes, **cls_kwargs)
    f = comp.formats
    meta = comp.metadata()
    meta["unit"] = kind
    name = _ident(kind, f.a_format, f.b_format, _acc_name(f.acc), f.out_format, f"l{lanes}",
                  f"x{packing}" if packing != 1 else "",
                  f"p{pipeline}" if pipeline else "", f"k{f.max_k}" if f.max_k != DEFAULT_MAX_K else "",
                  f.overflow if f.overflow != "default" else "")
    meta["name"] = name
    return Unit(comp, name, meta, comp.timing)


def build_mac(*, a=None, b=None, acc="exact", out="float32", lanes: int = 1, max_k: int = DEFAULT_MAX_K,
              pipeline: int = 0, overflow: str = "default", formats: MacFormats | None = None,
              packing: int = 1) -> Unit:
    """A MAC (``lanes == 1``) or dot-product lane (``lanes`` products per cycle): the ``MacPe``
    datapath, an accumulator register and an ``OutputConverter``.

    Parameters (keyword-only)
    -------------------------
    a, b : operand formats (names or descriptors); acc : "exact" or an IEEE float format;
    out : output format; lanes : power of two; max_k : longest reduction; pipeline : 0..2;
    overflow : "default", "saturate" or "wrap" (integer outputs).
    formats : a ``MacFormats`` instead of ``a``, ``b``, ``acc``, ``out``, ``max_k``, ``overflow``.
    packing : products per lane per cycle: 1 or ``MacFormats.packing`` of the formats (the
        ports then carry ``lanes * packing`` codes; metadata ``lanes`` counts them all). Name
        suffix ``_x<packing>``.

    Raises
    ------
    UnitConfigError
        For parameters the unit cannot take (worded "<what> must be <rule>, not <value>").
    """
    return _mac_like("mac", a=a, b=b, acc=acc, out=out, lanes=lanes, max_k=max_k, pipeline=pipeline,
                     overflow=overflow, formats=formats, packing=packing)


def build_pe(formats: MacFormats, *, lanes: int | None = None, pipeline: int = 0) -> Unit:
    """The processing element of ``formats`` (``MacPe``), as the systolic arrays instantiate it:
    the unit ``hw.cost`` prices per PE. ``lanes``: products per cycle, by default
    ``formats.packing`` (what an array of these formats uses). Its module name is
    ``pe_<a>_<b>_<acc>_<out>_l<lanes>`` (+ ``_p1``, ``_k<max_k>``, overflow as ``build_mac``'s).

    Raises
    ------
    UnitConfigError
        For bad ``formats``, ``lanes`` or ``pipeline``.
    """
    if not isinstance(formats, MacFormats):
        raise UnitConfigError(f"formats must be a MacFormats, not {formats!r}")
    lanes = formats.packing if lanes is None else lanes
    comp = MacPe(formats, lanes=lanes, pipeline=pipeline)
    f = formats
    name = _ident("pe", f.a_format, f.b_format, _acc_name(f.acc), f.out_format, f"l{lanes}",
                  f"p{pipeline}" if pipeline else "", f"k{f.max_k}" if f.max_k != DEFAULT_MAX_K else "",
                  f.overflow if f.overflow != "default" else "")
    meta = {"unit": "pe", "name": name, **f.describe(), "lanes": lanes, "pipeline": pipeline,
            "ops_per_cycle": lanes, "block": f.block}
    return Unit(comp, name, meta, None)


def recipe_mac(recipe, *, lanes: int = 1, max_k: int = DEFAULT_MAX_K, pipeline: int = 0,
               packing: int | None = None) -> Unit:
    """The MAC unit (``build_mac``) of a recipe's GEMMs: ``recipe_mac_formats(recipe)``
    (activations x weights element formats, the recipe's accumulation and accumulator format),
    packed as the arrays' PE is (``packing`` None: ``MacFormats.packing`` products per lane per
    cycle, so the unit's area and energy per product are those of the packed datapath the
    array's throughput assumes). ``recipe`` is any object with ``activations.format``,
    ``weights.format``, ``accumulate`` and ``accumulator`` (``mapping.Recipe``).

    Raises
    ------
    UnitConfigError
        For a recipe whose formats a MAC cannot take.
    """
    formats = recipe_mac_formats(recipe, max_k=max_k)
    return build_mac(formats=formats, lanes=lanes, pipeline=pipeline,
                     packing=formats.packing if packing is None else packing)


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
            return _mac_like(kind, **{"lanes": 1 if kind == "mac" else 8, **params})
        if kind == "mxdot":
            return build_mxdot(**params)
        if kind == "requant":
            return build_requant(**params)
        if kind == "quantize":
            return build_quantize(**params)
    except TypeError as exc:
        raise UnitConfigError(f"parameters of a {kind} unit must be its keyword arguments, not {sorted(params)!r} "
                              f"({exc})") from None
    if kind in UNITS:
        comp, meta = build_nonlinear_unit(kind, **params)
        p = meta.get("params", {})
        name = _ident(kind, *(f"{k}{v}".replace("-", "m") for k, v in sorted(p.items())))
        return Unit(comp, name, {**meta, "name": name,
                                 "latency_cycles": meta["timing"]["latency_cycles"]}, None)
    kinds = [*UNIT_KINDS, *sorted(UNITS)]
    raise UnitConfigError(f"unit must be one of {', '.join(kinds)}, not {kind!r}")
