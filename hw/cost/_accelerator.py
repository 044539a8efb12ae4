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
  factor from the node to the library's node); the shallowest pipeline depth that meets it is
  used (``meet_clock``); if none does, one error says so.
* Peak power: every PE does one product per cycle; each column converter converts one output
  every ``k`` cycles; each SRAM buffer does one access of its width per cycle; vector units:
  leakage only (their dynamic power is not measured here). Dynamic energies are scaled to the
  node (derived); leakage is reported only at the library's own node (no scaling equation for
  it is relayed here).
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
           "array_area_um2", "largest_square_array"]


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
        return sum(line.dynamic_mw or 0.0 for line in self.lines)


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


def _pe_cost(build_mac: Callable[[int], Any], *, clock_mhz: float, node_nm: int, library_name: str,
             stimulus: Callable[[Any], Sequence[Mapping[str, int]]], cache: CostCache) -> tuple[AsicCost, float]:
    from ..flow import library

    lib = library(library_name)
    delay = node_scaling(source_nm=lib.node_nm, target_nm=node_nm).delay
    lib_clock = clock_mhz * delay
    rec = meet_clock(build_mac, clock_mhz=lib_clock, library_name=lib.name, target_nm=node_nm,
                     stimulus=stimulus, stimulus_description="", cache=cache)
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


def accelerator_budget(*, build_mac: Callable[[int], Any], stimulus: Callable[[Any], Sequence[Mapping[str, int]]],
                       rows: int, cols: int, clock_mhz: float, node_nm: int,
                       sram: Mapping[str, tuple[float, int]], k: int,
                       vector_units: Sequence[tuple[str, Any, int]] = (), library_name: str = "osu018",
                       cache: CostCache | str | None = None) -> AcceleratorBudget:
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

    Raises
    ------
    UnitConfigError
        For bad sizes, an unknown node or library, a clock no pipeline depth meets.
    """
    check_int("array rows", rows, 1, 4096, error=UnitConfigError)
    check_int("array cols", cols, 1, 4096, error=UnitConfigError)
    check_int("k", k, 1, 1 << 24, error=UnitConfigError)
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
    src = (f"{rec.name} on {rec.library} at {lib_clock:.4g} MHz (pipeline {rec.pipeline}, Fmax "
           f"{rec.fmax_mhz:.4g} MHz), scaled {rec.node_nm} -> {node_nm} nm (derived)")
    pes_area, convs_area = array_area_um2(rows=rows, cols=cols, pe_area_um2=pe_area,
                                          converter_area_um2=conv.area_um2 * sc["area"] if conv is not None else 0.0)
    lines = [BudgetLine("array PEs", rows * cols, pes_area, rows * cols * pe_dyn,
                        rows * cols * pe_leak if same_node else None, src)]
    if conv is not None:
        lines.append(BudgetLine("column output converters", cols, convs_area,
                                cols * conv.energy_pj_per_cycle * sc["energy"] * clock_mhz * 1e-3 / k,
                                cols * conv.leakage_mw if same_node else None,
                                f"output line item of {rec.name}; one conversion per {k} cycles"))
    for name, (kib, width) in sram.items():
        c = sram_cost(capacity_kib=kib, width_bits=width, node_nm=node_nm)
        lines.append(BudgetLine(f"SRAM {name} ({kib:g} KiB, {width}-bit port)", 1, c.area_um2,
                                c.access_pj * clock_mhz * 1e-3, None,
                                "; ".join(f"{k_}: {v}" for k_, v in c.sources.items())))
    from ._asic import characterize_asic

    for name, unit, count in vector_units:
        v = characterize_asic(unit, library_name=library_name, target_nm=node_nm, cache=store,
                              name="vec_" + re.sub(r"\W+", "_", name.split(" (")[0]).strip("_"))
        lines.append(BudgetLine(f"vector unit {name}", count, count * v.derived["area_um2"], None,
                                count * v.leakage_mw if same_node else None,
                                f"{v.name} on {v.library}, area-mapped (Fmax {v.fmax_mhz:.4g} MHz at "
                                f"{v.node_nm} nm), scaled to {node_nm} nm (derived); dynamic power not measured"))
    notes = ("peak power: every PE one product per cycle; converters one output per k cycles; every SRAM "
             "one access of its port width per cycle; vector units leakage only",
             "leakage only at the library's node" if not same_node else "leakage from the library's cell table")
    return AcceleratorBudget(node_nm=node_nm, clock_mhz=clock_mhz, library=rec.library, lines=tuple(lines),
                             pe=rec, notes=notes)
