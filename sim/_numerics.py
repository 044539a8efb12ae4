"""Numerics mode: real tensors through one layer, every GEMM on the bit-exact golden model
``hw.numerics.gemm`` (exact accumulation, rounded once to the recipe's accumulator format), and
the error of the layer output against a float64 reference run of the same layer.

Per GEMM: the A operand (activations, queries, attention probabilities) is quantized with the
recipe's activation quantizer, B with the weight quantizer (weights, stored out x in and
quantized along the reduction axis) or the KV-cache quantizer (keys, values). Block formats
(MX, and group scales expressed as block formats) pass their scale codes to the golden GEMM;
per-tensor / per-channel / per-token scales are factored out of the reduction and multiplied
into the float32 output afterwards (exact for scales along M and N). A 16-bit float quantizer
(FP16/BF16) encodes values directly, without a scale. Values along a reduction axis that do not
match a block layout (per-token scales of V) are dequantized and re-encoded in FP16 first; the
record says so.

Nonlinear ops (softmax, GELU, LayerNorm, RMSNorm, SiLU) of float recipes run in float64 on the
dequantized inputs and round their output to ``recipe.nonlinear_io`` — a float unit's rounding,
not an RTL golden model. Residual adds of float recipes are float64.

Integer-only recipes (``Recipe.kernels`` not empty: I-BERT, I-ViT) run the forward pass's layer
(``sim._forward``: one layer function, one integer backend) on a one-layer checkpoint holding the
same weights (unit norm weights, zero norm biases, no linear biases), so the synthetic axis and
the checkpoint axis compute an integer-only layer the same way: int8 x int8 GEMMs into the int32
accumulator, dyadic integer requantisation between every pair of ops (at the forward pass's
widths, ``_IntBackend``), residual adds of requantised integers, and the recipe's bit-exact
integer kernels (I-BERT's i-exp softmax, i-GELU and i-sqrt LayerNorm; I-ViT's Shiftmax, ShiftGELU
and I-LayerNorm; integer RMSNorm and SiLU·up for LLaMA-class layers). The layer's input is quantized
once to the integers the previous layer hands over (int8 LayerNorm outputs for post-LN BERT, the
16-bit residual stream otherwise); from there to the integer output no float op runs (the
backend's ``trace`` records the dtypes at every op boundary). Static activation scales are
calibrated on the float64 run of the same layer and input (per-site max |x|, as the forward
pass calibrates on its calibration lines); the output is dequantized only to be measured.

Rotary embeddings are not applied (they do not change the GEMM numerics studied here);
attention uses a causal mask for decoders.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

from hw.formats import BlockFormat, FloatFormat, IntFormat
from hw.numerics import gemm
from mapping import Checkpoint, ModelConfig, Recipe, load_model, parse_recipe

from ._forward import _FloatBackend, _Int, _IntBackend, _layer
from ._operands import quantize_operand
from .errors import SimulationError

__all__ = ["NumericsResult", "GemmRecord", "run_layer_numerics", "seeded_weights", "check_gemm_record",
           "numerics_bytes", "NUMERICS_MAX_BYTES"]


@dataclass
class GemmRecord:
    """One GEMM as run on the golden model: operand codes/formats/scales and the output codes.
    Integer-only recipes run one attention GEMM per query head (``note`` names it), float recipes
    one per KV head with its query heads stacked."""

    name: str
    a_codes: np.ndarray
    a_fmt: object
    a_scales: np.ndarray | None
    b_codes: np.ndarray
    b_fmt: object
    b_scales: np.ndarray | None
    out_fmt: object
    out_codes: np.ndarray
    note: str = ""


@dataclass
class NumericsResult:
    """Layer output (quantized run) and float64 reference, per-op errors, GEMM records.

    ``input``: the layer's input (tokens x d_model float64, N(0, 1)); ``trace``: (site, op, input
    dtypes, output dtype) of every op boundary of an integer-only recipe's run (the forward pass's
    integer backend trace), empty for float recipes."""

    model: str
    recipe: str
    tokens: int
    output: np.ndarray
    reference: np.ndarray
    errors: pd.DataFrame
    gemms: list = field(default_factory=list, repr=False)
    trace: list = field(default_factory=list, repr=False)
    input: np.ndarray | None = field(default=None, repr=False)

    @property
    def rel_rms_error(self) -> float:
        """||out - ref||_2 / ||ref||_2 of the layer output."""
        return float(np.linalg.norm(self.output - self.reference) / np.linalg.norm(self.reference))

    @property
    def max_abs_error(self) -> float:
        return float(np.max(np.abs(self.output - self.reference)))

    def gemm_checks(self, *, samples: int = 16) -> pd.DataFrame:
        """Per GEMM: formats and how many sampled outputs of the golden GEMM equal the
        independent exact-rational reference (``check_gemm_record``)."""
        rows = []
        for rec in self.gemms:
            eq, n = check_gemm_record(rec, samples=samples)
            rows.append({"gemm": rec.name, "a_fmt": str(rec.a_fmt), "b_fmt": str(rec.b_fmt),
                         "shape": f"{rec.a_codes.shape[0]}x{rec.a_codes.shape[1]}x{rec.b_codes.shape[1]}",
                         "equal": int(eq), "checked": n})
        return pd.DataFrame(rows)


def _weight_shapes(m: ModelConfig) -> dict[str, tuple[int, int]]:
    d, hd = m.d_model, m.head_dim
    shapes = {"q_proj": (m.n_heads * hd, d), "k_proj": (m.n_kv_heads * hd, d), "v_proj": (m.n_kv_heads * hd, d),
              "o_proj": (d, m.n_heads * hd)}
    if m.ffn == "silu_gated":
        shapes |= {"gate_proj": (m.d_ff, d), "up_proj": (m.d_ff, d), "down_proj": (d, m.d_ff)}
    else:
        shapes |= {"ffn_up": (m.d_ff, d), "ffn_down": (d, m.d_ff)}
    return shapes


def seeded_weights(model: ModelConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded Gaussian weights (out x in, float32, std 1/sqrt(in)) for one layer of ``model``."""
    rng = np.random.default_rng(seed)
    return {name: (rng.standard_normal((n, k), dtype=np.float32) / np.float32(math.sqrt(k)))
            for name, (n, k) in _weight_shapes(model).items()}


