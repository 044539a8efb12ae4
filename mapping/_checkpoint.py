"""Hugging Face model folders: ``config.json``, ``model.safetensors`` (or shards with their
``model.safetensors.index.json``) and ``tokenizer.json``, loaded into one frozen ``Checkpoint``.

The layer shapes, vocabulary size, tied embeddings and Q/K/V biases come from ``mapping``'s one
config parser (``model_from_dict``); this module adds only what a forward pass needs beyond them
(norm epsilon, activation, rotary base, RoBERTa's position offset) and maps every weight of a
family to one canonical name:

======================== =============================== ============================== ===============================
canonical name           BERT / RoBERTa / MiniLM         GPT-2                          LLaMA / Mistral / Qwen2
======================== =============================== ============================== ===============================
embed.tokens             embeddings.word_embeddings      wte                            model.embed_tokens
embed.positions          embeddings.position_embeddings  wpe                            (rotary, no table)
embed.token_types        embeddings.token_type_embeddings
embed.norm.{weight,bias} embeddings.LayerNorm
L{i}.q/k/v.{weight,bias} attention.self.query/key/value  attn.c_attn (split, transposed) self_attn.q/k/v_proj (Qwen2 bias)
L{i}.o.{weight,bias}     attention.output.dense          attn.c_proj (transposed)       self_attn.o_proj
L{i}.attn_norm           attention.output.LayerNorm      ln_1                           input_layernorm (weight only)
L{i}.up / down           intermediate / output.dense     mlp.c_fc / mlp.c_proj          mlp.up_proj / down_proj
L{i}.gate                                                                               mlp.gate_proj
L{i}.mlp_norm            output.LayerNorm                ln_2                           post_attention_layernorm
final_norm                                               ln_f                           model.norm
lm_head.weight                                           wte (tied)                     lm_head (or tied)
pooler.{weight,bias}     pooler.dense (if present)
======================== =============================== ============================== ===============================

Linear weights are stored out x in (GPT-2's Conv1D in x out weights are transposed on load), as
float64 arrays holding the checkpoint's values exactly. BERT-family names may carry a ``bert.``
or ``roberta.`` prefix, GPT-2 names a ``transformer.`` prefix.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from ._models import ModelConfig, model_from_dict
from .errors import CheckpointError

__all__ = ["Checkpoint", "load_checkpoint", "CHECKPOINT_FAMILIES"]

#: config ``model_type`` -> architecture family whose naming and forward pass it uses
CHECKPOINT_FAMILIES = {"bert": "bert", "roberta": "bert", "gpt2": "gpt2", "llama": "llama",
                       "mistral": "llama", "qwen2": "llama"}

_ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh",
                "gelu_fast": "gelu_tanh", "silu": "silu", "swish": "silu"}


@dataclass(frozen=True)
class Checkpoint:
    """A model folder's configuration, weights and tokenizer.

    Attributes
    ----------
    path : the model folder.
    config : layer shapes (``mapping.ModelConfig``, parsed by ``model_from_dict``).
    model_type : the config's ``model_type`` (bert, roberta, gpt2, llama, mistral, qwen2).
    family : "bert" (post-LN encoder), "gpt2" (pre-LN decoder, learned positions) or "llama"
        (pre-RMSNorm decoder, rotary positions, gated SiLU FFN).
    vocab_size : rows of the token embedding.
    norm_eps : epsilon of every LayerNorm / RMSNorm.
    activation : "gelu" (erf), "gelu_tanh" or "silu".
    rope_theta : rotary base (llama family), else None.
    position_offset : index of the first position embedding (RoBERTa: padding_idx + 1), else 0.
    tensors : canonical name -> float64 array (see the module docstring).
    sources : canonical name -> the Hugging Face tensor it was read from.
    """

    path: Path
    config: ModelConfig
    model_type: str
    family: str
    vocab_size: int
    norm_eps: float
    activation: str
    rope_theta: float | None
    position_offset: int
    tensors: Mapping[str, np.ndarray] = field(repr=False)
    sources: Mapping[str, str] = field(repr=False, default_factory=dict)

    @property
    def decoder(self) -> bool:
        """True for causal decoders (prefill + decode with a KV cache)."""
        return self.config.decoder

    @property
    def name(self) -> str:
        return self.path.name

    def tokenizer(self, *, max_tokens: int | None = None):
        """The folder's ``tokenizer.json`` as a ``tokenizers.Tokenizer`` without padding,
        truncated to ``max_tokens`` (special tokens included) when given.

        Raises
        ------
        CheckpointError
            If the tokenizer cannot be read or its vocabulary exceeds the embedding rows.
        """
        return _tokenizer(self.path / "tokenizer.json", self.vocab_size, max_tokens)


def _tokenizer(path: Path, vocab_size: int, max_tokens: int | None):
    from tokenizers import Tokenizer

    if not path.is_file():
        raise CheckpointError(f"model folder must hold tokenizer.json, not be without it ({str(path.parent)!r})")
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as exc:  # the Rust side raises a bare Exception for malformed files
        raise CheckpointError(f"tokenizer.json must be a valid tokenizers file, not {str(path)!r} ({exc})") from None
    n = tok.get_vocab_size(with_added_tokens=True)
    if n > vocab_size:
        raise CheckpointError(f"tokenizer vocabulary size must be at most the model's vocab_size {vocab_size} "
                              f"({str(path)}), not {n!r}")
    tok.no_padding()
    if max_tokens is not None:
        tok.enable_truncation(max_length=max_tokens)
    else:
        tok.no_truncation()
    return tok


def _config(folder: Path) -> dict:
    path = folder / "config.json"
    if not folder.is_dir():
        raise CheckpointError(f"model folder must be a directory, not {str(folder)!r}")
    if not path.is_file():
        raise CheckpointError(f"model folder must hold config.json, not be without it ({str(folder)!r})")
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"config.json must be a readable JSON file, not {str(path)!r} ({exc})") from None
    if not isinstance(cfg, dict):
        raise CheckpointError(f"config.json must hold a JSON object, not {type(cfg).__name__} ({str(path)!r})")
    return cfg


def _weight_files(folder: Path) -> dict[str, Path] | Path:
    """The single safetensors file, or tensor name -> shard path from the index."""
    single = folder / "model.safetensors"
    index = folder / "model.safetensors.index.json"
    if single.is_file():
        return single
    if index.is_file():
        try:
            wmap = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise CheckpointError(f"model.safetensors.index.json must be JSON with a 'weight_map', "
                                  f"not {str(index)!r} ({exc!r})") from None
        if not isinstance(wmap, dict):
            raise CheckpointError(f"weight_map must be an object, not {type(wmap).__name__} ({str(index)!r})")
        shards = {name: folder / str(file) for name, file in wmap.items()}
        for p in set(shards.values()):
            if not p.is_file():
                raise CheckpointError(f"safetensors shard must exist, not be missing: {str(p)!r}")
        return shards
    raise CheckpointError(f"model folder must hold model.safetensors or model.safetensors.index.json, "
                          f"not be without weights ({str(folder)!r})")


class _Reader:
    """Lazy reader of tensors by Hugging Face name across one file or shards."""

    def __init__(self, files: dict[str, Path] | Path):
        from safetensors import safe_open

        self._open = safe_open
        self._handles: dict[Path, object] = {}
        if isinstance(files, Path):
            self._map = {name: files for name in self._handle(files).keys()}
        else:
            self._map = files

    def _handle(self, path: Path):
        if path not in self._handles:
            try:
                self._handles[path] = self._open(str(path), "np")
            except Exception as exc:  # SafetensorError and friends
                raise CheckpointError(f"weights file must be a valid safetensors file, not {str(path)!r} "
                                      f"({exc})") from None
        return self._handles[path]

    def names(self) -> set[str]:
        return set(self._map)

    def get(self, name: str) -> np.ndarray:
        try:
            arr = self._handle(self._map[name]).get_tensor(name)
        except KeyError:
            raise
        except Exception as exc:
            raise CheckpointError(f"tensor {name!r} must be readable, not ({exc})") from None
        if arr.dtype.kind != "f":
            raise CheckpointError(f"tensor {name!r} must hold floats, not {arr.dtype}")
        return np.asarray(arr, dtype=np.float64)


def _spec(family: str, cfg: ModelConfig, raw: dict, names: set[str]) -> list[tuple[str, str, tuple, bool, bool]]:
    """(canonical, HF name, shape (out x in), required, transpose) of every tensor."""
    d, ff, L = cfg.d_model, cfg.d_ff, cfg.n_layers
    hq, hkv = cfg.n_heads * cfg.head_dim, cfg.n_kv_heads * cfg.head_dim
    vocab = cfg.vocab_size
    out: list[tuple[str, str, tuple, bool, bool]] = []
    if family == "bert":
        pre = next((p for p in ("", "bert.", "roberta.")
                    if f"{p}embeddings.word_embeddings.weight" in names), "")
        e = f"{pre}embeddings."
        out += [("embed.tokens", e + "word_embeddings.weight", (vocab, d), True, False),
                ("embed.positions", e + "position_embeddings.weight", (raw["max_position_embeddings"], d), True, False),
                ("embed.norm.weight", e + "LayerNorm.weight", (d,), True, False),
                ("embed.norm.bias", e + "LayerNorm.bias", (d,), True, False)]
        if raw.get("type_vocab_size", 2):
            out.append(("embed.token_types", e + "token_type_embeddings.weight", (raw.get("type_vocab_size", 2), d),
                        True, False))
        for i in range(L):
            p = f"{pre}encoder.layer.{i}."
            for c, hf, n, k in (("q", "attention.self.query", d, d), ("k", "attention.self.key", d, d),
                                ("v", "attention.self.value", d, d), ("o", "attention.output.dense", d, d),
                                ("up", "intermediate.dense", ff, d), ("down", "output.dense", d, ff)):
                out += [(f"L{i}.{c}.weight", p + hf + ".weight", (n, k), True, False),
                        (f"L{i}.{c}.bias", p + hf + ".bias", (n,), True, False)]
            for c, hf in (("attn_norm", "attention.output.LayerNorm"), ("mlp_norm", "output.LayerNorm")):
                out += [(f"L{i}.{c}.weight", p + hf + ".weight", (d,), True, False),
                        (f"L{i}.{c}.bias", p + hf + ".bias", (d,), True, False)]
        if f"{pre}pooler.dense.weight" in names:
            out += [("pooler.weight", f"{pre}pooler.dense.weight", (d, d), True, False),
                    ("pooler.bias", f"{pre}pooler.dense.bias", (d,), True, False)]
        return out
    if family == "gpt2":
        pre = "transformer." if "transformer.wte.weight" in names else ""
        out += [("embed.tokens", pre + "wte.weight", (vocab, d), True, False),
                ("embed.positions", pre + "wpe.weight", (raw["n_positions"], d), True, False),
                ("final_norm.weight", pre + "ln_f.weight", (d,), True, False),
                ("final_norm.bias", pre + "ln_f.bias", (d,), True, False)]
        for i in range(L):
            p = f"{pre}h.{i}."
            out += [(f"L{i}.qkv.weight", p + "attn.c_attn.weight", (3 * d, d), True, True),
                    (f"L{i}.qkv.bias", p + "attn.c_attn.bias", (3 * d,), True, False),
                    (f"L{i}.o.weight", p + "attn.c_proj.weight", (d, d), True, True),
                    (f"L{i}.o.bias", p + "attn.c_proj.bias", (d,), True, False),
                    (f"L{i}.up.weight", p + "mlp.c_fc.weight", (ff, d), True, True),
                    (f"L{i}.up.bias", p + "mlp.c_fc.bias", (ff,), True, False),
                    (f"L{i}.down.weight", p + "mlp.c_proj.weight", (d, ff), True, True),
                    (f"L{i}.down.bias", p + "mlp.c_proj.bias", (d,), True, False)]
            for c, hf in (("attn_norm", "ln_1"), ("mlp_norm", "ln_2")):
                out += [(f"L{i}.{c}.weight", p + hf + ".weight", (d,), True, False),
                        (f"L{i}.{c}.bias", p + hf + ".bias", (d,), True, False)]
        if "lm_head.weight" in names and not cfg.tied_embeddings:
            out.append(("lm_head.weight", "lm_head.weight", (vocab, d), True, False))
        return out
    # llama family
    qkv_bias = cfg.qkv_bias or bool(raw.get("attention_bias", False))
    out += [("embed.tokens", "model.embed_tokens.weight", (vocab, d), True, False),
            ("final_norm.weight", "model.norm.weight", (d,), True, False)]
    for i in range(L):
        p = f"model.layers.{i}."
        for c, hf, n, k in (("q", "self_attn.q_proj", hq, d), ("k", "self_attn.k_proj", hkv, d),
                            ("v", "self_attn.v_proj", hkv, d), ("o", "self_attn.o_proj", d, hq),
                            ("gate", "mlp.gate_proj", ff, d), ("up", "mlp.up_proj", ff, d),
                            ("down", "mlp.down_proj", d, ff)):
            out.append((f"L{i}.{c}.weight", p + hf + ".weight", (n, k), True, False))
            if c in ("q", "k", "v") and qkv_bias:
                out.append((f"L{i}.{c}.bias", p + hf + ".bias", (n,), True, False))
            if c == "o" and raw.get("attention_bias", False):
                out.append((f"L{i}.o.bias", p + hf + ".bias", (n,), True, False))
        out += [(f"L{i}.attn_norm.weight", p + "input_layernorm.weight", (d,), True, False),
                (f"L{i}.mlp_norm.weight", p + "post_attention_layernorm.weight", (d,), True, False)]
    if not cfg.tied_embeddings:
        out.append(("lm_head.weight", "lm_head.weight", (vocab, d), True, False))
    return out


def load_checkpoint(folder: str | Path) -> Checkpoint:
    """Load a Hugging Face model folder (config, safetensors weights; the tokenizer is read by
    ``Checkpoint.tokenizer``).

    Raises
    ------
    CheckpointError
        A folder without config.json or weights, an unsupported ``model_type``, a missing or
        mis-shaped tensor (named), or an unreadable file.
    ModelConfigError
        A config field the shape parser rejects.
    """
    folder = Path(folder)
    raw = _config(folder)
    source = str(folder / "config.json")
    mt = raw.get("model_type")
    if mt not in CHECKPOINT_FAMILIES:
        raise CheckpointError(f"config.json model_type must be one of {', '.join(CHECKPOINT_FAMILIES)} "
                              f"({source}), not {mt!r}")
    family = CHECKPOINT_FAMILIES[mt]
    cfg = model_from_dict(raw, name=folder.name, source=source)
    vocab = cfg.vocab_size
    files = _weight_files(folder)
    act_key = {"bert": "hidden_act", "gpt2": "activation_function", "llama": "hidden_act"}[family]
    act_raw = raw.get(act_key, {"bert": "gelu", "gpt2": "gelu_new", "llama": "silu"}[family])
    if act_raw not in _ACTIVATIONS:
        raise CheckpointError(f"config.json {act_key} must be one of {', '.join(_ACTIVATIONS)} ({source}), "
                              f"not {act_raw!r}")
    eps_key = {"bert": "layer_norm_eps", "gpt2": "layer_norm_epsilon", "llama": "rms_norm_eps"}[family]
    eps = float(raw.get(eps_key, {"bert": 1e-12, "gpt2": 1e-5, "llama": 1e-6}[family]))
    if not (math.isfinite(eps) and eps >= 0):
        raise CheckpointError(f"config.json {eps_key} must be a finite non-negative number ({source}), not {eps!r}")
    rope = None
    if family == "llama":
        if cfg.rope_scaling is not None:
            raise CheckpointError(f"config.json rope_scaling must be null (scaled rotary embeddings are not "
                                  f"implemented) ({source}), not {raw['rope_scaling']!r}")
        rope = float(raw.get("rope_theta", 10000.0))
    if family == "bert" and raw.get("position_embedding_type", "absolute") != "absolute":
        raise CheckpointError(f"config.json position_embedding_type must be 'absolute' ({source}), "
                              f"not {raw['position_embedding_type']!r}")
    offset = int(raw.get("pad_token_id", 1)) + 1 if mt == "roberta" else 0
    reader = _Reader(files)
    names = reader.names()
    tensors: dict[str, np.ndarray] = {}
    sources: dict[str, str] = {}
    for canon, hf, shape, _required, transpose in _spec(family, cfg, raw, names):
        if hf not in names:
            raise CheckpointError(f"tensor {hf!r} must be in the checkpoint ({str(folder)}), not missing")
        arr = reader.get(hf)
        if transpose:
            arr = arr.T
        if arr.shape != shape:
            got = arr.T.shape if transpose else arr.shape
            want = shape[::-1] if transpose else shape
            raise CheckpointError(f"tensor {hf!r} must have shape {want}, not {got}")
        tensors[canon] = np.ascontiguousarray(arr)
        sources[canon] = hf
    if family == "gpt2":
        for i in range(cfg.n_layers):
            w, b = tensors.pop(f"L{i}.qkv.weight"), tensors.pop(f"L{i}.qkv.bias")
            sw, sb = sources.pop(f"L{i}.qkv.weight"), sources.pop(f"L{i}.qkv.bias")
            d = cfg.d_model
            for j, c in enumerate("qkv"):
                tensors[f"L{i}.{c}.weight"] = np.ascontiguousarray(w[j * d:(j + 1) * d])
                tensors[f"L{i}.{c}.bias"] = b[j * d:(j + 1) * d].copy()
                sources[f"L{i}.{c}.weight"], sources[f"L{i}.{c}.bias"] = sw, sb
    if cfg.decoder and "lm_head.weight" not in tensors:
        tensors["lm_head.weight"] = tensors["embed.tokens"]  # tied embeddings
        sources["lm_head.weight"] = sources["embed.tokens"]
    for t in tensors.values():
        t.setflags(write=False)
    return Checkpoint(folder, cfg, mt, family, vocab, eps, _ACTIVATIONS[act_raw], rope, offset, tensors, sources)
