"""Transformer model descriptions parsed from Hugging Face ``config.json`` files.

``load_model(name_or_path)`` accepts a built-in name (configs shipped as package data, copied
from the published config.json of each model) or a path to a local config.json of one of the
supported architectures (``model_type`` bert, roberta, vit, whisper -> its encoder; gpt2, opt,
falcon, llama, mistral, qwen2, phi3). The result is one frozen ``ModelConfig``; nothing
downstream reads the raw dict.

What is read per family (Hugging Face defaults where a key is optional):

* llama, mistral, qwen2, phi3: GQA (``num_key_value_heads``, default MHA), SwiGLU FFN,
  RMSNorm, rotary positions (``rope_scaling`` kept as a description: it changes the rotary
  angles, not the work), ``sliding_window`` (mistral, phi3; qwen2 only with
  ``use_sliding_window``), ``tie_word_embeddings``; qwen2 has biases on Q/K/V.
* gpt2, opt: learned positions, LayerNorm, GELU (gpt2) or ReLU (opt) FFN; OPT-350m's
  ``word_embed_proj_dim`` projections are not modelled (refused).
* falcon: multi-query (``multi_query``) or grouped KV heads (``new_decoder_architecture``),
  ``parallel_attn`` (attention and FFN read one LayerNorm output), rotary positions (ALiBi
  models are refused).
* bert, roberta, vit, whisper (encoder): learned positions, LayerNorm, GELU.

Every integer field is checked (a positive ``int``, JSON ``8.0`` is not one) and bounded by
``FIELD_LIMITS`` so that a mistyped config fails here, naming the field, instead of running
out of memory later.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import ModelConfigError

__all__ = ["ModelConfig", "load_model", "MODEL_NAMES", "MODEL_TYPES", "model_from_dict", "FIELD_LIMITS"]

#: built-in model name -> package data file
_BUILTIN = {
    "bert-base": "bert-base.json",
    "gpt2": "gpt2.json",
    "llama2-7b": "llama2-7b.json",
    "llama2-70b": "llama2-70b.json",
    "llama3-8b": "llama3-8b.json",
    "mistral-7b": "mistral-7b.json",
    "qwen2-7b": "qwen2-7b.json",
    "vit-b16": "vit-b16.json",
    "whisper-large-v2-encoder": "whisper-large-v2-encoder.json",
}
_ALIASES = {"bert": "bert-base", "bert-base-uncased": "bert-base", "llama-2-7b": "llama2-7b",
            "llama-2-70b": "llama2-70b", "llama-3-8b": "llama3-8b", "vit-base-patch16-224": "vit-b16",
            "vit-b/16": "vit-b16", "whisper-large-v2": "whisper-large-v2-encoder",
            "mistral-7b-v0.1": "mistral-7b"}
MODEL_NAMES = tuple(_BUILTIN)
MODEL_TYPES = ("bert", "falcon", "gpt2", "llama", "mistral", "opt", "phi3", "qwen2", "roberta", "vit", "whisper")
#: prompt length used for decoders when none is given (tokens); encoders use their full input
DECODER_DEFAULT_PROMPT = 512
#: upper limits of the shape fields (about 4x the largest published model of each dimension);
#: larger values are refused as typos before any work is sized from them
#: Hugging Face's default ``vocab_size`` per model type (used when a config omits it)
_VOCAB_DEFAULT = {"bert": 30522, "roberta": 50265, "gpt2": 50257, "opt": 50272, "falcon": 65024, "llama": 32000,
                  "mistral": 32000, "qwen2": 151936, "phi3": 32064}
FIELD_LIMITS = {"n_layers": 1024, "d_model": 65536, "n_heads": 1024, "d_ff": 262144,
                "max_positions": 1 << 24, "vocab_size": 1 << 22}


@dataclass(frozen=True)
class ModelConfig:
    """Shape of a transformer stack, as the workload graph needs it.

    Attributes
    ----------
    name : model name (built-in name or the config file's stem).
    model_type : the config's ``model_type``.
    decoder : True for causal decoders (prefill + decode with a KV cache), False for encoders.
    n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff : layer shapes (elements).
    ffn : "gelu" or "relu" (two GEMMs) or "silu_gated" (gate, up, down GEMMs).
    norm : "layernorm" or "rmsnorm".
    max_positions : context length in tokens (KV cache limit for decoders).
    default_tokens : sequence length used when none is given: the model's natural input for
        encoders (BERT 512, ViT-B/16 197, Whisper 1500), ``DECODER_DEFAULT_PROMPT`` for decoders.
    vocab_size : rows of the token embedding table (0 for ViT and the Whisper encoder, whose
        inputs are patches / audio frames).
    tied_embeddings : the LM head reuses the input embedding table.
    positions : "rotary", "learned" (added to the embeddings) or "none".
    rope_scaling : description of the config's ``rope_scaling`` (None if absent).
    sliding_window : attention window in tokens (None: full causal attention).
    parallel_attn : attention and FFN read the same normalised input (Falcon, one norm per layer).
    qkv_bias : Q/K/V projections have biases (Qwen2).
    """

    name: str
    model_type: str
    decoder: bool
    n_layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    d_ff: int
    ffn: str
    norm: str
    max_positions: int
    default_tokens: int
    vocab_size: int = 0
    tied_embeddings: bool = False
    positions: str = "learned"
    rope_scaling: str | None = None
    sliding_window: int | None = None
    parallel_attn: bool = False
    qkv_bias: bool = False

    @property
    def group_size(self) -> int:
        """Query heads per KV head (1 for MHA, > 1 for GQA)."""
        return self.n_heads // self.n_kv_heads

    def attended(self, kv_len: int) -> int:
        """Keys one new query attends to with ``kv_len`` tokens in the cache (the sliding window
        caps it; a rolling-buffer KV cache holds at most ``sliding_window`` tokens)."""
        return kv_len if self.sliding_window is None else min(kv_len, self.sliding_window)


class _Reader:
    """Typed access to one config dict: every error names the field and the source."""

    def __init__(self, cfg: dict, model_type, source: str):
        self.cfg, self.mt, self.source = cfg, model_type, source

    def int(self, key: str, default: int | None = None, *, limit: str | None = None) -> int:
        v = self.cfg.get(key)
        if v is None:
            if default is None:
                raise ModelConfigError(f"config.json field {key!r} must be present for model_type "
                                       f"{self.mt!r} ({self.source}), not missing")
            return default
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ModelConfigError(f"config.json field {key!r} must be a positive integer ({self.source}), "
                                   f"not {v!r}")
        if limit is not None and v > FIELD_LIMITS[limit]:
            raise ModelConfigError(f"config.json field {key!r} must be at most {FIELD_LIMITS[limit]} "
                                   f"({self.source}), not {v!r}")
        return v

    def flag(self, key: str, default: bool) -> bool:
        v = self.cfg.get(key, default)
        if v is None:
            return default
        if not isinstance(v, bool):
            raise ModelConfigError(f"config.json field {key!r} must be true or false ({self.source}), not {v!r}")
        return v

    def text(self, key: str, default: str) -> str:
        v = self.cfg.get(key, default)
        if v is None:
            return default
        if not isinstance(v, str):
            raise ModelConfigError(f"config.json field {key!r} must be a string ({self.source}), not {v!r}")
        return v

    def rope_scaling(self) -> str | None:
        v = self.cfg.get("rope_scaling")
        if v is None:
            return None
        if not isinstance(v, dict):
            raise ModelConfigError(f"config.json field 'rope_scaling' must be an object or null "
                                   f"({self.source}), not {v!r}")
        kind = v.get("rope_type", v.get("type", "?"))
        factor = v.get("factor")
        return f"{kind}" + (f" x{factor}" if factor is not None else "")


def _decoder(r: _Reader, *, name: str, d_key: str, h_key: str, l_key: str, ff: int, ffn: str, norm: str,
             ctx: int, kv: int, act: str, positions: str, window: int | None = None,
             parallel: bool = False, qkv_bias: bool = False, tie_default: bool = False,
             vocab: int) -> ModelConfig:
    d, h = r.int(d_key, limit="d_model"), r.int(h_key, limit="n_heads")
    return _checked(name, r.mt, True, r.int(l_key, limit="n_layers"), d, h, kv, ff, ffn, norm, ctx,
                    min(ctx, DECODER_DEFAULT_PROMPT), act, r.source,
                    vocab_size=vocab, tied_embeddings=r.flag("tie_word_embeddings", tie_default),
                    positions=positions, rope_scaling=r.rope_scaling() if positions == "rotary" else None,
                    sliding_window=window, parallel_attn=parallel, qkv_bias=qkv_bias)


def model_from_dict(cfg: dict, *, name: str, source: str = "config.json") -> ModelConfig:
    """Parse a config.json dict of a supported architecture into a ``ModelConfig``.

    Raises
    ------
    ModelConfigError
        If ``model_type`` is unsupported or a field is missing, of the wrong type, or beyond
        ``FIELD_LIMITS`` (the message names the field).
    """
    if not isinstance(cfg, dict):
        raise ModelConfigError(f"config.json ({source}) must hold a JSON object, not {type(cfg).__name__}")
    mt = cfg.get("model_type")
    r = _Reader(cfg, mt, source)
    if mt in ("bert", "roberta", "vit"):
        d, h = r.int("hidden_size", limit="d_model"), r.int("num_attention_heads", limit="n_heads")
        if mt == "vit":
            tokens = ctx = (r.int("image_size") // r.int("patch_size")) ** 2 + 1
            vocab = 0
        else:
            ctx = r.int("max_position_embeddings", limit="max_positions")
            if mt == "roberta":  # positions are offset by padding_idx + 1 (2 for RoBERTa)
                ctx = max(1, ctx - r.int("pad_token_id", 1) - 1)
            tokens = ctx
            vocab = r.int("vocab_size", _VOCAB_DEFAULT[mt], limit="vocab_size")
        return _checked(name, mt, False, r.int("num_hidden_layers", limit="n_layers"), d, h, h,
                        r.int("intermediate_size", limit="d_ff"), "gelu", "layernorm", ctx, tokens,
                        r.text("hidden_act", "gelu"), source, vocab_size=vocab)
    if mt == "gpt2":
        d = r.int("n_embd", limit="d_model")
        ctx = r.int("n_positions", limit="max_positions")
        return _decoder(r, name=name, d_key="n_embd", h_key="n_head", l_key="n_layer",
                        ff=r.int("n_inner", 4 * d, limit="d_ff"), ffn="gelu", norm="layernorm", ctx=ctx,
                        kv=r.int("n_head", limit="n_heads"), act=r.text("activation_function", "gelu_new"),
                        positions="learned", tie_default=True, vocab=r.int("vocab_size", _VOCAB_DEFAULT[mt], limit="vocab_size"))
    if mt == "opt":
        d = r.int("hidden_size", limit="d_model")
        if r.int("word_embed_proj_dim", d) != d:
            raise ModelConfigError(f"config.json field 'word_embed_proj_dim' must equal hidden_size {d} "
                                   f"(embedding projections are not modelled) ({source}), "
                                   f"not {cfg['word_embed_proj_dim']!r}")
        act = r.text("activation_function", "relu")
        return _decoder(r, name=name, d_key="hidden_size", h_key="num_attention_heads", l_key="num_hidden_layers",
                        ff=r.int("ffn_dim", limit="d_ff"), ffn="relu" if act == "relu" else "gelu",
                        norm="layernorm", ctx=r.int("max_position_embeddings", limit="max_positions"),
                        kv=r.int("num_attention_heads", limit="n_heads"), act=act, positions="learned",
                        tie_default=True, vocab=r.int("vocab_size", _VOCAB_DEFAULT[mt], limit="vocab_size"))
    if mt == "falcon":
        if r.flag("alibi", False):
            raise ModelConfigError(f"config.json field 'alibi' must be false (ALiBi Falcon models are not "
                                   f"modelled) ({source}), not True")
        d, h = r.int("hidden_size", limit="d_model"), r.int("num_attention_heads", limit="n_heads")
        if r.flag("new_decoder_architecture", False):
            kv = r.int("num_kv_heads", h, limit="n_heads")
        else:
            kv = 1 if r.flag("multi_query", True) else h
        return _decoder(r, name=name, d_key="hidden_size", h_key="num_attention_heads", l_key="num_hidden_layers",
                        ff=r.int("ffn_hidden_size", 4 * d, limit="d_ff"), ffn="gelu", norm="layernorm",
                        ctx=r.int("max_position_embeddings", 2048, limit="max_positions"), kv=kv,
                        act=r.text("activation", "gelu"), positions="rotary",
                        parallel=r.flag("parallel_attn", True), tie_default=True,
                        vocab=r.int("vocab_size", _VOCAB_DEFAULT[mt], limit="vocab_size"))
    if mt in ("llama", "mistral", "qwen2", "phi3"):
        h = r.int("num_attention_heads", limit="n_heads")
        ctx = r.int("max_position_embeddings", limit="max_positions")
        window = None
        if mt in ("mistral", "phi3") or (mt == "qwen2" and r.flag("use_sliding_window", False)):
            window = r.int("sliding_window", 0) or None
        return _decoder(r, name=name, d_key="hidden_size", h_key="num_attention_heads", l_key="num_hidden_layers",
                        ff=r.int("intermediate_size", limit="d_ff"), ffn="silu_gated", norm="rmsnorm", ctx=ctx,
                        kv=r.int("num_key_value_heads", h, limit="n_heads"), act=r.text("hidden_act", "silu"),
                        positions="rotary", window=window, qkv_bias=mt == "qwen2",
                        vocab=r.int("vocab_size", _VOCAB_DEFAULT[mt], limit="vocab_size"))
    if mt == "whisper":
        d, h = r.int("d_model", limit="d_model"), r.int("encoder_attention_heads", limit="n_heads")
        ctx = r.int("max_source_positions", limit="max_positions")
        return _checked(name, mt, False, r.int("encoder_layers", limit="n_layers"), d, h, h,
                        r.int("encoder_ffn_dim", limit="d_ff"), "gelu", "layernorm", ctx, ctx,
                        r.text("activation_function", "gelu"), source)
    raise ModelConfigError(f"config.json model_type must be one of {', '.join(MODEL_TYPES)} "
                           f"({source}), not {mt!r}")


def _checked(name, mt, decoder, layers, d, h, kv, ff, ffn, norm, ctx, tokens, act, source, **extra) -> ModelConfig:
    if d % h:
        raise ModelConfigError(f"hidden size must be a multiple of the number of heads {h} ({source}), not {d!r}")
    if h % kv:
        raise ModelConfigError(f"number of key/value heads must divide the {h} attention heads ({source}), not {kv!r}")
    want = {"silu_gated": "silu", "gelu": "gelu", "relu": "relu"}[ffn]
    if not str(act).startswith(want):
        raise ModelConfigError(f"activation of a {mt} model must be {want}* ({source}), not {act!r}")
    return ModelConfig(name, mt, decoder, layers, d, h, kv, d // h, ff, ffn, norm, ctx, tokens, **extra)


def load_model(name_or_path: str | Path) -> ModelConfig:
    """The model named ``name_or_path`` (built-in, see ``MODEL_NAMES``) or read from a local
    config.json path (or a model folder holding one).

    Raises
    ------
    ModelConfigError
        Unknown name, unreadable/invalid JSON, unsupported architecture or a bad field.
    """
    if isinstance(name_or_path, str) and name_or_path.strip().lower() in (*_BUILTIN, *_ALIASES):
        pass
    elif isinstance(name_or_path, Path) or str(name_or_path).endswith(".json") or Path(str(name_or_path)).is_dir():
        path = Path(name_or_path)
        stem = path.name if path.is_dir() else path.stem
        if path.is_dir():  # a Hugging Face model folder
            path = path / "config.json"
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ModelConfigError(f"model config path must be a readable file, not {str(path)!r} "
                                   f"({exc.strerror})") from None
        except UnicodeDecodeError:
            raise ModelConfigError(f"model config {str(path)!r} must be UTF-8 text, not binary") from None
        try:
            cfg = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelConfigError(f"model config {str(path)!r} must be valid JSON, not ({exc.msg} "
                                   f"at line {exc.lineno})") from None
        return model_from_dict(cfg, name=stem, source=str(path))
    if not isinstance(name_or_path, str):
        raise ModelConfigError(f"model must be a name or a config.json path, not {name_or_path!r}")
    key = name_or_path.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _BUILTIN:
        raise ModelConfigError(f"model must be one of {', '.join(MODEL_NAMES)} or a config.json path, "
                               f"not {name_or_path!r}")
    text = resources.files("mapping").joinpath("configs", _BUILTIN[key]).read_text()
    return model_from_dict(json.loads(text), name=key, source=f"built-in {key}")