#: our op name -> Hugging Face parameter name patterns ({i}: layer index) of one layer
_HF_NAMES = {
    "q_proj": ("model.layers.{i}.self_attn.q_proj.weight", "bert.encoder.layer.{i}.attention.self.query.weight",
               "encoder.layer.{i}.attention.self.query.weight"),
    "k_proj": ("model.layers.{i}.self_attn.k_proj.weight", "bert.encoder.layer.{i}.attention.self.key.weight",
               "encoder.layer.{i}.attention.self.key.weight"),
    "v_proj": ("model.layers.{i}.self_attn.v_proj.weight", "bert.encoder.layer.{i}.attention.self.value.weight",
               "encoder.layer.{i}.attention.self.value.weight"),
    "o_proj": ("model.layers.{i}.self_attn.o_proj.weight", "bert.encoder.layer.{i}.attention.output.dense.weight",
               "encoder.layer.{i}.attention.output.dense.weight"),
    "gate_proj": ("model.layers.{i}.mlp.gate_proj.weight",),
    "up_proj": ("model.layers.{i}.mlp.up_proj.weight",),
    "down_proj": ("model.layers.{i}.mlp.down_proj.weight",),
    "ffn_up": ("bert.encoder.layer.{i}.intermediate.dense.weight", "encoder.layer.{i}.intermediate.dense.weight"),
    "ffn_down": ("bert.encoder.layer.{i}.output.dense.weight", "encoder.layer.{i}.output.dense.weight"),
}


