"""Area and power budget of a whole accelerator: the MAC array as rows x cols PEs plus one output
converter per column, the SRAM buffers, and the vector (nonlinear) units, every logic block
from its own RTL on the standard-cell flow (``characterize_asic``) and every buffer from the
published SRAM model (``_sram.py``); also the per-operation energies the simulator uses
(:func:`datapath_energy`).

Definitions (stated once, printed with the budget):

* The PE of the array is the MAC datapath without its output converter: the standalone MAC
  (``hw.units.build_mac``: PE + accumulator register + ``OutputConverter``) is characterised
  and its ``output`` line item is split off as the column converter; the accumulator register
  stands for the PE's partial-sum register.
* Clock: the budget is at ``node_nm``; the logic is mapped and timed on the library at the
  clock that corresponds to the target clock there (``clock_mhz x`` Stillmaker & Baas's delay
  factor from the node to the library's node); the shallowest pipeline depth whose PE paths (the
  paths outside the output converter, ``meet_clock(timed="per_product")``: the column converter
  is a separate feed-forward block) meet it is used; if none does, one error says so. The PE
  line's source states the depth, the PE's Fmax and the converter's own.
* Peak power: every PE does one product per cycle; each column converter converts one output
  every ``k`` cycles; each SRAM buffer does one access of its width per cycle; each vector unit
  streams rows back to back at the accelerator's clock: its dynamic energy per cycle is measured
  on its own mapped netlist (OpenSTA power with our gate-level activities) driven by
  :func:`row_unit_stimulus` (a new uniformly drawn input element offered every cycle, outputs
  always accepted, at least two rows' worth of cycles), averaged over load, compute and output
  phases. Each vector unit is mapped and timed at the clock target like the PE (buffered);
  one whose Fmax is below the clock is rebuilt with more register stages (its ``pipeline``
  parameter, up to ``MAX_ROW_PIPELINE``) and the shallowest depth that meets the clock is
  characterised (:func:`vector_unit_energy`); one that no depth makes meet it (or that has no
  pipeline parameter) runs as a multicycle path, ``ceil(clock / Fmax)`` clock cycles per unit
  cycle (:func:`vector_unit_clock`, the one place of that rule, which the simulator's timing
  and energy use too, with the chosen depth's timing function), so its dynamic power is its
  energy per unit cycle x clock / that factor.
  Dynamic energies are scaled to the node (derived). Leakage: logic only at the
  library's own node (no scaling equation for it is relayed here); SRAM only at nodes with a
  published per-bit figure (``hw.cost.sram_cost``). ``leakage_mw`` totals the lines that have
  one and ``leakage_missing`` names those that do not.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from ..errors import UnitConfigError
from ..formats import check_int
from ._asic import AsicCost, meet_clock
from ._cache import CostCache
from ._scaling import node_scaling
from ._sram import sram_cost

__all__ = ["BudgetLine", "AcceleratorBudget", "accelerator_budget", "datapath_energy", "DatapathEnergy",
           "array_area_um2", "largest_square_array", "row_unit_stimulus", "vector_unit_energy", "VectorUnitEnergy",
           "vector_unit_clock", "VectorUnitClock", "MAX_ROW_PIPELINE"]


@dataclass(frozen=True)
class BudgetLine:
    """One block of the budget: ``count`` instances; area (um^2) and powers (mW) are totals
    over the instances at the budget's node; ``None`` where not modelled."""

    block: str
    count: int
    area_um2: float
    dynamic_mw: float | None
    leakage_mw: float | None
    source: str


