"""Transformer model descriptions parsed from Hugging Face ``config.json`` files.

``load_model(name_or_path)`` accepts a built-in name (configs shipped as package data, written
from the public config values of each model) or a path to a local config.json of one of the
supported architectures (``model_type`` bert, gpt2, llama, vit, whisper -> its encoder).
The result is one frozen ``ModelConfig``; nothing downstream reads the raw dict.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import ModelConfigError

__all__ = ["ModelConfig", "load_model", "MODEL_NAMES", "model_from_dict"]

#: built-in model name -> package data file
_BUILTIN = {
    "bert-base": "bert-base.json",
    "gpt2": "gpt2.json",
    "llama2-7b": "llama2-7b.json",
    "llama2-70b": "llama2-70b.json",
    "llama3-8b": "llama3-8b.json",
    "vit-b16": "vit-b16.json",
    "whisper-large-v2-encoder": "whisper-large-v2-encoder.json",
}
_ALIASES = {"bert": "bert-base", "bert-base-uncased": "bert-base", "llama-2-7b": "llama2-7b",
            "llama-2-70b": "llama2-70b", "llama-3-8b": "llama3-8b", "vit-base-patch16-224": "vit-b16",
            "vit-b/16": "vit-b16", "whisper-large-v2": "whisper-large-v2-encoder"}
MODEL_NAMES = tuple(_BUILTIN)
#: prompt length used for decoders when none is given (tokens); encoders use their full input
DECODER_DEFAULT_PROMPT = 512


@dataclass(frozen=True)
class ModelConfig:
    """Shape of a transformer stack, as the workload graph needs it.

    Attributes
    ----------
    name : model name (built-in name or the config file's stem).
    model_type : the config's ``model_type``.
    decoder : True for causal decoders (prefill + decode with a KV cache), False for encoders.
    n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff : layer shapes (elements).
    ffn : "gelu" (two GEMMs) or "silu_gated" (gate, up, down GEMMs).
    norm : "layernorm" or "rmsnorm".
    max_positions : context length in tokens (KV cache limit for decoders).
    default_tokens : sequence length used when none is given: the model's natural input for
        encoders (BERT 512, ViT-B/16 197, Whisper 1500), ``DECODER_DEFAULT_PROMPT`` for decoders.
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

    @property
    def group_size(self) -> int:
        """Query heads per KV head (1 for MHA, > 1 for GQA)."""
        return self.n_heads // self.n_kv_heads


def _field(cfg: dict, key: str, model_type: str, source: str) -> int:
    if key not in cfg or cfg[key] is None:
        raise ModelConfigError(f"config.json field {key!r} must be present for model_type "
                               f"{model_type!r} ({source}), not missing")
    v = cfg[key]
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ModelConfigError(f"config.json field {key!r} must be a positive integer ({source}), not {v!r}")
    return v


def model_from_dict(cfg: dict, *, name: str, source: str = "config.json") -> ModelConfig:
    """Parse a config.json dict of a supported architecture into a ``ModelConfig``.

    Raises
    ------
    ModelConfigError
        If ``model_type`` is unsupported or a needed field is missing or not a positive integer.
    """
    if not isinstance(cfg, dict):
        raise ModelConfigError(f"config.json ({source}) must hold a JSON object, not {type(cfg).__name__}")
    mt = cfg.get("model_type")
    f = lambda key: _field(cfg, key, mt, source)  # noqa: E731
    if mt in ("bert", "vit"):
        d, h = f("hidden_size"), f("num_attention_heads")
        if mt == "vit":
            tokens = (f("image_size") // f("patch_size")) ** 2 + 1
            ctx = tokens
        else:
            ctx = f("max_position_embeddings")
            tokens = ctx
        act = cfg.get("hidden_act", "gelu")
        return _checked(name, mt, False, f("num_hidden_layers"), d, h, h, f("intermediate_size"),
                        "gelu", "layernorm", ctx, tokens, act, source)
    if mt == "gpt2":
        d, h = f("n_embd"), f("n_head")
        ff = cfg.get("n_inner") or 4 * d
        ctx = f("n_positions")
        return _checked(name, mt, True, f("n_layer"), d, h, h, ff, "gelu", "layernorm", ctx,
                        min(ctx, DECODER_DEFAULT_PROMPT), cfg.get("activation_function", "gelu_new"), source)
    if mt == "llama":
        d, h = f("hidden_size"), f("num_attention_heads")
        kv = cfg.get("num_key_value_heads") or h
        ctx = f("max_position_embeddings")
        return _checked(name, mt, True, f("num_hidden_layers"), d, h, kv, f("intermediate_size"),
                        "silu_gated", "rmsnorm", ctx, min(ctx, DECODER_DEFAULT_PROMPT), cfg.get("hidden_act", "silu"),
                        source)
    if mt == "whisper":
        d, h = f("d_model"), f("encoder_attention_heads")
        ctx = f("max_source_positions")
        return _checked(name, mt, False, f("encoder_layers"), d, h, h, f("encoder_ffn_dim"), "gelu",
                        "layernorm", ctx, ctx, cfg.get("activation_function", "gelu"), source)
    raise ModelConfigError(f"config.json model_type must be one of bert, gpt2, llama, vit, whisper "
                           f"({source}), not {mt!r}")


def _checked(name, mt, decoder, layers, d, h, kv, ff, ffn, norm, ctx, tokens, act, source) -> ModelConfig:
    if d % h:
        raise ModelConfigError(f"hidden size must be a multiple of the number of heads {h} ({source}), not {d!r}")
    if h % kv:
        raise ModelConfigError(f"number of key/value heads must divide the {h} attention heads ({source}), not {kv!r}")
    want = "silu" if ffn == "silu_gated" else "gelu"
    if not str(act).startswith(want):
        raise ModelConfigError(f"activation of a {mt} model must be {want}* ({source}), not {act!r}")
    return ModelConfig(name, mt, decoder, layers, d, h, kv, d // h, ff, ffn, norm, ctx, tokens)


def load_model(name_or_path: str | Path) -> ModelConfig:
    """The model named ``name_or_path`` (built-in, see ``MODEL_NAMES``) or read from a local
    config.json path (or a model folder holding one).

    Raises
    ------
    ModelConfigError
        Unknown name, unreadable/invalid JSON, unsupported architecture or missing field.
    """
    if isinstance(name_or_path, str) and name_or_path.strip().lower() in (*_BUILTIN, *_ALIASES):
        pass
    elif isinstance(name_or_path, Path) or str(name_or_path).endswith(".json") or Path(str(name_or_path)).is_dir():
        path = Path(name_or_path)
        stem = path.name if path.is_dir() else path.stem
        if path.is_dir():  # a Hugging Face model folder
            path = path / "config.json"
        try:
            text = path.read_text()
        except OSError as exc:
            raise ModelConfigError(f"model config path must be a readable file, not {str(path)!r} "
                                   f"({exc.strerror})") from None
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
