"""Sweep specifications: a TOML file parsed once into a frozen :class:`SweepSpec` holding the
design points (frozen :class:`DesignPoint`) to evaluate.

TOML layout (every key optional; see ``examples/sweep_small.toml``)::

    name = "small"
    metrics = ["latency", "energy", "area", "accuracy"]   # default: all four
    layers = 1                 # layers simulated per point (default: all of the model)

    [axes]                     # the cross product of these lists (a scalar is a 1-element list)
    model = ["bert-base"]      # mapping.MODEL_NAMES
    seq_len = [128]            # prefill tokens (default: the model's natural input length)
    batch = [1]
    decode = [0]               # decode steps after the prefill (decoders only)
    recipe = ["INT8", "FP8"]   # mapping shorthands or recipe .toml paths (relative to the spec)
    # format = ["int8", "e4m3fn", "mxfp4"]  # instead of recipe: weights and activations in one
                               # format (per-channel / per-token fp32 scales, or the block
                               # format's own), FP16 KV cache, exact accumulation to fp32
    accumulate = ["recipe"]    # "recipe" (keep the recipe's) or exact / fp32 / fp16 / bf16
    hardware = ["default-32x32"]  # sim preset or hardware .toml path: the base of each point
    array = ["16x16", "32x32"] # MAC array ROWSxCOLS (default: the base hardware's)
    dataflow = ["ws+os"]       # "ws", "os" or "ws+os" (the mapper picks per op)
    sram_kib = [896]           # total on-chip SRAM, split in the base hardware's proportions
    dram_gbps = [64.0]         # total DRAM bandwidth in GB/s, split over the base's channels

    [accuracy]                 # numerics mode (sim.run_layer_numerics) of the accuracy metric
    tokens = 16                # input tokens through one layer
    seed = 0
    checkpoint = "minilm/"     # optional: a Hugging Face model folder; with text, the accuracy
    text = "sentences.txt"     # axis is sim.evaluate_accuracy's metric on it (one run per
    max_tokens = 128           # recipe, float64 reference); the one-layer error stays as
    metric = "cosine_mean"     # synthetic_output_error (metric: see CHECKPOINT_METRICS)

    [units]                    # the MAC characterisation (hw.cost) of the area / energy metrics
    fpga = []                  # FPGA families to place and route too: "ecp5", "ecp5-nodsp", "ice40"
    energy = true              # measure the MAC's energy per operation (gate-level simulation of
                               # the recipe's MAC on Gaussian operands, sigma = max/4; cached by
                               # hw.cost) and give it to the simulator (default); false: the
                               # energy columns cover memory only and say so

    [[point]]                  # optional: an explicit list of points instead of the cross
    recipe = "FP8"             # product; a key left out takes the single value of [axes]
    array = "64x64"            # (an axis with several values may not be left out) or its default

Every value is validated while parsing, so a bad spec fails before any work starts, with a
one-line :class:`reports.errors.SpecError` naming the field: the document's shape (known keys,
types, ranges) by a pydantic model whose first error is reworded into that line, the axis values
by resolving models, recipes and hardware through ``mapping`` and ``sim``.
"""
from __future__ import annotations

import copy
import itertools
import math
import tomllib
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hw.formats import parse as parse_format
from mapping import MODEL_NAMES, RECIPE_NAMES, Recipe, load_model, parse_recipe, recipe_from_dict
from sim import HardwareConfig, load_hardware

from ..errors import SpecError

__all__ = ["AXES", "CHECKPOINT_METRICS", "METRICS", "AccuracySettings", "DesignPoint", "SweepSpec", "load_spec", "spec_from_dict"]

#: metric name -> what it measures (the sources are in ``_sources.py``)
METRICS: dict[str, str] = {
    "latency": "cycles and seconds of the simulated model (sim.simulate)",
    "energy": "energy of the simulated model (sim.simulate, from hw.cost figures)",
    "area": "MAC array area from the characterised unit RTL (hw.cost.characterize)",
    "accuracy": "output error of one layer in numerics mode (sim.run_layer_numerics, hw.numerics.gemm)",
}
ACCUMULATE = ("recipe", "exact", "fp32", "fp16", "bf16")
DATAFLOWS = {"ws": ("ws",), "os": ("os",), "ws+os": ("ws", "os")}