@dataclass(frozen=True)
class AcceleratorBudget:
    """Result of :func:`accelerator_budget`: lines, totals and the definitions used."""

    node_nm: int
    clock_mhz: float
    library: str
    lines: tuple[BudgetLine, ...]
    pe: AsicCost
    notes: tuple[str, ...] = field(default=())

    @property
    def area_mm2(self) -> float:
        return sum(line.area_um2 for line in self.lines) / 1e6

    @property
    def dynamic_mw(self) -> float:
        """Sum of the lines' dynamic power, mW (lines without one count 0: see ``dynamic_missing``)."""
        return sum(line.dynamic_mw or 0.0 for line in self.lines)

    @property
    def leakage_mw(self) -> float:
        """Sum of the lines' leakage, mW, over the lines that have one (see ``leakage_missing``)."""
        return sum(line.leakage_mw or 0.0 for line in self.lines)

    @property
    def dynamic_missing(self) -> tuple[str, ...]:
        """Blocks whose dynamic power is not modelled."""
        return tuple(line.block for line in self.lines if line.dynamic_mw is None)

    @property
    def leakage_missing(self) -> tuple[str, ...]:
        """Blocks whose leakage is not modelled at the budget's node."""
        return tuple(line.block for line in self.lines if line.leakage_mw is None)


@dataclass(frozen=True)
class DatapathEnergy:
    """Per-operation energies of an accelerator at a node, pJ (what the simulator multiplies
    by its operation counts).

    Attributes
    ----------
    mac_pj : one product in a PE (converter excluded). convert_pj : one output conversion.
    sram_pj_per_byte : {buffer: energy per byte accessed}. node_nm, clock_mhz : where.
    provenance : the record's provenance (``"pe"``) and the SRAM sources (``"sram"``).
    pe_name : the characterised MAC's module name. pipeline : its pipeline depth.
    pe_area_um2 : area of one PE without its converter at ``node_nm``, um^2 (derived).
    """

    mac_pj: float
    convert_pj: float
    sram_pj_per_byte: Mapping[str, float]
    node_nm: int
    clock_mhz: float
    provenance: Mapping[str, Any]
    pe_name: str = ""
    pipeline: int | None = None
    pe_area_um2: float = float("nan")


def array_area_um2(*, rows: int, cols: int, pe_area_um2: float, converter_area_um2: float) -> tuple[float, float]:
    """Area of a MAC array as the arrays build it (the one place this formula lives): ``rows x
    cols`` PEs and one output converter per column.

    Returns
    -------
    (PEs, converters) : their total areas, um^2 (the array's area is their sum).
    """
    return rows * cols * pe_area_um2, cols * converter_area_um2


def largest_square_array(*, area_um2: float, pe_area_um2: float, converter_area_um2: float) -> int:
    """Side ``n`` of the largest square array whose :func:`array_area_um2` (``n^2`` PEs + ``n``
    converters) is at most ``area_um2``; 0 when not even a 1 x 1 array fits.

    Raises
    ------
    UnitConfigError
        For a non-positive or non-finite PE area, or a negative / non-finite converter area.
    """
    if not (isinstance(pe_area_um2, (int, float)) and math.isfinite(pe_area_um2) and pe_area_um2 > 0):
        raise UnitConfigError(f"PE area must be a positive number of um2, not {pe_area_um2!r}")
    if not (isinstance(converter_area_um2, (int, float)) and math.isfinite(converter_area_um2)
            and converter_area_um2 >= 0):
        raise UnitConfigError(f"converter area must be a non-negative number of um2, not {converter_area_um2!r}")

    def fits(n: int) -> bool:
        return sum(array_area_um2(rows=n, cols=n, pe_area_um2=pe_area_um2, converter_area_um2=converter_area_um2)) \
            <= area_um2

    # the root of n^2 p + n c = A, then corrected by exact checks of the formula itself
    n = max(0, int((-converter_area_um2 + math.sqrt(converter_area_um2 ** 2 + 4 * pe_area_um2 * max(area_um2, 0.0)))
                   / (2 * pe_area_um2)))
    while n > 0 and not fits(n):
        n -= 1
    while fits(n + 1):
        n += 1
    return n


