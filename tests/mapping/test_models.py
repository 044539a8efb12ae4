"""Model configs and the workload graph: shapes checked against published parameter counts."""
from __future__ import annotations

import json

import pytest

from mapping import GemmOp, ModelConfigError, VectorOp, layer_ops, load_model, MODEL_NAMES


def _weight_elements(model) -> int:
    return sum(op.K * op.N for op in layer_ops(model, tokens=1) if isinstance(op, GemmOp) and op.b_role == "weight")


@pytest.mark.parametrize("name, vocab, published", [
    # parameter counts reported by the Hugging Face model cards / safetensors metadata
    ("llama2-7b", 32000, 6_738_415_616),
    ("llama2-70b", 32000, 68_976_648_192),
    ("llama3-8b", 128256, 8_030_261_248),
])
def test_llama_parameter_counts(name, vocab, published):
    m = load_model(name)
    norms = m.n_layers * 2 * m.d_model + m.d_model
    embeddings = 2 * vocab * m.d_model  # untied input embedding and LM head
    assert m.n_layers * _weight_elements(m) + norms + embeddings == published


def test_bert_base_encoder_weights():
    m = load_model("bert-base")
    # 12 layers x (4 d^2 + 2 d d_ff) = 84,934,656 weight elements (biases excluded)
    assert m.n_layers * _weight_elements(m) == 12 * (4 * 768 ** 2 + 2 * 768 * 3072)
    assert not m.decoder and m.default_tokens == 512


def test_gqa_and_natural_lengths():
    assert load_model("llama3-8b").group_size == 4
    assert load_model("llama2-70b").group_size == 8
    assert load_model("llama2-7b").group_size == 1
    assert load_model("vit-b16").default_tokens == (224 // 16) ** 2 + 1
    assert load_model("whisper-large-v2-encoder").default_tokens == 1500
    assert load_model("gpt2").d_ff == 4 * 768
    assert load_model("llama2-7b").default_tokens == 512 and load_model("gpt2").max_positions == 1024


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_prefill_macs_match_formula(name):
    m = load_model(name)
    S = 64
    ops = layer_ops(m, tokens=S)
    hd, h, kv = m.head_dim, m.n_heads, m.n_kv_heads
    ffn = (3 if m.ffn == "silu_gated" else 2) * m.d_model * m.d_ff
    proj = m.d_model * hd * (2 * h + 2 * kv)
    attention = 2 * h * S * S * hd
    assert sum(op.macs for op in ops if isinstance(op, GemmOp)) == S * (proj + ffn) + attention


def test_decode_step_reads_growing_kv_cache():
    m = load_model("llama3-8b")
    ops = {op.name: op for op in layer_ops(m, tokens=1, past=99, batch=3)}
    s = ops["attn_scores"]
    assert (s.M, s.K, s.N, s.count, s.b_role) == (4, 128, 100, 3 * 8, "kv")
    c = ops["attn_context"]
    assert (c.M, c.K, c.N) == (4, 100, 128)
    sm = ops["softmax"]
    assert isinstance(sm, VectorOp) and (sm.rows, sm.length) == (3 * 32, 100)


def test_local_config_and_errors(tmp_path):
    base = {"model_type": "llama", "hidden_size": 256, "num_attention_heads": 8, "num_key_value_heads": 2,
            "num_hidden_layers": 2, "intermediate_size": 512, "max_position_embeddings": 128, "hidden_act": "silu"}
    p = tmp_path / "tiny.json"
    p.write_text(json.dumps(base))
    m = load_model(str(p))
    assert (m.name, m.head_dim, m.group_size) == ("tiny", 32, 4)
    folder = tmp_path / "tiny-llama"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(base))
    assert load_model(str(folder)).name == "tiny-llama"
    del base["intermediate_size"]
    p.write_text(json.dumps(base))
    with pytest.raises(ModelConfigError) as e:
        load_model(str(p))
    assert str(e.value) == (f"config.json field 'intermediate_size' must be present for model_type 'llama' "
                            f"({p}), not missing")
    with pytest.raises(ModelConfigError) as e:
        load_model("llama-9")
    assert str(e.value) == ("model must be one of bert-base, gpt2, llama2-7b, llama2-70b, llama3-8b, vit-b16, "
                            "whisper-large-v2-encoder or a config.json path, not 'llama-9'")


def test_kv_cache_longer_than_context():
    m = load_model("gpt2")
    with pytest.raises(ModelConfigError) as e:
        layer_ops(m, tokens=1, past=1024)
    assert str(e.value) == ("KV cache length (past + tokens = 1025) must be at most the context of gpt2 "
                            "(1024 tokens), not 1025")