def _read_weights_file(path: Path) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        if path.suffix == ".npz":
            with np.load(path) as z:
                return {k: z[k] for k in z.files}
        if path.suffix == ".safetensors":
            return load_file(str(path))
    except OSError as exc:
        raise SimulationError(f"weights file must be readable, not {str(path)!r} ({exc})") from None
    except (SafetensorError, ValueError) as exc:
        raise SimulationError(f"weights file must be a valid {path.suffix} file, not {str(path)!r} ({exc})") from None
    raise SimulationError(f"weights file must be a .npz or .safetensors file of out x in arrays, not {str(path)!r}")


def _load_weights(model: ModelConfig, weights, layer: int) -> dict[str, np.ndarray]:
    if isinstance(weights, (str, Path)):
        weights = _read_weights_file(Path(weights))
    out = {}
    for name, shape in _weight_shapes(model).items():
        keys = [name] + [p.format(i=layer) for p in _HF_NAMES.get(name, ())]
        key = next((k for k in keys if k in weights), None)
        if key is None:
            raise SimulationError(f"weights must include {name!r} of shape {shape} (or its Hugging Face name for "
                                  f"layer {layer}), not only {sorted(weights)[:8]!r}")
        w = np.asarray(weights[key], dtype=np.float64 if np.asarray(weights[key]).dtype == np.float64 else np.float32)
        if w.shape != shape:
            raise SimulationError(f"weights {key!r} must have shape {shape} (out x in), not {w.shape}")
        out[name] = w
    return out