#: axis -> default value (None: take it from the model / base hardware)
AXES: dict[str, Any] = {
    "model": "bert-base", "seq_len": None, "batch": 1, "decode": 0, "recipe": "INT8", "format": None,
    "accumulate": "recipe", "hardware": "default-32x32", "array": None, "dataflow": None,
    "sram_kib": None, "dram_gbps": None,
}
TOP_KEYS = ("name", "description", "metrics", "layers", "axes", "accuracy", "units", "point")
FPGA_FAMILIES = ("ecp5", "ecp5-nodsp", "ice40")


#: metrics of ``sim.evaluate_accuracy`` a sweep can take as its accuracy axis -> how the axis
#: (an error: lower is better) is made from it
CHECKPOINT_METRICS = {"cosine_mean": "1 - cosine_mean", "cosine_min": "1 - cosine_min",
                      "spearman": "1 - spearman", "final_rel_rms": "final_rel_rms",
                      "top1_agreement": "1 - top1_agreement", "kl_mean": "kl_mean"}


@dataclass(frozen=True)
class AccuracySettings:
    """How the accuracy metric runs numerics mode: ``tokens`` input tokens through one layer,
    ``seed`` of the synthetic inputs and weights; with ``checkpoint`` (a resolved model folder)
    and ``text`` (a resolved UTF-8 file), ``metric`` of ``sim.evaluate_accuracy`` on that text
    (lines truncated to ``max_tokens``) is the accuracy axis instead."""

    tokens: int = 16
    seed: int = 0
    checkpoint: str | None = None
    text: str | None = None
    max_tokens: int = 128
    metric: str = "cosine_mean"