def row_unit_stimulus(unit: Any, *, cycles: int = 500, seed: int = 0) -> list[dict[str, int]]:
    """Per-cycle inputs of a streaming row unit (``hw.units.nonlinear.RowUnit``): every cycle a
    new element drawn uniformly from each input field's range offered on ``i`` (``i__valid`` high;
    the unit takes it when it is loading) and ``o__ready`` high, for ``max(cycles, 2 x cycles per
    row)`` cycles so that at least one whole row (load, compute, output) is covered.

    Raises
    ------
    UnitConfigError
        For a unit that is not a row unit, or bad ``cycles`` / ``seed``.
    """
    import numpy as np

    comp = getattr(unit, "component", unit)
    if not hasattr(comp, "input_ranges") or not hasattr(comp, "timing"):
        raise UnitConfigError(f"unit must be a streaming row unit (hw.units.nonlinear), not {type(comp).__name__}")
    check_int("stimulus cycles", cycles, 2, 1 << 20, error=UnitConfigError)
    check_int("stimulus seed", seed, 0, (1 << 63) - 1, error=UnitConfigError)
    n = max(cycles, 2 * comp.timing().cycles_per_row)
    rng = np.random.default_rng(seed)
    ranges = comp.input_ranges()
    fields = tuple(comp.input_fields)
    cols = [rng.integers(lo, hi, size=n, endpoint=True) for lo, hi in ranges]
    if fields:  # a struct payload: fields packed LSB first, each in its two's-complement width
        from amaranth.lib import data

        layout = data.Layout.cast(comp.i.payload.shape())
        payload = [0] * n
        for f, col in zip(fields, cols):
            fld = layout[f]
            width = fld.width
            payload = [p | ((int(v) & ((1 << width) - 1)) << fld.offset) for p, v in zip(payload, col)]
    else:
        payload = [int(v) for v in cols[0]]
    return [{"i__payload": p, "i__valid": 1, "o__ready": 1} for p in payload]


#: most register stages the clock rule (:func:`vector_unit_energy`) tries on a row unit with a
#: ``pipeline`` parameter (a unit's own ``max_pipeline`` may be fewer)
MAX_ROW_PIPELINE = 3