class _Layer:
    """The layer in float64 (``recipe`` None: the reference) or under a float recipe: GEMMs on the
    golden model, nonlinear ops in float64 rounded to ``recipe.nonlinear_io``."""

    def __init__(self, model: ModelConfig, recipe: Recipe | None, weights: dict):
        self.m, self.r, self.w = model, recipe, weights
        self.records: list[GemmRecord] = []
        self.outputs: dict[str, np.ndarray] = {}

    # ---- primitives ---------------------------------------------------------------------
    def matmul(self, name: str, a: np.ndarray, b_nk: np.ndarray, b_role: str) -> np.ndarray:
        """a (M x K) @ b_nk.T, b_nk (N x K) stored with the reduction along its last axis."""
        if self.r is None:
            out = a @ b_nk.T.astype(np.float64)
            self.outputs[name] = out
            return out
        qa = self.r.activations
        qb = {"weight": self.r.weights, "kv": self.r.kv_cache, "activation": self.r.activations}[b_role]
        ac, af, asc, aouter = quantize_operand(qa, a)
        bc, bf, bsc, bouter = quantize_operand(qb, b_nk)
        out_fmt = self.r.accumulator
        codes = gemm(ac, af, bc.T, bf, out_fmt, self.r.accumulate, a_scales=asc,
                     b_scales=None if bsc is None else bsc.T,
                     overflow="saturate" if isinstance(out_fmt, IntFormat) else "default")
        self.records.append(GemmRecord(name, ac, af, asc, bc.T, bf, None if bsc is None else bsc.T, out_fmt, codes))
        out = out_fmt.decode(codes)
        lsb = np.ones(out.shape)
        if aouter is not None:
            lsb = lsb * aouter
        if bouter is not None:
            lsb = lsb * (bouter.T if np.ndim(bouter) else bouter)
        out = out * lsb
        self.outputs[name] = out
        return out

    def io(self, x: np.ndarray) -> np.ndarray:
        """Round a nonlinear unit's output to the recipe's nonlinear I/O format."""
        if self.r is None:
            return x
        f = self.r.nonlinear_io
        if isinstance(f, FloatFormat):
            return f.decode(f.encode(x, overflow="saturate"))
        return x

    def norm(self, x: np.ndarray) -> np.ndarray:
        if self.m.norm == "rmsnorm":
            y = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + 1e-5)
        else:
            mu = x.mean(axis=-1, keepdims=True)
            y = (x - mu) / np.sqrt(x.var(axis=-1, keepdims=True) + 1e-12)
        return self.io(y)

    # ---- the layer ----------------------------------------------------------------------
    def attention(self, h: np.ndarray) -> np.ndarray:
        m = self.m
        S, hd, g = h.shape[0], m.head_dim, m.group_size
        q = self.matmul("q_proj", h, self.w["q_proj"], "weight")
        k = self.matmul("k_proj", h, self.w["k_proj"], "weight")
        v = self.matmul("v_proj", h, self.w["v_proj"], "weight")
        ctx = np.empty((S, m.n_heads * hd))
        mask = np.triu(np.full((S, S), -np.inf), 1) if m.decoder else 0.0
        kv_role = "kv" if m.decoder else "activation"
        for j in range(m.n_kv_heads):
            kj = k[:, j * hd:(j + 1) * hd]
            vj = v[:, j * hd:(j + 1) * hd]
            qs = np.concatenate([q[:, (j * g + i) * hd:(j * g + i + 1) * hd] for i in range(g)], axis=0)
            sc = self.matmul(f"attn_scores[{j}]", qs, kj, kv_role) / math.sqrt(hd)
            sc = sc + np.tile(mask, (g, 1)) if m.decoder else sc
            p = np.exp(sc - sc.max(axis=-1, keepdims=True))
            p = self.io(p / p.sum(axis=-1, keepdims=True))
            c = self.matmul(f"attn_context[{j}]", p, self._v_operand(vj), kv_role)
            for i in range(g):
                ctx[:, (j * g + i) * hd:(j * g + i + 1) * hd] = c[i * S:(i + 1) * S]
        return self.matmul("o_proj", ctx, self.w["o_proj"], "weight")

    def _v_operand(self, vj: np.ndarray) -> np.ndarray:
        """V as the N x K operand of P @ V (reduction over tokens): V transposed."""
        return vj.T.copy()

    def ffn(self, h: np.ndarray) -> np.ndarray:
        if self.m.ffn == "silu_gated":
            gt = self.matmul("gate_proj", h, self.w["gate_proj"], "weight")
            up = self.matmul("up_proj", h, self.w["up_proj"], "weight")
            a = self.io(gt / (1 + np.exp(-gt)) * up)
            return self.matmul("down_proj", a, self.w["down_proj"], "weight")
        u = self.matmul("ffn_up", h, self.w["ffn_up"], "weight")
        if self.m.ffn == "relu":
            a = self.io(np.maximum(u, 0.0))
        else:
            a = self.io(0.5 * u * (1 + _erf(u / math.sqrt(2))))
        return self.matmul("ffn_down", a, self.w["ffn_down"], "weight")

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.m.model_type == "bert":  # post-LN
            x = self.norm(x + self.attention(x))
            return self.norm(x + self.ffn(x))
        x = x + self.attention(self.norm(x))
        return x + self.ffn(self.norm(x))


#: numerics mode's op name -> the canonical checkpoint name of the same weight (``mapping.Checkpoint``)
_CHECKPOINT_NAMES = {"q_proj": "q", "k_proj": "k", "v_proj": "v", "o_proj": "o", "gate_proj": "gate",
                     "up_proj": "up", "down_proj": "down", "ffn_up": "up", "ffn_down": "down"}