@dataclass(frozen=True)
class DesignPoint:
    """One design point: workload + recipe + hardware, as given in the spec (axis values) and
    resolved (``hardware_config``, ``recipe_obj``).

    Attributes
    ----------
    model, seq_len, batch, decode, layers : the workload (``seq_len``: prefill tokens).
    recipe : the recipe as named in the spec; ``recipe_path`` is the resolved path of a TOML
        recipe ("" for a shorthand).
    accumulate : "recipe" or the accumulation mode that replaces the recipe's.
    format : a format name when the point was given by ``format`` rather than ``recipe`` (then
        ``recipe`` is that name too): the uniform recipe of :func:`format_recipe`.
    hardware : the base hardware (preset name or TOML path) as named in the spec.
    array, dataflow, sram_kib, dram_gbps : the overrides (``None``: the base hardware's).
    """

    model: str
    seq_len: int
    batch: int
    decode: int
    layers: int | None
    recipe: str
    recipe_path: str
    accumulate: str
    hardware: str
    array: str | None
    dataflow: str | None
    sram_kib: int | None
    dram_gbps: float | None
    format: str = ""

    def recipe_obj(self) -> Recipe:
        """The resolved recipe (accumulation mode replaced when ``accumulate`` says so)."""
        if self.format:
            r = format_recipe(self.format)
        else:
            r = parse_recipe(Path(self.recipe_path) if self.recipe_path else self.recipe)
        if self.accumulate != "recipe":
            r = replace(r, accumulate=self.accumulate, name=f"{r.name}/acc-{self.accumulate}")
        return r

    def hardware_config(self) -> HardwareConfig:
        """The base hardware with this point's overrides applied."""
        base = load_hardware(Path(self.hardware) if self.hardware.endswith(".toml") else self.hardware)
        kw: dict[str, Any] = {}
        if self.array is not None:
            r, c = (int(v) for v in self.array.split("x"))
            kw.update(array_rows=r, array_cols=c)
        if self.dataflow is not None:
            kw["dataflows"] = DATAFLOWS[self.dataflow]
        if self.sram_kib is not None:
            parts = (base.sram_a_kib, base.sram_b_kib, base.sram_c_kib, base.sram_v_kib)
            total = sum(parts)
            sizes = [max(1, int(self.sram_kib * p // total)) for p in parts]
            kw.update(sram_a_kib=sizes[0], sram_b_kib=sizes[1], sram_c_kib=sizes[2], sram_v_kib=sizes[3])
        if self.dram_gbps is not None:
            kw["dram_gbps_per_channel"] = self.dram_gbps / base.dram_channels
        name = base.name + "".join(f"/{k}={v}" for k, v in (("array", self.array), ("dataflow", self.dataflow),
                                                             ("sram_kib", self.sram_kib),
                                                             ("dram_gbps", self.dram_gbps)) if v is not None)
        return replace(base, name=name, **kw)

    def label(self) -> str:
        """A short human label: recipe, array, and the other axes that are set."""
        hw = self.hardware_config()
        parts = [self.recipe + ("" if self.accumulate == "recipe" else f"/acc-{self.accumulate}"),
                 f"{hw.array_rows}x{hw.array_cols}"]
        if self.dataflow:
            parts.append(self.dataflow)
        if self.sram_kib is not None:
            parts.append(f"{self.sram_kib}KiB")
        if self.dram_gbps is not None:
            parts.append(f"{self.dram_gbps:g}GB/s")
        return " ".join(parts)

    def axis_values(self) -> dict[str, Any]:
        """The point's axis values (the spec's view, for the results table)."""
        return {"model": self.model, "seq_len": self.seq_len, "batch": self.batch, "decode": self.decode,
                "layers": self.layers, "recipe": self.recipe, "format": self.format, "accumulate": self.accumulate,
                "hardware": self.hardware}

    def descriptor(self) -> dict[str, Any]:
        """Everything the point's results depend on, resolved to content (JSON-serialisable):
        the model configuration, the recipe's quantizers and the full hardware configuration
        (so renaming a file does not change it, editing its content does)."""
        return copy.deepcopy(_descriptor(self))

    def _resolved_descriptor(self) -> dict[str, Any]:
        r = self.recipe_obj()
        hw = asdict(self.hardware_config())
        hw.pop("name")
        hw["dram_gbps_per_channel"] = repr(float(hw["dram_gbps_per_channel"]))  # inf is not JSON
        hw["dataflows"] = list(hw["dataflows"])
        model = {k: v for k, v in asdict(load_model(self.model)).items()}
        return {
            "model": model, "seq_len": self.seq_len, "batch": self.batch, "decode": self.decode,
            "layers": self.layers,
            "recipe": {"weights": str(r.weights), "activations": str(r.activations), "kv_cache": str(r.kv_cache),
                       "accumulator": str(r.accumulator), "accumulate": r.accumulate, "nonlinear": r.nonlinear,
                       "nonlinear_io": str(r.nonlinear_io)},
            "hardware": hw,
        }


@lru_cache(maxsize=4096)
def _descriptor(point: DesignPoint) -> dict[str, Any]:
    return point._resolved_descriptor()


@dataclass(frozen=True)
class SweepSpec:
    """A parsed sweep: its name, metrics, accuracy settings and design points (in order)."""

    name: str
    metrics: tuple[str, ...]
    points: tuple[DesignPoint, ...]
    accuracy: AccuracySettings = field(default_factory=AccuracySettings)
    fpga: tuple[str, ...] = ()
    unit_energy: bool = True
    description: str = ""
    source: str = ""


def format_recipe(name: str) -> Recipe:
    """The uniform recipe of one format: weights per output channel and activations per token
    with float32 scales (block formats: their own block scales), FP16 KV cache, exact
    accumulation rounded to float32, float nonlinear units with FP16 I/O."""
    fmt = str(parse_format(name))
    return recipe_from_dict({"name": fmt, "weights": {"format": fmt, "granularity": "channel"},
                             "activations": {"format": fmt, "granularity": "token"}}, source=fmt)


def _fail(where: str, rule: str, value: Any) -> SpecError:
    return SpecError(f"{where} must be {rule}, not {value!r}")


def _int(where: str, v: Any, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        rule = {0: "a non-negative integer", 1: "a positive integer"}.get(lo, f"an integer of at least {lo}")
        raise _fail(where, rule, v)
    return v


def _check_value(src: str, axis: str, where: str, v: Any, base_dir: Path) -> Any:
    """Validate one axis value; returns it normalised (recipe: (name, resolved path))."""
    w = f"{src}: {where}"
    if axis == "model":
        if not isinstance(v, str) or v not in MODEL_NAMES:
            raise _fail(w, f"one of {', '.join(MODEL_NAMES)}", v)
        return v
    if axis == "seq_len":
        return None if v is None else _int(w, v, 1)
    if axis == "batch":
        return _int(w, v, 1)
    if axis == "decode":
        return _int(w, v, 0)
    if axis == "recipe":
        if not isinstance(v, str):
            raise _fail(w, "a recipe shorthand or a .toml path", v)
        if v.endswith(".toml"):
            path = (base_dir / v).resolve()
            try:
                parse_recipe(path)
            except UnicodeDecodeError:
                raise _fail(w, f"a UTF-8 recipe file ({str(path)!r} is not UTF-8)", v) from None
            except ValueError as exc:
                raise SpecError(f"{w}: {exc}") from None
            return (v, str(path))
        try:
            parse_recipe(v)
        except ValueError:
            raise _fail(w, f"a recipe shorthand ({', '.join(RECIPE_NAMES)}) or a .toml path", v) from None
        return (v, "")
    if axis == "format":
        if v is None:
            return None
        if not isinstance(v, str):
            raise _fail(w, "a format name (see `lowbit formats`)", v)
        try:
            format_recipe(v)
        except ValueError as exc:
            raise SpecError(f"{w}: {exc}") from None
        return str(parse_format(v))
    if axis == "accumulate":
        if v not in ACCUMULATE:
            raise _fail(w, f"one of {', '.join(ACCUMULATE)}", v)
        return v
    if axis == "hardware":
        if not isinstance(v, str):
            raise _fail(w, "a hardware preset name or a .toml path", v)
        target = str((base_dir / v).resolve()) if v.endswith(".toml") else v
        try:
            load_hardware(Path(target) if target.endswith(".toml") else target)
        except UnicodeDecodeError:
            raise _fail(w, f"a UTF-8 hardware file ({target!r} is not UTF-8)", v) from None
        except ValueError as exc:
            raise SpecError(f"{w}: {exc}") from None
        return target
    if axis == "array":
        if v is None:
            return None
        ok = isinstance(v, str) and len(v.split("x")) == 2 and all(p.isdigit() and int(p) > 0 for p in v.split("x"))
        if not ok:
            raise _fail(w, "an array size ROWSxCOLS such as '32x32'", v)
        return v
    if axis == "dataflow":
        if v is not None and v not in DATAFLOWS:
            raise _fail(w, f"one of {', '.join(DATAFLOWS)}", v)
        return v
    if axis == "sram_kib":
        return None if v is None else _int(w, v, 4)
    if axis == "dram_gbps":
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 or math.isnan(v):
            raise _fail(w, "a positive number of GB/s (inf for unlimited)", v)
        return float(v)
    raise AssertionError(axis)  # pragma: no cover


class _Table(BaseModel):
    """A TOML table of the spec: unknown keys refused, no type coercion (``"3"`` is not 3)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _AccuracyTable(_Table):
    tokens: int = Field(16, ge=1)
    seed: int = Field(0, ge=0)
    checkpoint: str | None = Field(None, min_length=1)
    text: str | None = Field(None, min_length=1)
    max_tokens: int = Field(128, ge=1)
    metric: Literal[tuple(CHECKPOINT_METRICS)] = "cosine_mean"


class _UnitsTable(_Table):
    fpga: list[Literal["ecp5", "ecp5-nodsp", "ice40"]] = []
    energy: bool = True


class _SpecDocument(_Table):
    """The shape of a sweep spec document (pydantic); the axis values are checked by
    :func:`_check_value`, which resolves models, recipes and hardware."""

    name: str | None = Field(None, min_length=1)
    description: str = ""
    metrics: list[Literal["latency", "energy", "area", "accuracy"]] = Field(default_factory=lambda: list(METRICS),
                                                                         min_length=1)
    layers: int | None = Field(None, ge=1)
    axes: dict[str, Any] = {}
    accuracy: _AccuracyTable = _AccuracyTable()
    units: _UnitsTable = _UnitsTable()
    point: list[dict[str, Any]] | None = Field(None, min_length=1)


#: the rule each document field must follow, worded for the one-line error ("[]" for any index)
_RULES = {
    "name": "a non-empty string", "description": "a string",
    "metrics": f"a non-empty list among {', '.join(METRICS)}", "metrics[]": f"one of {', '.join(METRICS)}",
    "layers": "a positive integer", "axes": "a table", "accuracy": "a table", "units": "a table",
    "accuracy.tokens": "a positive integer", "accuracy.seed": "a non-negative integer",
    "accuracy.checkpoint": "a model folder path", "accuracy.text": "a text file path",
    "accuracy.max_tokens": "a positive integer", "accuracy.metric": f"one of {', '.join(CHECKPOINT_METRICS)}",
    "units.energy": "true or false", "units.fpga": f"a list among {', '.join(FPGA_FAMILIES)}",
    "units.fpga[]": f"one of {', '.join(FPGA_FAMILIES)}", "point": "a non-empty array of tables",
    "point[]": "a non-empty array of tables",
}
_TABLE_NAMES = {"axes": "[axes]", "accuracy": "[accuracy]", "units": "[units]", "point": "[[point]]",
                "point[]": "[[point]]"}
_KEYS = {(): TOP_KEYS, ("accuracy",): ("tokens", "seed", "checkpoint", "text", "max_tokens", "metric"), ("units",): ("fpga", "energy")}


def _where(loc: tuple) -> str:
    return "".join(f"[{x}]" if isinstance(x, int) else (f".{x}" if i else str(x)) for i, x in enumerate(loc))


def _spec_error(source: str, exc: ValidationError) -> SpecError:
    """The first error of a pydantic validation, in our one-line format naming the field."""
    errors = exc.errors(include_url=False)
    extra = [e for e in errors if e["type"] == "extra_forbidden"]
    e = min(extra, key=lambda e: len(e["loc"])) if extra else errors[0]
    loc = tuple(e["loc"])
    if e["type"] == "extra_forbidden":
        parent = loc[:-1]
        what = "top-level key" if not parent else f"{_where(parent)} key"
        return _fail(f"{source}: {what}", f"one of {', '.join(_KEYS[parent])}", loc[-1])
    generic = _where(tuple("[]" if isinstance(x, int) else x for x in loc)).replace(".[]", "[]")
    rule = _RULES.get(generic, e["msg"].lower())
    table_error = e["type"] in ("model_type", "dict_type") or generic == "point"
    where = _TABLE_NAMES.get(generic, _where(loc)) if table_error else _where(loc)
    return _fail(f"{source}: {where}", rule, e.get("input"))


def _parse_document(data: Any, source: str) -> _SpecDocument:
    """Phase 1: the document's shape (pydantic): known keys, types and ranges of every field
    but the axis values."""
    if not isinstance(data, dict):
        raise _fail(f"{source}: spec", "a table", data)
    try:
        return _SpecDocument.model_validate(data)
    except ValidationError as exc:
        raise _spec_error(source, exc) from None


def _axis_values(doc: _SpecDocument, source: str, base_dir: Path) -> dict[str, list]:
    """Phase 2: every value of ``[axes]``, checked and resolved (a scalar is a 1-element list)."""
    values: dict[str, list] = {}
    for axis, raw in doc.axes.items():
        if axis not in AXES:
            raise _fail(f"{source}: axes key", f"one of {', '.join(AXES)}", axis)
        lst = raw if isinstance(raw, list) else [raw]
        if not lst:
            raise _fail(f"{source}: axes.{axis}", "a non-empty list", raw)
        values[axis] = [_check_value(source, axis, f"axes.{axis}[{i}]" if isinstance(raw, list) else f"axes.{axis}",
                                     v, base_dir) for i, v in enumerate(lst)]
    if "format" in values and "recipe" in values:
        raise _fail(f"{source}: axes.format", "left out when axes.recipe is given (one or the other)", values["format"])
    return values


def _combinations(doc: _SpecDocument, values: dict[str, list], source: str, base_dir: Path) -> list[dict[str, Any]]:
    """Phase 3: the axis combinations, from ``[[point]]`` (keys left out take the single value
    of ``[axes]`` or the default) or the cross product of ``[axes]``."""
    if doc.point is None:
        names = list(AXES)
        lists = [values.get(a, [_check_value(source, a, a, AXES[a], base_dir)]) for a in names]
        return [dict(zip(names, c)) for c in itertools.product(*lists)]
    combos = []
    for i, p in enumerate(doc.point):
        combo = {}
        for axis in AXES:
            if axis in p:
                combo[axis] = _check_value(source, axis, f"point[{i}].{axis}", p[axis], base_dir)
            elif axis in values:
                if len(values[axis]) != 1:
                    raise _fail(f"{source}: point[{i}].{axis}", "given (axes." + axis + " has several values)", None)
                combo[axis] = values[axis][0]
            else:
                combo[axis] = _check_value(source, axis, axis, AXES[axis], base_dir)
        for key in p:
            if key not in AXES:
                raise _fail(f"{source}: point[{i}] key", f"one of {', '.join(AXES)}", key)
        if "format" in p and "recipe" in p:
            raise _fail(f"{source}: point[{i}].format", "left out when point[{i}].recipe is given", p["format"])
        combos.append(combo)
    return combos


def _design_points(combos: list[dict[str, Any]], layers: int | None, source: str) -> tuple[DesignPoint, ...]:
    """Phase 4: the frozen design points (duplicates dropped, in order), each checked against
    its model and hardware."""
    points = []
    seen = set()
    for i, c in enumerate(combos):
        model = load_model(c["model"])
        seq = c["seq_len"] if c["seq_len"] is not None else model.default_tokens
        rname, rpath = c["recipe"]
        if c["format"] is not None:
            rname, rpath = c["format"], ""
        pt = DesignPoint(model=c["model"], seq_len=seq, batch=c["batch"], decode=c["decode"], layers=layers,
                         recipe=rname, recipe_path=rpath, accumulate=c["accumulate"], hardware=c["hardware"],
                         array=c["array"], dataflow=c["dataflow"], sram_kib=c["sram_kib"],
                         dram_gbps=c["dram_gbps"], format=c["format"] or "")
        try:
            pt.hardware_config()
        except ValueError as exc:
            raise SpecError(f"{source}: point {i} ({pt.label()}): {exc}") from None
        if seq + c["decode"] > model.max_positions:
            raise _fail(f"{source}: point {i} seq_len + decode", f"at most the {model.max_positions} positions "
                        f"of {model.name}", seq + c["decode"])
        if c["decode"] and not model.decoder:
            raise _fail(f"{source}: point {i} decode", f"0 for the encoder {model.name}", c["decode"])
        if layers is not None and layers > model.n_layers:
            raise _fail(f"{source}: layers", f"at most the {model.n_layers} layers of {model.name}", layers)
        if pt in seen:
            continue
        seen.add(pt)
        points.append(pt)
    return tuple(points)


def spec_from_dict(data: dict, *, source: str = "spec", base_dir: str | Path = ".") -> SweepSpec:
    """Build a :class:`SweepSpec` from a parsed TOML document (see the module docstring), in four
    phases: the document's shape (a pydantic model), the axis values, their combinations, and
    the design points.

    Raises
    ------
    SpecError
        For an unknown key, axis or metric, a bad value, or a point the hardware cannot take;
        the message names the field ("<source>: <field> must be <rule>, not <value!r>").
    """
    base_dir = Path(base_dir)
    doc = _parse_document(data, source)
    values = _axis_values(doc, source, base_dir)
    combos = _combinations(doc, values, source, base_dir)
    points = _design_points(combos, doc.layers, source)
    return SweepSpec(name=doc.name if doc.name is not None else Path(source).stem, metrics=tuple(doc.metrics),
                     points=points, accuracy=_accuracy_settings(doc, source, base_dir),
                     fpga=tuple(doc.units.fpga), unit_energy=doc.units.energy, description=doc.description,
                     source=source)


def _accuracy_settings(doc: _SpecDocument, source: str, base_dir: Path) -> AccuracySettings:
    """``[accuracy]`` with its checkpoint folder and text file resolved (relative to the spec)
    and checked: both or neither, a folder with config.json, a readable UTF-8 text with a line."""
    acc = doc.accuracy
    if (acc.checkpoint is None) != (acc.text is None):
        given = "checkpoint" if acc.text is None else "text"
        raise _fail(f"{source}: accuracy.{'text' if given == 'checkpoint' else 'checkpoint'}",
                    f"given together with accuracy.{given}", None)
    ckpt = text = None
    if acc.checkpoint is not None:
        from reports.commands.accuracy import read_text_lines

        folder = (base_dir / acc.checkpoint).resolve()
        if not (folder / "config.json").is_file():
            raise _fail(f"{source}: accuracy.checkpoint", "a model folder holding config.json", acc.checkpoint)
        path = (base_dir / acc.text).resolve()
        try:
            read_text_lines(path)
        except (OSError, ValueError) as exc:
            raise _fail(f"{source}: accuracy.text", f"a readable UTF-8 text file with a line ({exc})", acc.text) from None
        ckpt, text = str(folder), str(path)
    return AccuracySettings(acc.tokens, acc.seed, ckpt, text, acc.max_tokens, acc.metric)


def read_text_file(path: str | Path, what: str, *, error: type[ValueError] = ValueError) -> str:
    """The text of ``path``, a readable UTF-8 file; else ``error`` naming ``what`` and the file
    (the one reader of the commands' text inputs)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise error(f"{what} must be a readable file, not {str(p)!r} ({exc.strerror})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{what} must be a UTF-8 text file, not {str(p)!r} (byte 0x{data[exc.start]:02x} at "
                    f"offset {exc.start} is not UTF-8)") from None


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep spec TOML file (see the module docstring).

    Raises
    ------
    SpecError
        Unreadable file, invalid TOML, or a bad field (named in the message).
    """
    path = Path(path)
    text = read_text_file(path, "sweep spec", error=SpecError)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"sweep spec {str(path)!r} must be valid TOML, not ({exc})") from None
    return spec_from_dict(data, source=path.name, base_dir=path.resolve().parent)
