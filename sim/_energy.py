"""The simulator's interface to the cost model (``hw.cost``): per-event energies of the recipe's
datapath and of the hardware's buffers, the same figures ``lowbit cost --hw`` prints.

Energy of an op = products x MAC energy + outputs x output-conversion energy (the array's
datapath, one column ``energy_mac_pj``) + vector-unit busy cycles x the unit's energy per cycle
(``energy_vector_pj``) + SRAM bytes x SRAM energy per byte + DRAM bytes x DRAM energy per byte
+ global buffer bytes x its SRAM energy per byte (``energy_gb_pj``).

* **Datapath** (:func:`datapath_energy_of`): ``hw.cost.datapath_energy`` of the recipe's MAC
  (``hw.units.recipe_mac``) on the standard-cell flow at the hardware's clock, scaled to
  ``node_nm`` (derived): ``mac_pj`` per product (PE without its converter) and ``convert_pj`` per
  output (the converter, once per output as an array column converts). Its stimulus
  distribution (uniform codes by default, as ``lowbit cost``) is stated in the provenance.
  A generic-flow ``CostRecord`` (``sim.mac_unit_cost``) is also accepted: its
  ``energy_pj_per_op`` is then the MAC energy with a converter per product (no separate
  conversion term), and the provenance says so.
* **SRAM** (:func:`hardware_buffers`, ``hw.cost.sram_cost``): one figure per buffer of the
  hardware (A activations, B weights, C accumulators, V vector), capacity and port width as
  ``lowbit cost --hw`` budgets them. The simulator counts SRAM bytes per op, not per buffer:
  an array op's bytes are priced at the dearest of A/B/C per byte (an upper bound, stated),
  a vector op's at V's.
* **Global buffer** (:func:`hardware_global_buffer`, ``hw.cost.sram_cost``, the line
  ``lowbit cost --hw`` budgets): the bytes the op's buffer fills write into it (its DRAM reads,
  ``OpRun.gb_fill_bytes``) plus the bytes the cores read out of it (``OpRun.gb_read_bytes``),
  each at its access energy per byte of its port width (writes priced as reads).
* **DRAM**: ``hw.cost.memory_access_energy_pj`` of the hardware's ``dram_technology``
  (relayed published figures).
* **Vector units** (:func:`vector_energies_of`, ``hw.cost.vector_unit_energy``, the figure
  ``lowbit cost --hw`` multiplies by count and clock for its dynamic power): each row unit the
  hardware names (:func:`hardware_vector_units`: the hardware's ``nonlinear_x_bits``-bit inputs,
  rows of ``VECTOR_ROW_LENGTH``, example kernel constants, as the budget builds them)
  characterised on its own netlist, mapped and timed at the hardware's clock at the node
  (buffered), streaming rows, energy per cycle scaled to the node (derived). A row op's
  energy = its ``compute_cycles`` (the busiest core's, as the engine reports) x ``row_units``
  x ``cores`` x that energy per cycle: every row unit clocked while the op computes, as the
  budget's peak power (no clock gating: units idle in a last partial round of rows are priced
  as busy). The unit is characterised at the budget's row length, not the op's.
  A unit is characterised (cached, default cache) the first time an op of its function is
  timed or priced (:class:`VectorFigures`: only the units a run uses), and only when ``mac_cost``
  is a ``DatapathEnergy`` (the standard-cell path of ``lowbit simulate``, at its node) or figures
  are given; elementwise ops on the lanes (no RTL unit) and units without a figure add no
  compute energy and are named in ``missing``.
* **Vector-unit clock** (:meth:`EnergyModel.unit_clock`, ``hw.cost.vector_unit_energy`` and
  ``hw.cost.vector_unit_clock``, the rule the budget uses): with those standard-cell figures, a
  unit whose Fmax at the node is below the hardware's clock is characterised at the shallowest
  depth of its ``pipeline`` parameter that meets the clock, and ``sim._timing`` times its ops by
  its timing function at that depth (``simulate`` hands it this method); a unit that no depth
  makes meet the clock (or that has no pipeline parameter) is a multicycle path of
  ``f = ceil(clock / Fmax)`` clock cycles per unit cycle: ``sim._timing`` multiplies its ops'
  cycles by ``f`` and its energy per clock cycle is the unit's energy per unit cycle / ``f`` (an
  op's energy stays its unit cycles x the unit's energy); the provenance says which depth and
  which units. Without them (the generic flow, no Fmax) every unit is timed at depth 0, one unit
  cycle per clock cycle, unchecked, and the provenance says that instead.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from hw.cost import MEMORY_SOURCES, DatapathEnergy, memory_access_energy_pj, sram_cost
from mapping import Recipe

from ._hwconfig import HardwareConfig
from .errors import SimulationError

__all__ = ["EnergyModel", "energy_model", "datapath_energy_of", "hardware_buffers", "op_outputs",
           "hardware_vector_units", "hardware_global_buffer", "vector_energies_of", "VectorFigures",
           "VECTOR_UNIT_PARAMS",
           "VECTOR_ROW_LENGTH", "ARRAY_BUFFERS", "DEFAULT_NODE_NM", "DEFAULT_DISTRIBUTION"]

#: node of the simulator's energies unless told (``lowbit cost``'s default ``--node``), nm
DEFAULT_NODE_NM = 45
#: operand distribution of the MAC characterisation unless told (``lowbit cost``'s default)
DEFAULT_DISTRIBUTION = "uniform"
#: buffers read and written by array (GEMM) ops
ARRAY_BUFFERS = ("a", "b", "c")
#: example kernel constants of the vector units that are characterised (those of
#: benchmarks/nonlinear_units.py; LayerNorm biases 0); ``lowbit cost --hw`` budgets the same units
VECTOR_UNIT_PARAMS: dict[str, dict[str, Any]] = {
    "ivit_shiftmax": {"x0_int": -20}, "ivit_shiftgelu": {"x0_int": -12},
    "ibert_int_gelu": {"b_int": -251, "c_int": -69251, "shift_int": -5},
    "ivit_int_layernorm": {"bias_int": "zeros"}, "ibert_int_layernorm": {"bias_int": "zeros"},
    "int_rmsnorm": {}, "int_silu": {"x0_int": -20}}
#: row length of the characterised vector units (``lowbit cost --row-length``'s default)
VECTOR_ROW_LENGTH = 64
#: elementwise functions on the vector lanes with no RTL unit (``sim._timing.ELEMENTWISE_ASSUMED``)
_ELEMENTWISE = ("add", "kv_append", "rope", "embedding", "relu")


class VectorFigures:
    """Row function -> energy per compute cycle of its op on the hardware's vector unit, pJ
    (``hw.row_units`` x ``hw.cores`` units of one ``hw.cost.vector_unit_energy`` each): a unit
    is characterised the first time an op of its function is priced (only the units a run
    uses are characterised), or taken from ``energies`` (:func:`vector_energies_of`) when
    given. ``missing`` and ``provenance`` say what the priced ops lacked and where the figures
    come from.

    Parameters
    ----------
    hw : the hardware config whose ``nonlinear_units`` timed the ops. node_nm : node of the
    figures (derived). energies : function -> ``VectorUnitEnergy`` or a str (why none), or
    ``None`` to characterise on demand. characterise : False: no unit is characterised (every
    row function missing, said once).
    """

    def __init__(self, hw: HardwareConfig, *, node_nm: int = DEFAULT_NODE_NM,
                 energies: Mapping[str, Any] | None = None, characterise: bool = True) -> None:
        self.hw, self.node_nm, self.characterise = hw, node_nm, characterise
        self._given = None if energies is None else dict(energies)
        self._units = dict(hw.nonlinear_units)
        self._figures: dict[str, float | None] = {}
        self._missing: dict[str, str] = {}
        self._sources: dict[str, str] = {}
        self._records: list[Any] = []
        self._energies: dict[str, Any] = {}
        self._clocks: dict[str, Any] = {}  # function -> hw.cost.VectorUnitClock, or a str (why none)

    def _energy(self, function: str) -> Any:
        """The unit's ``hw.cost.VectorUnitEnergy`` or a str saying why there is none (memoised)."""
        if function not in self._energies:
            self._energies[function] = (
                self._given.get(function, f"vector unit {self._units[function]} ({function}): no figure given")
                if self._given is not None else
                vector_energies_of(self.hw, node_nm=self.node_nm, functions=(function,))[function])
        return self._energies[function]

    def clock(self, function: str) -> Any:
        """The ``hw.cost.VectorUnitClock`` of row ``function``'s unit (its chosen pipeline depth and
        clock cycles per unit cycle), or ``None`` without standard-cell figures (no Fmax; said in
        the provenance) or for a function with no unit."""
        if function in _ELEMENTWISE or function not in self._units:
            return None
        if function not in self._clocks:
            if not self.characterise:
                self._clocks[function] = "not characterised"
            else:
                from hw.cost import vector_unit_clock

                e = self._energy(function)
                self._clocks[function] = (e if isinstance(e, str) else
                                          vector_unit_clock(e, clock_mhz=self.hw.clock_mhz))
        c = self._clocks[function]
        return None if isinstance(c, str) else c

    def cycles_per_unit_cycle(self, function: str) -> int:
        """Clock cycles per cycle of row ``function``'s unit (``hw.cost.vector_unit_clock``): more
        than 1 only for a characterised unit whose Fmax is below the hardware's clock at every
        pipeline depth tried; 1 without standard-cell figures or for a function with no unit."""
        c = self.clock(function)
        return 1 if c is None else c.cycles_per_unit_cycle

    def get(self, function: str) -> float | None:
        """pJ per compute cycle of an op of row ``function`` (``None``: no figure, recorded): the
        unit's energy per unit cycle x units / its clock cycles per unit cycle."""
        if function in self._figures:
            return self._figures[function]
        self.cycles_per_unit_cycle(function)  # its clock stated here too (the op may have been timed elsewhere)
        fig = None
        if function in _ELEMENTWISE:
            self._missing["elementwise"] = (f"compute energy of the elementwise ops on the {self.hw.vector_lanes} "
                                            f"vector lanes ({', '.join(_ELEMENTWISE)}): no RTL unit, not counted")
        elif not self.characterise:
            self._missing["uncharacterised"] = ("vector units' compute energy not characterised in this run "
                                                "(standard-cell figures come with a hw.cost DatapathEnergy "
                                                "mac_cost): not counted")
        elif function not in self._units:
            self._missing[function] = f"no vector unit for {function}: its compute energy not counted"
        else:
            e = self._energy(function)
            if isinstance(e, str) or e.pj_per_cycle is None:
                self._missing[function] = ((e if isinstance(e, str) else f"vector unit {e.record.name}: energy "
                                            f"not measured") + "; its ops' compute energy not counted")
            else:
                f = self.cycles_per_unit_cycle(function)
                fig = e.pj_per_cycle * self.hw.row_units * self.hw.cores / f
                m = e.record.provenance.get("measured", {})
                self._sources[function] = (f"{function} {e.record.name} {e.pj_per_cycle:.4g} pJ/unit cycle (pipeline "
                                           f"{e.pipeline}, RTL rtlil {str(m.get('rtlil_sha256', ''))[:12]})"
                                           + ("" if f == 1 else f", {f} clock cycles per unit cycle"))
                self._records.append(e.record)
        self._figures[function] = fig
        return fig

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(self._missing[k] for k in sorted(self._missing))

    @property
    def provenance(self) -> tuple[str, ...]:
        out = []
        if self._sources:
            r = self._records[0]
            out.append(f"vector units: hw.cost.vector_unit_energy (the figure lowbit cost --hw budgets), energy per "
                       f"unit cycle of one unit streaming rows (row_unit_stimulus, uniform inputs, seed 0) on "
                       f"{r.library}, mapped for the {self.hw.clock_mhz:g} MHz clock, scaled to "
                       f"{r.derived.get('node_nm', '?')} nm (derived): "
                       + ", ".join(self._sources[k] for k in sorted(self._sources))
                       + f"; a row op's energy = its compute cycles x {self.hw.row_units} row units x {self.hw.cores} "
                         f"core(s) x that / the unit's clock cycles per unit cycle (units characterised at x_bits "
                         f"{self.hw.nonlinear_x_bits}, row length {VECTOR_ROW_LENGTH}, example constants, not at "
                         f"the op's row length)")
        clocks = {fn: c for fn, c in self._clocks.items() if not isinstance(c, str)}
        if clocks:
            out.append("vector-unit clock (hw.cost.vector_unit_clock, as lowbit cost --hw): "
                       + "; ".join(f"{fn}: {clocks[fn].statement}" for fn in sorted(clocks))
                       + "; each row op is timed by its unit's timing function at that pipeline depth"
                       + ("; the ops of a unit slower than the clock are timed at that many clock cycles per unit "
                          "cycle (compute_cycles, timing_source)"
                          if any(c.cycles_per_unit_cycle > 1 for c in clocks.values()) else ""))
        unchecked = sorted(fn for fn, c in self._clocks.items() if isinstance(c, str))
        if unchecked:
            out.append(f"vector-unit clock: {', '.join(unchecked)} timed at one unit cycle per "
                       f"{self.hw.clock_mhz:g} MHz clock cycle, unchecked: "
                       + ("no Fmax without the standard-cell figures (a hw.cost DatapathEnergy mac_cost)"
                          if not self.characterise else "the unit has no standard-cell figure"))
        return tuple(out)


