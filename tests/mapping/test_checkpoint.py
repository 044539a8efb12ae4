"""mapping.load_checkpoint: Hugging Face folders (the real all-MiniLM-L6-v2, and tiny GPT-2 /
LLaMA / Qwen2 checkpoints written here in HF layout), shards, and the error messages."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from mapping import CheckpointError, load_checkpoint

WORDS = ("the a cat dog sat on mat runs fast slow big small red blue green house tree car "
         "is was and of to in it he she we they").split()


def write_tokenizer(path: Path, words=WORDS) -> int:
    """A word-level tokenizer.json (whitespace split, [UNK]); returns its vocabulary size."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    vocab = {"[UNK]": 0, **{w: i + 1 for i, w in enumerate(words)}}
    tok = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = Whitespace()
    tok.save(str(path))
    return len(vocab)


def tiny_config(kind: str, vocab: int = 40) -> dict:
    if kind in ("bert", "roberta"):
        return {"model_type": kind, "hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
                "intermediate_size": 128, "vocab_size": vocab, "hidden_act": "gelu", "layer_norm_eps": 1e-12,
                "max_position_embeddings": 42 if kind == "roberta" else 40,
                "type_vocab_size": 1 if kind == "roberta" else 2, "pad_token_id": 1 if kind == "roberta" else 0}
    if kind == "gpt2":
        return {"model_type": "gpt2", "n_embd": 64, "n_head": 4, "n_layer": 2, "n_positions": 64,
                "vocab_size": vocab, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5}
    cfg = {"model_type": kind, "hidden_size": 128, "num_attention_heads": 2, "num_key_value_heads": 1,
           "num_hidden_layers": 2, "intermediate_size": 192, "max_position_embeddings": 64,
           "vocab_size": vocab, "hidden_act": "silu", "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
           "tie_word_embeddings": False}
    return cfg


