"""Workload graph of one transformer layer: GEMMs, attention per head (MHA and GQA), nonlinear
and elementwise vector ops, for prefill of S tokens or one decode step with a KV cache.

Ops run in list order (each op reads its inputs from DRAM and writes its output back; no
activation stays in SRAM between ops). Every tensor an op touches is tagged with a *role*
(``weight``, ``activation``, ``kv``, ``accumulator``, ``nonlinear``) so that bytes follow from
the recipe's formats (``Recipe.bytes_per_element``), amortised block scales included.

Requantization between ops is fused into the producer's output stage: a GEMM whose output
role is ``activation``/``kv`` rounds its accumulator to that format on the way out (the array's
output rounder), one whose role is ``accumulator`` (attention scores, FFN up/gate) passes the
accumulator format to the nonlinear unit, whose output is rounded to the activation format.
The bytes each op moves follow from these roles.

Attention with GQA stacks the ``g = n_heads / n_kv_heads`` query heads that share one KV head
as rows of one GEMM (M = g * S), so each K/V head is read once per group. Causal masking does
not skip work (the full S x S score matrix is computed, as dense arrays do); a sliding window
caps the keys a decode step reads (``ModelConfig.attended``), prefill computes the dense block.
Rotary position embeddings are a vector op on Q and K after their projections; biases are
added in the array's output stage (no op). Falcon's parallel attention reads one LayerNorm
output for attention and FFN and adds both to the residual in one op.

``model_ops`` gives the ops outside the layer stack: the token embedding lookup (plus learned
positions) before the first layer, and for decoders the final norm and the LM head (a GEMM
against the output embedding, tied or not) after the last; prefill computes the logits of the
last token of each sequence only (what generation needs). ViT's patch embedding, Whisper's
convolutional front end and encoder heads (pooler, classifier) are not modelled.
"""
from __future__ import annotations

from dataclasses import dataclass

from ._models import ModelConfig
from .errors import ModelConfigError

__all__ = ["GemmOp", "VectorOp", "Op", "layer_ops", "model_ops", "VECTOR_FUNCTIONS"]

#: functions of the vector / shift-add unit
VECTOR_FUNCTIONS = ("softmax", "gelu", "relu", "silu_mul", "layernorm", "rmsnorm", "add", "kv_append", "rope",
                    "embedding")


