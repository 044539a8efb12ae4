"""The simulator's interface to the cost model (``hw.cost``): per-event energies of the recipe's
datapath and of the hardware's buffers, the same figures ``lowbit cost --hw`` prints.

Energy of an op = products x MAC energy + outputs x output-conversion energy (the array's
datapath, one column ``energy_mac_pj``) + SRAM bytes x SRAM energy per byte + DRAM bytes x DRAM
energy per byte.

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
* **DRAM**: ``hw.cost.memory_access_energy_pj`` of the hardware's ``dram_technology``
  (relayed published figures).
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
           "ARRAY_BUFFERS", "DEFAULT_NODE_NM", "DEFAULT_DISTRIBUTION"]

#: node of the simulator's energies unless told (``lowbit cost``'s default ``--node``), nm
DEFAULT_NODE_NM = 45
#: operand distribution of the MAC characterisation unless told (``lowbit cost``'s default)
DEFAULT_DISTRIBUTION = "uniform"
#: buffers read and written by array (GEMM) ops
ARRAY_BUFFERS = ("a", "b", "c")


@dataclass(frozen=True)
class EnergyModel:
    """Per-event energies in pJ (``None`` where the cost model gives no figure).

    Attributes
    ----------
    mac_pj : one product. convert_pj : one output conversion (0 when ``mac_pj`` includes it).
    dram_pj_per_byte : one DRAM byte. sram_pj_per_byte : buffer -> one SRAM byte.
    missing, provenance : what is not covered; where each figure comes from.
    """

    mac_pj: float | None
    convert_pj: float
    dram_pj_per_byte: float | None
    sram_pj_per_byte: Mapping[str, float] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    provenance: tuple[str, ...] = ()

    def sram_byte_pj(self, unit: str) -> float:
        """Energy per SRAM byte of an op on ``unit`` ("array", "fused" or "vector"), pJ."""
        if unit == "vector":
            return self.sram_pj_per_byte["v"]
        return max(self.sram_pj_per_byte[b] for b in ARRAY_BUFFERS)

    def op_energy_pj(self, macs: int, dram_bytes: int, sram_bytes: int, *, outputs: int = 0,
                     unit: str = "array") -> dict[str, float]:
        """Energy columns of one op (pJ; NaN where a figure is missing): ``macs`` products and
        ``outputs`` conversions on the array, ``dram_bytes``, ``sram_bytes`` of ``unit``'s buffers."""
        nan = float("nan")
        if self.mac_pj is not None:
            mac = macs * self.mac_pj + outputs * self.convert_pj
        else:
            mac = 0.0 if macs == 0 else nan
        dram = dram_bytes * self.dram_pj_per_byte if self.dram_pj_per_byte is not None else nan
        sram = sram_bytes * self.sram_byte_pj(unit)
        return {"energy_mac_pj": mac, "energy_dram_pj": dram, "energy_sram_pj": sram,
                "energy_pj": mac + dram + sram}


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


def energy_model(hw: HardwareConfig, recipe: Recipe, mac_cost=None, *, node_nm: int = DEFAULT_NODE_NM) -> EnergyModel:
    """The per-event energies for ``hw`` and ``recipe`` (see the module docstring).

    ``mac_cost``: a ``hw.cost.DatapathEnergy`` (:func:`datapath_energy_of`; products,
    conversions and SRAM from it), a generic-flow ``CostRecord`` (its ``energy_pj_per_op`` per
    product, converter included), or ``None`` (array column empty). ``node_nm``: node of the
    SRAM figures when ``mac_cost`` is not a ``DatapathEnergy``.
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
    if mac is not None and not math.isfinite(mac):
        mac = None
    return EnergyModel(mac, convert, dram, sram, tuple(missing), tuple(prov))