def _layer_checkpoint(model: ModelConfig, weights: dict[str, np.ndarray]) -> Checkpoint:
    """Layer 0 of ``model`` as a ``mapping.Checkpoint`` holding ``weights`` (float64, exact),
    unit norm weights and zero norm biases, the norm epsilons and GELU of the float64 reference
    (``_Layer``): the layer the forward pass's ``_layer`` computes is the reference's layer."""
    if model.ffn == "relu":
        raise SimulationError(f"numerics mode with integer kernels must have a GELU or SwiGLU FFN, not relu "
                              f"({model.name})")
    family = "bert" if model.model_type == "bert" else "llama" if model.ffn == "silu_gated" else "gpt2"
    if (model.norm == "rmsnorm") != (family == "llama"):
        raise SimulationError(f"numerics mode with integer kernels must have RMSNorm exactly with a SwiGLU FFN, "
                              f"not {model.norm} with {model.ffn} ({model.name})")
    d = model.d_model
    tensors = {f"L0.{_CHECKPOINT_NAMES[name]}.weight": np.asarray(w, dtype=np.float64) for name, w in weights.items()}
    for norm in ("attn_norm", "mlp_norm"):
        tensors[f"L0.{norm}.weight"] = np.ones(d)
        if family != "llama":
            tensors[f"L0.{norm}.bias"] = np.zeros(d)
    return Checkpoint(Path(model.name), model, model.model_type, family, vocab_size=0,
                      norm_eps=1e-5 if family == "llama" else 1e-12,
                      activation="silu" if family == "llama" else "gelu", rope_theta=None, position_offset=0,
                      tensors=tensors)


class _NumericsIntBackend(_IntBackend):
    """The forward pass's integer backend, unchanged, recording for numerics mode each GEMM
    (``GemmRecord``) and the real value of each GEMM output under numerics mode's op names
    (attention outputs of the query heads sharing a KV head stacked, as ``_Layer`` computes them)."""

    def __init__(self, ckpt: Checkpoint, recipe: Recipe, amax: dict[str, float]):
        super().__init__(ckpt, recipe, amax)
        self.records: list[GemmRecord] = []
        self.outputs: dict[str, np.ndarray] = {}
        self._names = {_CHECKPOINT_NAMES[op]: op for op in _weight_shapes(ckpt.config)}  # "q" -> "q_proj"
        self._gemm_name = ""
        self._attn: dict | None = None

    def _gemm(self, a: np.ndarray, a_fmt: IntFormat, b_kn: np.ndarray, b_fmt: IntFormat) -> np.ndarray:
        out = super()._gemm(a, a_fmt, b_kn, b_fmt)
        name, note = self._gemm_name, ""
        if self._attn is not None:  # per query head h: Q.K^T (scores), then P.V (context)
            at = self._attn
            h, context = divmod(at["calls"], 2)
            at["calls"] += 1
            j = h // self.c.config.group_size
            name = f"attn_{'context' if context else 'scores'}[{j}]"
            note = f"query head {h}"
            scale = (float(self._k[at["site"] + ".softmax"][1]) * at["v"] if context else at["qk"])
            at["parts"].setdefault(name, []).append(out.astype(np.float64) * scale)
        self.records.append(GemmRecord(name, a_fmt.from_int(a), a_fmt, None, b_fmt.from_int(b_kn), b_fmt, None,
                                       self.acc, self.acc.from_int(out), note))
        return out

    def _acc(self, x: _Int, name: str) -> _Int:
        self._gemm_name = self._names[name.split(".", 1)[1]]
        y = super()._acc(x, name)
        self.outputs[self._gemm_name] = self.values(y)
        return y

    def attention(self, site: str, q: _Int, keys, vals, q_offset: int) -> _Int:
        self._attn = {"site": site, "calls": 0, "parts": {}, "v": float(vals[0].scale),
                      "qk": float(q.scale) * float(keys[0].scale)}
        try:
            out = super().attention(site, q, keys, vals, q_offset)
        finally:
            parts, self._attn = self._attn["parts"], None
        self.outputs |= {name: np.concatenate(p, axis=0) for name, p in parts.items()}
        return out


@dataclass
class _IntegerLayerRun:
    """One integer-only run of the layer: integer input and output, the backend that ran it."""

    x_int: _Int
    out_int: _Int
    backend: _NumericsIntBackend
    calibration: dict[str, float]


