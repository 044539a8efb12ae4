"""The small protocol by which a unit is handed to the cost model.

A *unit* for :func:`hw.cost.characterize` is either

* an object with attributes ``component`` (an Amaranth ``wiring.Component``), ``name`` (the
  Verilog module name, a Verilog identifier) and ``metadata`` (a mapping of JSON-serialisable
  unit parameters: formats as their canonical names, lanes, accumulator ...), or
* a ``(component, name, metadata)`` triple, or
* a bare ``wiring.Component`` (then ``name`` must be given to ``characterize`` and the metadata
  is empty).

Metadata keys the cost model reads (all optional):

* ``ops_per_cycle`` (int >= 1): operations the unit performs per stimulus cycle (e.g. the lanes
  of a dot-product unit if "operation" means one multiply-accumulate). Energy per operation is
  energy per stimulus cycle divided by it. Default 1: one operation per cycle.
* ``design_key`` (str): a key the caller vouches determines the unit's RTL together with its
  name and the ``hw`` sources (e.g. the factory call's parameters); enables cache lookups that
  skip elaboration (see ``hw.cost._characterize``). Omit it when unsure: results stay correct,
  warm lookups just elaborate the design to hash its RTLIL.
* ``stimulus_description`` (str): how the stimulus was drawn (e.g. "uniform codes, seed 0"),
  stored in the provenance.

Everything else in ``metadata`` is carried into the record's provenance and the cost table.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from amaranth.lib import wiring

from ..errors import UnitConfigError

__all__ = ["UnitSpec", "as_unit_spec"]


@dataclass(frozen=True)
class UnitSpec:
    """A component with its Verilog module name and metadata (see the module docstring)."""

    component: wiring.Component
    name: str
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ops_per_cycle(self) -> int:
        return int(self.metadata.get("ops_per_cycle", 1))


def _silence(component: Any) -> None:
    if isinstance(component, wiring.Component):
        component._MustUse__silence = True  # rejected before use: not an unused-design bug


def as_unit_spec(unit: Any, *, name: str | None = None) -> UnitSpec:
    """Normalise ``unit`` (see the module docstring) to a :class:`UnitSpec`; ``name``, when
    given, overrides the unit's own name.

    Raises
    ------
    UnitConfigError
        If ``unit`` matches none of the accepted forms, the name is not a Verilog identifier,
        the metadata is not a mapping, or ``ops_per_cycle`` is not a positive int.
    """
    if isinstance(unit, UnitSpec):
        component, own_name, metadata = unit.component, unit.name, unit.metadata
    elif isinstance(unit, wiring.Component):
        component, own_name, metadata = unit, None, {}
    elif isinstance(unit, tuple) and len(unit) == 3:
        component, own_name, metadata = unit
    elif all(hasattr(unit, a) for a in ("component", "name", "metadata")):
        component, own_name, metadata = unit.component, unit.name, unit.metadata
    else:
        raise UnitConfigError(f"unit must be a wiring.Component, a (component, name, metadata) "
                              f"triple or an object with .component/.name/.metadata, "
                              f"not {type(unit).__name__}")
    if not isinstance(component, wiring.Component):
        raise UnitConfigError(f"unit component must be a wiring.Component, "
                              f"not {type(component).__name__}")
    final = name if name is not None else own_name
    if not isinstance(final, str) or not final.isidentifier() or not final.isascii():
        _silence(component)
        raise UnitConfigError(f"unit name must be a Verilog identifier, not {final!r}")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, Mapping):
        _silence(component)
        raise UnitConfigError(f"unit metadata must be a mapping, not {type(metadata).__name__}")
    ops = metadata.get("ops_per_cycle", 1)
    if isinstance(ops, bool) or not isinstance(ops, int) or ops < 1:
        _silence(component)
        raise UnitConfigError(f"metadata ops_per_cycle must be a positive int, not {ops!r}")
    return UnitSpec(component=component, name=final, metadata=dict(metadata))