@dataclass(frozen=True)
class VectorUnitEnergy:
    """Result of :func:`vector_unit_energy`.

    Attributes
    ----------
    record : the unit's ``AsicCost`` at the chosen pipeline depth (mapped for ``clock_mhz``, or
        for area without one; scaled to the node).
    pj_per_cycle : dynamic energy of one unit per cycle of its own streaming rows at the node, pJ
        (derived), ``None`` when not measured (``cycles=None``). stimulus_cycles : cycles of the
        stimulus (0 without one). stimulus_description : how it was drawn.
    clock_mhz : the clock target at the node it was mapped for, MHz (``None``: area-mapped).
    pipeline : the chosen depth of the unit's ``pipeline`` parameter (register stages; 0 for a
        unit without one). max_pipeline : the deepest the rule could try for this unit (0: the
        unit has no pipeline parameter, or no clock was given).
    fmax_by_pipeline : depth -> Fmax at the node (derived) of each depth timed, MHz, shallowest
        first.
    """

    record: AsicCost
    pj_per_cycle: float | None
    stimulus_cycles: int
    stimulus_description: str
    clock_mhz: float | None = None
    pipeline: int = 0
    max_pipeline: int = 0
    fmax_by_pipeline: Mapping[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class VectorUnitClock:
    """How a vector unit keeps up with the accelerator's clock (:func:`vector_unit_clock`).

    Attributes
    ----------
    name : the unit's module name. clock_mhz : the accelerator's clock at the node, MHz.
    fmax_mhz : the unit's Fmax at the node (derived from the library's OpenSTA figure), MHz.
    cycles_per_unit_cycle : clock cycles one cycle of the unit takes: 1 when its Fmax meets the
        clock, else ``ceil(clock / Fmax)`` (a multicycle path). statement : one sentence saying so.
    pipeline : the depth of the unit's ``pipeline`` parameter these figures are of (its timing
        function's ``pipeline``).
    """

    name: str
    clock_mhz: float
    fmax_mhz: float
    cycles_per_unit_cycle: int
    statement: str
    pipeline: int = 0


def _fmax_at_node(rec: AsicCost) -> float:
    """The record's Fmax at its target node (derived), or at the library's node if not scaled, MHz."""
    return float(rec.derived.get("fmax_mhz", rec.fmax_mhz))


def _loop_fmax_at_node(rec: AsicCost) -> float | None:
    """Fmax of the record's worst loop-carried path (a state register to one of the same loop)
    at its target node (derived) or the library's, MHz; ``None`` for a unit without one."""
    loop = rec.timing.get("loop")
    if loop is None:
        return None
    return float(rec.derived.get("timing_fmax_mhz", {}).get("loop") or loop["fmax_mhz"])


def vector_unit_clock(energy: VectorUnitEnergy, *, clock_mhz: float) -> VectorUnitClock:
    """Clock cycles per cycle of a vector unit at ``clock_mhz`` (MHz, at the unit's node): the one
    place of the rule that :func:`accelerator_budget` and the simulator (its timing and its energy)
    use, on the pipeline depth :func:`vector_unit_energy` chose (the shallowest whose Fmax meets
    the clock it was mapped for). A unit whose Fmax at the node (``energy.record``'s derived Fmax,
    or its library Fmax when it was not scaled) meets the clock takes 1; a slower one — no depth
    up to ``energy.max_pipeline`` met it, or the unit has no pipeline parameter — runs as a
    multicycle path of ``ceil(clock / Fmax)`` clock cycles per unit cycle (its registers enabled
    every that many cycles; its energy per unit cycle unchanged).

    Raises
    ------
    UnitConfigError
        For a clock that is not a positive number.
    """
    if isinstance(clock_mhz, bool) or not isinstance(clock_mhz, (int, float)) or not 0 < clock_mhz < math.inf:
        raise UnitConfigError(f"clock must be a positive number of MHz, not {clock_mhz!r}")
    rec = energy.record
    fmax = _fmax_at_node(rec)
    node = rec.derived.get("node_nm", rec.node_nm)
    derived = " (derived)" if rec.derived else ""
    where = f"Fmax {fmax:.4g} MHz at {node} nm{derived}"
    p, deepest = energy.pipeline, energy.max_pipeline
    others = ", ".join(f"{f:.4g} MHz at depth {d}" for d, f in energy.fmax_by_pipeline.items() if d != p)
    depth = f"pipeline {p} ({others}{derived})" if others else f"pipeline {p}"
    if fmax >= clock_mhz:
        why = ("" if not others or p == min(energy.fmax_by_pipeline) else
               f", the shallowest of depths 0..{deepest} that does (OpenSTA on the mapped netlist)")
        return VectorUnitClock(rec.name, float(clock_mhz), fmax, 1,
                               f"{rec.name}: {depth}: {where} meets the {clock_mhz:g} MHz clock{why}", p)
    factor = math.ceil(clock_mhz / fmax)
    loop_fmax = _loop_fmax_at_node(rec)
    tried = len(energy.fmax_by_pipeline) > 1 or deepest == 0
    why = ("the row unit has no pipeline parameter" if deepest == 0 else
           f"no depth of its pipeline parameter up to {deepest} meets it" if tried else
           f"no depth of its pipeline parameter can meet it or take fewer cycles, so none deeper was timed")
    if loop_fmax is not None and loop_fmax < clock_mhz:  # what no register stage could fix
        loop = rec.timing["loop"]
        why += (f" (its loop-carried path, {loop['startpoint']} to {loop['endpoint']}, a state register to one of the "
                f"same loop, has Fmax {loop_fmax:.4g} MHz{derived}: no pipeline register can cut it)")
    return VectorUnitClock(rec.name, float(clock_mhz), fmax, factor,
                           f"{rec.name}: {depth}: {where} is below the {clock_mhz:g} MHz clock and {why}: a "
                           f"multicycle path, {factor} clock cycles per unit cycle (ceil(clock / Fmax); its energy "
                           f"per unit cycle unchanged)", p)


def _row_variant(unit: Any, depth: int) -> Any:
    """Row unit ``unit`` (a ``hw.units.build_unit`` unit or a bare ``RowUnit``) rebuilt with
    ``pipeline=depth``, its other parameters unchanged; a factory unit's ``design_key`` gets the
    depth appended."""
    from ..units import build_unit

    comp = getattr(unit, "component", unit)
    variant = build_unit(comp.kernel_name, **{**comp.params(), "pipeline": depth})
    key = (getattr(unit, "metadata", None) or {}).get("design_key")
    if key is not None:
        variant.metadata["design_key"] = f"{key}, pipeline={depth}"
    variant.metadata["pipeline"] = depth
    return variant


def vector_unit_energy(unit: Any, *, label: str, node_nm: int, library_name: str = "osu018",
                       cache: CostCache | str | None = None, cycles: int | None = 500,
                       seed: int = 0, clock_mhz: float | None = None,
                       max_pipeline: int = MAX_ROW_PIPELINE) -> VectorUnitEnergy:
    """Dynamic energy per cycle of one vector (row) unit streaming rows back to back, the figure
    :func:`accelerator_budget` multiplies by its count and clock and the simulator by a vector
    op's busy cycles: its own netlist mapped on ``library_name`` (``characterize_asic``, cached,
    Verilog module ``vec_<label before " (">``, ``_p<depth>`` appended for a pipelined variant)
    for ``clock_mhz`` at ``node_nm`` (the library clock ``clock_mhz`` x Stillmaker & Baas's delay
    factor; buffered and sized for it, and timed at it; ``None``: area-mapped), OpenSTA power with
    our gate-level activities under :func:`row_unit_stimulus` (``cycles``, ``seed``), summed over
    its line items and scaled to ``node_nm`` (derived). ``cycles=None``: area and leakage only.

    The clock rule: the unit as given is characterised first; if its Fmax at the node is below
    ``clock_mhz`` and it has a ``pipeline`` parameter, deeper variants (the same parameters,
    ``pipeline`` one more each time, up to ``min(max_pipeline, unit.max_pipeline)``) are timed
    on the same flow (no stimulus) and the shallowest that meets the clock is characterised with
    the stimulus and returned; if none does, the depth of fewest clock cycles per unit cycle
    (``ceil(clock / Fmax)``; the shallowest of those). Register stages do not cut a recurrence:
    no depth is taken to beat ``ceil(clock / Fmax of the unit's loop-carried path)`` as built,
    so none is timed when the unit as built already reaches that. How it then keeps up with the
    clock: :func:`vector_unit_clock`.

    Raises
    ------
    UnitConfigError
        For a unit that is not a row unit, bad ``cycles`` / ``seed`` / ``max_pipeline``, an
        unknown node or library.
    ToolError
        If yosys or OpenSTA fail or are not installed.
    """
    from ..flow import library
    from ._asic import _validate, characterize_asic

    _validate(clock_mhz, node_nm)
    check_int("max_pipeline", max_pipeline, 0, 16, error=UnitConfigError)
    lib_clock = None if clock_mhz is None else \
        clock_mhz * node_scaling(source_nm=library(library_name).node_nm, target_nm=node_nm).delay
    base = "vec_" + re.sub(r"\W+", "_", label.split(" (")[0]).strip("_")
    comp = getattr(unit, "component", unit)
    start = int(getattr(comp, "pipeline", 0))
    deepest = 0 if clock_mhz is None else min(max_pipeline, int(getattr(comp, "max_pipeline", 0)))

    def measure(u: Any, depth: int, *, energy: bool) -> tuple[AsicCost, int, str]:
        stim = row_unit_stimulus(u, cycles=cycles, seed=seed) if energy and cycles is not None else None
        desc = "" if stim is None else f"row unit streaming: uniform inputs, seed {seed}, {len(stim)} cycles"
        rec = characterize_asic(u, library_name=library_name, target_nm=node_nm, cache=cache, stimulus=stim,
                                stimulus_description=desc, clock_mhz=lib_clock,
                                name=base + (f"_p{depth}" if depth else ""))
        return rec, 0 if stim is None else len(stim), desc

    rec, n_stim, desc = measure(unit, start, energy=True)
    fmax = {start: _fmax_at_node(rec)}
    # the fewest clock cycles per unit cycle any depth can reach: register stages outside a
    # recurrence leave the unit's loop-carried path as it is
    loop = _loop_fmax_at_node(rec)
    best = 1 if clock_mhz is None or loop is None or loop >= clock_mhz else math.ceil(clock_mhz / loop)
    if clock_mhz is not None and math.ceil(clock_mhz / fmax[start]) > best and deepest > start:
        variants = {}
        for depth in range(start + 1, deepest + 1):
            variants[depth] = _row_variant(unit, depth)
            fmax[depth] = _fmax_at_node(measure(variants[depth], depth, energy=False)[0])
            if math.ceil(clock_mhz / fmax[depth]) <= best:
                break
        chosen = min(fmax, key=lambda d: (math.ceil(clock_mhz / fmax[d]), d))
        if chosen != start:
            rec, n_stim, desc = measure(variants[chosen], chosen, energy=True)
            start = chosen
    per_cycle = None
    if rec.energy_pj_per_op is not None:
        per_cycle = sum(i.energy_pj_per_cycle for i in rec.line_items.values()) * rec.derived["scaling"]["energy"]
    return VectorUnitEnergy(rec, per_cycle, n_stim, desc, clock_mhz, start, deepest, dict(sorted(fmax.items())))


def _pe_cost(build_mac: Callable[[int], Any], *, clock_mhz: float, node_nm: int, library_name: str,
             stimulus: Callable[[Any], Sequence[Mapping[str, int]]], cache: CostCache) -> tuple[AsicCost, float]:
    from ..flow import library

    lib = library(library_name)
    delay = node_scaling(source_nm=lib.node_nm, target_nm=node_nm).delay
    lib_clock = clock_mhz * delay
    rec = meet_clock(build_mac, clock_mhz=lib_clock, library_name=lib.name, target_nm=node_nm,
                     stimulus=stimulus, stimulus_description="", cache=cache, timed="per_product")
    return rec, lib_clock


def datapath_energy(*, build_mac: Callable[[int], Any], stimulus: Callable[[Any], Sequence[Mapping[str, int]]],
                    clock_mhz: float, node_nm: int, sram: Mapping[str, tuple[float, int]],
                    library_name: str = "osu018", cache: CostCache | str | None = None) -> DatapathEnergy:
    """Per-operation energies (see :class:`DatapathEnergy`); parameters as
    :func:`accelerator_budget`."""
    store = cache if isinstance(cache, CostCache) else CostCache(cache)
    rec, _ = _pe_cost(build_mac, clock_mhz=clock_mhz, node_nm=node_nm, library_name=library_name,
                      stimulus=stimulus, cache=store)
    s = rec.derived["scaling"]["energy"]
    items = rec.line_items
    mac = sum(i.energy_pj_per_cycle for n, i in items.items() if n != "output") / rec.ops_per_cycle * s
    conv = items["output"].energy_pj_per_cycle * s if "output" in items else 0.0
    per_byte, sources = {}, {}
    for name, (kib, width) in sram.items():
        c = sram_cost(capacity_kib=kib, width_bits=width, node_nm=node_nm)
        per_byte[name] = c.access_pj / (width / 8)
        sources[name] = c.sources
    area = sum(i.area_um2 for n, i in items.items() if n != "output") * rec.derived["scaling"]["area"]
    return DatapathEnergy(mac_pj=mac, convert_pj=conv, sram_pj_per_byte=per_byte, node_nm=node_nm,
                          clock_mhz=clock_mhz, provenance={"pe": rec.provenance, "sram": sources},
                          pe_name=rec.name, pipeline=rec.pipeline, pe_area_um2=area)


def _times(line: BudgetLine, cores: int) -> BudgetLine:
    """A per-core budget line for ``cores`` cores: count, area, power x ``cores``."""
    def mul(x: float | None) -> float | None:
        return None if x is None else x * cores
    return BudgetLine(f"{line.block} x {cores} cores", line.count * cores, line.area_um2 * cores,
                      mul(line.dynamic_mw), mul(line.leakage_mw), f"{cores} x one core's: {line.source}")


def accelerator_budget(*, build_mac: Callable[[int], Any], stimulus: Callable[[Any], Sequence[Mapping[str, int]]],
                       rows: int, cols: int, clock_mhz: float, node_nm: int,
                       sram: Mapping[str, tuple[float, int]], k: int,
                       vector_units: Sequence[tuple[str, Any, int]] = (), library_name: str = "osu018",
                       cache: CostCache | str | None = None, vector_cycles: int | None = 500,
                       seed: int = 0, cores: int = 1,
                       global_buffer: tuple[float, int] | None = None) -> AcceleratorBudget:
    """Area and peak-power budget of an accelerator (definitions in the module docstring).

    Parameters
    ----------
    build_mac : pipeline depth -> the standalone MAC unit of the array's formats.
    stimulus : unit -> its stimulus (operand distribution of the budget).
    rows, cols : PEs of the array. clock_mhz : target clock at ``node_nm``, MHz.
    node_nm : node of the budget. sram : buffer name -> (capacity KiB, access width bits).
    k : products per output (reduction length) for the converters' activity.
    vector_units : (name, unit, count) of the vector/nonlinear units.
    library_name : standard-cell library. cache : cost cache.
    vector_cycles : stimulus cycles of each vector unit's activity (:func:`row_unit_stimulus`),
        or ``None``: area and leakage only, no dynamic power. seed : its seed.
    cores : cores of the accelerator, each with the array, ``sram`` buffers and vector units
        (their lines are one core's figures x ``cores``, said in the block name).
    global_buffer : (capacity KiB, port width bits) of the buffer the cores share, or ``None``:
        one SRAM line of :func:`sram_cost` (one access of its port width per cycle at peak).

    Raises
    ------
    UnitConfigError
        For bad sizes, an unknown node or library, a clock no pipeline depth meets.
    """
    check_int("array rows", rows, 1, 4096, error=UnitConfigError)
    check_int("array cols", cols, 1, 4096, error=UnitConfigError)
    check_int("k", k, 1, 1 << 24, error=UnitConfigError)
    check_int("cores", cores, 1, 1 << 20, error=UnitConfigError)
    if vector_cycles is not None:
        check_int("vector stimulus cycles", vector_cycles, 2, 1 << 20, error=UnitConfigError)
    node_scaling(source_nm=180, target_nm=node_nm)
    store = cache if isinstance(cache, CostCache) else CostCache(cache)
    rec, lib_clock = _pe_cost(build_mac, clock_mhz=clock_mhz, node_nm=node_nm, library_name=library_name,
                              stimulus=stimulus, cache=store)
    sc = rec.derived["scaling"]
    items = rec.line_items
    same_node = node_nm == rec.node_nm
    pe_area = sum(i.area_um2 for n, i in items.items() if n != "output") * sc["area"]
    pe_dyn = sum(i.energy_pj_per_cycle for n, i in items.items() if n != "output") * sc["energy"] * clock_mhz * 1e-3
    pe_leak = sum(i.leakage_mw for n, i in items.items() if n != "output")
    conv = items.get("output")
    clock = rec.provenance.get("measured", {}).get("clock", {})
    src = (f"{rec.name} on {rec.library} at {lib_clock:.4g} MHz, scaled {rec.node_nm} -> {node_nm} nm (derived); "
           + clock.get("statement", f"pipeline {rec.pipeline}, Fmax {rec.fmax_mhz:.4g} MHz"))
    pes_area, convs_area = array_area_um2(rows=rows, cols=cols, pe_area_um2=pe_area,
                                          converter_area_um2=conv.area_um2 * sc["area"] if conv is not None else 0.0)
    core = [BudgetLine("array PEs", rows * cols, pes_area, rows * cols * pe_dyn,
                        rows * cols * pe_leak if same_node else None, src)]
    if conv is not None:
        core.append(BudgetLine("column output converters", cols, convs_area,
                                cols * conv.energy_pj_per_cycle * sc["energy"] * clock_mhz * 1e-3 / k,
                                cols * conv.leakage_mw if same_node else None,
                                f"output line item of {rec.name}; one conversion per {k} cycles"))
    for name, (kib, width) in sram.items():
        c = sram_cost(capacity_kib=kib, width_bits=width, node_nm=node_nm)
        core.append(BudgetLine(f"SRAM {name} ({kib:g} KiB, {width}-bit port)", 1, c.area_um2,
                                c.access_pj * clock_mhz * 1e-3, c.leakage_mw,
                                "; ".join(f"{k_}: {v}" for k_, v in c.sources.items())))
    for name, unit, count in vector_units:
        ve = vector_unit_energy(unit, label=name, node_nm=node_nm, library_name=library_name, cache=store,
                                cycles=vector_cycles, seed=seed, clock_mhz=clock_mhz)
        v = ve.record
        vc = vector_unit_clock(ve, clock_mhz=clock_mhz)
        f = vc.cycles_per_unit_cycle
        dyn = None if ve.pj_per_cycle is None else count * ve.pj_per_cycle * clock_mhz * 1e-3 / f
        core.append(BudgetLine(f"vector unit {name}", count, count * v.derived["area_um2"], dyn,
                                count * v.leakage_mw if same_node else None,
                                f"{v.name} on {v.library}, mapped for {lib_clock:.4g} MHz (Fmax {v.fmax_mhz:.4g} MHz "
                                f"at {v.node_nm} nm), scaled to {node_nm} nm (derived); {vc.statement}; "
                                + ("dynamic power not measured" if dyn is None else
                                   f"dynamic: measured energy per unit cycle streaming rows ({ve.stimulus_cycles} "
                                   f"cycles, uniform inputs) x {clock_mhz:g} MHz"
                                   + ("" if f == 1 else f" / {f} (one unit cycle per {f} clock cycles)"))))
    lines = [core_line if cores == 1 else _times(core_line, cores) for core_line in core]
    if global_buffer is not None:
        gkib, gwidth = global_buffer
        c = sram_cost(capacity_kib=gkib, width_bits=gwidth, node_nm=node_nm)
        lines.append(BudgetLine(f"global buffer ({gkib:g} KiB, {gwidth}-bit port, shared by the cores)", 1,
                                c.area_um2, c.access_pj * clock_mhz * 1e-3, c.leakage_mw,
                                "; ".join(f"{k_}: {v}" for k_, v in c.sources.items())))
    notes = ("peak power: every PE one product per cycle; converters one output per k cycles; every SRAM "
             "one access of its port width per cycle; vector units streaming rows back to back"
             + ("" if vector_cycles is not None else " (their dynamic power not measured: vector_cycles=None)"),
             ("logic leakage from the library's cell table" if same_node else
              f"logic leakage only at the library's node ({rec.node_nm} nm)")
             + "; SRAM leakage where a published per-bit figure exists (hw.cost.sram_cost)")
    return AcceleratorBudget(node_nm=node_nm, clock_mhz=clock_mhz, library=rec.library, lines=tuple(lines),
                             pe=rec, notes=notes)
