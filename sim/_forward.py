"""The whole forward pass of a Hugging Face checkpoint under a quantization recipe, beside a
float64 reference forward of the same weights.

One architecture walk (``_walk``) drives three backends:

* ``reference``: float64 throughout (the reference every metric is measured against).
* float recipes (``recipe.nonlinear == "float"``): every GEMM (Q/K/V/O projections, Q·Kᵀ, P·V,
  FFN, LM head) runs on the bit-exact golden model ``hw.numerics.gemm`` with the recipe's
  weight / activation / KV-cache quantizers and its accumulator; per-token, per-channel and
  per-tensor scales are factored out of the reduction and multiplied in afterwards, block and
  group scales go into the golden GEMM. Everything else (scale multiplies, biases, residual adds,
  LayerNorm/RMSNorm, softmax, GELU, SiLU, rotary embeddings) is computed in the recipe's
  accumulator format (float32 for every built-in recipe: numpy float32 arithmetic, elementary
  functions correctly rounded to float32), and the outputs of softmax / GELU / SiLU / norms are
  rounded to ``recipe.nonlinear_io``.
* integer-only recipes (``recipe.kernels`` not empty: I-BERT, I-ViT): I-BERT's scheme on every
  family, with the kernels the recipe names. The
  embedding tables are in the recipe's weight format (int8, one scale per row); from the token
  ids on every tensor is an integer array: int8 x int8 GEMMs accumulate exactly into the
  recipe's int32 accumulator, biases are int32 at the accumulator's scale, and dyadic
  requantisers (``x * M >> E``, half to even: ``hw.nonlinear.DyadicRequantizer`` vectorised over
  per-channel constants) rescale between ops. The kernels are the bit-exact golden models of
  ``hw.nonlinear`` (``"exact"`` variant, integer arithmetic only): I-BERT softmax, GELU and
  LayerNorm or I-ViT Shiftmax (on the scores requantised to int8, as I-ViT does), ShiftGELU and
  LayerNorm (causal positions masked with the accumulator's minimum; Shiftmax's shift
  exponential floors at ``-x0`` rather than 0, so under I-ViT a masked position still adds to the
  row's sum and decoding through the KV cache differs slightly from recomputation); integer RMSNorm and SiLU/SwiGLU for LLaMA-family models; rotary embeddings multiply by integer cos/sin tables
  (14 fraction bits). Activation scales are static, calibrated from the float64 reference on the
  calibration lines (I-BERT's QuantAct ranges); the kernels' constants derive from them once.
  Hidden states are dequantized only to be measured; decoders' logits are the LM head's int32
  accumulator times its scales (the output).

Decoders run a prefill, then decode token by token (teacher forcing) with the KV cache stored
in the recipe's KV format: K and V are quantized when written (per token row and KV head; a
per-tensor KV scale is set per write), and the stored codes are the GEMM operands. V's scales
run along the P·V reduction, so V is dequantized (exact) and re-encoded in float32 for that GEMM
(exact whenever code x scale fits 24 bits, e.g. FP16, int4 x fp16, e4m3 x e8m0).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hw.formats import FloatFormat, IntFormat, Quantizer, parse
from hw.nonlinear import batch_frexp, from_scale
from hw.numerics import gemm
from mapping import Checkpoint, Recipe

from ._operands import is_plain_float, quantize_operand
from .errors import SimulationError

__all__ = ["ForwardResult", "RecipeForward", "reference_forward", "calibrate", "dyadic_requantize"]

_F32 = parse("float32")


@dataclass
class ForwardResult:
    """Outputs of one line.

    Attributes
    ----------
    hidden : per layer (embedding output first, then each layer), tokens x hidden float64 values.
    last_hidden : the model's last hidden state (after the final norm for decoders), float64.
    logits : tokens x vocab float64 (decoders), else None; row t predicts token t + 1.
    pooled : BERT pooler output tanh(W h[first token] + b) (hidden,) when the checkpoint has a
        pooler (float backends), else None.
    """

    hidden: list[np.ndarray]
    last_hidden: np.ndarray
    logits: np.ndarray | None = None
    pooled: np.ndarray | None = None


# --------------------------------------------------------------------------- float backends
class _Operand:
    """A GEMM B operand stored N x K (reduction along the last axis): codes, element format,
    block scale codes (N x blocks) or None, outer scale values along N or None."""

    __slots__ = ("codes", "fmt", "block", "outer")

    def __init__(self, codes, fmt, block, outer):
        self.codes, self.fmt, self.block, self.outer = codes, fmt, block, outer

    @staticmethod
    def concat(a: "_Operand | None", b: "_Operand") -> "_Operand":
        if a is None:
            return b
        cat = lambda x, y: None if x is None else np.concatenate([x, y], axis=0)  # noqa: E731
        outer_a = a.outer if a.outer is None or np.ndim(a.outer) else np.full((a.codes.shape[0], 1), a.outer)
        outer_b = b.outer if b.outer is None or np.ndim(b.outer) else np.full((b.codes.shape[0], 1), b.outer)
        return _Operand(np.concatenate([a.codes, b.codes], axis=0), a.fmt, cat(a.block, b.block), cat(outer_a, outer_b))

    def values(self) -> np.ndarray:
        from hw.numerics import operand_values

        v = operand_values(self.codes, self.fmt, self.block, axis=1)
        if self.outer is not None:
            v = v * (self.outer if np.ndim(self.outer) else self.outer)
        return v


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[np.float64])(x)


class _FloatBackend:
    """float64 reference (``recipe=None``) or a float recipe on the golden GEMM."""

    def __init__(self, ckpt: Checkpoint, recipe: Recipe | None, *, record_amax: bool = False):
        self.c, self.r = ckpt, recipe
        self.amax: dict[str, float] | None = {} if record_amax else None
        self._weights: dict[str, _Operand] = {}
        self.notes: list[str] = []
        if recipe is None:
            self.dt = np.dtype(np.float64)
            self.fmt = None
        else:
            acc = recipe.accumulator
            self.fmt = acc if isinstance(acc, FloatFormat) else _F32
            dt = self.fmt.to_ml_dtypes()
            self.dt = np.dtype(np.float32) if dt is None else dt
            if dt is None:
                self.notes.append(f"vector ops in float32 rounded to {self.fmt} after each op")

    # ---- rounding helpers ----------------------------------------------------------------
    def _c(self, x) -> np.ndarray:
        """x in the compute dtype (one rounding)."""
        x = np.asarray(x, dtype=np.float64) if self.dt == np.float64 else np.asarray(x)
        if self.dt not in (np.float32, np.float64) and x.dtype == np.float64:
            # ml_dtypes casts float64 through float32 (two roundings); the format's encode rounds once
            return self.fmt.decode(self.fmt.encode(x)).astype(self.dt)
        y = x.astype(self.dt)
        if self.fmt is not None and self.dt == np.float32 and str(self.fmt) != "float32":
            y = self.fmt.decode(self.fmt.encode(y, overflow="saturate")).astype(np.float32)
        return y

    def _io(self, x: np.ndarray) -> np.ndarray:
        """A nonlinear unit's output rounded to the recipe's I/O format."""
        if self.r is None:
            return x
        f = self.r.nonlinear_io
        if isinstance(f, FloatFormat):
            return f.decode(f.encode(np.asarray(x, dtype=np.float64), overflow="saturate")).astype(self.dt)
        return x

    def _rec(self, site: str, x: np.ndarray) -> np.ndarray:
        if self.amax is not None:
            self.amax[site] = max(self.amax.get(site, 0.0), float(np.max(np.abs(x))) if x.size else 0.0)
        return x

    def values(self, x) -> np.ndarray:
        return np.asarray(x, dtype=np.float64)

    @staticmethod
    def rows(x: np.ndarray, r0: int, r1: int) -> np.ndarray:
        return x[r0:r1]

    @staticmethod
    def cat(parts: list[np.ndarray]) -> np.ndarray:
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)

    # ---- GEMMs -------------------------------------------------------------------------
    def _operand(self, q: Quantizer, x_nk: np.ndarray) -> _Operand:
        codes, fmt, block, outer = quantize_operand(q, np.asarray(x_nk, dtype=np.float64))
        return _Operand(codes, fmt, block, outer)

    def _weight(self, name: str) -> _Operand:
        if name not in self._weights:
            self._weights[name] = self._operand(self.r.weights, self.c.tensors[name])
        return self._weights[name]

    def _matmul(self, a: np.ndarray, b: _Operand, segs=None) -> np.ndarray:
        """a (M x K values) @ b (N x K operand).T on the golden GEMM, scales applied after.

        ``segs``: row ranges of independent sequences stacked in ``a``; a per-tensor activation
        scale is then one scale per sequence (codes and per-row scales are stacked, one GEMM)."""
        r = self.r
        a = np.asarray(a, dtype=np.float64)
        if segs is None or len(segs) == 1 or r.activations.granularity != "tensor" or is_plain_float(r.activations):
            ac, af, asc, aouter = quantize_operand(r.activations, a)
        else:
            parts = [quantize_operand(r.activations, a[r0:r1]) for r0, r1 in segs]
            ac, af, asc = np.concatenate([p[0] for p in parts]), parts[0][1], None
            aouter = np.concatenate([np.full((r1 - r0, 1), float(p[3])) for p, (r0, r1) in zip(parts, segs)])
        bc, bf, bsc, bouter = b.codes, b.fmt, b.block, b.outer
        acc = r.accumulator
        codes = gemm(ac, af, bc.T, bf, acc, r.accumulate, a_scales=asc, b_scales=None if bsc is None else bsc.T,
                     overflow="saturate" if isinstance(acc, IntFormat) else "default")
        out = self._c(acc.decode(codes))
        if aouter is not None:
            out = self._c(out * self._c(aouter))
        if bouter is not None:
            bo = np.asarray(bouter)
            out = self._c(out * self._c(bo.T if bo.ndim else bo))
        return out

    def linear(self, site: str, x: np.ndarray, name: str, segs=None) -> np.ndarray:
        w = self.c.tensors[f"{name}.weight"]
        b = self.c.tensors.get(f"{name}.bias")
        if self.r is None:
            y = x @ w.T
            return self._rec(site, y if b is None else y + b)
        y = self._matmul(x, self._weight(f"{name}.weight"), segs)
        return y if b is None else self._c(y + self._c(b))

    # ---- vector ops --------------------------------------------------------------------
    def embed(self, ids: np.ndarray, positions: np.ndarray) -> np.ndarray:
        t = self.c.tensors
        h = self._c(t["embed.tokens"][ids])
        if "embed.positions" in t:
            h = self._c(h + self._c(t["embed.positions"][positions]))
        if "embed.token_types" in t:
            h = self._c(h + self._c(t["embed.token_types"][np.zeros_like(ids)]))
        return self._rec("embed", h)

    def add(self, site: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self._rec(site, self._c(x + y))

    def norm(self, site: str, x: np.ndarray, name: str) -> np.ndarray:
        c, t = self._c, self.c.tensors
        eps = c(self.c.norm_eps)
        n = c(x.shape[-1])
        if self.c.family == "llama":
            ms = c(c(np.sum(c(x * x), axis=-1, keepdims=True, dtype=self.dt)) / n)
            y = c(x * c(1 / c(np.sqrt(c(ms + eps)))))
            y = c(y * c(t[f"{name}.weight"]))
        else:
            mu = c(c(np.sum(x, axis=-1, keepdims=True, dtype=self.dt)) / n)
            d = c(x - mu)
            var = c(c(np.sum(c(d * d), axis=-1, keepdims=True, dtype=self.dt)) / n)
            y = c(d / c(np.sqrt(c(var + eps))))
            y = c(c(y * c(t[f"{name}.weight"])) + c(t[f"{name}.bias"]))
        return self._rec(site, self._io(y))

    def act(self, site: str, x: np.ndarray) -> np.ndarray:
        c = self._c
        if self.c.activation == "gelu":
            e = c(_erf(np.asarray(c(x / c(math.sqrt(2.0))), dtype=np.float64)))
            y = c(c(c(0.5) * x) * c(1 + e))
        else:  # tanh approximation (GPT-2 gelu_new)
            inner = c(c(math.sqrt(2.0 / math.pi)) * c(x + c(c(0.044715) * c(c(x * x) * x))))
            th = c(np.tanh(np.asarray(inner, dtype=np.float64)))
            y = c(c(c(0.5) * x) * c(1 + th))
        return self._rec(site, self._io(y))

    def glu(self, site: str, gate: np.ndarray, up: np.ndarray) -> np.ndarray:
        c = self._c
        sig = c(1 / c(1 + c(np.exp(-np.asarray(gate, dtype=np.float64)))))
        return self._rec(site, self._io(c(c(gate * sig) * up)))

    def rope(self, site: str, x: np.ndarray, positions: np.ndarray, heads: int) -> np.ndarray:
        c = self._c
        hd = x.shape[-1] // heads
        inv = 1.0 / (self.c.rope_theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
        ang = positions[:, None].astype(np.float64) * inv[None, :]
        cos, sin = c(np.cos(np.concatenate([ang, ang], -1))), c(np.sin(np.concatenate([ang, ang], -1)))
        xh = x.reshape(x.shape[0], heads, hd)
        rot = np.concatenate([-xh[..., hd // 2:], xh[..., :hd // 2]], -1)
        y = c(c(xh * cos[:, None, :]) + c(rot * sin[:, None, :]))
        return self._rec(site, y.reshape(x.shape))

    def softmax(self, s: np.ndarray) -> np.ndarray:
        c = self._c
        z = c(s - np.max(s, axis=-1, keepdims=True))
        e = c(np.exp(np.asarray(z, dtype=np.float64)))
        return self._io(c(e / c(np.sum(e, axis=-1, keepdims=True, dtype=self.dt))))

    # ---- attention ---------------------------------------------------------------------
    def kv(self, x: np.ndarray, heads: int):
        """K or V of new tokens as stored: per KV head, an operand (tokens x head_dim) in the
        KV-cache format (decoders) or the activation format (encoders); values for the reference."""
        hd = x.shape[-1] // heads
        if self.r is None:
            return [x[:, j * hd:(j + 1) * hd] for j in range(heads)]
        q = self.r.kv_cache if self.c.decoder else self.r.activations
        return [self._operand(q, x[:, j * hd:(j + 1) * hd]) for j in range(heads)]

    @staticmethod
    def kv_concat(old, new):
        if old is None:
            return new
        if isinstance(new[0], np.ndarray):
            return [np.concatenate([a, b], axis=0) for a, b in zip(old, new)]
        return [_Operand.concat(a, b) for a, b in zip(old, new)]

    def attention(self, site: str, q: np.ndarray, keys, vals, q_offset: int) -> np.ndarray:
        cfg = self.c.config
        hd, g = cfg.head_dim, cfg.group_size
        S, T = q.shape[0], (keys[0].shape[0] if self.r is None else keys[0].codes.shape[0])
        scale = 1.0 / math.sqrt(hd)
        mask = None
        if cfg.decoder:
            mask = np.arange(T)[None, :] > (q_offset + np.arange(S))[:, None]
        out = np.empty((S, cfg.n_heads * hd), dtype=self.dt)
        for h in range(cfg.n_heads):
            qh = q[:, h * hd:(h + 1) * hd]
            kj, vj = keys[h // g], vals[h // g]
            if self.r is None:
                s = (qh @ kj.T) * scale
            else:
                s = self._c(self._matmul(qh, kj) * self._c(scale))
            if mask is not None:
                s = np.where(mask, -np.inf, s)
            if self.amax is not None:  # the scores' range: I-ViT's requantiser before Shiftmax
                fin = s[np.isfinite(s)]
                key = site + ".scores"
                self.amax[key] = max(self.amax.get(key, 0.0), float(np.max(np.abs(fin))) if fin.size else 0.0)
            p = self.softmax(s)
            if self.r is None:
                out[:, h * hd:(h + 1) * hd] = p @ vj
            else:
                out[:, h * hd:(h + 1) * hd] = self._pv(p, vj)
        return self._rec(site, out)

    def _pv(self, p: np.ndarray, v: _Operand) -> np.ndarray:
        """P (S x T) @ V (T x hd): V transposed to the N x K operand (hd x T)."""
        if v.block is None and v.outer is None:
            return self._matmul(p, _Operand(v.codes.T, v.fmt, None, None))
        vals = v.values().T  # hd x T exact values; the scales run along the reduction
        codes = _F32.encode(vals)
        note = "V dequantized and rounded to float32 for P·V (its scales run along the reduction)"
        if note not in self.notes and not np.array_equal(_F32.decode(codes), vals):
            self.notes.append(note)
        return self._matmul(p, _Operand(codes, _F32, None, None))

    def logits(self, h: np.ndarray, segs=None) -> np.ndarray:
        if self.r is None:
            return h @ self.c.tensors["lm_head.weight"].T
        return self._matmul(h, self._weight("lm_head.weight"), segs)

    def pooler(self, first: np.ndarray) -> np.ndarray:
        """tanh(W x + b) of the first token of each sequence (rows of ``first``)."""
        y = self.linear("pooler", first, "pooler", [(i, i + 1) for i in range(len(first))])
        return np.asarray(self._io(self._c(np.tanh(np.asarray(y, dtype=np.float64)))), dtype=np.float64)


# --------------------------------------------------------------------------- integer backend
def dyadic_requantize(x: np.ndarray, ratio, bits: int, *, in_bits: int = 32) -> np.ndarray:
    """``clamp(round_half_even(x * M / 2**E), signed bits)`` with ``(M, E) = batch_frexp(ratio,
    max_bit)`` for each element of ``ratio`` (a scalar or one ratio per last-axis channel): the
    ``hw.nonlinear.DyadicRequantizer`` function, vectorised over per-channel constants.

    ``x`` must be signed ``in_bits``-bit integers; the multiplier has max_bit = min(31,
    63 - in_bits) bits so that x * M is exact in int64. The constants are derived once from the
    float ``ratio`` (in_scale / out_scale), as a compiler would.
    """
    x = np.asarray(x)
    if x.dtype.kind not in "iu":
        raise SimulationError(f"dyadic requantizer input must be integers, not dtype {x.dtype}")
    x = x.astype(np.int64)
    if x.size and int(np.max(np.abs(x))) >= (1 << (in_bits - 1)):
        raise SimulationError(f"dyadic requantizer input must be below 2**{in_bits - 1} in magnitude, "
                              f"not {int(np.max(np.abs(x)))!r}")
    r = np.atleast_1d(np.asarray(ratio, dtype=np.float64))
    me = [batch_frexp(float(v), min(31, 63 - in_bits)) for v in r]
    m = np.array([a for a, _ in me], dtype=np.int64)
    e = np.array([b for _, b in me], dtype=np.int64)
    if np.any(e < 1):
        raise SimulationError(f"requantizer ratio must be below 2**30, not {float(r.max())!r}")
    if r.size == 1:
        m, e = m[0], e[0]
    v = x * m  # |x| < 2**(in_bits-1), M <= 2**max_bit: |v| < 2**62, exact in int64
    big = e > 62
    es = np.minimum(e, 62)
    q = v >> es
    rem = v - (q << es)
    half = np.int64(1) << (es - 1)
    y = q + ((rem > half) | ((rem == half) & (q % 2 == 1)))
    y = np.where(big, 0, y)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return np.clip(y, lo, hi).astype(np.int64)


@dataclass
class _Int:
    """An integer tensor: int64 values and the real value of one LSB (scalar or per channel)."""

    q: np.ndarray
    scale: float | np.ndarray


#: softmax kernels whose input is the attention scores requantised to 8 bits (see attention)
_SCORES_REQUANTISED = frozenset({"ivit_shiftmax"})


class _IntBackend:
    """Integer-only inference (I-BERT style, see the module docstring): BERT-family encoders,
    GPT-2 and LLaMA-family decoders."""

    WIDE = 16  # bits of residual sums, norm, GELU and SiLU inputs
    ROPE_FRAC = 14  # fraction bits of the integer cos/sin tables

    def __init__(self, ckpt: Checkpoint, recipe: Recipe, amax: dict[str, float]):
        if not isinstance(recipe.accumulator, IntFormat):
            raise SimulationError(f"integer-only recipe must have an integer accumulator, not {recipe.accumulator}")
        if not (isinstance(recipe.weights.format, IntFormat) and recipe.weights.granularity in ("channel", "tensor")):
            raise SimulationError(f"integer-only weights must be integers per channel or tensor, not {recipe.weights}")
        self.c, self.r, self.amax = ckpt, recipe, amax
        self.kernels = recipe.kernels  # model function -> hw.nonlinear kernel name
        self.trace: list[tuple[str, str, str, str]] = []
        self.notes: list[str] = ["static activation scales calibrated on the float64 reference"]
        if ckpt.activation == "gelu_tanh":
            self.notes.append(f"GELU (tanh form in the checkpoint) computed by {self.kernels['gelu']}")
        if "pooler.weight" in ckpt.tensors:
            self.notes.append("the pooler (tanh) is not computed on the integer path (no integer tanh kernel)")
        self._w: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._k: dict[str, object] = {}
        self.acc = recipe.accumulator
        self.a_fmt = IntFormat(8)
        self._emb = {}  # embedding tables in the recipe's weight format, one scale per row (token)
        for name in ("embed.tokens", "embed.positions", "embed.token_types"):
            if name in ckpt.tensors:
                self._emb[name] = self._weight(name)

    # ---- helpers -----------------------------------------------------------------------
    def _log(self, site: str, op: str, *arrays: np.ndarray) -> None:
        self.trace.append((site, op, ",".join(str(a.dtype) for a in arrays[:-1]), str(arrays[-1].dtype)))

    def _static(self, site: str, bits: int) -> float:
        if site not in self.amax:
            raise SimulationError(f"calibration must cover site {site!r}, not miss it")
        return max(self.amax[site], 1e-12) / ((1 << (bits - 1)) - 1)

    def _requant(self, site: str, x: _Int, bits: int, *, negate: bool = False, in_bits: int = 32) -> _Int:
        s_out = self._static(site, bits)
        ratio = np.abs(np.asarray(x.scale, dtype=np.float64)) / s_out
        q = -x.q if negate else x.q
        y = dyadic_requantize(q, ratio, bits, in_bits=in_bits)
        self._log(site, f"requant{bits}", x.q, y)
        return _Int(y, s_out)

    def _kernel(self, key: str, name: str, s_in: float, **kw):
        """(kernel, output scale) of hw.nonlinear kernel ``name`` for input scale ``s_in``,
        derived once per site (constants are compile-time)."""
        if key not in self._k:
            from hw.nonlinear import consts_from_scale

            consts = consts_from_scale(name, s_in, **kw)
            self._k[key] = (from_scale(name, s_in, variant="exact", **kw), consts.get("s_out"))
        return self._k[key]

    def values(self, x: _Int) -> np.ndarray:
        """Dequantized values (measurement only: outside the integer path)."""
        return x.q.astype(np.float64) * np.asarray(x.scale, dtype=np.float64)

    @staticmethod
    def rows(x: _Int, r0: int, r1: int) -> _Int:
        return _Int(x.q[r0:r1], x.scale)

    @staticmethod
    def cat(parts: list[_Int]) -> _Int:
        return parts[0] if len(parts) == 1 else _Int(np.concatenate([p.q for p in parts], axis=0), parts[0].scale)

    def _weight(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self._w:
            sc, codes = self.r.weights.quantize(self.c.tensors[name])
            codes = self.r.weights.format.to_int(codes).astype(np.int64)
            s = self.r.weights.scale_format.decode(sc)
            s = np.broadcast_to(np.where(s > 0, s, 1.0), (codes.shape[0],)).astype(np.float64)
            self._w[name] = (codes, s)
        return self._w[name]

    def _gemm(self, a: np.ndarray, a_fmt: IntFormat, b_kn: np.ndarray, b_fmt: IntFormat) -> np.ndarray:
        """Integers a (M x K) @ integers b (K x N) on the golden GEMM into the int32 accumulator."""
        codes = gemm(a_fmt.from_int(a), a_fmt, b_fmt.from_int(b_kn), b_fmt, self.acc, "exact", overflow="saturate")
        out = self.acc.to_int(codes).astype(np.int64)
        self._log("gemm", "gemm", a, out)
        return out

    # ---- ops ---------------------------------------------------------------------------
    def embed(self, ids: np.ndarray, positions: np.ndarray) -> _Int:
        s_out = self._static("embed", self.WIDE)
        total = np.zeros((len(ids), self.c.config.d_model), dtype=np.int64)
        for name, idx in (("embed.tokens", ids), ("embed.positions", positions),
                          ("embed.token_types", np.zeros_like(ids))):
            if name in self._emb:
                table, s = self._emb[name]  # per-row scales: requantize rows (transposed to the last axis)
                total = total + dyadic_requantize(table[idx].T, s[idx] / s_out, self.WIDE + 1).T
        y = np.clip(total, -(1 << (self.WIDE - 1)) + 1, (1 << (self.WIDE - 1)) - 1)
        self._log("embed", "embed", ids, y)
        return _Int(y, s_out)

    def _acc(self, x: _Int, name: str) -> _Int:
        """int32 accumulator (with the int32 bias) of linear layer ``name``; per-channel scale."""
        if np.ndim(x.scale) or x.q.size and (x.q.min() < self.a_fmt.min_int or x.q.max() > self.a_fmt.max_int):
            raise SimulationError(f"GEMM input of {name} must be int8 with one scale, not {x.q.dtype} {np.shape(x.scale)}")
        codes, s_w = self._weight(f"{name}.weight")
        acc = self._gemm(x.q, self.a_fmt, codes.T, self.r.weights.format)
        s_acc = float(x.scale) * s_w
        b = self.c.tensors.get(f"{name}.bias")
        if b is not None:
            key = f"{name}.bias_int"
            if key not in self._w:
                self._w[key] = (np.clip(np.rint(b / s_acc), self.acc.min_int, self.acc.max_int).astype(np.int64), s_acc)
            acc = np.clip(acc + self._w[key][0], self.acc.min_int, self.acc.max_int)
            self._log(name, "bias", acc, acc)
        return _Int(acc, s_acc)

    def linear(self, site: str, x: _Int, name: str, segs=None) -> _Int:
        role = name.rsplit(".", 1)[-1]
        # I-ViT's ShiftGELU is built for 8-bit inputs: wider ones overflow its exponential at the row max
        narrow = role in ("q", "k", "v") or (role == "up" and (self.c.family == "llama"
                                                               or self.kernels.get("gelu") == "ivit_shiftgelu"))
        return self._requant(site, self._acc(x, name), 8 if narrow else self.WIDE)

    def logits(self, h: _Int, segs=None) -> np.ndarray:
        """The LM head's int32 accumulator, dequantized: the model's output."""
        acc = self._acc(h, "lm_head")
        return acc.q.astype(np.float64) * acc.scale

    def add(self, site: str, x: _Int, y: _Int) -> _Int:
        s_out = self._static(site, self.WIDE)
        a = dyadic_requantize(x.q, np.abs(np.asarray(x.scale)) / s_out, self.WIDE + 1)
        b = dyadic_requantize(y.q, np.abs(np.asarray(y.scale)) / s_out, self.WIDE + 1)
        out = np.clip(a + b, -(1 << (self.WIDE - 1)) + 1, (1 << (self.WIDE - 1)) - 1)
        self._log(site, "add", x.q, y.q, out)
        return _Int(out, s_out)

    def norm(self, site: str, x: _Int, name: str) -> _Int:
        w = self.c.tensors[f"{name}.weight"]
        if self.c.family == "llama":
            op = self.kernels["rmsnorm"]
            k, s_out = self._kernel(site, op, float(x.scale), weight=w, eps=self.c.norm_eps)
        else:
            op = self.kernels["layernorm"]
            k, s_out = self._kernel(site, op, float(x.scale), weight=w, bias=self.c.tensors[f"{name}.bias"])
        y = np.asarray(k.forward(x.q), dtype=np.int64)
        self._log(site, op, x.q, y)
        return self._requant(site, _Int(y, np.asarray(s_out, dtype=np.float64)), 8, in_bits=40)

    def act(self, site: str, x: _Int) -> _Int:
        op = self.kernels["gelu"]
        k, s_out = self._kernel(site, op, float(x.scale))
        y = np.asarray(k.forward(x.q), dtype=np.int64)
        self._log(site, op, x.q, y)
        # i-GELU's x * (erf + 1/s_erf) outgrows int32 for WIDE-bit inputs whose range is below ~4
        return self._requant(site, _Int(y, abs(s_out)), 8, negate=s_out < 0, in_bits=40)

    def glu(self, site: str, gate: _Int, up: _Int) -> _Int:
        k, s_sig = self._kernel(site, self.kernels["silu_mul"], float(gate.scale))
        y = np.asarray(k.swiglu(gate.q, up.q), dtype=np.int64)  # real value: y * s_sig * s_up
        self._log(site, "int_swiglu", gate.q, up.q, y)
        return self._requant(site, _Int(y, s_sig * float(up.scale)), 8, in_bits=48)

    def rope(self, site: str, x: _Int, positions: np.ndarray, heads: int) -> _Int:
        """Rotary embedding with integer cos/sin tables (``ROPE_FRAC`` fraction bits, compile-time
        constants per position): x*C + rotate(x)*S, requantized to int8."""
        hd = x.q.shape[-1] // heads
        inv = 1.0 / (self.c.rope_theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
        ang = positions[:, None].astype(np.float64) * inv[None, :]
        one = 1 << self.ROPE_FRAC
        cos = np.rint(np.cos(np.concatenate([ang, ang], -1)) * one).astype(np.int64)
        sin = np.rint(np.sin(np.concatenate([ang, ang], -1)) * one).astype(np.int64)
        xh = x.q.reshape(x.q.shape[0], heads, hd)
        rot = np.concatenate([-xh[..., hd // 2:], xh[..., :hd // 2]], -1)
        y = (xh * cos[:, None, :] + rot * sin[:, None, :]).reshape(x.q.shape)
        self._log(site, "int_rope", x.q, y)
        return self._requant(site, _Int(y, float(x.scale) / one), 8)

    def kv(self, x: _Int, heads: int):
        hd = x.q.shape[-1] // heads
        return [_Int(x.q[:, j * hd:(j + 1) * hd], x.scale) for j in range(heads)]

    @staticmethod
    def kv_concat(old, new):
        if old is None:
            return new
        return [_Int(np.concatenate([a.q, b.q], axis=0), a.scale) for a, b in zip(old, new)]

    def attention(self, site: str, q: _Int, keys, vals, q_offset: int) -> _Int:
        cfg = self.c.config
        hd = cfg.head_dim
        S, T = q.q.shape[0], keys[0].q.shape[0]
        u8 = IntFormat(8, signed=False)
        s_acc = float(q.scale) * float(keys[0].scale) / math.sqrt(hd)
        op = self.kernels["softmax"]
        # I-ViT requantises the int32 scores to 8 bits before Shiftmax (``qact_attn1 = QuantAct()``
        # ahead of ``int_softmax`` in zkkli/I-ViT models/vit_quant.py): Shiftmax's sum of
        # exponentials overflows 2**31 at the fine scales of raw scores. I-BERT's softmax takes them.
        narrow = op in _SCORES_REQUANTISED
        s_in = self._static(site + ".scores", 8) if narrow else s_acc
        sm, s_p = self._kernel(site + ".softmax", op, s_in)
        s_ctx = self._static(site, 8)
        masked = None
        if cfg.decoder:  # a masked score is the accumulator's minimum: its exponential rounds to 0
            masked = np.arange(T)[None, :] > (q_offset + np.arange(S))[:, None]
        out = np.empty((S, cfg.n_heads * hd), dtype=np.int64)
        for h in range(cfg.n_heads):
            kj, vj = keys[h // cfg.group_size], vals[h // cfg.group_size]
            scores = self._gemm(q.q[:, h * hd:(h + 1) * hd], self.a_fmt, kj.q.T, self.a_fmt)
            if narrow:
                narrowed = dyadic_requantize(scores, s_acc / s_in, 8)
                self._log(site, "requant8", scores, narrowed)
                scores = narrowed
            if masked is not None:
                scores = np.where(masked, self.acc.min_int, scores)
            p = np.minimum(np.asarray(sm.forward(scores), dtype=np.int64), u8.max_int)
            self._log(site, op, scores, p)
            ctx = self._gemm(p, u8, vj.q, self.a_fmt)
            y = dyadic_requantize(ctx, float(s_p) * float(vj.scale) / s_ctx, 8)
            self._log(site, "requant8", ctx, y)
            out[:, h * hd:(h + 1) * hd] = y
        return _Int(out, s_ctx)


# --------------------------------------------------------------------------- the walk
def _layer(ckpt: Checkpoint, B, i: int, h, segs: list[tuple[int, int]], positions: np.ndarray | None,
           start: int = 0, cache: list | None = None):
    """Layer ``i`` of ``ckpt`` on hidden state ``h`` with backend ``B``: the one transformer layer of
    every backend (and of numerics mode's integer-only recipes, ``sim._numerics``). ``segs``: row
    ranges of the stacked sequences; ``positions``: token positions of the rows for the rotary
    embedding (None: no rotary embedding, as numerics mode's synthetic layer); ``start``, ``cache``:
    see ``_walk``. Returns the layer's output hidden state."""
    cfg = ckpt.config
    p = f"L{i}"
    x = h if ckpt.family == "bert" else B.norm(f"{p}.attn_norm", h, f"{p}.attn_norm")
    q = B.linear(f"{p}.q", x, f"{p}.q", segs)
    k = B.linear(f"{p}.k", x, f"{p}.k", segs)
    v = B.linear(f"{p}.v", x, f"{p}.v", segs)
    if ckpt.family == "llama" and positions is not None:
        q = B.rope(f"{p}.q_rope", q, positions, cfg.n_heads)
        k = B.rope(f"{p}.k_rope", k, positions, cfg.n_kv_heads)
    ctx = []
    for r0, r1 in segs:
        keys, vals = B.kv(B.rows(k, r0, r1), cfg.n_kv_heads), B.kv(B.rows(v, r0, r1), cfg.n_kv_heads)
        if cache is not None:
            old = cache[i] if i < len(cache) else (None, None)
            keys, vals = B.kv_concat(old[0], keys), B.kv_concat(old[1], vals)
            if i < len(cache):
                cache[i] = (keys, vals)
            else:
                cache.append((keys, vals))
        ctx.append(B.attention(f"{p}.attn", B.rows(q, r0, r1), keys, vals, start))
    a = B.linear(f"{p}.o", B.cat(ctx), f"{p}.o", segs)
    if ckpt.family == "bert":
        h = B.norm(f"{p}.attn_norm", B.add(f"{p}.attn_sum", h, a), f"{p}.attn_norm")
        f = B.linear(f"{p}.down", B.act(f"{p}.act", B.linear(f"{p}.up", h, f"{p}.up", segs)), f"{p}.down", segs)
        h = B.norm(f"{p}.mlp_norm", B.add(f"{p}.mlp_sum", h, f), f"{p}.mlp_norm")
    else:
        h = B.add(f"{p}.attn_sum", h, a)
        x = B.norm(f"{p}.mlp_norm", h, f"{p}.mlp_norm")
        if ckpt.family == "llama":
            m = B.glu(f"{p}.act", B.linear(f"{p}.gate", x, f"{p}.gate", segs), B.linear(f"{p}.up", x, f"{p}.up", segs))
        else:
            m = B.act(f"{p}.act", B.linear(f"{p}.up", x, f"{p}.up", segs))
        h = B.add(f"{p}.mlp_sum", h, B.linear(f"{p}.down", m, f"{p}.down", segs))
    return h


def _walk(ckpt: Checkpoint, B, seqs: list[np.ndarray], start: int = 0, cache: list | None = None
          ) -> list[ForwardResult]:
    """Run token sequences ``seqs`` (stacked: row-wise ops and GEMM weights are shared, each
    sequence keeps its own activation scales and attention) at positions start.. through every
    layer of ``ckpt`` with backend ``B``; ``cache`` (decoders, one sequence) holds each layer's
    (K, V) of earlier tokens and is extended in place."""
    cfg = ckpt.config
    if cache is not None and len(seqs) != 1:
        raise SimulationError(f"a KV cache must serve one sequence, not {len(seqs)}")
    bounds = np.cumsum([0] + [len(s) for s in seqs])
    segs = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
    ids = np.concatenate(seqs)
    positions = np.concatenate([np.arange(start, start + len(s)) for s in seqs]) + ckpt.position_offset
    h = B.embed(ids, positions)
    if ckpt.family == "bert":
        h = B.norm("embed.norm", h, "embed.norm")
    hidden = [B.values(h)]
    for i in range(cfg.n_layers):
        h = _layer(ckpt, B, i, h, segs, positions, start, cache)
        hidden.append(B.values(h))
    last, logits, pooled = B.values(h), None, None
    if "pooler.weight" in ckpt.tensors and hasattr(B, "pooler"):
        pooled = B.pooler(B.cat([B.rows(h, r0, r0 + 1) for r0, _ in segs]))
    if cfg.decoder:
        h = B.norm("final_norm", h, "final_norm")
        last, logits = B.values(h), np.asarray(B.logits(h, segs), dtype=np.float64)
    return [ForwardResult([x[r0:r1] for x in hidden], last[r0:r1], None if logits is None else logits[r0:r1],
                          None if pooled is None else pooled[i]) for i, (r0, r1) in enumerate(segs)]


def _join(parts: list[ForwardResult]) -> ForwardResult:
    cat = lambda xs: np.concatenate(xs, axis=0)  # noqa: E731
    return ForwardResult([cat([p.hidden[i] for p in parts]) for i in range(len(parts[0].hidden))],
                         cat([p.last_hidden for p in parts]),
                         None if parts[0].logits is None else cat([p.logits for p in parts]))


def _decode(ckpt: Checkpoint, B, seqs: list[np.ndarray], prefill: int | None) -> list[ForwardResult]:
    """Encoders: one stacked pass. Decoders, one sequence at a time: prefill ``prefill`` tokens
    (default half, at least one), then decode the rest one token at a time through the KV cache."""
    if not ckpt.decoder:
        return _walk(ckpt, B, seqs)
    out = []
    for ids in seqs:
        n = len(ids)
        p = max(1, (n + 1) // 2) if prefill is None else prefill
        if not 1 <= p <= n:
            raise SimulationError(f"prefill must be in 1..{n} tokens, not {p!r}")
        cache: list = []
        parts = _walk(ckpt, B, [ids[:p]], 0, cache)
        for t in range(p, n):
            parts += _walk(ckpt, B, [ids[t:t + 1]], t, cache)
        out.append(_join(parts))
    return out


def _check_ids(ckpt: Checkpoint, ids) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 1 or ids.size == 0 or ids.dtype.kind not in "iu":
        raise SimulationError(f"token ids must be a non-empty 1-D integer array, not {ids!r}")
    if int(ids.min()) < 0 or int(ids.max()) >= ckpt.vocab_size:
        raise SimulationError(f"token ids must be in 0..{ckpt.vocab_size - 1}, not {int(ids.max())!r}")
    limit = ckpt.config.max_positions
    if len(ids) > limit:
        raise SimulationError(f"sequence length must be at most {limit} tokens, not {len(ids)!r}")
    window = ckpt.config.sliding_window
    if window is not None and len(ids) > window:
        raise SimulationError(f"sequence length must be at most the sliding window of {window} tokens "
                              f"(sliding-window attention is not implemented), not {len(ids)!r}")
    return ids.astype(np.int64)


def _as_seqs(ckpt: Checkpoint, ids) -> tuple[list[np.ndarray], bool]:
    """(sequences, whether one sequence was given)."""
    if isinstance(ids, (list, tuple)) and ids and not np.isscalar(ids[0]):
        return [_check_ids(ckpt, x) for x in ids], False
    return [_check_ids(ckpt, ids)], True


def reference_forward(ckpt: Checkpoint, ids, *, prefill: int | None = None, cached: bool = True):
    """float64 forward of one token sequence (or a list of them: a list of results).
    Decoders: ``cached=True`` runs prefill + decode through the KV cache, ``cached=False``
    recomputes every position in one causal pass."""
    seqs, one = _as_seqs(ckpt, ids)
    B = _FloatBackend(ckpt, None)
    out = _decode(ckpt, B, seqs, prefill) if cached else [r for s in seqs for r in _walk(ckpt, B, [s])]
    return out[0] if one else out


def calibrate(ckpt: Checkpoint, sequences) -> dict[str, float]:
    """max |x| of every op output of the float64 reference over ``sequences`` (static
    activation ranges for integer-only recipes)."""
    B = _FloatBackend(ckpt, None, record_amax=True)
    _walk(ckpt, B, [_check_ids(ckpt, ids) for ids in sequences])
    return dict(B.amax)


@dataclass
class RecipeForward:
    """Forward passes of ``ckpt`` under ``recipe``; weights are quantized once and reused.

    Parameters
    ----------
    ckpt, recipe : the model and the recipe.
    calibration : per-site max |x| from ``calibrate`` (needed by integer-only recipes on encoders).

    Attributes
    ----------
    integer_only : True when the I-BERT integer path runs (``trace`` records every op boundary).
    notes : what this run approximates (float kernels, re-encoded operands, calibration).
    """

    ckpt: Checkpoint
    recipe: Recipe
    calibration: dict[str, float] | None = None
    _backend: object = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.recipe.kernels:
            if self.calibration is None:
                raise SimulationError(f"integer-only recipe {self.recipe.name} must be given calibration ranges, not None")
            self._backend = _IntBackend(self.ckpt, self.recipe, self.calibration)
        else:
            self._backend = _FloatBackend(self.ckpt, self.recipe)

    @property
    def integer_only(self) -> bool:
        return isinstance(self._backend, _IntBackend)

    @property
    def notes(self) -> list[str]:
        return list(self._backend.notes)

    @property
    def trace(self) -> list[tuple[str, str, str, str]]:
        """(site, op, input dtypes, output dtype) of every op of the integer path so far."""
        return list(getattr(self._backend, "trace", []))

    def run(self, ids, *, prefill: int | None = None):
        """Forward of one token sequence, or of a list of sequences (a list of results; encoders
        stack them into shared GEMM calls, each keeping its own scales and attention).
        Decoders: prefill then decode through the KV cache."""
        seqs, one = _as_seqs(self.ckpt, ids)
        out = _decode(self.ckpt, self._backend, seqs, prefill)
        return out[0] if one else out
