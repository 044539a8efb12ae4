"""Quantization recipes: which quantizer (format + scale granularity) each tensor uses.

A ``Recipe`` names the quantizer of the weights, the activations (GEMM inputs, attention
probabilities, queries), the KV cache, the accumulator (format the array's exact accumulator is
rounded to, and how it accumulates) and the nonlinear units (float units with ``io_format``
I/O, or I-BERT's integer shift-add kernels). ``parse_recipe`` resolves the shorthands once;
``load_recipe_toml`` reads anything else (see ``examples/recipe_w4a8_g64.toml``).

Shorthands (choices stated, not hidden):

========== ================================ ============================ ======================
name       weights                          activations                  KV cache
========== ================================ ============================ ======================
FP16       float16, tensor                  float16, tensor              float16
BF16       bfloat16, tensor                 bfloat16, tensor             bfloat16
INT8       int8, per output channel (fp32)  int8, per token (fp32)       float16
W4A8       int4 sym, groups of 128 (fp16)   int8, per token (fp32)       float16
W4A8-FP8   int4 sym, groups of 128 (fp16)   e4m3fn, per tensor (fp32)    float16
FP8        e4m3fn, per channel (fp32)       e4m3fn, per tensor (fp32)    e4m3fn, per tensor
FP6        e3m2fn, per channel (fp16)       float16 (weight-only, FP6-LLM) float16
MXFP4      mxfp4 (blocks of 32, E8M0)       mxfp4                        float16
MXFP8      mxfp8_e4m3                       mxfp8_e4m3                   float16
W4A8KV4    as W4A8                          as W4A8                      int4, groups of 64 (fp16)
I-BERT     int8, per channel (fp32)         int8, per tensor (fp32)      int8, per tensor
I-ViT      int8, per channel (fp32)         int8, per tensor (fp32)      int8, per tensor
========== ================================ ============================ ======================

Nonlinear kernels (``Recipe.nonlinear``; ``NONLINEAR_KERNELS`` gives function -> kernel of
``hw.nonlinear``): ``float`` units with ``nonlinear_io`` I/O for the float recipes; ``ibert``
(I-BERT: i-GELU, i-exp softmax, i-sqrt LayerNorm) and ``ivit`` (I-ViT: Shiftmax, ShiftGELU,
I-LayerNorm), both with I-LLM-style integer RMSNorm and SiLU for LLaMA-class layers, and
integer (dyadic) requantisation between ops.

Group scales are expressed as block formats (``int4_sym_x128_float16``) so that the golden
GEMM applies them inside the reduction, exactly as hardware that dequantizes per group does.
Accumulation is exact (DESIGN.md decision 1), rounded to float32 (int32 for I-BERT, I-ViT).

Recipe TOML is validated by pydantic models (unknown keys in any table are refused; errors keep
the one-line form "recipe [<table>] <key> must be <rule>, not <value!r>").
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from hw.formats import GRANULARITIES, BlockFormat, Format, IntFormat, Quantizer, parse

from .errors import RecipeError

__all__ = ["Recipe", "parse_recipe", "load_recipe_toml", "RECIPE_NAMES", "recipe_from_dict", "NONLINEAR_KINDS",
           "NONLINEAR_KERNELS"]

NONLINEAR_KINDS = ("float", "ibert", "ivit")
#: integer nonlinear kind -> model function -> ``hw.nonlinear`` kernel name
NONLINEAR_KERNELS: dict[str, dict[str, str]] = {
    "ibert": {"softmax": "ibert_int_softmax", "gelu": "ibert_int_gelu", "layernorm": "ibert_int_layernorm",
              "rmsnorm": "int_rmsnorm", "silu_mul": "int_silu"},
    "ivit": {"softmax": "ivit_shiftmax", "gelu": "ivit_shiftgelu", "layernorm": "ivit_int_layernorm",
             "rmsnorm": "int_rmsnorm", "silu_mul": "int_silu"},
}


@dataclass(frozen=True)
class Recipe:
    """Which quantizer each tensor of a transformer layer uses.

    Attributes
    ----------
    name : shorthand or TOML name.
    weights, activations, kv_cache : ``hw.formats.Quantizer`` of each tensor class.
    accumulator : format the exact accumulator is rounded to at the array output.
    accumulate : "exact" or a float accumulation format name ("fp32").
    nonlinear : "float" (softmax/GELU/norm in a float unit with ``nonlinear_io`` I/O), "ibert"
        (I-BERT's integer kernels) or "ivit" (I-ViT's shift-add kernels); see ``kernels``.
    nonlinear_io : format of the nonlinear units' inputs and outputs.
    """

    name: str
    weights: Quantizer
    activations: Quantizer
    kv_cache: Quantizer
    accumulator: Format
    accumulate: str = "exact"
    nonlinear: str = "float"
    nonlinear_io: Format = parse("float16")

    @property
    def kernels(self) -> dict[str, str]:
        """Model function -> ``hw.nonlinear`` kernel of an integer recipe (empty for float)."""
        return dict(NONLINEAR_KERNELS.get(self.nonlinear, {}))

    def bytes_per_element(self, role: str) -> float:
        """Storage bytes per element of a tensor of ``role`` ("weight", "activation", "kv",
        "accumulator", "nonlinear"), amortised scales included."""
        q = {"weight": self.weights, "activation": self.activations, "kv": self.kv_cache}.get(role)
        if q is not None:
            return q.bits_per_element / 8
        if role == "accumulator":
            return self.accumulator.bits / 8
        if role == "nonlinear":
            return self.nonlinear_io.bits_per_element / 8
        raise RecipeError(f"tensor role must be weight, activation, kv, accumulator or nonlinear, not {role!r}")


def _q(fmt: str, gran: str = "tensor", group: int | None = None, scale: str = "float32") -> Quantizer:
    f = parse(fmt)
    if gran == "group":  # groups along the reduction axis as a block format with a float scale
        el = f
        if isinstance(el, IntFormat) and el.signed and not el.symmetric:
            el = IntFormat(el.bits, symmetric=True)
        return Quantizer(BlockFormat(el, group, parse(scale)), "block")
    if isinstance(f, BlockFormat):
        return Quantizer(f, "block")
    return Quantizer(f, gran, None, parse(scale))


def _builtin() -> dict[str, Recipe]:
    f32, i32 = parse("float32"), parse("int32")
    fp16 = _q("float16")
    w4 = _q("int4", "group", 128, "float16")
    a8 = _q("int8", "token")
    return {
        "FP16": Recipe("FP16", fp16, fp16, fp16, f32),
        "BF16": Recipe("BF16", _q("bfloat16"), _q("bfloat16"), _q("bfloat16"), f32, nonlinear_io=parse("bfloat16")),
        "INT8": Recipe("INT8", _q("int8", "channel"), a8, fp16, f32),
        "W4A8": Recipe("W4A8", w4, a8, fp16, f32),
        "W4A8-FP8": Recipe("W4A8-FP8", w4, _q("e4m3fn"), fp16, f32),
        "FP8": Recipe("FP8", _q("e4m3fn", "channel"), _q("e4m3fn"), _q("e4m3fn"), f32),
        "FP6": Recipe("FP6", _q("e3m2fn", "channel", scale="float16"), fp16, fp16, f32),
        "MXFP4": Recipe("MXFP4", _q("mxfp4"), _q("mxfp4"), fp16, f32),
        "MXFP8": Recipe("MXFP8", _q("mxfp8_e4m3"), _q("mxfp8_e4m3"), fp16, f32),
        "W4A8KV4": Recipe("W4A8KV4", w4, a8, _q("int4", "group", 64, "float16"), f32),
        "I-BERT": Recipe("I-BERT", _q("int8", "channel"), _q("int8"), _q("int8"), i32,
                         nonlinear="ibert", nonlinear_io=parse("int8")),
        "I-VIT": Recipe("I-ViT", _q("int8", "channel"), _q("int8"), _q("int8"), i32,
                        nonlinear="ivit", nonlinear_io=parse("int8")),
    }


_RECIPES = _builtin()
RECIPE_NAMES = tuple(r.name for r in _RECIPES.values())
_ALIASES = {"W8A8": "INT8", "IBERT": "I-BERT", "IVIT": "I-VIT", "FP8-E4M3": "FP8", "FP6-E3M2": "FP6", "MXFP8-E4M3": "MXFP8"}


def parse_recipe(name: str | Path) -> Recipe:
    """The recipe ``name`` (a shorthand, case-insensitive) or read from a ``.toml`` path.

    Raises
    ------
    RecipeError
        If the name is unknown or the TOML is invalid.
    """
    if isinstance(name, Path) or str(name).endswith(".toml"):
        return load_recipe_toml(name)
    if not isinstance(name, str):
        raise RecipeError(f"recipe must be a shorthand name or a .toml path, not {name!r}")
    key = name.strip().upper()
    key = _ALIASES.get(key, key)
    if key not in _RECIPES:
        raise RecipeError(f"recipe must be one of {', '.join(RECIPE_NAMES)} or a .toml path, not {name!r}")
    return _RECIPES[key]


class _Tensor(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    format: str
    granularity: Literal["tensor", "channel", "token", "group", "block"] = "tensor"
    group_size: int | None = None
    scale_format: str = "float32"


class _Accumulator(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    format: str = "float32"
    mode: Literal["exact", "fp32", "fp16", "bf16"] = "exact"


class _Nonlinear(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    kind: Literal["float", "ibert", "ivit"] = "float"
    io_format: str = "float16"


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: object = None
    weights: object = None
    activations: object = None
    kv_cache: object = None
    accumulator: object = None
    nonlinear: object = None


_RULES = {
    ("format",): "a format name", ("scale_format",): "a format name", ("io_format",): "a format name",
    ("granularity",): f"one of {', '.join(GRANULARITIES)}", ("group_size",): "a positive integer",
    ("mode",): "one of exact, fp32, fp16, bf16", ("kind",): f"one of {', '.join(NONLINEAR_KINDS)}",
}


def _validated(model: type[BaseModel], table, what: str, source: str) -> BaseModel:
    """``table`` checked by ``model``: unknown keys, missing ``format`` and bad values raise one
    ``RecipeError`` line naming the table and key."""
    if not isinstance(table, dict):
        raise RecipeError(f"recipe [{what}] must be a table ({source}), not {table!r}")
    allowed = sorted(model.model_fields)
    extra = sorted(set(table) - set(allowed))
    if extra:
        raise RecipeError(f"recipe [{what}] keys must be among {allowed}, not {extra!r}")
    try:
        return model.model_validate(table)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = err["loc"][0]
        if err["type"] == "missing":
            raise RecipeError(f"recipe [{what}] must have a {key!r}, not only {sorted(table)!r}") from None
        raise RecipeError(f"recipe [{what}] {key} must be {_RULES[(key,)]}, not {table[key]!r}") from None


def _quantizer_from(table, what: str, source: str = "recipe") -> Quantizer:
    t = _validated(_Tensor, table, what, source)
    if t.granularity == "group" and (t.group_size is None or t.group_size < 1):
        raise RecipeError(f"recipe [{what}] group_size must be a positive integer with granularity 'group', "
                          f"not {t.group_size!r}")
    if t.granularity != "group" and t.group_size is not None:
        raise RecipeError(f"recipe [{what}] group_size must be absent unless granularity is 'group', "
                          f"not {t.group_size!r}")
    try:
        return _q(t.format, t.granularity, t.group_size, t.scale_format)
    except ValueError as exc:
        raise RecipeError(f"recipe [{what}]: {exc}") from None


def recipe_from_dict(data: dict, *, source: str = "recipe") -> Recipe:
    """Build a recipe from a parsed TOML document (see ``load_recipe_toml``).

    Raises
    ------
    RecipeError
        An unknown table or key, a missing table, or a bad value (named in the message).
    """
    allowed = sorted(_Document.model_fields)
    extra = sorted(set(data) - set(allowed))
    if extra:
        raise RecipeError(f"recipe keys must be among {allowed} ({source}), not {extra!r}")
    for key in ("weights", "activations"):
        if key not in data:
            raise RecipeError(f"recipe must have a [{key}] table ({source}), not only {sorted(data)!r}")
    w = _quantizer_from(data["weights"], "weights", source)
    a = _quantizer_from(data["activations"], "activations", source)
    kv = _quantizer_from(data.get("kv_cache", {"format": "float16"}), "kv_cache", source)
    acc = _validated(_Accumulator, data.get("accumulator", {}), "accumulator", source)
    nl = _validated(_Nonlinear, data.get("nonlinear", {}), "nonlinear", source)
    try:
        acc_fmt = parse(acc.format)
        io = parse(nl.io_format)
    except ValueError as exc:
        raise RecipeError(f"recipe ({source}): {exc}") from None
    name = data.get("name", Path(source).stem)
    return Recipe(str(name), w, a, kv, acc_fmt, acc.mode, nl.kind, io)


def load_recipe_toml(path: str | Path) -> Recipe:
    """Read a recipe TOML file: ``name``, tables ``[weights]``, ``[activations]``,
    ``[kv_cache]`` (format, granularity, group_size, scale_format), ``[accumulator]``
    (format, mode) and ``[nonlinear]`` (kind: float, ibert or ivit; io_format).

    Raises
    ------
    RecipeError
        Unreadable file, invalid TOML or a bad field (named in the message).
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise RecipeError(f"recipe {str(path)!r} must be UTF-8 text, not binary") from None
    except OSError as exc:
        raise RecipeError(f"recipe path must be a readable file, not {str(path)!r} ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"recipe {str(path)!r} must be valid TOML, not ({exc})") from None
    return recipe_from_dict(data, source=str(path))