def _run_integer_layer(model: ModelConfig, recipe: Recipe, weights: dict[str, np.ndarray],
                       x: np.ndarray) -> _IntegerLayerRun:
    """The forward pass's layer (``sim._forward._layer``) with its integer backend on
    ``_layer_checkpoint(model, weights)``: calibration on the float64 run of the same layer and
    input, ``x`` quantized once to the layer's integer input (int8 after a post-LN BERT layer's
    LayerNorm, the ``_IntBackend.WIDE``-bit residual stream otherwise), integer from there on."""
    ckpt = _layer_checkpoint(model, weights)
    segs = [(0, x.shape[0])]
    cal = _FloatBackend(ckpt, None, record_amax=True)
    _layer(ckpt, cal, 0, x, segs, None)
    amax = dict(cal.amax) | {"input": float(np.max(np.abs(x)))}
    B = _NumericsIntBackend(ckpt, recipe, amax)
    bits = 8 if ckpt.family == "bert" else B.WIDE
    hi = (1 << (bits - 1)) - 1
    s_in = B._static("input", bits)
    x_int = _Int(np.clip(np.rint(x / s_in), -hi, hi).astype(np.int64), s_in)
    out = _layer(ckpt, B, 0, x_int, segs, None)
    return _IntegerLayerRun(x_int, out, B, amax)


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _row_values(codes: np.ndarray, fmt, scales: np.ndarray | None) -> np.ndarray:
    """Exact float64 values of a 1-D slice along the reduction axis (block scales applied)."""
    if isinstance(fmt, BlockFormat):
        return fmt.dequantize(scales, codes)
    return fmt.decode(codes)


def _round_to_float32(exact: Fraction) -> float:
    """``exact`` correctly rounded (nearest, ties to even) to float32, by exact rationals."""
    f64 = float(exact)  # correctly rounded to float64
    c = np.float32(f64)
    if Fraction(f64) == exact or not np.isfinite(c):
        return float(c)
    other = np.nextafter(c, np.float32(np.inf) if Fraction(float(c)) < exact else np.float32(-np.inf))
    lo, hi = sorted((Fraction(float(c)), Fraction(float(other))))
    mid = (lo + hi) / 2
    if exact < mid:
        return float(lo)
    if exact > mid:
        return float(hi)
    even = c if (c.view(np.uint32) & 1) == 0 else other
    return float(even)


def check_gemm_record(rec: GemmRecord, *, samples: int = 32, seed: int = 0) -> tuple[int, int]:
    """Compare ``samples`` output elements of a golden GEMM with an independent reference: the
    exact rational sum of the products of the decoded operand values, rounded once to float32
    (or, for an integer accumulator, saturated to its range). Returns (equal, checked)."""
    integer = isinstance(rec.out_fmt, IntFormat) and rec.out_fmt.frac_bits == 0
    if str(rec.out_fmt) != "float32" and not integer:
        raise SimulationError(f"check_gemm_record needs a float32 or integer output, not {rec.out_fmt}")
    m, n = rec.out_codes.shape
    rng = np.random.default_rng(seed)
    idx = [(int(i), int(j)) for i, j in zip(rng.integers(0, m, samples), rng.integers(0, n, samples))]
    got = rec.out_fmt.decode(rec.out_codes)
    equal = 0
    for i, j in idx:
        a = _row_values(rec.a_codes[i], rec.a_fmt, None if rec.a_scales is None else rec.a_scales[i])
        b = _row_values(rec.b_codes[:, j], rec.b_fmt, None if rec.b_scales is None else rec.b_scales[:, j])
        exact = sum((Fraction(float(x)) * Fraction(float(y)) for x, y in zip(a, b) if x and y), Fraction(0))
        if integer:
            lo, hi = rec.out_fmt.min_int, rec.out_fmt.max_int
            equal += min(max(exact, lo), hi) == got[i, j]
        else:
            equal += _round_to_float32(exact) == got[i, j]
    return equal, len(idx)


#: largest working memory numerics mode may use (bytes, estimated by ``numerics_bytes``)
NUMERICS_MAX_BYTES = 8e9