@dataclass(frozen=True)
class EnergyModel:
    """Per-event energies in pJ (``None`` where the cost model gives no figure).

    Attributes
    ----------
    mac_pj : one product. convert_pj : one output conversion (0 when ``mac_pj`` includes it).
    dram_pj_per_byte : one DRAM byte. sram_pj_per_byte : buffer -> one SRAM byte.
    base_missing, base_provenance : what the array and memory figures do not cover; where they
    come from. gb_pj_per_byte : one global buffer byte (0 without a global buffer).
    vector : the vector units' figures (:class:`VectorFigures`), or ``None`` (no
    vector compute energy). ``missing`` and ``provenance`` add the vector units' to the base.
    """

    mac_pj: float | None
    convert_pj: float
    dram_pj_per_byte: float | None
    sram_pj_per_byte: Mapping[str, float] = field(default_factory=dict)
    base_missing: tuple[str, ...] = ()
    base_provenance: tuple[str, ...] = ()
    vector: VectorFigures | None = None
    gb_pj_per_byte: float = 0.0

    @property
    def missing(self) -> tuple[str, ...]:
        """What the energies do not cover (the vector part: of the ops priced so far)."""
        return self.base_missing + (self.vector.missing if self.vector is not None else ())

    @property
    def provenance(self) -> tuple[str, ...]:
        """Where each figure comes from (the vector part: of the units used so far)."""
        return self.base_provenance + (self.vector.provenance if self.vector is not None else ())

    def unit_clock(self, function: str) -> Any:
        """The ``hw.cost.VectorUnitClock`` of row ``function``'s vector unit
        (:meth:`VectorFigures.clock`; ``None`` without vector figures): the pipeline depth whose
        timing function ``sim._timing.TimingSources`` uses, and the clock cycles per unit cycle
        it multiplies that by."""
        return None if self.vector is None else self.vector.clock(function)

    def sram_byte_pj(self, unit: str) -> float:
        """Energy per SRAM byte of an op on ``unit`` ("array", "fused" or "vector"), pJ."""
        if unit == "vector":
            return self.sram_pj_per_byte["v"]
        return max(self.sram_pj_per_byte[b] for b in ARRAY_BUFFERS)

    def op_energy_pj(self, macs: int, dram_bytes: int, sram_bytes: int, *, outputs: int = 0,
                     unit: str = "array", function: str = "", compute_cycles: float = 0.0,
                     gb_bytes: int = 0) -> dict[str, float]:
        """Energy columns of one op (pJ; NaN where a figure is missing): ``macs`` products and
        ``outputs`` conversions on the array, ``dram_bytes``, ``sram_bytes`` of ``unit``'s buffers,
        and for a vector op of ``function`` (or the ``function`` steps of a "fused" op: its
        softmax), ``compute_cycles`` x its unit's energy per cycle (``energy_vector_pj``; 0 for a
        function without a figure, named in ``missing``, or compute cycles unknown, named in the
        timing notes); ``gb_bytes`` written into and read out of the global buffer
        (``energy_gb_pj``)."""
        nan = float("nan")
        per_cycle = (self.vector.get(function) if unit in ("vector", "fused") and self.vector is not None
                     else None)
        cyc = nan if compute_cycles is None else float(compute_cycles)
        vector = per_cycle * cyc if per_cycle is not None and math.isfinite(cyc) else 0.0
        if self.mac_pj is not None:
            mac = macs * self.mac_pj + outputs * self.convert_pj
        else:
            mac = 0.0 if macs == 0 else nan
        dram = dram_bytes * self.dram_pj_per_byte if self.dram_pj_per_byte is not None else nan
        sram = sram_bytes * self.sram_byte_pj(unit)
        gb = gb_bytes * self.gb_pj_per_byte
        return {"energy_mac_pj": mac, "energy_dram_pj": dram, "energy_sram_pj": sram,
                "energy_vector_pj": vector, "energy_gb_pj": gb, "energy_pj": mac + dram + sram + vector + gb}


