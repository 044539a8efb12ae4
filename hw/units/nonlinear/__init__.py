"""Streaming RTL units for the integer nonlinear kernels (I-ViT Shiftmax, ShiftGELU, IntLayerNorm;
I-BERT IntGELU, IntSoftmax and IntLayerNorm (exact variants); integer RMSNorm and SiLU/SwiGLU
for LLMs), each bit-identical to its golden model in
``hw.nonlinear``, all built on one base (``RowUnit``: the frozen kernel descriptor, parameters,
row buffer and LOAD/OUT phases, timing, the ``pipeline`` register stages of the units that
have them: ``RowUnit.max_pipeline``) and listed in one registry (``ROW_UNITS``: kernel name ->
unit class and timing function) that the simulator imports; ``build_nonlinear_unit`` builds a
unit and its export metadata."""
from __future__ import annotations

from typing import Any

from ...errors import UnitConfigError
from ._base import MAX_LENGTH, RowUnit
from ._common import IterativeDivider, PipelinedDivider, RowTiming, check_pipeline, divider_cycles
from ._ibert_layernorm import IBertLayerNormUnit, ibert_layernorm_divider_width, ibert_layernorm_timing
from ._ibert_softmax import (IBertSoftmaxUnit, ibert_softmax_consts, ibert_softmax_dividend_width, ibert_softmax_scale,
                             ibert_softmax_timing)
from ._intgelu import IntGELUUnit, intgelu_timing
from ._layernorm import LAYERNORM_STAGES, IntLayerNormUnit, isqrt_steps, layernorm_timing
from ._registry import HARDWARE_PARAMS, ROW_UNITS, RowUnitSpec, units_for
from ._rmsnorm import RMSNormUnit, rmsnorm_timing, rmsnorm_var_bits
from ._silu import SILU_STAGES, SiLUUnit, silu_timing
from ._shiftgelu import ShiftGELUUnit, shiftgelu_timing
from ._shiftmax import SHIFTMAX_STAGES, ShiftmaxUnit, shiftmax_timing
from ._sim import StreamRun, simulate_rows

__all__ = [
    "IBertLayerNormUnit", "RMSNormUnit", "SiLUUnit", "ibert_layernorm_divider_width",
    "ibert_layernorm_timing", "rmsnorm_timing", "rmsnorm_var_bits", "silu_timing",
    "HARDWARE_PARAMS", "MAX_LENGTH", "ROW_UNITS", "UNITS", "IBertSoftmaxUnit", "IntGELUUnit",
    "IntLayerNormUnit", "IterativeDivider", "PipelinedDivider", "RowTiming", "RowUnit", "RowUnitSpec", "ShiftGELUUnit",
    "ShiftmaxUnit", "StreamRun", "build_nonlinear_unit", "divider_cycles",
    "ibert_softmax_consts", "ibert_softmax_dividend_width", "ibert_softmax_scale", "ibert_softmax_timing", "intgelu_timing", "isqrt_steps",
    "layernorm_timing", "shiftgelu_timing", "shiftmax_timing", "simulate_rows", "units_for",
    "LAYERNORM_STAGES", "SHIFTMAX_STAGES", "SILU_STAGES", "check_pipeline",
]

#: kernel name (as in hw.nonlinear) -> unit class (a view of ``ROW_UNITS``)
UNITS: dict[str, type[RowUnit]] = {name: spec.build for name, spec in ROW_UNITS.items()}


def build_nonlinear_unit(name: str, **params: Any) -> tuple[RowUnit, dict[str, Any]]:
    """Build the RTL unit for kernel ``name`` and the metadata to export beside its Verilog.

    Parameters
    ----------
    name : a key of ``ROW_UNITS`` (e.g. ``ivit_shiftmax``, ``ibert_int_gelu``).
    **params : the unit's keyword-only parameters (e.g. ``x_bits``, ``length``, ``x0_int``).

    Returns
    -------
    (component, metadata) where metadata holds ``kernel``, ``variant`` (of the golden model the
    unit matches), ``unit``, ``params``, ``consts`` (for ``hw.nonlinear.kernel``) and
    ``timing`` (cycles_per_row, latency_cycles).

    Raises
    ------
    UnitConfigError
        Unknown name or a parameter the unit cannot take.
    """
    if name not in ROW_UNITS:
        raise UnitConfigError(f"nonlinear unit name must be one of {sorted(ROW_UNITS)!r}, not {name!r}")
    cls = ROW_UNITS[name].build
    try:
        unit = cls(**params)
    except TypeError as exc:
        raise UnitConfigError(f"{name} parameters must match {cls.__name__}: {exc}") from None
    t = unit.timing()
    meta = {"kernel": name, "variant": unit.kernel.variant, "unit": cls.__name__, "params": unit.params(),
            "consts": unit.kernel.consts(),
            "timing": {"cycles_per_row": t.cycles_per_row, "latency_cycles": t.latency_cycles}}
    return unit, meta