def tiny_weights(cfg: dict, seed: int = 0) -> dict[str, np.ndarray]:
    """Random float32 weights named as Hugging Face names them."""
    rng = np.random.default_rng(seed)
    r = lambda *shape, s=0.2: (rng.standard_normal(shape) * s).astype(np.float32)  # noqa: E731
    w: dict[str, np.ndarray] = {}
    if cfg["model_type"] in ("bert", "roberta"):  # with the BertModel / RobertaModel prefix and a pooler
        d, ff, pre = cfg["hidden_size"], cfg["intermediate_size"], cfg["model_type"] + "."
        w |= {pre + "embeddings.word_embeddings.weight": r(cfg["vocab_size"], d, s=0.5),
              pre + "embeddings.position_embeddings.weight": r(cfg["max_position_embeddings"], d, s=0.1),
              pre + "embeddings.token_type_embeddings.weight": r(cfg["type_vocab_size"], d, s=0.1),
              pre + "embeddings.LayerNorm.weight": 1 + r(d, s=0.1), pre + "embeddings.LayerNorm.bias": r(d, s=0.1),
              pre + "pooler.dense.weight": r(d, d, s=0.1), pre + "pooler.dense.bias": r(d, s=0.05)}
        for i in range(cfg["num_hidden_layers"]):
            p = f"{pre}encoder.layer.{i}."
            for hf, n, k in (("attention.self.query", d, d), ("attention.self.key", d, d),
                             ("attention.self.value", d, d), ("attention.output.dense", d, d),
                             ("intermediate.dense", ff, d), ("output.dense", d, ff)):
                w |= {p + hf + ".weight": r(n, k, s=0.15), p + hf + ".bias": r(n, s=0.05)}
            for hf in ("attention.output.LayerNorm", "output.LayerNorm"):
                w |= {p + hf + ".weight": 1 + r(d, s=0.1), p + hf + ".bias": r(d, s=0.1)}
        return w
    if cfg["model_type"] == "gpt2":
        d, v, L = cfg["n_embd"], cfg["vocab_size"], cfg["n_layer"]
        w["transformer.wte.weight"] = r(v, d, s=0.5)
        w["transformer.wpe.weight"] = r(cfg["n_positions"], d, s=0.1)
        for i in range(L):
            p = f"transformer.h.{i}."
            w |= {p + "ln_1.weight": 1 + r(d, s=0.1), p + "ln_1.bias": r(d, s=0.1),
                  p + "attn.c_attn.weight": r(d, 3 * d), p + "attn.c_attn.bias": r(3 * d, s=0.05),
                  p + "attn.c_proj.weight": r(d, d), p + "attn.c_proj.bias": r(d, s=0.05),
                  p + "ln_2.weight": 1 + r(d, s=0.1), p + "ln_2.bias": r(d, s=0.1),
                  p + "mlp.c_fc.weight": r(d, 4 * d), p + "mlp.c_fc.bias": r(4 * d, s=0.05),
                  p + "mlp.c_proj.weight": r(4 * d, d, s=0.1), p + "mlp.c_proj.bias": r(d, s=0.05)}
        w["transformer.ln_f.weight"] = 1 + r(d, s=0.1)
        w["transformer.ln_f.bias"] = r(d, s=0.1)
        return w
    d, v, L, ff = cfg["hidden_size"], cfg["vocab_size"], cfg["num_hidden_layers"], cfg["intermediate_size"]
    hd = d // cfg["num_attention_heads"]
    kv = cfg["num_key_value_heads"] * hd
    w["model.embed_tokens.weight"] = r(v, d, s=0.5)
    for i in range(L):
        p = f"model.layers.{i}."
        w |= {p + "self_attn.q_proj.weight": r(d, d, s=0.1), p + "self_attn.k_proj.weight": r(kv, d, s=0.1),
              p + "self_attn.v_proj.weight": r(kv, d, s=0.1), p + "self_attn.o_proj.weight": r(d, d, s=0.1),
              p + "mlp.gate_proj.weight": r(ff, d, s=0.1), p + "mlp.up_proj.weight": r(ff, d, s=0.1),
              p + "mlp.down_proj.weight": r(d, ff, s=0.1),
              p + "input_layernorm.weight": 1 + r(d, s=0.1), p + "post_attention_layernorm.weight": 1 + r(d, s=0.1)}
        if cfg["model_type"] == "qwen2":
            w |= {p + "self_attn.q_proj.bias": r(d, s=0.05), p + "self_attn.k_proj.bias": r(kv, s=0.05),
                  p + "self_attn.v_proj.bias": r(kv, s=0.05)}
    w["model.norm.weight"] = 1 + r(d, s=0.1)
    w["lm_head.weight"] = r(v, d, s=0.3)
    return w


def write_checkpoint(folder: Path, kind: str, *, seed: int = 0, shards: int = 1) -> Path:
    """A tiny model folder in Hugging Face layout (config.json, safetensors, tokenizer.json)."""
    folder.mkdir(parents=True, exist_ok=True)
    cfg = tiny_config(kind)
    (folder / "config.json").write_text(json.dumps(cfg))
    write_tokenizer(folder / "tokenizer.json")
    w = tiny_weights(cfg, seed)
    if shards == 1:
        save_file(w, str(folder / "model.safetensors"))
        return folder
    names = sorted(w)
    wmap = {}
    for s in range(shards):
        part = {n: w[n] for n in names[s::shards]}
        fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        save_file(part, str(folder / fname))
        wmap |= {n: fname for n in part}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": wmap}))
    return folder


@pytest.fixture(scope="session")
def minilm_dir(tmp_path_factory) -> Path:
    from all_minilm_l6_v2 import extract_model

    return Path(extract_model(str(tmp_path_factory.mktemp("minilm"))))


def test_minilm_uses_every_weight(minilm_dir):
    ck = load_checkpoint(minilm_dir)
    assert (ck.family, ck.model_type, ck.decoder) == ("bert", "bert", False)
    assert (ck.config.n_layers, ck.config.d_model, ck.config.n_heads, ck.config.d_ff) == (6, 384, 12, 1536)
    with safe_open(str(minilm_dir / "model.safetensors"), "np") as f:
        names = set(f.keys())
        for canon, hf in ck.sources.items():
            assert np.array_equal(ck.tensors[canon], f.get_tensor(hf).astype(np.float64)), canon
    # every stored parameter is used; the one buffer left out is position_ids (0..511, not a weight)
    assert names - set(ck.sources.values()) == {"embeddings.position_ids"}
    tok = ck.tokenizer(max_tokens=8)
    ids = tok.encode("a quick test of the tokenizer with many words in it").ids
    assert len(ids) == 8 and ids[0] == tok.token_to_id("[CLS]") and ids[-1] == tok.token_to_id("[SEP]")