def op_outputs(op: Any) -> int:
    """Outputs the array converts for ``op``: ``count x M x N`` of a GEMM; scores and context
    of every query block of a fused attention; 0 for a vector op."""
    if getattr(op, "kind", None) != "gemm":
        return 0
    if hasattr(op, "blocks"):  # sim._fusion.FusedAttention: QK^T (keys per row) and P.V (head_dim per row)
        return op.count * op.group * sum(bt * (keys + op.head_dim) for bt, keys in op.blocks())
    return op.count * op.M * op.N


def _element_bits(name: str) -> int:
    from hw.formats import parse

    f = parse(name)
    return int(getattr(getattr(f, "element", f), "bits", 8))


def hardware_buffers(hw: HardwareConfig, mac_metadata: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """The SRAM buffers of ``hw`` for an array of the MAC of ``mac_metadata`` (its ``a_format``,
    ``b_format``, ``accumulator_bits``): buffer -> (capacity KiB, port width bits). A feeds one
    activation per row, B one weight per column, C one accumulator per column, V one element
    (``nonlinear_x_bits``) per vector lane, per cycle."""
    a_bits = int(mac_metadata.get("a_bits", 0)) or _element_bits(mac_metadata["a_format"])
    b_bits = _element_bits(mac_metadata["b_format"])
    acc_bits = int(mac_metadata["accumulator_bits"])
    return {"a": (hw.sram_a_kib, hw.array_rows * a_bits), "b": (hw.sram_b_kib, hw.array_cols * b_bits),
            "c": (hw.sram_c_kib, hw.array_cols * acc_bits),
            "v": (hw.sram_v_kib, hw.vector_lanes * hw.nonlinear_x_bits)}


#: widest global buffer port priced, bits (``hw.cost.sram_cost``'s limit; an infinite or wider
#: port is priced at this width)
GB_MAX_WIDTH_BITS = 65536


def hardware_global_buffer(hw: HardwareConfig) -> tuple[int, int] | None:
    """The global buffer of ``hw`` as it is priced (here and by ``lowbit cost --hw``):
    (capacity KiB, port width bits), the width its bandwidth per cycle
    (``gb_bytes_per_cycle`` x 8, rounded, at most ``GB_MAX_WIDTH_BITS``); ``None`` without one."""
    if not hw.gb_kib:
        return None
    bits = hw.gb_bytes_per_cycle * 8
    width = GB_MAX_WIDTH_BITS if not math.isfinite(bits) else min(GB_MAX_WIDTH_BITS, max(1, round(bits)))
    return hw.gb_kib, width


def hardware_vector_units(hw: HardwareConfig, *, row_length: int = VECTOR_ROW_LENGTH,
                          functions: tuple[str, ...] | None = None) -> list[tuple[str, str, str, Any]]:
    """The vector (row) units of ``hw`` as they are characterised for energy (here and by
    ``lowbit cost --hw``): ``(function, unit kind, label, unit)`` per ``hw.nonlinear_units``
    entry, the unit built by ``hw.units.build_unit`` at the hardware's ``nonlinear_x_bits``-bit
    inputs (as the simulator times them), rows of ``row_length`` and the
    example constants ``VECTOR_UNIT_PARAMS``; ``unit`` is ``None`` for a kind without example
    constants (not characterised). ``functions``: only these entries."""
    from hw.units import build_unit

    bits = hw.nonlinear_x_bits
    out = []
    for fn, kind in hw.nonlinear_units:
        if functions is not None and fn not in functions:
            continue
        label = f"{fn}: {kind} (x_bits {bits}, row length {row_length}, example constants)"
        if kind not in VECTOR_UNIT_PARAMS:
            out.append((fn, kind, label, None))
            continue
        params = {k: ([0] * row_length if v == "zeros" else v) for k, v in VECTOR_UNIT_PARAMS[kind].items()}
        unit = build_unit(kind, x_bits=bits, length=row_length, **params)
        # the factory's parameters determine the RTL: a warm cost lookup needs no elaboration
        unit.metadata["design_key"] = f"hw.units.build_unit({kind!r}, x_bits={bits}, length={row_length}, " \
                                      f"{sorted(params.items())!r})"
        out.append((fn, kind, label, unit))
    return out


def vector_energies_of(hw: HardwareConfig, *, node_nm: int = DEFAULT_NODE_NM, library_name: str = "osu018",
                       cycles: int = 500, seed: int = 0, cache=None,
                       functions: tuple[str, ...] | None = None) -> dict[str, Any]:
    """``hw.cost.vector_unit_energy`` of each unit of :func:`hardware_vector_units` (of the
    row ``functions`` only, when given), mapped for the hardware's clock at ``node_nm``, with the
    budget's stimulus (``cycles`` uniform cycles, ``seed``): row function -> its
    ``hw.cost.VectorUnitEnergy``, or a str saying why there is no figure (no example constants,
    the flow failed or is not installed). Cached by ``hw.cost`` (cold: a few seconds to tens of
    seconds per unit)."""
    from hw.cost import vector_unit_energy
    from hw.errors import ToolError

    out: dict[str, Any] = {}
    for fn, kind, label, unit in hardware_vector_units(hw, functions=functions):
        if unit is None:
            out[fn] = f"vector unit {kind} ({fn}) not characterised: no example constants"
            continue
        try:
            out[fn] = vector_unit_energy(unit, label=label, node_nm=node_nm, library_name=library_name,
                                         cache=cache, cycles=cycles, seed=seed, clock_mhz=hw.clock_mhz)
        except (ValueError, TypeError, ToolError) as exc:
            out[fn] = f"vector unit {kind} ({fn}) not characterised: {exc}"
    return out


def datapath_energy_of(hw: HardwareConfig, recipe: Recipe, *, node_nm: int = DEFAULT_NODE_NM,
                       distribution: str = DEFAULT_DISTRIBUTION, cycles: int = 500, seed: int = 0,
                       library_name: str = "osu018", cache=None) -> DatapathEnergy:
    """``hw.cost.datapath_energy`` of ``recipe``'s MAC on ``hw`` (see the module docstring):
    the pipeline depth that meets ``hw.clock_mhz`` at ``node_nm``, characterised on ``cycles``
    cycles of ``distribution`` operands; SRAM figures for :func:`hardware_buffers`.
    Cached by ``hw.cost`` (cold: yosys + OpenSTA, up to a minute per MAC).

    Raises
    ------
    SimulationError
        If the recipe's formats have no MAC unit, or for the cost model's errors (unknown node,
        a clock no pipeline depth meets), reworded with the recipe named.
    """
    from hw.cost import datapath_energy, unit_stimulus
    from hw.units import recipe_mac

    try:
        probe = recipe_mac(recipe)
        probe.component._MustUse__silence = True
        sram = hardware_buffers(hw, probe.metadata)
        desc = f"{distribution} operands, seed {seed}, {cycles} cycles (hw.cost.unit_stimulus)"

        def build(p: int):
            unit = recipe_mac(recipe, pipeline=p)
            unit.metadata["design_key"] = f"hw.units factory: {unit.name}"  # the name encodes every parameter
            unit.metadata["stimulus_description"] = desc
            return unit

        e = datapath_energy(build_mac=build,
                            stimulus=lambda u: unit_stimulus(u.metadata, cycles=cycles, seed=seed,
                                                             distribution=distribution),
                            clock_mhz=hw.clock_mhz, node_nm=node_nm, sram=sram, library_name=library_name,
                            cache=cache)
    except (ValueError, TypeError) as exc:
        raise SimulationError(f"datapath energy of {recipe.name} on {hw.name} must be characterisable, "
                              f"not: {exc}") from None
    return e


def _pe_provenance(e: DatapathEnergy) -> str:
    m = e.provenance["pe"]["measured"]
    stim = m.get("stimulus") or {}
    tools = ", ".join(f"{k} {v}" for k, v in m["tools"].items())
    lib = m["library"]
    return (f"datapath: hw.cost.datapath_energy, {e.mac_pj:.4g} pJ/product, {e.convert_pj:.4g} pJ/output "
            f"conversion at {e.node_nm} nm (derived from {lib['name']} {lib['node_nm']} nm, library "
            f"{lib['sha256'][:12]}); clock target {e.clock_mhz:g} MHz; RTL rtlil {m['rtlil_sha256'][:12]}; "
            f"stimulus: {stim.get('description', 'none')}; calibration: {e.provenance['pe'].get('calibrated')}; "
            f"tools: {tools}")


def energy_model(hw: HardwareConfig, recipe: Recipe, mac_cost=None, *, node_nm: int = DEFAULT_NODE_NM,
                 vector_energies: Mapping[str, Any] | None = None) -> EnergyModel:
    """The per-event energies for ``hw`` and ``recipe`` (see the module docstring).

    ``mac_cost``: a ``hw.cost.DatapathEnergy`` (:func:`datapath_energy_of`; products,
    conversions and SRAM from it), a generic-flow ``CostRecord`` (its ``energy_pj_per_op`` per
    product, converter included), or ``None`` (array column empty). ``node_nm``: node of the
    SRAM figures when ``mac_cost`` is not a ``DatapathEnergy``. ``vector_energies``: the
    vector units' figures (:func:`vector_energies_of`); ``None``: characterised here when
    ``mac_cost`` is a ``DatapathEnergy`` (at its node), else none.
    """
    missing, prov = [], []
    # the hardware config accepts only technologies with an entry (DRAM_TECHNOLOGIES)
    dram = memory_access_energy_pj(hw.dram_technology, bits=8)
    prov.append(f"DRAM {hw.dram_technology}: relayed, {MEMORY_SOURCES[hw.dram_technology]}")
    mac, convert = None, 0.0
    if isinstance(mac_cost, DatapathEnergy):
        mac, convert = float(mac_cost.mac_pj), float(mac_cost.convert_pj)
        sram = dict(mac_cost.sram_pj_per_byte)
        node_nm = mac_cost.node_nm
        prov.append(_pe_provenance(mac_cost))
    else:
        from hw.units import recipe_mac

        try:
            probe = recipe_mac(recipe)
            probe.component._MustUse__silence = True
            meta = probe.metadata
        except (ValueError, TypeError):  # no MAC of these formats: price the buffers at 8-bit elements
            meta = {"a_format": "int8", "b_format": "int8", "accumulator_bits": 32}
        sram = {name: sram_cost(capacity_kib=kib, width_bits=width, node_nm=node_nm).access_pj / (width / 8)
                for name, (kib, width) in hardware_buffers(hw, meta).items()}
        if mac_cost is not None and getattr(mac_cost, "energy_pj_per_op", None) is not None:
            mac = float(mac_cost.energy_pj_per_op)
            p = getattr(mac_cost, "provenance", None)
            measured = getattr(p, "measured", None) or {}
            cal = getattr(p, "calibrated", None) or {}
            stim = (measured.get("stimulus") or {}).get("description", "not stated")
            tools = ", ".join(f"{k} {v}" for k, v in (measured.get("tools") or {}).items())
            prov.append(f"MAC: generic-flow hw.cost.characterize, {mac_cost.name}, {mac:.4g} pJ/op (generic CMOS "
                        f"gates, 45 nm estimate, no clock target; output converter counted every product); RTL "
                        f"rtlil {str(measured.get('rtlil_sha256', ''))[:12]}; stimulus: {stim}; calibration: "
                        f"{cal.get('anchor', 'not stated')} ({cal.get('source', '')}); tools: {tools}")
        else:
            missing.append(f"MAC energy per op of the {recipe.name} datapath not characterised in this run "
                           f"(pass a hw.cost DatapathEnergy or CostRecord); energy columns cover memory only")
    prov.append("SRAM per byte (hw.cost.sram_cost, writes priced as reads): " + ", ".join(
        f"{b} {v:.4g} pJ" for b, v in sram.items()) + f" at {node_nm} nm; array ops at the dearest of "
        f"{'/'.join(ARRAY_BUFFERS)} (the simulator does not split SRAM bytes by buffer), vector ops at v")
    gb_pj = 0.0
    gbuf = hardware_global_buffer(hw)
    if gbuf is not None:
        c = sram_cost(capacity_kib=gbuf[0], width_bits=gbuf[1], node_nm=node_nm)
        gb_pj = c.access_pj / (gbuf[1] / 8)
        prov.append(f"global buffer per byte (hw.cost.sram_cost of {gbuf[0]:g} KiB, {gbuf[1]}-bit port, as lowbit "
                    f"cost --hw budgets it): {gb_pj:.4g} pJ at {node_nm} nm, on the bytes its DRAM fills write and "
                    f"the bytes the cores read from it")
    if mac is not None and not math.isfinite(mac):
        mac = None
    vector = VectorFigures(hw, node_nm=node_nm, energies=vector_energies,
                           characterise=vector_energies is not None or isinstance(mac_cost, DatapathEnergy))
    return EnergyModel(mac, convert, dram, sram, tuple(missing), tuple(prov), vector, gb_pj)