def numerics_bytes(model: ModelConfig, tokens: int, *, integer_only: bool = False) -> int:
    """Working memory of one numerics-mode layer (bytes, an estimate; LLaMA-2-7B, 16 tokens:
    4.3 GB estimated, 4.2 GB peak RSS measured): the float32 weights and the operand codes the
    GEMM records keep (~16 bytes per weight element), the float64 scaled copies of the largest
    weight matrix while its GEMM runs (~24 bytes per element), and float64 activations, scores and
    their quantized copies (~64 bytes per element of the widest). ``integer_only`` (I-BERT, I-ViT:
    the forward pass's integer backend) adds the float64 checkpoint copy and the int64 weight codes
    (~21 bytes per weight element, ~48 for the largest matrix while it is quantized and multiplied;
    LLaMA-2-7B, 4 tokens: 6.4 GB estimated, 6.6 GB peak RSS measured)."""
    if not isinstance(integer_only, bool):
        raise SimulationError(f"integer_only must be a bool, not {integer_only!r}")
    shapes = [n * k for n, k in _weight_shapes(model).values()]
    widest = max(model.d_ff, model.d_model, model.group_size * tokens) * tokens
    per_weight, largest = (21, 48) if integer_only else (16, 24)
    return per_weight * sum(shapes) + largest * max(shapes) + 64 * widest


def run_layer_numerics(model: ModelConfig | str, recipe: Recipe | str, *, tokens: int = 16, seed: int = 0,
                       weights=None, layer: int = 0) -> NumericsResult:
    """Run one layer of ``model`` on ``tokens`` seeded input tokens (N(0, 1) activations) with
    seeded weights (or ``weights``: a dict, .npz or .safetensors of out x in arrays named by op —
    ``q_proj``, ``ffn_up``, ... — or by their Hugging Face LLaMA/BERT names for layer ``layer``),
    quantized per ``recipe`` on the golden model, and in float64; returns outputs and error tables.

    Raises
    ------
    SimulationError
        Bad token count, weights of the wrong names/shapes, a layer needing more memory than
        ``NUMERICS_MAX_BYTES``, or a recipe numerics mode cannot run.
    """
    model = load_model(model) if not isinstance(model, ModelConfig) else model
    recipe = parse_recipe(recipe) if not isinstance(recipe, Recipe) else recipe
    if isinstance(tokens, bool) or not isinstance(tokens, int) or not 1 <= tokens <= model.max_positions:
        raise SimulationError(f"tokens must be an integer in 1..{model.max_positions}, not {tokens!r}")
    need = numerics_bytes(model, tokens, integer_only=bool(recipe.kernels))
    if need > NUMERICS_MAX_BYTES:
        raise SimulationError(f"numerics-mode memory must be at most {NUMERICS_MAX_BYTES / 1e9:g} GB, not about "
                              f"{need / 1e9:.1f} GB (one layer of {model.name}: d_model {model.d_model}, "
                              f"intermediate size {model.d_ff}, {tokens} tokens)")
    w = seeded_weights(model, seed) if weights is None else _load_weights(model, weights, layer)
    x = np.random.default_rng(seed + 1).standard_normal((tokens, model.d_model))
    ref_layer = _Layer(model, None, w)
    ref = ref_layer.forward(x)
    trace = []
    if recipe.kernels:
        run = _run_integer_layer(model, recipe, w, x)
        out, outputs, records, trace = (run.backend.values(run.out_int), run.backend.outputs, run.backend.records,
                                        run.backend.trace)
    else:
        q_layer = _Layer(model, recipe, w)
        out, outputs, records = q_layer.forward(x), q_layer.outputs, q_layer.records
    rows = []
    for name, o in outputs.items():
        r = ref_layer.outputs[name]
        rows.append({"op": name, "rel_rms_error": float(np.linalg.norm(o - r) / np.linalg.norm(r)),
                     "max_abs_error": float(np.abs(o - r).max())})
    rows.append({"op": "layer_output", "rel_rms_error": float(np.linalg.norm(out - ref) / np.linalg.norm(ref)),
                 "max_abs_error": float(np.abs(out - ref).max())})
    return NumericsResult(model.name, recipe.name, tokens, out, ref, pd.DataFrame(rows), records, trace, x)
