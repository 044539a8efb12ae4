"""The registry of nonlinear units: kernel name -> the unit that computes it and its timing
function. ``sim`` imports this registry directly to time row functions (softmax, GELU,
LayerNorm, RMSNorm, SiLU·mul); nothing looks units up by module-name strings.

Usage::

    spec = ROW_UNITS["ivit_shiftmax"]
    unit = spec.build(x_bits=8, length=64, x0_int=-20)       # the Amaranth component
    spec.cycles(96, 64, units=4, divider_bits_per_cycle=1)   # cycles for 96 rows of 64
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping

from ...errors import UnitConfigError
from ._base import RowUnit
from ._common import RowTiming, check_int
from ._ibert_layernorm import IBertLayerNormUnit
from ._ibert_softmax import IBertSoftmaxUnit
from ._intgelu import IntGELUUnit
from ._layernorm import IntLayerNormUnit
from ._rmsnorm import RMSNormUnit
from ._shiftgelu import ShiftGELUUnit
from ._shiftmax import ShiftmaxUnit
from ._silu import SiLUUnit

__all__ = ["HARDWARE_PARAMS", "ROW_UNITS", "RowUnitSpec", "units_for"]

#: timing parameters a hardware description sets for every unit (``[vector] x_bits`` and
#: ``divider_bits_per_cycle``); ``RowUnitSpec.cycles`` ignores those a unit's timing does not take
HARDWARE_PARAMS = ("x_bits", "divider_bits_per_cycle")


@dataclass(frozen=True)
class RowUnitSpec:
    """One registered unit.

    Attributes
    ----------
    kernel : golden kernel name (``hw.nonlinear.KERNELS``), the registry key.
    function : model function it computes: "softmax", "gelu", "layernorm", "rmsnorm" or "silu_mul".
    build : the unit class; ``build(**params)`` is the Amaranth component.
    timing : ``timing(length, **params) -> RowTiming``, asserted against the RTL's cycles.
    timing_params : keyword names ``timing`` takes.
    variant : the golden-model variant the unit is bit-identical to by default.
    """

    kernel: str
    function: str
    build: type[RowUnit]
    timing: Callable[..., RowTiming]
    timing_params: tuple[str, ...]
    variant: str

    @property
    def hardware_timed(self) -> bool:
        """Whether the timing needs only ``HARDWARE_PARAMS`` (every other parameter has a default;
        the I-BERT softmax's dividend width, set by the input scale, defaults to that of the
        scale its ``x_bits`` inputs span: ``ibert_softmax_scale``)."""
        sig = inspect.signature(self.timing)
        required = [p.name for p in list(sig.parameters.values())[1:] if p.default is inspect.Parameter.empty]
        return all(p in HARDWARE_PARAMS for p in required)

    def row_timing(self, length: int, **params: Any) -> RowTiming:
        """``timing(length, ...)`` with the ``params`` it takes; ``HARDWARE_PARAMS`` it does not
        take are ignored, any other name raises ``UnitConfigError``."""
        check_int("length", length, 1, self.build.max_length)  # a row the RTL can be built for
        unknown = sorted(set(params) - set(self.timing_params) - set(HARDWARE_PARAMS))
        if unknown:
            raise UnitConfigError(f"{self.kernel} timing parameters must be among "
                                  f"{sorted(set(self.timing_params) | set(HARDWARE_PARAMS))}, not {unknown!r}")
        return self.timing(length, **{k: v for k, v in params.items() if k in self.timing_params})

    def cycles(self, rows: int, cols: int, *, units: int = 1, **params: Any) -> int:
        """Cycles for ``rows`` rows of ``cols`` elements streamed back to back on ``units``
        instances: ``ceil(rows / units) * cycles_per_row(cols)``, i.e. until the units accept the
        first element of the next row (measured on the RTL by the tests). The last row's
        results follow ``latency_cycles`` after its first element (``row_timing``).
        """
        check_int("rows", rows, 0)
        check_int("units", units, 1)
        return math.ceil(rows / units) * self.row_timing(cols, **params).cycles_per_row


def _spec(cls: type[RowUnit], variant: str = "reference") -> RowUnitSpec:
    return RowUnitSpec(cls.kernel_name, cls.function, cls, cls.row_timing, cls.timing_params, variant)


#: kernel name -> registered unit
ROW_UNITS: Mapping[str, RowUnitSpec] = MappingProxyType({s.kernel: s for s in (
    _spec(ShiftmaxUnit), _spec(ShiftGELUUnit), _spec(IntGELUUnit), _spec(IntLayerNormUnit),
    _spec(IBertSoftmaxUnit, "exact"), _spec(IBertLayerNormUnit, "exact"), _spec(RMSNormUnit),
    _spec(SiLUUnit))})


def units_for(function: str) -> list[str]:
    """Kernel names of the units that compute ``function`` and whose timing a hardware
    description determines (``RowUnitSpec.hardware_timed``), sorted."""
    return sorted(k for k, s in ROW_UNITS.items() if s.function == function and s.hardware_timed)
