"""Streaming RTL units for the integer nonlinear kernels (I-ViT Shiftmax, ShiftGELU, IntLayerNorm;
I-BERT IntGELU and IntSoftmax (exact variant)), each bit-identical to its golden model in ``hw.nonlinear`` and each with one
timing function next to it; ``build_nonlinear_unit`` builds a unit and its export metadata."""
from __future__ import annotations

from typing import Any

from ...errors import UnitConfigError
from ._common import IterativeDivider, RowTiming, divider_cycles
from ._ibert_softmax import IBertSoftmaxUnit, ibert_softmax_dividend_width, ibert_softmax_timing
from ._intgelu import IntGELUUnit, intgelu_timing
from ._layernorm import IntLayerNormUnit, isqrt_steps, layernorm_timing
from ._shiftgelu import ShiftGELUUnit, shiftgelu_timing
from ._shiftmax import ShiftmaxUnit, shiftmax_timing
from ._sim import StreamRun, simulate_rows

__all__ = [
    "UNITS", "UNIT_VARIANTS", "IBertSoftmaxUnit", "IntGELUUnit", "IntLayerNormUnit", "IterativeDivider", "RowTiming", "ShiftGELUUnit",
    "ShiftmaxUnit", "StreamRun", "build_nonlinear_unit", "divider_cycles", "golden_consts",
    "ibert_softmax_dividend_width", "ibert_softmax_timing", "intgelu_timing", "isqrt_steps", "layernorm_timing", "shiftgelu_timing", "shiftmax_timing", "simulate_rows",
]

#: kernel name (as in hw.nonlinear) -> unit class
UNITS: dict[str, type] = {
    "ivit_shiftmax": ShiftmaxUnit,
    "ivit_shiftgelu": ShiftGELUUnit,
    "ibert_int_gelu": IntGELUUnit,
    "ivit_int_layernorm": IntLayerNormUnit,
    "ibert_int_softmax": IBertSoftmaxUnit,
}

#: golden-model variant each unit is bit-identical to
UNIT_VARIANTS: dict[str, str] = {name: "reference" for name in UNITS} | {"ibert_int_softmax": "exact"}

_CONST_KEYS = {
    "ivit_shiftmax": ("x0_int", "out_bit", "n"),
    "ivit_shiftgelu": ("x0_int", "out_bit", "n"),
    "ibert_int_gelu": ("b_int", "c_int", "shift_int", "n"),
    "ivit_int_layernorm": ("bias_int",),
    "ibert_int_softmax": ("x0_int", "b_int", "c_int", "exp_sf", "act_sf16", "n", "out_bit"),
}


def golden_consts(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """The ``hw.nonlinear.kernel`` consts equivalent to unit parameters ``params``."""
    return {key: params[key] for key in _CONST_KEYS[name] if key in params}


def build_nonlinear_unit(name: str, **params: Any) -> tuple[Any, dict[str, Any]]:
    """Build the RTL unit for kernel ``name`` and the metadata to export beside its Verilog.

    Parameters
    ----------
    name : ``ivit_shiftmax``, ``ivit_shiftgelu``, ``ibert_int_gelu``, ``ivit_int_layernorm`` or
        ``ibert_int_softmax`` (exact variant).
    **params : the unit's keyword-only parameters (e.g. ``x_bits``, ``length``, ``x0_int``).

    Returns
    -------
    (component, metadata) where metadata holds ``kernel``, ``variant`` (of the golden model the
    unit matches), ``params``,
    ``consts`` (for ``hw.nonlinear.kernel``) and ``timing`` (cycles_per_row, latency_cycles).

    Raises
    ------
    UnitConfigError
        Unknown name or a parameter the unit cannot take.
    """
    if name not in UNITS:
        raise UnitConfigError(f"nonlinear unit name must be one of {sorted(UNITS)!r}, not {name!r}")
    try:
        unit = UNITS[name](**params)
    except TypeError as exc:
        raise UnitConfigError(f"{name} parameters must match {UNITS[name].__name__}: {exc}") from None
    p = unit.params()
    t = unit.timing()
    meta = {"kernel": name, "variant": p.get("variant", UNIT_VARIANTS[name]), "unit": type(unit).__name__, "params": p,
            "consts": golden_consts(name, p),
            "timing": {"cycles_per_row": t.cycles_per_row, "latency_cycles": t.latency_cycles}}
    return unit, meta