def test_gpt2_conv1d_weights_are_split_and_transposed(tmp_path):
    folder = write_checkpoint(tmp_path / "gpt2", "gpt2")
    ck = load_checkpoint(folder)
    raw = tiny_weights(tiny_config("gpt2"))
    d = 64
    c_attn = raw["transformer.h.1.attn.c_attn.weight"]  # in x 3*out (Conv1D)
    assert np.array_equal(ck.tensors["L1.k.weight"], c_attn[:, d:2 * d].T)
    assert np.array_equal(ck.tensors["L1.v.bias"], raw["transformer.h.1.attn.c_attn.bias"][2 * d:])
    assert np.array_equal(ck.tensors["L0.down.weight"], raw["transformer.h.0.mlp.c_proj.weight"].T)
    assert ck.tensors["lm_head.weight"] is ck.tensors["embed.tokens"]  # tied
    assert ck.activation == "gelu_tanh" and ck.decoder


def test_llama_shards_equal_single_file_and_qwen2_biases(tmp_path):
    one = load_checkpoint(write_checkpoint(tmp_path / "one", "llama"))
    three = load_checkpoint(write_checkpoint(tmp_path / "three", "llama", shards=3))
    assert one.tensors.keys() == three.tensors.keys()
    assert all(np.array_equal(one.tensors[k], three.tensors[k]) for k in one.tensors)
    assert one.config.n_kv_heads == 1 and one.config.group_size == 2 and one.rope_theta == 10000.0
    qwen = load_checkpoint(write_checkpoint(tmp_path / "qwen", "qwen2"))
    assert {"L0.q.bias", "L0.k.bias", "L0.v.bias"} <= set(qwen.tensors) and "L0.q.bias" not in one.tensors


def test_folder_without_config_or_weights(tmp_path):
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tmp_path)
    assert str(e.value) == f"model folder must hold config.json, not be without it ({str(tmp_path)!r})"
    (tmp_path / "config.json").write_text(json.dumps(tiny_config("llama")))
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tmp_path)
    assert str(e.value) == ("model folder must hold model.safetensors or model.safetensors.index.json, "
                            f"not be without weights ({str(tmp_path)!r})")


def test_missing_and_misshaped_tensors_are_named(tmp_path):
    folder = write_checkpoint(tmp_path / "m", "llama")
    w = tiny_weights(tiny_config("llama"))
    del w["model.layers.1.mlp.up_proj.weight"]
    save_file(w, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(folder)
    assert str(e.value) == f"tensor 'model.layers.1.mlp.up_proj.weight' must be in the checkpoint ({folder}), not missing"
    w = tiny_weights(tiny_config("llama"))
    w["model.layers.0.self_attn.k_proj.weight"] = w["model.layers.0.self_attn.k_proj.weight"][:, :100].copy()
    save_file(w, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(folder)
    assert str(e.value) == "tensor 'model.layers.0.self_attn.k_proj.weight' must have shape (64, 128), not (64, 100)"


def test_tokenizer_larger_than_vocabulary(tmp_path):
    folder = write_checkpoint(tmp_path / "g", "gpt2")
    n = write_tokenizer(folder / "tokenizer.json", WORDS + [f"w{i}" for i in range(40)])
    ck = load_checkpoint(folder)
    with pytest.raises(CheckpointError) as e:
        ck.tokenizer()
    assert str(e.value) == (f"tokenizer vocabulary size must be at most the model's vocab_size 40 "
                            f"({folder / 'tokenizer.json'}), not {n!r}")


def test_unsupported_model_type(tmp_path):
    shutil.copytree(write_checkpoint(tmp_path / "a", "llama"), tmp_path / "b")
    cfg = tiny_config("llama") | {"model_type": "t5"}
    (tmp_path / "b" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tmp_path / "b")
    assert str(e.value).startswith("config.json model_type must be one of bert, roberta, gpt2, llama, mistral, qwen2")