@dataclass(frozen=True)
class GemmOp:
    """``count`` independent GEMMs C (M x N) = A (M x K) @ B (K x N).

    ``a_role``/``b_role``/``c_role``: tensor roles of the operands; ``b_shared``: the same B
    for all ``count`` instances (weights), else one B per instance (K/V heads).
    """

    name: str
    M: int
    K: int
    N: int
    count: int = 1
    a_role: str = "activation"
    b_role: str = "weight"
    c_role: str = "activation"
    b_shared: bool = True

    kind = "gemm"

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the op."""
        return self.count * self.M * self.K * self.N


@dataclass(frozen=True)
class VectorOp:
    """``function`` over ``rows`` rows of ``length`` elements on the vector / shift-add unit.

    ``inputs``: number of input tensors of rows x length (2 for residual add / SiLU*up);
    ``in_role``/``out_role``: roles of the inputs and the output.
    """

    name: str
    function: str
    rows: int
    length: int
    inputs: int = 1
    in_role: str = "activation"
    out_role: str = "activation"

    kind = "vector"

    @property
    def elements(self) -> int:
        return self.rows * self.length


Op = GemmOp | VectorOp


def _pos_int(what: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ModelConfigError(f"{what} must be a positive integer, not {v!r}")
    return v


def _check_phase(model: ModelConfig, tokens, past, batch) -> int:
    _pos_int("tokens", tokens)
    _pos_int("batch", batch)
    if isinstance(past, bool) or not isinstance(past, int) or past < 0:
        raise ModelConfigError(f"past must be a non-negative integer, not {past!r}")
    if past and not model.decoder:
        raise ModelConfigError(f"past (KV cache) must be 0 for the encoder {model.name}, not {past!r}")
    ctx = past + tokens
    if ctx > model.max_positions:
        raise ModelConfigError(f"KV cache length (past + tokens = {ctx}) must be at most the context of "
                               f"{model.name} ({model.max_positions} tokens), not {ctx!r}")
    return ctx


def layer_ops(model: ModelConfig, *, tokens: int, past: int = 0, batch: int = 1) -> list[Op]:
    """The ops of one layer processing ``tokens`` new tokens per sequence with ``past`` tokens
    already in the KV cache (prefill: past = 0; a decode step: tokens = 1).

    Raises
    ------
    ModelConfigError
        If tokens/batch are not positive, past is negative, past > 0 for an encoder, or the
        KV cache (past + tokens) exceeds the model's context.
    """
    ctx = _check_phase(model, tokens, past, batch)
    keys = model.attended(ctx) if tokens == 1 else ctx
    d, h, kv, hd, g = model.d_model, model.n_heads, model.n_kv_heads, model.head_dim, model.group_size
    m = batch * tokens
    norm = model.norm
    kv_role = "kv" if model.decoder else "activation"
    ops: list[Op] = [
        VectorOp("attn_norm", norm, m, d),
        GemmOp("q_proj", m, d, h * hd),
        GemmOp("k_proj", m, d, kv * hd, c_role=kv_role),
        GemmOp("v_proj", m, d, kv * hd, c_role=kv_role),
    ]
    if model.positions == "rotary":
        ops += [VectorOp("rope_q", "rope", m * h, hd),
                VectorOp("rope_k", "rope", m * kv, hd, in_role=kv_role, out_role=kv_role)]
    if model.decoder:
        ops.append(VectorOp("kv_append", "kv_append", 2 * m, kv * hd, in_role="kv", out_role="kv"))
    ops += [
        GemmOp("attn_scores", g * tokens, hd, keys, batch * kv, b_role=kv_role, c_role="accumulator",
               b_shared=False),
        VectorOp("softmax", "softmax", batch * h * tokens, keys, in_role="accumulator"),
        GemmOp("attn_context", g * tokens, keys, hd, batch * kv, b_role=kv_role, b_shared=False),
        GemmOp("o_proj", m, h * hd, d),
    ]
    if not model.parallel_attn:
        ops += [VectorOp("attn_residual", "add", m, d, inputs=2), VectorOp("ffn_norm", norm, m, d)]
    if model.ffn == "silu_gated":
        ops += [GemmOp("gate_proj", m, d, model.d_ff, c_role="accumulator"),
                GemmOp("up_proj", m, d, model.d_ff, c_role="accumulator"),
                VectorOp("silu_mul", "silu_mul", m, model.d_ff, inputs=2, in_role="accumulator"),
                GemmOp("down_proj", m, model.d_ff, d)]
    else:
        ops += [GemmOp("ffn_up", m, d, model.d_ff, c_role="accumulator"),
                VectorOp(model.ffn, model.ffn, m, model.d_ff, in_role="accumulator"),
                GemmOp("ffn_down", m, model.d_ff, d)]
    if model.parallel_attn:  # x + attention(norm(x)) + ffn(norm(x)) in one op
        ops.append(VectorOp("residual", "add", m, d, inputs=3))
    else:
        ops.append(VectorOp("ffn_residual", "add", m, d, inputs=2))
    return ops


def model_ops(model: ModelConfig, *, tokens: int, past: int = 0, batch: int = 1) -> tuple[list[Op], list[Op]]:
    """The ops outside the layer stack for one phase step: (before the first layer, after the
    last). Embedding lookup of ``batch * tokens`` rows of the table (learned positions add a
    second input); for decoders the final norm and the LM head GEMM (``vocab_size`` outputs)
    of the last token of each sequence.

    Raises
    ------
    ModelConfigError
        As ``layer_ops``.
    """
    _check_phase(model, tokens, past, batch)
    d, m = model.d_model, batch * tokens
    before: list[Op] = []
    if model.vocab_size:
        before.append(VectorOp("embedding", "embedding", m, d, inputs=2 if model.positions == "learned" else 1,
                               in_role="weight"))
    after: list[Op] = []
    if model.decoder:
        after = [VectorOp("final_norm", model.norm, batch, d),
                 GemmOp("lm_head", batch, d, model.vocab_size, c_role="accumulator")]
    return before, after
